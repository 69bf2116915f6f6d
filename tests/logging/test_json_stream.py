"""A JSON log stays JSON, line by line, whatever happens: Python's own stderr output (a
warning, a plain thread's exception, a logging call that does not format), a straggler stop,
a second signal, a build that fails. Real subprocesses: what matters is the stream."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from tests._subprocess import App
from threadhost._process.console_lifetime import REPEAT_WINDOW

APP = "tests/apps/stray_output_app.py"


def parse_every_line(app: App) -> list[dict[str, Any]]:
    """Every line of stdout and stderr as a JSON object; fails on a raw or doubled line."""
    lines = app.stdout + app.stderr
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"a raw line in the JSON log: {line!r}\n{app.output()}") from None
    doubled = {line for line in lines if lines.count(line) > 1}
    assert not doubled, f"doubled lines: {doubled}\n{app.output()}"
    return records


def assert_python_s_own_output_was_logged(records: list[dict[str, Any]]) -> None:
    [warning] = [r for r in records if r["logger"] == "py.warnings"]
    assert warning["level"] == "WARNING"
    assert "UserWarning: the old API is going away" in warning["message"]
    [crash] = [r for r in records if r["logger"] == "threading"]
    assert crash["level"] == "ERROR" and crash["thread"] == "plain-worker"
    assert "plain-worker" in crash["message"] and "the plain thread failed" in crash["message"]
    assert "Traceback" in crash["exc_info"] and "in crash" in crash["exc_info"]
    [unraisable] = [r for r in records if r["logger"] == "py.unraisable"]
    assert unraisable["level"] == "ERROR" and "Leaky.__del__" in unraisable["message"]
    assert "OSError: the file was gone already" in unraisable["message"]
    [bad_call] = [r for r in records if "did not format" in r["message"]]
    assert bad_call["level"] == "ERROR" and bad_call["logger"] == "myapp.worker"
    assert bad_call["logging_msg"] == "'%s and %s'" and bad_call["logging_args"] == "('only one',)"
    assert "stray_output_app.py:" in bad_call["message"] and "in execute()" in bad_call["message"]


def test_python_s_own_output_and_a_straggler_stop_stay_json_line_by_line() -> None:
    with App(APP, "--HostOptions:ShutdownTimeout=0.2", merge_stderr=True) as app:
        app.expect("stray output made")
        app.send(signal.SIGTERM)
        assert app.wait() == 3, app.output()
    records = parse_every_line(app)
    assert_python_s_own_output_was_logged(records)
    [straggler] = [r for r in records if "did not finish" in r["message"]]
    assert straggler["level"] == "ERROR" and "MakesStrayOutput" in straggler["message"]
    assert records[-1]["message"].startswith("Application stopped: 1 straggler")


def test_a_second_signal_during_the_stop_ends_the_process_with_a_json_record() -> None:
    with App(APP, "--HostOptions:ShutdownTimeout=30", merge_stderr=True) as app:
        app.expect("stray output made")
        app.send(signal.SIGTERM)
        app.expect("Application is shutting down")
        threading.Event().wait(REPEAT_WINDOW + 0.05)  # past the window: a second request
        app.send(signal.SIGTERM)
        assert app.wait() == 130, app.output()
    records = parse_every_line(app)
    assert_python_s_own_output_was_logged(records)
    forced, abandoned = records[-2:]
    assert forced["level"] == "CRITICAL" and "Received SIGTERM again" in forced["message"]
    assert abandoned["level"] == "ERROR", abandoned
    assert "Abandoning thread 'threadhost:MakesStrayOutput'" in abandoned["message"]


def test_a_bad_value_at_build_is_one_json_record_on_stderr_and_exit_code_2() -> None:
    with App(APP, "--HostOptions:ShutdownTimeout=abc") as app:
        assert app.wait() == 2, app.output()
    assert app.stdout == []
    [record] = parse_every_line(app)
    assert record["level"] == "ERROR", record
    assert ("HostOptions:ShutdownTimeout='abc' is invalid: expected a number (float) (set in "
            "command line HostOptions:ShutdownTimeout)") in record["message"]


@pytest.mark.parametrize("asked", ["in code", "on the command line", "in the environment"])
def test_a_malformed_settings_file_is_one_json_record_when_json_was_asked_elsewhere(
        tmp_path: Path, asked: str) -> None:
    (tmp_path / "appsettings.json").write_text('{"Worker": {"PollInterval": 5,,}}')
    args = {"in code": [],
            "on the command line": ["--no-json-default", "--Logging:Console:FormatterName=json"],
            "in the environment": ["--no-json-default"]}[asked]
    env = {"Logging__Console__FormatterName": "json"} if asked == "in the environment" else {}
    with App(APP, f"--contentRoot={tmp_path}", *args, env=env) as app:
        assert app.wait() == 2, app.output()
    [record] = parse_every_line(app)
    assert record["level"] == "ERROR"
    assert f"{tmp_path / 'appsettings.json'}:1:" in record["message"], record


def test_a_malformed_settings_file_is_a_plain_line_in_the_simple_format(tmp_path: Path) -> None:
    (tmp_path / "appsettings.json").write_text("{oops")
    with App(APP, f"--contentRoot={tmp_path}", "--no-json-default") as app:
        assert app.wait() == 2, app.output()
    assert app.stdout == []
    [line] = app.stderr
    assert line.startswith(f"stray_output_app: error: {tmp_path / 'appsettings.json'}:1:"), line


def test_threadhost_run_writes_a_bad_value_as_one_json_record() -> None:
    with App("-m", "threadhost", "run", "tests.apps.cli_targets:builder",
             "--Logging:Console:FormatterName=json", "--HostOptions:ShutdownTimeout=abc") as app:
        assert app.wait() == 2, app.output()
    [record] = parse_every_line(app)
    assert "HostOptions:ShutdownTimeout='abc' is invalid" in record["message"]


def test_threadhost_run_writes_a_typo_d_option_as_one_json_record_in_a_json_log() -> None:
    with App("-m", "threadhost", "run", "--shutdown-timout=3", "tests.apps.cli_targets:builder",
             env={"Logging__Console__FormatterName": "json"}) as app:
        assert app.wait() == 2, app.output()
    [record] = parse_every_line(app)
    assert "did you mean --shutdown-timeout?" in record["message"], record


@pytest.mark.parametrize("source", ["command line", "environment variable"])
def test_a_formatter_ignored_under_the_application_s_handlers_is_one_warning_saying_why(
        source: str) -> None:
    args, env = (["--Logging:Console:FormatterName=json"], {}) if source == "command line" \
        else ([], {"Logging__Console__FormatterName": "json"})
    with App("tests/apps/named_logging_app.py", "root", *args, env=env,
             merge_stderr=True) as app:
        assert app.wait() == 0, app.output()
    [warning] = [line for line in app.stdout if "FormatterName" in line]
    assert warning.startswith("APP WARNING threadhost.hosting Logging:Console:FormatterName="
                              "'json' (set in " + source), warning
    assert "is ignored: the root logger already has a handler (StreamHandler)" in warning


def test_a_formatter_ignored_for_threadhost_s_own_logger_is_one_warning_saying_why() -> None:
    # Django's LOGGING = {"loggers": {"threadhost": {"handlers": [...]}}}: the root has no
    # handler, so the console is threadhost's, but threadhost's lines go through the handler.
    with App("tests/apps/named_logging_app.py", "threadhost",
             "--Logging:Console:FormatterName=json", merge_stderr=True) as app:
        assert app.wait() == 0, app.output()
    [warning] = [line for line in app.stdout if "FormatterName" in line]
    assert warning == (
        "APP WARNING threadhost.hosting Logging:Console:FormatterName='json' (set in command "
        "line Logging:Console:FormatterName) is ignored for threadhost's own lines: the logger "
        "'threadhost' has a handler (StreamHandler), which writes them in its own format. Set "
        "the format on it, or remove it to let threadhost's console write them."), warning
