"""HostCommand in a real Django project (tests/django_project), run with manage.py."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

from tests._subprocess import ROOT, App

PROJECT = ROOT / "tests" / "django_project"


def manage(db: Path, *args: str, env: dict[str, str] | None = None) -> App:
    return App("manage.py", *args, cwd=PROJECT,
               env={"THREADHOST_TEST_DB": str(db), **(env or {})})


def events(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT name, value, thread FROM workers_event ORDER BY id").fetchall()
    connection.close()
    return rows


def test_host_command_runs_workers_that_use_the_orm_and_stops_on_sigterm(
        tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    with manage(db, "migrate", "--verbosity=0") as migrate:
        assert migrate.wait(60) == 0, migrate.output()
    env = {"Workers__B": "env", "Workers__C": "env"}
    with manage(db, "runworkers", "--Workers:C=cli", env=env) as app:
        app.expect("ready")
        app.send(signal.SIGTERM)
        assert app.wait() == 0, app.output()
    assert "worker connection closed: True" in app.stdout
    assert events(db) == [
        ("config", "settings,env,cli", "threadhost:OrmWriter"),
        ("cleanup", "done", "threadhost:OrmWriter"),
    ]


def test_host_command_exit_code_is_the_hosts(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"  # not migrated: the worker's first query fails
    with manage(db, "runworkers", "Workers:A=positional") as app:
        assert app.wait() == 1, app.output()
    assert any("BackgroundService 'OrmWriter' failed" in line for line in app.stderr)
