"""HostCommand in a real Django project (tests/django_project), run with manage.py."""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path

import pytest

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


def test_host_command_keeps_the_order_of_key_value_pairs_given_with_a_space(
        tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    with manage(db, "migrate", "--verbosity=0") as migrate:
        assert migrate.wait(60) == 0, migrate.output()
    with manage(db, "runworkers", "--Workers:B", "cli-b", "--verbosity", "1",
                "--Workers:C=cli-c", "--environment", "Staging") as app:
        app.expect("ready")
        app.send(signal.SIGTERM)
        assert app.wait() == 0, app.output()
    assert events(db)[0] == ("config", "settings,cli-b,cli-c", "threadhost:OrmWriter")
    assert any("Hosting environment: Staging" in line for line in app.stderr), app.output()


def test_host_command_exit_code_is_the_hosts(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"  # not migrated: the worker's first query fails
    with manage(db, "runworkers", "Workers:A=positional") as app:
        assert app.wait() == 1, app.output()
    assert any("BackgroundService 'OrmWriter' failed" in line for line in app.stderr)


def test_project_logging_is_respected_and_each_line_is_written_once(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    with manage(db, "migrate", "--verbosity=0") as migrate:
        assert migrate.wait(60) == 0, migrate.output()
    with manage(db, "runworkers") as app:
        app.expect("ready")
        app.send(signal.SIGTERM)
        assert app.wait() == 0, app.output()
    started = [line for line in app.stderr if "Application started." in line]
    assert started == ["PROJECT INFO threadhost.hosting.lifetime: Application started. Press "
                       "Ctrl+C to shut down."], app.output()


def test_named_logger_logging_writes_each_line_once_and_keeps_threadhost_s_lines(
        tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    with manage(db, "migrate", "--verbosity=0") as migrate:
        assert migrate.wait(60) == 0, migrate.output()
    with manage(db, "runworkers", env={"THREADHOST_TEST_LOGGING": "named"}) as app:
        app.expect("ready")
        app.send(signal.SIGTERM)
        assert app.wait() == 0, app.output()
    lines = [line for line in app.stderr if line.strip()]
    assert lines.count("PROJECT INFO workers.orm: wrote the config row") == 1, app.output()
    assert not [line for line in lines if lines.count(line) > 1], app.output()
    assert sum("Application started." in line for line in lines) == 1, app.output()
    assert sum("Application stopped: clean" in line for line in lines) == 1, app.output()


def test_a_json_console_under_named_logger_logging_reports_a_bad_value_as_one_record(
        tmp_path: Path) -> None:
    with manage(tmp_path / "db.sqlite3", "runworkers", "--Logging:Console:FormatterName=json",
                "--HostOptions:ShutdownTimeout=abc",
                env={"THREADHOST_TEST_LOGGING": "named"}) as app:
        assert app.wait() == 2, app.output()
    assert len(app.stderr) == 1, app.output()
    record = json.loads(app.stderr[0])
    assert record["level"] == "ERROR" and "HostOptions:ShutdownTimeout" in record["message"]


@pytest.mark.parametrize(("arg", "message"), [
    ("--HostOptions:ShutdownTimeout=abc",
     "CommandError: HostOptions:ShutdownTimeout='abc' is invalid: expected a number (float) "
     "(set in command line HostOptions:ShutdownTimeout)"),
    ("--Workers:A",
     "CommandError: command line: '--Workers:A' has no value; write --Workers:A=VALUE or "
     "--Workers:A VALUE (every configuration key takes a value: a flag alone is none)"),
])
def test_configuration_error_is_a_one_line_command_error_with_exit_2(
        tmp_path: Path, arg: str, message: str) -> None:
    with manage(tmp_path / "db.sqlite3", "runworkers", arg) as app:
        assert app.wait() == 2, app.output()
    assert app.stderr == [message]


def test_a_configuration_error_with_traceback_keeps_exit_2_and_shows_the_traceback(
        tmp_path: Path) -> None:
    # Django re-raises a CommandError under --traceback; uncaught, it would exit 1.
    with manage(tmp_path / "db.sqlite3", "runworkers", "--traceback",
                "--HostOptions:ShutdownTimeout=abc") as app:
        assert app.wait() == 2, app.output()
    assert app.stderr[0] == "Traceback (most recent call last):", app.output()
    assert app.stderr[-1] == (
        "django.core.management.base.CommandError: HostOptions:ShutdownTimeout='abc' is "
        "invalid: expected a number (float) (set in command line HostOptions:ShutdownTimeout)"
    ), app.output()


def test_a_missing_dependency_found_by_build_is_a_one_line_command_error_with_exit_1(
        tmp_path: Path) -> None:
    with manage(tmp_path / "db.sqlite3", "runworkers", "--Broken=dependency",
                env={"THREADHOST_ENVIRONMENT": "Development"}) as app:
        assert app.wait() == 1, app.output()
    assert len(app.stderr) == 1, app.output()
    assert app.stderr[0].startswith(
        "CommandError: Hosted service 'Worker' cannot be constructed: Cannot construct Repo: "
        "nothing is registered for parameter 'db'"), app.stderr


def test_a_constructor_that_raises_at_start_is_one_error_line_with_exit_1(
        tmp_path: Path) -> None:
    with manage(tmp_path / "db.sqlite3", "runworkers", "--Broken=constructor",
                "--Logging:LogLevel:Default=Warning") as app:
        assert app.wait() == 1, app.output()
    assert app.stderr == [
        "PROJECT ERROR threadhost.hosting: Service 'Worker' could not be constructed (while "
        "constructing Worker -> Repo -> UnreachableDb): ConnectionError: database 'orders' is "
        "unreachable"], app.output()


def test_host_settings_on_the_command_line_are_not_reported_as_unread(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    with manage(db, "migrate", "--verbosity=0") as migrate:
        assert migrate.wait(60) == 0, migrate.output()
    with App("manage.py", "runworkers", "--environment=Staging", "--applicationName=orders",
             "--bogus=1", cwd=PROJECT, env={"THREADHOST_TEST_DB": str(db)},
             merge_stderr=True) as app:
        app.expect("which nothing read")  # logged once started, with any other such line
        app.send(signal.SIGTERM)
        assert app.wait() == 0, app.output()
    unread = [line for line in app.stdout if "which nothing read" in line]
    assert len(unread) == 1 and "--bogus=1" in unread[0], app.output()
