"""The stop's bounds hold by construction: whatever user code and logging do, every service is
asked to stop, nothing of the stop runs user code on the stop's own thread, and every caller
gets the report."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

import threadhost as th
from tests._services import WAIT, Waiter, make_builder, stop_within


class StuckStop(th.HostedService):
    """A hosted service whose ``stop`` ignores its token until the test releases it."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def start(self, cancellation_token: th.CancellationToken) -> None:
        pass

    def stop(self, cancellation_token: th.CancellationToken) -> None:
        self.release.wait(WAIT * 6)


class AlsoStuckStop(StuckStop):
    pass


class WithTokenCallback(th.BackgroundService):
    """Registers a callback on its own stopping token, then waits on the token."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.called_on: list[str] = []
        self.called = threading.Event()

    def execute(self, stopping_token: th.CancellationToken) -> None:
        stopping_token.register(self._on_cancel)
        self.entered.set()
        stopping_token.wait()

    def _on_cancel(self) -> None:
        self.called_on.append(threading.current_thread().name)
        self.called.set()


class Worker(th.QueuedHostedService):
    def __init__(self, queue: th.BackgroundTaskQueue) -> None:
        super().__init__(queue)


@pytest.fixture
def queue() -> th.BackgroundTaskQueue:
    return th.BackgroundTaskQueue(10)


def test_services_whose_stop_comes_after_two_stuck_stops_are_still_asked_to_stop(
        queue: th.BackgroundTaskQueue) -> None:
    callback = WithTokenCallback()
    first, second = StuckStop(), AlsoStuckStop()
    builder = make_builder(callback, shutdown_timeout=0.2)
    builder.services.add_instance(th.BackgroundTaskQueue, queue)
    builder.services.add_hosted_service(Worker)
    builder.services.add_hosted_service(first)   # stopped first (reverse order) ...
    builder.services.add_hosted_service(second)  # ... after this one
    host = builder.build()
    host.start()
    assert callback.entered.wait(WAIT)
    try:
        report = stop_within(host)
        # The two stuck stops used up the deadline and the grace; the rest were asked anyway.
        assert {s.name for s in report.stragglers} >= {"StuckStop", "AlsoStuckStop"}
        assert callback.called.wait(WAIT)
        assert callback.thread is not None
        callback.thread.join(WAIT)
        assert not callback.thread.is_alive()
        with pytest.raises(RuntimeError, match="has stopped"):
            queue.enqueue(lambda token: None)
    finally:
        first.release.set()
        second.release.set()
        host.close()


def test_the_stop_after_a_stuck_one_is_made_at_once_not_after_the_grace() -> None:
    waiter = Waiter()
    stuck = StuckStop()
    record: list[str] = []

    class RecordsItsStop(th.HostedService):
        def start(self, cancellation_token: th.CancellationToken) -> None:
            pass

        def stop(self, cancellation_token: th.CancellationToken) -> None:
            record.append("stopped" if cancellation_token.is_cancellation_requested
                          else "not cancelled")

    host = make_builder(waiter, RecordsItsStop(), stuck, shutdown_timeout=0.2).build()
    host.start()
    try:
        report = stop_within(host)
    finally:
        stuck.release.set()
        host.close()
    assert record == ["stopped"]  # made, with the cancelled token
    assert [s.name for s in report.stragglers] == ["StuckStop"]
    assert "RecordsItsStop" in report.stopped and "Waiter" in report.stopped


def test_a_token_callback_never_runs_on_the_thread_carrying_out_the_stop() -> None:
    callback = WithTokenCallback()
    host = make_builder(callback).build()
    host.start()
    assert callback.entered.wait(WAIT)
    stopper = threading.current_thread().name
    report = host.stop()
    host.close()
    assert report.clean
    assert callback.called_on and stopper not in callback.called_on


def test_a_deadline_callback_registered_as_it_fires_never_runs_on_the_stop_thread() -> None:
    ran_on: list[str] = []
    registered = threading.Event()

    class RegistersLate(th.HostedService):
        def start(self, cancellation_token: th.CancellationToken) -> None:
            pass

        def stop(self, cancellation_token: th.CancellationToken) -> None:
            cancellation_token.register(
                lambda: ran_on.append(threading.current_thread().name))
            registered.set()
            cancellation_token.wait()

    host = make_builder(RegistersLate(), shutdown_timeout=0.1).build()
    host.start()
    stopper = threading.current_thread().name
    report = host.stop()
    host.close()
    assert registered.is_set() and report.clean
    assert ran_on and ran_on[0] not in (stopper, "threadhost:host")


class _Raising(logging.Handler):
    def __init__(self, exc: BaseException) -> None:
        super().__init__()
        self.exc = exc
        self.emitted = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.emitted += 1
        raise self.exc


class _RaisingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        raise RuntimeError("a filter raised")


@pytest.fixture
def raising_handler() -> Iterator[logging.Logger]:
    logger = logging.getLogger("threadhost")
    handler = _Raising(RuntimeError("a handler raised"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)  # every record reaches the handler (levels are restored)
    try:
        yield logger
    finally:
        logger.removeHandler(handler)


def test_a_raising_log_handler_never_keeps_the_report_from_being_published(
        raising_handler: logging.Logger) -> None:
    waiter = Waiter()
    host = make_builder(waiter).build()
    host.start()
    assert waiter.entered.wait(WAIT)
    lifetime = host.services.get(th.HostApplicationLifetime)
    lifetime.stop_application()  # the stop runs on threadhost:host, where the handler raises
    assert host.wait_for_shutdown(WAIT)
    report = stop_within(host)
    host.close()
    assert report.stopped == ("Waiter",)


def test_a_raising_log_filter_never_keeps_stop_from_returning_its_report() -> None:
    logger = logging.getLogger("threadhost.hosting")
    logger.setLevel(logging.DEBUG)
    flt = _RaisingFilter()
    logger.addFilter(flt)
    try:
        host = make_builder(Waiter()).build()
        host.start()
        report = stop_within(host)
        host.close()
    finally:
        logger.removeFilter(flt)
    assert report.stopped == ("Waiter",)


class _Blocking(logging.Handler):
    """Blocks every record until released (a socket handler whose peer stopped reading)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.blocked = threading.Event()
        self.handled: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.blocked.set()
        self.release.wait(WAIT * 6)
        self.handled.append(record.getMessage())


def test_a_blocking_log_handler_never_keeps_stop_from_returning_its_report() -> None:
    logger = logging.getLogger("threadhost.hosting")
    logger.setLevel(logging.INFO)
    handler = _Blocking()
    host = make_builder(Waiter()).build()
    host.start()
    logger.addHandler(handler)  # from the stop on: its first line blocks
    try:
        report = stop_within(host)  # fails loudly if the stop waited for the handler
        host.close()
        assert handler.blocked.is_set()
        assert report.stopped == ("Waiter",) and report.clean
    finally:
        handler.release.set()
        # Released, the handler gets the stop's lines after all, in order, the closing one
        # last (once the relay's thread has handled what it held).
        for relay in [t for t in threading.enumerate() if t.name == "threadhost:log"]:
            relay.join(WAIT)
        logger.removeHandler(handler)
    assert handler.handled[0] == "Hosting stopping: Host.stop() called"
    assert handler.handled[-1].startswith("Application stopped: clean in ")


def test_stacks_are_captured_with_the_cyclic_collector_off(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # CPython < 3.11.9 deadlocks when the collector frees a threading.local during
    # sys._current_frames(): a straggler report must never run the two together.
    import gc
    import sys

    from threadhost._hosting.report import capture_stack

    real = sys._current_frames
    seen: list[bool] = []

    def current_frames() -> dict[int, object]:
        seen.append(gc.isenabled())
        return real()  # type: ignore[return-value]

    monkeypatch.setattr(sys, "_current_frames", current_frames)
    assert gc.isenabled()
    stack = capture_stack(threading.current_thread())
    assert seen == [False] and gc.isenabled()
    assert "test_stacks_are_captured_with_the_cyclic_collector_off" in stack


def test_stopping_a_host_that_never_started_fires_stopping_then_stopped() -> None:
    host = make_builder(Waiter()).build()
    lifetime = host.services.get(th.HostApplicationLifetime)
    fired: list[str] = []
    lifetime.application_stopping.register(lambda: fired.append("stopping"))
    lifetime.application_stopped.register(lambda: fired.append("stopped"))
    report = stop_within(host)
    host.close()
    assert fired == ["stopping", "stopped"]
    assert report.clean and report.reason == "Host.stop() called"


class StartsThenRaises(th.BackgroundService):
    """Its start launches the thread, then raises; the thread waits on its token."""

    def __init__(self) -> None:
        self.stopped = threading.Event()

    def start(self, cancellation_token: th.CancellationToken) -> None:
        super().start(cancellation_token)
        raise RuntimeError("start failed after its thread began")

    def execute(self, stopping_token: th.CancellationToken) -> None:
        stopping_token.wait()
        self.stopped.set()


class StartsThenRaisesAndHangs(StartsThenRaises):
    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def execute(self, stopping_token: th.CancellationToken) -> None:
        self.release.wait(WAIT * 6)


def test_a_thread_a_failed_start_began_is_asked_to_stop_when_start_fails() -> None:
    failing = StartsThenRaises()
    host = make_builder(Waiter(), failing).build()
    with pytest.raises(th.HostStartupError):
        host.start()
    host.close()
    assert failing.stopped.is_set()
    assert failing.thread is not None and not failing.thread.is_alive()


def test_a_thread_a_failed_start_began_that_will_not_stop_is_reported_as_a_straggler() -> None:
    failing = StartsThenRaisesAndHangs()
    host = make_builder(failing, shutdown_timeout=0.1).build()
    try:
        with pytest.raises(th.HostStartupError) as info:
            host.start()
        report = info.value.report
        assert report is not None
        assert [(s.name, s.phase) for s in report.stragglers] == [
            ("StartsThenRaisesAndHangs", "execute")]
        assert report.exit_code == 1
    finally:
        failing.release.set()
        host.close()


def test_a_startup_timeout_leaves_no_timer_thread_once_the_host_stopped() -> None:
    host = make_builder(Waiter(), startup_timeout=30).build()
    host.start()
    report = host.stop()
    host.close()
    assert report.clean
    for thread in threading.enumerate():
        if thread.name == "threadhost:timer":
            thread.join(WAIT)
            assert not thread.is_alive(), "threadhost:timer outlived the stop"


def test_a_start_and_stop_wrapped_on_the_base_class_are_the_ones_the_host_calls(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A tracing library wraps BackgroundService.start/stop on the class itself.
    calls: list[str] = []
    real_start, real_stop = th.BackgroundService.start, th.BackgroundService.stop

    def traced_start(self: th.BackgroundService, token: th.CancellationToken) -> None:
        calls.append("start")
        real_start(self, token)

    def traced_stop(self: th.BackgroundService, token: th.CancellationToken) -> None:
        calls.append("stop")
        real_stop(self, token)

    monkeypatch.setattr(th.BackgroundService, "start", traced_start)
    monkeypatch.setattr(th.BackgroundService, "stop", traced_stop)
    waiter = Waiter()
    host = make_builder(waiter).build()
    host.start()
    report = host.stop()
    host.close()
    assert calls == ["start", "stop"]
    assert report.clean and waiter.cleanups == 1
