"""ConsoleLifetime: real signals to a real subprocess; handlers and messages in process."""

from __future__ import annotations

import logging
import signal
import threading
import time

import pytest

import threadhost as th
from tests._services import WAIT, StopsApplication, Waiter
from tests._subprocess import App
from threadhost._process.console_lifetime import REPEAT_WINDOW

APP = "tests/apps/signal_app.py"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_gracefully_with_cleanup_and_exit_0(sig: signal.Signals) -> None:
    with App(APP, "graceful") as app:
        app.expect("ready")
        app.send(sig)
        assert app.wait() == 0, app.output()
        assert "cleanup done" in app.stdout
        assert f"reason: signal {sig.name}" in app.stdout
        assert "handlers restored: True" in app.stdout


def test_straggler_gives_exit_3_at_the_deadline() -> None:
    with App(APP, "straggler", "--HostOptions:ShutdownTimeout=1") as app:
        app.expect("ready")
        app.send(signal.SIGTERM)
        app.expect("stopping")
        began = time.monotonic()
        assert app.wait() == 3, app.output()
        assert time.monotonic() - began < 1 + WAIT / 2
        assert "cleanup done" in app.stdout
        assert any("'Straggler'" in line and "abandoning" in line for line in app.stderr)


def test_second_sigint_during_a_long_stop_exits_130_at_once() -> None:
    with App(APP, "straggler", "--HostOptions:ShutdownTimeout=30") as app:
        app.expect("ready")
        app.send(signal.SIGINT)
        app.expect("stopping")
        # A repeat within the window is the same request; the rule is about real time.
        threading.Event().wait(REPEAT_WINDOW + 0.05)
        began = time.monotonic()
        app.send(signal.SIGINT)
        assert app.wait() == 130, app.output()
        assert time.monotonic() - began < 1.0
        assert any("Abandoning thread 'threadhost:Straggler'" in line for line in app.stderr)


def test_run_restores_the_previous_signal_handlers() -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
    builder = th.Host.create_application_builder([])
    builder.services.add_hosted_service(StopsApplication)
    builder.services.configure(th.ConsoleLifetimeOptions, suppress_status_messages=True)
    assert builder.build().run() == 0
    assert {s: signal.getsignal(s) for s in before} == before


def stop_once_started(host: th.Host) -> th.Host:
    """Request a stop when the host has started; registered first, so its callback runs last
    (callbacks run in reverse registration order) after ConsoleLifetime's messages."""
    lifetime = host.services.get(th.HostApplicationLifetime)
    lifetime.application_started.register(lifetime.stop_application)
    return host


def test_status_messages_are_logged_on_the_lifetime_logger(
        caplog: pytest.LogCaptureFixture) -> None:
    builder = th.Host.create_application_builder(["--environment=Staging"])
    with caplog.at_level(logging.INFO, logger="threadhost.hosting.lifetime"):
        assert stop_once_started(builder.build()).run() == 0
    messages = [r.getMessage() for r in caplog.records
                if r.name == "threadhost.hosting.lifetime"]
    assert messages[:2] == ["Application started. Press Ctrl+C to shut down.",
                            "Hosting environment: Staging"]
    assert messages[2].startswith("Content root path: ")
    assert messages[3] == "Application is shutting down..."


def test_suppressed_status_messages_are_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    builder = th.Host.create_application_builder(["--ConsoleLifetime:SuppressStatusMessages=true"])
    with caplog.at_level(logging.INFO, logger="threadhost.hosting.lifetime"):
        assert stop_once_started(builder.build()).run() == 0
    assert not [r for r in caplog.records if r.name == "threadhost.hosting.lifetime"]


def test_off_the_main_thread_no_handlers_are_installed_and_the_host_works() -> None:
    before = signal.getsignal(signal.SIGTERM)
    during: list[object] = []
    waiter = Waiter()

    def run_host() -> None:
        builder = th.Host.create_application_builder([])
        builder.services.add_hosted_service(waiter)
        builder.services.configure(th.ConsoleLifetimeOptions, suppress_status_messages=True)
        host = builder.build()
        host.start()
        during.append(signal.getsignal(signal.SIGTERM))
        host.stop()
        host.close()

    runner = threading.Thread(target=run_host)
    runner.start()
    runner.join(WAIT)
    assert during == [before]
    assert waiter.cleanups == 1
