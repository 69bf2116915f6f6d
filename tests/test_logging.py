from __future__ import annotations

import json
import logging

import pytest

import threadhost as th
from tests._services import make_builder
from tests._subprocess import App


def console_handlers() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if h.get_name() == "threadhost.console"]


def test_json_console_writes_only_json_lines_with_exception_text() -> None:
    with App("tests/apps/json_logs_app.py", "--Logging:Console:FormatterName=json") as app:
        assert app.wait() == 0, app.output()
    records = [json.loads(line) for line in app.stderr]  # every line must parse
    worker = [r for r in records if r["logger"] == "myapp.worker"]
    assert worker[0]["message"] == "processed 3 orders"
    assert worker[0]["order_batch"] == "b-17"
    assert worker[0]["level"] == "INFO" and worker[0]["thread"] == "threadhost:LogsThenStops"
    assert "time" in worker[0]
    assert worker[1]["level"] == "ERROR" and worker[1]["message"] == "lookup failed\nsecond line"
    assert "Traceback" in worker[1]["exc_info"] and "KeyError" in worker[1]["exc_info"]
    assert any(r["message"] == "Application started. Press Ctrl+C to shut down."
               for r in records)


def test_prefix_level_silences_info_below_it_only(capsys: pytest.CaptureFixture[str]) -> None:
    make_builder(args=["--Logging:LogLevel:myapp.noisy=Warning"]).build()
    logging.getLogger("myapp.noisy.x").info("quiet please")
    logging.getLogger("myapp.other").info("still here")
    logging.getLogger("myapp.noisy.x").warning("loud enough")
    err = capsys.readouterr().err
    assert "quiet please" not in err
    assert "myapp.other: still here" in err and "loud enough" in err


def test_dotnet_and_python_level_names_are_both_accepted() -> None:
    make_builder(args=["--Logging:LogLevel:Default=Warning",
                       "--Logging:LogLevel:a.b=Debug", "--Logging:LogLevel:a.c=critical",
                       "--Logging:LogLevel:a.d=None"]).build()
    assert logging.getLogger().level == logging.WARNING
    assert logging.getLogger("a.b").level == logging.DEBUG
    assert logging.getLogger("a.c").level == logging.CRITICAL
    assert not logging.getLogger("a.d").isEnabledFor(logging.CRITICAL)


def test_unknown_level_name_is_an_error_naming_key() -> None:
    with pytest.raises(th.ConfigurationError,
                       match=r"^Logging:LogLevel:x='Loud' is invalid: expected one of Trace, "):
        make_builder(args=["--Logging:LogLevel:x=Loud"]).build()


def test_building_hosts_leaves_app_handlers_alone_and_adds_one_console_handler() -> None:
    root = logging.getLogger()
    mine = logging.StreamHandler()
    root.addHandler(mine)
    try:
        before = [h for h in root.handlers if h.get_name() != "threadhost.console"]
        for _ in range(3):
            make_builder().build()
        assert [h for h in root.handlers if h.get_name() != "threadhost.console"] == before
        assert len(console_handlers()) == 1
    finally:
        root.removeHandler(mine)


def test_add_console_changes_the_formatter_of_the_one_handler(
        capsys: pytest.CaptureFixture[str]) -> None:
    builder = make_builder()
    builder.logging.add_console(formatter="systemd").add_console()
    builder.build()
    assert len(console_handlers()) == 1
    logging.getLogger("myapp").warning("first\nsecond")
    assert capsys.readouterr().err == "<4>myapp: first\n<4>second\n"


def test_simple_format_indents_tracebacks(capsys: pytest.CaptureFixture[str]) -> None:
    make_builder().build()
    try:
        raise ValueError("bad")
    except ValueError:
        logging.getLogger("myapp").exception("failed")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].endswith("ERROR    myapp: failed")
    assert lines[1] == "    Traceback (most recent call last):"
    assert lines[-1] == "    ValueError: bad"


def test_unknown_formatter_lists_the_known_ones() -> None:
    with pytest.raises(th.ConfigurationError,
                       match=r"^Logging:Console:FormatterName='xml' is invalid: expected one of "
                             r"simple, json, systemd$"):
        make_builder(args=["--Logging:Console:FormatterName=xml"]).build()
    with pytest.raises(th.ConfigurationError, match="expected one of simple, json, systemd"):
        make_builder().logging.add_console(formatter="xml")
