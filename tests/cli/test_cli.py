"""``threadhost run`` and ``--help`` in real subprocesses: targets, exit codes, messages."""

from __future__ import annotations

import signal

import pytest

from tests._subprocess import App


def threadhost(*args: str, env: dict[str, str] | None = None) -> App:
    return App("-m", "threadhost", *args, env=env)


@pytest.mark.parametrize("target", ["builder", "host", "make_host", "make_builder"])
def test_run_each_kind_of_target_until_sigterm_exits_0(target: str) -> None:
    with threadhost("run", f"tests.apps.cli_targets:{target}") as app:
        app.expect("ready")
        app.send(signal.SIGTERM)
        assert app.wait() == 0, app.output()
        assert "cleanup done" in app.stdout


def test_app_args_reach_the_configuration_of_a_function_target() -> None:
    with threadhost("run", "tests.apps.cli_targets:make_builder", "--Greeting=hi") as app:
        assert app.expect("ready").endswith("greeting=hi")
        app.send(signal.SIGTERM)
        assert app.wait() == 0


def test_environment_and_shutdown_timeout_are_host_settings() -> None:
    with threadhost("run", "--environment", "Staging", "--shutdown-timeout", "4",
                    "tests.apps.cli_targets:builder") as app:
        assert app.expect("ready") == "ready Staging 4.0 greeting=None"
        app.send(signal.SIGTERM)
        assert app.wait() == 0


def test_crashing_service_exits_1() -> None:
    with threadhost("run", "tests.apps.cli_targets:make_crashing") as app:
        assert app.wait() == 1, app.output()
        assert any("BackgroundService 'Crash' failed" in line for line in app.stderr)


@pytest.mark.parametrize(("target", "message"), [
    ("tests.apps.nope:host",
     "threadhost run: error: cannot import module 'tests.apps.nope' (No module named "
     "'tests.apps.nope'); check the name and that it is on sys.path"),
    ("tests.apps.cli_targets:nope",
     "threadhost run: error: module 'tests.apps.cli_targets' has no attribute 'nope'"),
    ("tests.apps.cli_targets:not_a_host",
     "threadhost run: error: 'tests.apps.cli_targets:not_a_host' is a int, not a Host, a "
     "HostApplicationBuilder or a function returning one of them"),
    ("tests.apps.cli_targets",
     "threadhost run: error: 'tests.apps.cli_targets' is not MODULE:ATTR; write e.g. "
     "myapp.worker:build_host"),
])
def test_bad_target_exits_2_naming_what_is_wrong(target: str, message: str) -> None:
    with threadhost("run", target) as app:
        assert app.wait() == 2
        assert app.stderr == [message]


def test_systemd_flag_refuses_a_built_host() -> None:
    with threadhost("run", "--systemd", "tests.apps.cli_targets:host") as app:
        assert app.wait() == 2
        assert "--systemd needs a builder" in app.stderr[-1]


def test_help_lists_the_commands() -> None:
    with threadhost("--help") as app:
        assert app.wait() == 0
        out = "\n".join(app.stdout)
        assert "run" in out and "demo" in out
    with threadhost("run", "--help") as app:
        assert app.wait() == 0
        assert any("--shutdown-timeout S" in line for line in app.stdout)


def test_unknown_command_is_a_usage_error() -> None:
    with threadhost("frobnicate") as app:
        assert app.wait() == 2
        assert "invalid choice: 'frobnicate'" in app.stderr[-1]


@pytest.mark.parametrize(("args", "message"), [
    (["run", "tests.apps.cli_targets:builder", "--Greeting"],
     "threadhost run: error: command line: '--Greeting' has no value; write --Greeting=VALUE "
     "or --Greeting VALUE (every configuration key takes a value: a flag alone is none)"),
    (["run", "--shutdown-timeout", "-5", "tests.apps.cli_targets:builder"],
     "threadhost run: error: argument --shutdown-timeout: invalid value '-5': expected seconds "
     ">= 0 (inf for no limit); see threadhost run --help"),
    (["run", "tests.apps.cli_targets:builder", "--HostOptions:ShutdownTimeout=abc"],
     "threadhost run: error: HostOptions:ShutdownTimeout='abc' is invalid: expected a number "
     "(float) (set in command line HostOptions:ShutdownTimeout)"),
    (["run", "tests.apps.cli_targets:Worker"],
     "threadhost run: error: 'tests.apps.cli_targets:Worker' is the class Worker, not a Host, a "
     "HostApplicationBuilder or a function returning one of them"),
    (["run", "--systm", "tests.apps.cli_targets:builder"],
     "threadhost run: error: unknown option --systm; did you mean --systemd?"),
    (["run", "tests.apps.cli_targets:builder", "--systm"],
     "threadhost run: error: unknown option --systm; did you mean --systemd?"),
    (["run", "--shutdown-timout=3", "tests.apps.cli_targets:builder"],
     "threadhost run: error: unknown option --shutdown-timout; did you mean "
     "--shutdown-timeout?"),
    (["run", "tests.apps.cli_targets:builder", "--systemd"],
     "threadhost run: error: --systemd is an option of threadhost run: put it before "
     "MODULE:ATTR"),
    (["run", "tests.apps.cli_targets:builder", "--enviroment", "Staging"],
     "threadhost run: error: unknown option --enviroment; did you mean --environment?"),
    (["demo", "--duration", "soon"],
     "threadhost demo: error: argument --duration: invalid value 'soon': expected seconds >= 0 "
     "(inf for no limit); see threadhost demo --help"),
])
def test_misuse_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    with threadhost(*args) as app:
        assert app.wait() == 2, app.output()
    assert app.stderr == [message]


def test_help_after_the_target_prints_the_help_of_run() -> None:
    with threadhost("run", "tests.apps.cli_targets:builder", "--help") as app:
        assert app.wait() == 0, app.output()
    assert any("--shutdown-timeout S" in line for line in app.stdout)


def test_a_target_function_without_parameters_is_called_with_none() -> None:
    with threadhost("run", "tests.apps.cli_targets:make_plain") as app:
        app.expect("ready")
        app.send(signal.SIGTERM)
        assert app.wait() == 0, app.output()


def test_a_missing_dependency_of_the_target_is_the_applications_error() -> None:
    with threadhost("run", "tests.apps.cli_broken:builder") as app:
        assert app.wait() == 1, app.output()
    assert app.stderr[-1] == "ModuleNotFoundError: No module named 'tests.apps.cli'"
    assert not any("cannot import module 'tests.apps.cli_broken'" in line for line in app.stderr)


def test_shutdown_timeout_option_beats_environment_variables() -> None:
    env = {"HostOptions__ShutdownTimeout": "20", "THREADHOST_SHUTDOWNTIMEOUTSECONDS": "30"}
    with threadhost("run", "--shutdown-timeout", "4", "tests.apps.cli_targets:make_builder",
                    env=env) as app:
        assert app.expect("ready") == "ready Production 4.0 greeting=None"
        app.send(signal.SIGTERM)
        assert app.wait() == 0


def test_version_prints_the_package_version() -> None:
    from threadhost import __version__

    with threadhost("--version") as app:
        assert app.wait() == 0
    assert app.stdout == [f"threadhost {__version__}"]


BROKEN = "tests.apps.broken_app:make_builder"


def test_a_missing_dependency_found_by_build_is_one_line_and_exit_code_1() -> None:
    with threadhost("run", "--environment", "Development", BROKEN, "--Broken=dependency") as app:
        assert app.wait() == 1, app.output()
    assert len(app.stderr) == 1, app.output()
    assert app.stderr[0].startswith(
        "threadhost run: error: Hosted service 'Worker' cannot be constructed: Cannot "
        "construct Repo: nothing is registered for parameter 'db'"), app.stderr


def test_a_constructor_that_raises_at_start_is_one_error_line_and_exit_code_1() -> None:
    with threadhost("run", BROKEN, "--Broken=constructor",
                    "--Logging:LogLevel:Default=Warning") as app:
        assert app.wait() == 1, app.output()
    assert len(app.stderr) == 1, app.output()
    assert app.stderr[0].endswith(
        "ERROR    threadhost.hosting: Service 'Worker' could not be constructed (while "
        "constructing Worker -> Repo -> UnreachableDb): ConnectionError: database 'orders' is "
        "unreachable"), app.stderr


def test_host_settings_on_the_command_line_are_not_reported_as_unread() -> None:
    with threadhost("run", "tests.apps.cli_targets:make_builder", "--environment=Staging",
                    "--applicationName=orders", "--contentRoot=.", "--shutdownTimeoutSeconds=4",
                    "--bogus=1") as app:
        assert app.expect("ready") == "ready Staging 4.0 greeting=None"
        app.send(signal.SIGTERM)
        assert app.wait() == 0, app.output()
    unread = [line for line in app.stderr if "which nothing read" in line]
    assert len(unread) == 1 and "--bogus=1" in unread[0], app.output()
