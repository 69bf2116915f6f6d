"""The Django pages' blocks, run in a real Django project as a user's files.

Each test writes a small project into a temporary directory: the page's ``settings.py`` on top
of the test project's (tests/django_project: its SQLite database and LOGGING), the page's
files at the paths their first lines name (``app/tasks.py``, ``shop/management/...``), and
the few modules a page leaves to the reader (``shop/models.py``, ``app/storage.py``). Then it
runs ``manage``-style commands in subprocesses, sends real signals and reads the database.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import urllib.request
from pathlib import Path

from tests._docs import ROOT, Block, setup_block
from tests._services import WAIT
from tests._subprocess import App
from tests.contrib._pg_server import poll_until
from tests.process.test_systemd import Systemd

TASKS = "django_tasks_database_dbtaskresult"

SETTINGS_AROUND = '''\
from project.settings import *  # noqa: F403  (the test project: its database, its LOGGING)

_OWN_APPS = ["workers", "app"]  # what the page's "..." stands for
{block}
INSTALLED_APPS = [name for app in INSTALLED_APPS for name in (_OWN_APPS if app is ... else [app])]
'''


class Project:
    """A temporary Django project: ``write()`` files, ``django()`` commands, ``query()``."""

    def __init__(self, root: Path, settings: str) -> None:
        self.root = root
        self.write("page_settings.py", settings)
        self.env = {"DJANGO_SETTINGS_MODULE": "page_settings",
                    "THREADHOST_TEST_DB": str(root / "db.sqlite3"),
                    "PYTHONPATH": os.pathsep.join(
                        [str(root), str(ROOT / "tests" / "django_project"), str(ROOT)])}

    def write(self, path: str, text: str) -> None:
        """Write a file of the project, with the packages above it."""
        target = self.root / path
        for package in reversed(target.relative_to(self.root).parents):
            if package != Path("."):
                (self.root / package).mkdir(exist_ok=True)
                (self.root / package / "__init__.py").touch()
        target.write_text(text)

    def place(self, block: Block) -> None:
        """Write ``block`` where its first line says (``# app/tasks.py``)."""
        assert block.filename is not None, f"{block.where} names no file on its first line"
        self.write(block.filename, block.code)

    def app(self, *args: str, env: dict[str, str] | None = None) -> App:
        """``python *args`` in the project, its logs on stdout (awaitable)."""
        return App(*args, cwd=self.root, env={**self.env, **(env or {})}, merge_stderr=True)

    def django(self, *args: str, timeout: float = 60) -> str:
        """Run ``django-admin *args`` to its end; fail unless it exits 0."""
        with self.app("-m", "django", *args) as app:
            assert app.wait(timeout) == 0, app.output()
        return "\n".join(app.stdout)

    def query(self, sql: str) -> list[tuple[object, ...]]:
        connection = sqlite3.connect(self.root / "db.sqlite3", timeout=WAIT)
        try:
            return connection.execute(sql).fetchall()
        finally:
            connection.close()

    def enqueue(self, statement: str) -> None:
        """Run ``statement`` (``from app.tasks import ...; ...enqueue(...)``) in Django."""
        self.django("shell", "-c", statement)


def tasks_project(root: Path) -> Project:
    """The django-tasks page's settings and task module, migrated."""
    settings = setup_block("django-tasks-settings")
    project = Project(root, SETTINGS_AROUND.format(block=settings.code))
    project.write("app/management/commands/__init__.py", "")
    project.place(setup_block("django-tasks-task"))
    project.django("migrate", "--verbosity=0")
    return project


def test_the_settings_install_the_worker_table_and_the_task_runs(tmp_path: Path) -> None:
    project = tasks_project(tmp_path)
    assert project.query("SELECT COUNT(*) FROM threadhost_tasks_worker") == [(0,)]
    project.enqueue("from app.tasks import send_welcome; send_welcome.enqueue(42)")
    with project.app("-m", "django", "threadhost_tasks", "--poll-interval", "0.05") as app:
        poll_until(lambda: project.query(f"SELECT status, task_path FROM {TASKS}") == [
            ("SUCCESSFUL", "app.tasks.send_welcome")], timeout=WAIT, what="the task done")
        app.send(signal.SIGTERM)
        assert app.wait() == 0, app.output()


def test_a_worker_in_a_host_of_your_own_runs_tasks_and_reports_its_health(
        tmp_path: Path) -> None:
    project = tasks_project(tmp_path)
    project.place(setup_block("django-tasks-host"))
    project.enqueue("from app.tasks import send_welcome; send_welcome.enqueue(42)")
    with project.app("worker.py", "--Health:Port=0") as app:
        address = app.expect("Health endpoint listening on ").rsplit(" ", 1)[-1]
        poll_until(lambda: project.query(f"SELECT status FROM {TASKS}") == [("SUCCESSFUL",)],
                   timeout=WAIT, what="the task done")
        with urllib.request.urlopen(f"{address}/health", timeout=WAIT) as answer:
            health = json.load(answer)
        app.send(signal.SIGTERM)
        assert app.wait() == 0, app.output()
    assert health["checks"]["tasks"] == {"status": "healthy", "error": None}


STORAGE = '''\
"""What the page's export task reads and writes: endless chunks, 10 ms to write each."""
import itertools
import threading


def chunks(report_id):
    return itertools.count()


def write(chunk):
    if chunk == 0:
        print("export started", flush=True)
    threading.Event().wait(0.01)
'''


def test_a_task_that_checks_its_token_is_recorded_as_failed_at_the_deadline(
        tmp_path: Path) -> None:
    project = tasks_project(tmp_path)
    project.write("app/storage.py", STORAGE)
    project.place(setup_block("django-tasks-token"))
    project.enqueue("from app.exports import export; export.enqueue(7)")
    with project.app("-m", "django", "threadhost_tasks", "--poll-interval", "0.05",
                     "--HostOptions:ShutdownTimeout=0.5") as app:
        app.expect("export started")
        app.send(signal.SIGTERM)
        code = app.wait()
    [(status, path, traceback)] = project.query(
        f"SELECT status, exception_class_path, traceback FROM {TASKS}")
    assert (status, path) == ("FAILED", "builtins.RuntimeError"), app.output()
    assert str(traceback).rstrip().endswith("RuntimeError: export interrupted at shutdown")
    assert code == 0, app.output()


def test_the_tasks_command_with_systemd_notifies_ready_and_stopping(tmp_path: Path) -> None:
    project = tasks_project(tmp_path)
    project.place(setup_block("django-tasks-systemd"))
    systemd = Systemd(str(tmp_path / "notify.sock"))
    try:
        with project.app("-m", "django", "tasks",
                         env={"NOTIFY_SOCKET": systemd.address}) as app:
            systemd.until("READY=1")
            app.send(signal.SIGTERM)
            systemd.until("STOPPING=1")
            assert app.wait() == 0, app.output()
    finally:
        systemd.sock.close()


SHOP_MODELS = '''\
from django.db import models


class Order(models.Model):
    status = models.CharField(max_length=20)
    updated = models.DateTimeField()
'''


def test_the_runworkers_command_expires_stale_carts_and_stops_on_sigterm(
        tmp_path: Path) -> None:
    project = Project(tmp_path, 'from project.settings import *  # noqa: F403\n'
                                'INSTALLED_APPS = ["shop"]\n')
    project.write("shop/models.py", SHOP_MODELS)
    project.place(setup_block("django-command"))
    project.django("migrate", "--run-syncdb", "--verbosity=0")
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        db.executemany("INSERT INTO shop_order (status, updated) VALUES (?, "
                       "datetime('now', ?))", [("cart", "-3 hours"), ("cart", "-1 minutes"),
                                               ("paid", "-3 hours")])
    db.close()
    with project.app("-m", "django", "runworkers", "--HostOptions:ShutdownTimeout=20") as app:
        poll_until(lambda: project.query("SELECT status FROM shop_order WHERE id = 1")
                   == [("expired",)], timeout=WAIT, what="the stale cart expired")
        app.send(signal.SIGTERM)
        assert app.wait() == 0, app.output()
    assert project.query("SELECT status FROM shop_order ORDER BY id") == [
        ("expired",), ("cart",), ("paid",)]
