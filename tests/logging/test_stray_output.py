"""Python's own stderr output goes through threadhost's console handler while a host holds it,
and everything is put back when the host lets go (in-process; the subprocess tests in
test_json_stream.py read the real stream)."""

from __future__ import annotations

import json
import logging
import sys
import threading
import warnings
from collections.abc import Callable

import pytest

from tests._services import make_builder
from tests.logging.conftest import console_handlers

JSON = "--Logging:Console:FormatterName=json"


def crash() -> None:
    raise RuntimeError("plain thread failed")


def run_crashing_thread() -> None:
    plain = threading.Thread(target=crash, name="plain-worker")
    plain.start()
    plain.join()


@pytest.fixture
def default_thread_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python's default ``threading.excepthook``, as in a plain application (pytest sets its
    own for each test; monkeypatch puts pytest's back)."""
    monkeypatch.setattr(threading, "excepthook", threading.__excepthook__)
    monkeypatch.setattr(sys, "unraisablehook", sys.__unraisablehook__)


class Leaky:
    def __del__(self) -> None:
        raise OSError("gone already")


def test_warnings_and_plain_threads_exceptions_are_records_only_while_a_host_holds_the_console(
        bare_root: Callable[[], logging.Logger], default_thread_hook: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    bare_root()
    showwarning = warnings.showwarning
    host = make_builder(args=[JSON]).build()
    warnings.warn("going away", UserWarning, stacklevel=1)
    run_crashing_thread()
    Leaky()
    warning, crashed, unraisable = [
        json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert warning["logger"] == "py.warnings" and "UserWarning: going away" in warning["message"]
    assert crashed["logger"] == "threading" and crashed["thread"] == "plain-worker"
    assert "RuntimeError: plain thread failed" in crashed["exc_info"]
    assert unraisable["logger"] == "py.unraisable" and "OSError: gone already" in (
        unraisable["message"])
    host.stop()
    assert threading.excepthook is threading.__excepthook__
    assert sys.unraisablehook is sys.__unraisablehook__
    assert warnings.showwarning is showwarning
    assert console_handlers() == []


def test_an_exception_hook_the_application_set_is_left_alone(
        bare_root: Callable[[], logging.Logger], monkeypatch: pytest.MonkeyPatch) -> None:
    bare_root()
    seen: list[str] = []

    def mine(args: threading.ExceptHookArgs) -> None:
        seen.append(str(args.exc_value))

    monkeypatch.setattr(threading, "excepthook", mine)
    host = make_builder(args=[JSON]).build()
    run_crashing_thread()
    host.stop()
    assert seen == ["plain thread failed"] and threading.excepthook is mine


def test_a_logging_call_that_does_not_format_is_one_record_saying_what_and_where(
        bare_root: Callable[[], logging.Logger], capsys: pytest.CaptureFixture[str]) -> None:
    bare_root()
    host = make_builder().build()
    logging.getLogger("myapp").warning("%s and %s", "only one")  # noqa: PLE1206  (on purpose)
    logging.getLogger("myapp").warning("%d orders", "three")
    host.stop()
    first, second = [line for line in capsys.readouterr().err.splitlines() if "myapp" in line]
    assert " ERROR    myapp: A logging call's message and arguments did not format " in first
    assert "(TypeError: not enough arguments for format string): msg='%s and %s', " \
           "args=('only one',), logged at " in first
    assert "test_stray_output.py:" in first
    assert first.endswith("in test_a_logging_call_that_does_not_format_is_one_record_saying_"
                          "what_and_where()")
    assert "msg='%d orders', args=('three',)" in second


def test_a_failed_build_in_a_json_log_is_one_record_and_leaves_nothing_installed(
        bare_root: Callable[[], logging.Logger], default_thread_hook: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    bare_root()
    builder = make_builder(args=[JSON, "--HostOptions:ShutdownTimeout=-1"])
    assert builder.run() == 2
    [line] = capsys.readouterr().err.splitlines()
    record = json.loads(line)
    assert record["level"] == "ERROR" and record["logger"] == "threadhost.hosting"
    assert "HostOptions:ShutdownTimeout='-1' is invalid" in record["message"]
    assert threading.excepthook is threading.__excepthook__ and console_handlers() == []


def test_a_failed_build_in_the_simple_format_is_one_plain_line(
        bare_root: Callable[[], logging.Logger], capsys: pytest.CaptureFixture[str]) -> None:
    bare_root()
    builder = make_builder(args=["--HostOptions:ShutdownTimeout=-1"])
    assert builder.run() == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"{builder.environment.application_name}: error: "
                           "HostOptions:ShutdownTimeout='-1' is invalid")


def test_a_library_s_null_handler_does_not_hide_its_records_from_the_console(
        bare_root: Callable[[], logging.Logger], capsys: pytest.CaptureFixture[str]) -> None:
    bare_root()
    library = logging.getLogger("somelibrary")
    library.addHandler(logging.NullHandler())
    host = make_builder().build()
    try:
        logging.getLogger("somelibrary.pool").warning("connection pool is full")
    finally:
        host.stop()
        library.handlers.clear()
    assert capsys.readouterr().err.count("connection pool is full") == 1


def test_a_failed_build_in_the_systemd_format_is_one_line_with_the_error_priority(
        bare_root: Callable[[], logging.Logger], capsys: pytest.CaptureFixture[str]) -> None:
    bare_root()
    builder = make_builder(args=["--HostOptions:ShutdownTimeout=-1"])
    builder.logging.add_console(formatter="systemd")
    assert builder.run() == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("<3>threadhost.hosting: The host was not built: "
                           "HostOptions:ShutdownTimeout='-1' is invalid"), line
