"""One error path for every entry point, here ``builder.run()`` and ``Host.run()`` (real
processes, as users run them): a configuration error is one line and exit code 2, a hosted
service that cannot be constructed one line and exit code 1, and the traceback only at DEBUG.
(``threadhost run``, the scaffold and Django's ``HostCommand`` have the same tests beside
their own.)"""

from __future__ import annotations

import pytest

from tests._subprocess import App

APP = "tests/apps/broken_app.py"
QUIET = "--Logging:LogLevel:Default=Warning"  # so stderr holds the error lines only
NO_DB = ("Cannot construct Repo: nothing is registered for parameter 'db' "
         "(<class '__main__.Db'>)")
UNREACHABLE = ("Service 'Worker' could not be constructed (while constructing Worker -> Repo "
               "-> UnreachableDb): ConnectionError: database 'orders' is unreachable")


def test_builder_run_reports_a_missing_dependency_found_by_build_in_one_line_exit_1() -> None:
    with App(APP, "--Broken=dependency", "--environment=Development") as app:
        assert app.wait() == 1, app.output()
    assert len(app.stderr) == 1, app.output()
    assert app.stderr[0].startswith(
        f"broken_app: error: Hosted service 'Worker' cannot be constructed: {NO_DB}")


@pytest.mark.parametrize("entry", ["builder.run()", "Host.run()"])
def test_a_constructor_that_raises_at_start_is_one_error_line_and_exit_code_1(
        entry: str) -> None:
    first = ["host"] if entry == "Host.run()" else []
    with App(APP, *first, "--Broken=constructor", QUIET) as app:
        assert app.wait() == 1, app.output()
    assert len(app.stderr) == 1, app.output()
    assert app.stderr[0].endswith(f"ERROR    threadhost.hosting: {UNREACHABLE}")


@pytest.mark.parametrize("entry", ["builder.run()", "Host.run()"])
def test_a_dependency_missing_at_start_in_production_is_one_error_line_and_exit_code_1(
        entry: str) -> None:
    first = ["host"] if entry == "Host.run()" else []
    with App(APP, *first, "--Broken=dependency", QUIET) as app:
        assert app.wait() == 1, app.output()
    assert len(app.stderr) == 1, app.output()
    assert ("Service 'Worker' could not be constructed (while constructing Worker -> Repo): "
            f"TypeError: {NO_DB}") in app.stderr[0]


def test_the_traceback_of_a_constructor_failure_is_logged_at_debug() -> None:
    with App(APP, "--Broken=constructor", "--Logging:LogLevel:Default=Debug") as app:
        assert app.wait() == 1, app.output()
    assert any(line.endswith(f"ERROR    threadhost.hosting: {UNREACHABLE}")
               for line in app.stderr), app.output()
    assert any("DEBUG    threadhost.hosting: Service 'Worker' could not be constructed:" in line
               for line in app.stderr), app.output()
    assert any("broken_app.py" in line and "in __init__" in line for line in app.stderr)


def test_the_traceback_of_a_configuration_error_at_build_is_logged_at_debug() -> None:
    with App(APP, "--HostOptions:ShutdownTimeout=abc", "--Logging:LogLevel:Default=Debug"
             ) as app:
        assert app.wait() == 2, app.output()
    assert app.stderr[-1] == (
        "broken_app: error: HostOptions:ShutdownTimeout='abc' is invalid: expected a number "
        "(float) (set in command line HostOptions:ShutdownTimeout)")
    assert "DEBUG    threadhost.hosting: build() failed: ConfigurationError:" in app.stderr[0]
    assert any(line.strip() == "Traceback (most recent call last):" for line in app.stderr)
    with App(APP, "--HostOptions:ShutdownTimeout=abc") as app:
        assert app.wait() == 2, app.output()
    assert len(app.stderr) == 1, app.output()  # at the default level: the one line only
