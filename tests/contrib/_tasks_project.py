"""The task-worker tests' Django project (tests/django_project, settings ``settings_tasks``)
on SQLite or on the throwaway PostgreSQL server: run ``manage.py`` commands, read the tables."""

from __future__ import annotations

import sqlite3
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import psycopg

from tests._services import WAIT
from tests._subprocess import ROOT, App
from tests.contrib._pg_server import PostgresServer

PROJECT = ROOT / "tests" / "django_project"
TASKS = "django_tasks_database_dbtaskresult"


class TasksProject:
    """One database of the project: ``manage()``, ``enqueue()``, ``query()``."""

    def __init__(self, tmp: Path, server: PostgresServer | None = None,
                 dbname: str | None = None) -> None:
        self.release = tmp / "release"  # the hold tasks return once it exists
        self.env = {"DJANGO_SETTINGS_MODULE": "project.settings_tasks",
                    "THREADHOST_TEST_DB": str(tmp / "db.sqlite3"),
                    "JOBS_RELEASE_FILE": str(self.release)}
        self.server = server
        self.conninfo = None
        if server is not None:
            assert dbname is not None
            with server.connect() as conn:
                conn.execute(f'CREATE DATABASE "{dbname}"')
            self.conninfo = server.conninfo.replace("dbname=postgres", f"dbname={dbname}")
            self.env["THREADHOST_TEST_PG"] = self.conninfo
        self.run("migrate", "--verbosity=0")

    def manage(self, *args: str, merge_stderr: bool = False) -> App:
        return App("manage.py", *args, cwd=PROJECT, env=self.env, merge_stderr=merge_stderr)

    def run(self, *args: str, timeout: float = 60) -> str:
        with self.manage(*args) as app:
            assert app.wait(timeout) == 0, app.output()
        return "\n".join(app.stdout)

    def enqueue(self, task: str, count: int, arg: str | None = None) -> None:
        self.run("enqueue", task, str(count), *([arg] if arg else []))

    def worker(self, *args: str) -> App:
        """``threadhost_tasks`` with its logs on stdout (awaitable)."""
        return self.manage("threadhost_tasks", *args, merge_stderr=True)

    def query(self, sql: str) -> list[tuple[object, ...]]:
        if self.conninfo is not None:
            with psycopg.connect(self.conninfo, autocommit=True) as conn:
                return list(conn.execute(sql).fetchall())  # type: ignore[arg-type]
        connection = sqlite3.connect(self.env["THREADHOST_TEST_DB"], timeout=WAIT)
        try:
            return connection.execute(sql).fetchall()
        finally:
            connection.close()

    def statuses(self) -> dict[str, int]:
        return {str(s): int(str(n)) for s, n in
                self.query(f"SELECT status, COUNT(*) FROM {TASKS} GROUP BY status")}

    def finished(self) -> int:
        return int(str(self.query(
            f"SELECT COUNT(*) FROM {TASKS} WHERE status IN ('SUCCESSFUL', 'FAILED')")[0][0]))

    def runs_per_task(self) -> Counter[str]:
        return Counter(task_id(t) for (t,) in self.query("SELECT task_id FROM jobs_taskrun"))

    def workers(self) -> list[tuple[object, ...]]:
        return self.query("SELECT worker_id, stopping FROM threadhost_tasks_worker")


def task_id(value: object) -> str:
    """A task id as Django shows it (SQLite stores the UUID as 32 hex digits)."""
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


def task_ids(project: TasksProject, where: str = "1=1") -> Sequence[str]:
    return [task_id(t) for (t,) in project.query(f"SELECT id FROM {TASKS} WHERE {where}")]
