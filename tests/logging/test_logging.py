from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable

import pytest

import threadhost as th
from tests._services import make_builder
from tests._subprocess import App
from tests.logging.conftest import console_handlers


def test_json_console_writes_only_json_lines_with_exception_text() -> None:
    with App("tests/apps/json_logs_app.py", "--Logging:Console:FormatterName=json") as app:
        assert app.wait() == 0, app.output()
    records = [json.loads(line) for line in app.stderr]  # every line must parse
    worker = [r for r in records if r["logger"] == "myapp.worker"]
    assert worker[0]["message"] == "processed 3 orders"
    assert worker[0]["order_batch"] == "b-17"
    assert worker[0]["level"] == "INFO" and worker[0]["thread"] == "threadhost:LogsThenStops"
    assert worker[1]["level"] == "ERROR" and worker[1]["message"] == "lookup failed\nsecond line"
    assert "Traceback" in worker[1]["exc_info"] and "KeyError" in worker[1]["exc_info"]
    assert any(r["message"] == "Application started. Press Ctrl+C to shut down."
               for r in records)


def test_json_time_is_iso_8601_utc_with_milliseconds_and_extras_cannot_replace_fields(
        bare_root: Callable[[], logging.Logger], capsys: pytest.CaptureFixture[str]) -> None:
    bare_root()
    host = make_builder(args=["--Logging:Console:FormatterName=json"]).build()
    logging.getLogger("myapp").warning(
        "hello %s", "you", extra={"time": "forged", "level": "forged", "logger": "forged"})
    host.stop()
    line = json.loads(capsys.readouterr().err.splitlines()[0])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
    assert (line["level"], line["logger"], line["message"]) == ("WARNING", "myapp", "hello you")
    assert (line["extra_time"], line["extra_level"], line["extra_logger"]) == ("forged",) * 3


def test_trace_records_are_named_trace(bare_root: Callable[[], logging.Logger],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    bare_root()
    host = make_builder(args=["--Logging:LogLevel:myapp=Trace"]).build()
    logging.getLogger("myapp").log(5, "fine detail")
    host.stop()
    assert "TRACE    myapp: fine detail" in capsys.readouterr().err


def test_prefix_level_silences_info_below_it_only(
        bare_root: Callable[[], logging.Logger], capsys: pytest.CaptureFixture[str]) -> None:
    bare_root()
    host = make_builder(args=["--Logging:LogLevel:myapp.noisy=Warning"]).build()
    logging.getLogger("myapp.noisy.x").info("quiet please")
    logging.getLogger("myapp.other").info("still here")
    logging.getLogger("myapp.noisy.x").warning("loud enough")
    host.stop()
    err = capsys.readouterr().err
    assert "quiet please" not in err
    assert "myapp.other: still here" in err and "loud enough" in err


def test_dotnet_and_python_level_names_are_both_accepted(
        bare_root: Callable[[], logging.Logger]) -> None:
    bare_root()
    host = make_builder(args=["--Logging:LogLevel:Default=Warning",
                              "--Logging:LogLevel:a.b=Debug", "--Logging:LogLevel:a.c=critical",
                              "--Logging:LogLevel:a.d=None"]).build()
    assert logging.getLogger().level == logging.WARNING
    assert logging.getLogger("a.b").level == logging.DEBUG
    assert logging.getLogger("a.c").level == logging.CRITICAL
    assert not logging.getLogger("a.d").isEnabledFor(logging.CRITICAL)
    host.stop()


def test_level_names_match_loggers_in_any_case(bare_root: Callable[[], logging.Logger],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    bare_root()
    existing = logging.getLogger("caseapp.worker")
    monkeypatch.setenv("LOGGING__LOGLEVEL__CASEAPP", "Debug")
    builder = make_builder()
    builder.configuration.add_in_memory({"Logging": {"LogLevel": {"caseapp": "Error"}}})
    builder.configuration.add_environment_variables()  # the variable wins over the file
    host = builder.build()
    assert existing.getEffectiveLevel() == logging.DEBUG
    assert "CASEAPP" not in logging.root.manager.loggerDict
    host.stop()


def test_unknown_level_name_is_an_error_naming_key_and_source() -> None:
    with pytest.raises(th.ConfigurationError,
                       match=r"^Logging:LogLevel:x='Loud' is invalid: expected one of Trace, .*"
                             r"\(set in command line Logging:LogLevel:x\)$"):
        make_builder(args=["--Logging:LogLevel:x=Loud"]).build()


def test_an_application_with_handlers_gets_no_second_handler_and_no_unasked_level(
        bare_root: Callable[[], logging.Logger], capsys: pytest.CaptureFixture[str]) -> None:
    root = bare_root()
    logging.basicConfig(format="APP %(name)s: %(message)s", level=logging.WARNING)
    mine = root.handlers[0]
    host = make_builder(args=["--Logging:LogLevel:myapp=Info"]).build()
    assert root.handlers == [mine] and console_handlers() == []
    assert root.level == logging.WARNING
    logging.getLogger("myapp").info("once")
    host.stop()
    assert capsys.readouterr().err.count("once") == 1


def test_hosts_one_after_another_do_not_affect_each_other(
        bare_root: Callable[[], logging.Logger]) -> None:
    root = bare_root()
    first = make_builder(args=["--Logging:LogLevel:Default=Debug",
                               "--Logging:LogLevel:leak.a=Error",
                               "--Logging:Console:FormatterName=json"]).build()
    assert root.level == logging.DEBUG and len(console_handlers()) == 1
    first.stop()
    assert root.level == logging.WARNING and console_handlers() == []
    assert logging.getLogger("leak.a").level == logging.NOTSET
    builder = make_builder()
    builder.logging.clear_providers()
    second = builder.build()
    assert root.level == logging.INFO and console_handlers() == []
    second.stop()
    third = make_builder().build()
    assert isinstance(console_handlers()[0].formatter, th._logging.console.SimpleFormatter)
    third.stop()
    assert root.level == logging.WARNING and console_handlers() == []


def test_building_hosts_leaves_app_handlers_alone_and_never_stacks_console_handlers(
        bare_root: Callable[[], logging.Logger]) -> None:
    bare_root()
    hosts = [make_builder().build() for _ in range(3)]
    assert len(console_handlers()) == 1
    for host in hosts:
        host.stop()
    assert console_handlers() == []


def test_add_console_changes_the_formatter_of_the_one_handler(
        bare_root: Callable[[], logging.Logger], capsys: pytest.CaptureFixture[str]) -> None:
    bare_root()
    builder = make_builder()
    builder.logging.add_console(formatter="systemd").add_console()
    host = builder.build()
    assert len(console_handlers()) == 1
    logging.getLogger("myapp").warning("first\nsecond")
    assert capsys.readouterr().err == "<4>myapp: first\n<4>second\n"
    host.stop()


def test_simple_format_indents_tracebacks(bare_root: Callable[[], logging.Logger],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    bare_root()
    host = make_builder().build()
    try:
        raise ValueError("bad")
    except ValueError:
        logging.getLogger("myapp").exception("failed")
    lines = capsys.readouterr().err.splitlines()
    host.stop()
    assert lines[0].endswith("ERROR    myapp: failed")
    assert lines[1] == "    Traceback (most recent call last):"
    assert lines[-1] == "    ValueError: bad"


def test_unknown_formatter_lists_the_known_ones() -> None:
    with pytest.raises(th.ConfigurationError,
                       match=r"^Logging:Console:FormatterName='xml' is invalid: expected one of "
                             r"simple, json, systemd \(set in command line "):
        make_builder(args=["--Logging:Console:FormatterName=xml"]).build()
    with pytest.raises(th.ConfigurationError, match="expected one of simple, json, systemd"):
        make_builder().logging.add_console(formatter="xml")


def test_a_json_log_stays_json_through_a_straggler_stop_and_each_field_appears_once() -> None:
    with App("tests/apps/straggler_app.py", "--Logging:Console:FormatterName=json") as app:
        assert app.wait() == 3
    records = []
    for line in app.stderr:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(
                f"a raw line in the JSON log: {line!r}\n{app.output()}") from None
    [straggler] = [r for r in records if "did not finish" in r["message"]]
    assert straggler["level"] == "ERROR" and "IgnoresItsToken" in straggler["message"]
    assert "threading.py" in straggler["message"] or "wait" in straggler["message"]
    assert all("extra_message" not in r for r in records)
    assert records[-1]["level"] == "INFO" and records[-1]["exit_code"] == 3
    assert records[-1]["message"].startswith("Application stopped: 1 straggler")


def test_a_simple_log_gives_every_record_of_a_straggler_stop_its_time_and_level() -> None:
    with App("tests/apps/straggler_app.py") as app:
        assert app.wait() == 3
    stamp = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
    firsts = [line for line in app.stderr if stamp.match(line)]
    assert any("did not finish" in line and " ERROR " in line for line in firsts), app.output()
    assert "Application stopped: 1 straggler" in firsts[-1]


def run_named_logging_app(shape: str) -> tuple[App, list[str]]:
    """The app whose own logging has ``shape`` ("named" or "root"), run to a clean stop: the
    app, and its closing lines. The app's own line appears exactly once."""
    with App("tests/apps/named_logging_app.py", shape, merge_stderr=True) as app:
        assert app.wait() == 0
    assert app.stdout.count("APP INFO myapp.worker did some work") == 1, app.output()
    return app, [line for line in app.stdout if "Application stopped: clean" in line]


def test_logging_on_named_loggers_only_gets_each_line_once_and_threadhost_s_lines_too() -> None:
    app, closing = run_named_logging_app("named")
    assert len(closing) == 1 and " INFO " in closing[0], app.output()
    assert not any("did some work" in line and not line.startswith("APP")
                   for line in app.stdout)


def test_logging_on_the_root_gets_threadhost_s_lines_once_in_the_application_s_format() -> None:
    app, closing = run_named_logging_app("root")
    assert len(closing) == 1 and closing[0].startswith("APP INFO threadhost.hosting"), app.stdout
