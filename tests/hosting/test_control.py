"""The host's control core: its state table, re-entrant and concurrent stops, start races.

Each test names a promise that once broke in ordinary use; none waits on real time except as
a generous bound that fails loudly (``stop_within``).
"""

from __future__ import annotations

import signal
import threading

import pytest

import threadhost as th
from tests._services import (
    WAIT,
    A,
    IgnoresToken,
    Recorder,
    StopsApplication,
    Waiter,
    make_builder,
    stop_within,
)
from threadhost.testing import FakeClock

# -- nothing keeps stop() from returning its report ----------------------------------------


def test_stop_reports_system_exit_from_an_application_stopped_callback() -> None:
    host = make_builder(Waiter()).build()
    host.start()
    lifetime = host.services.get(th.HostApplicationLifetime)

    def exits() -> None:
        raise SystemExit(4)

    lifetime.application_stopped.register(exits)
    report = stop_within(host)
    assert [(e.name, e.phase, type(e.exception)) for e in report.errors] == [
        ("application", "application_stopped", SystemExit)]
    assert report.exit_code == 1
    host.close()


def test_services_may_use_any_private_attribute_name() -> None:
    class Squatter(th.BackgroundService):
        def __init__(self) -> None:
            self._live_threads = 3
            self._bind_host = "mine"
            self._detach_thread = None
            self._unfinished_work = ["not yours"]
            self._bg = object()

        def execute(self, stopping_token: th.CancellationToken) -> None:
            stopping_token.wait()

    host = make_builder(Squatter()).build()
    host.start()
    report = stop_within(host)
    assert report.clean and report.stopped == ("Squatter",)
    host.close()


def test_base_classes_leave_natural_attribute_names_to_subclasses() -> None:
    seen: list[object] = []

    class Natural(th.BackgroundService):
        def __init__(self, clock: th.Clock) -> None:
            self.clock = clock
            self.name = "natural"
            self.state = "mine"

        def execute(self, stopping_token: th.CancellationToken) -> None:
            seen.append((self.clock.monotonic(), self.name, self.state))
            stopping_token.wait()

    clock = FakeClock()
    builder = make_builder(clock=clock)
    builder.services.add_hosted_service(Natural)
    with builder.build():
        clock.advance(1)
    assert seen == [(0.0, "natural", "mine")]


# -- re-entrant stops ----------------------------------------------------------------------


def _stop_from_own_execute() -> None:
    reports: list[th.ShutdownReport] = []
    holder: list[th.Host] = []
    started = threading.Event()

    class StopsHost(th.BackgroundService):
        def execute(self, stopping_token: th.CancellationToken) -> None:
            started.wait(WAIT)
            reports.append(holder[0].stop())

    stops_host = StopsHost()
    host = make_builder(stops_host, Waiter(), shutdown_timeout=WAIT * 3).build()
    holder.append(host)
    host.start()
    started.set()
    assert host.wait_for_shutdown(WAIT)
    report = stop_within(host)
    host.close()
    assert stops_host.thread is not None
    stops_host.thread.join(WAIT)  # detached: the stop did not wait for it, so the test does
    assert reports == [report]
    assert report.clean and report.stragglers == (), str(report)
    assert report.exit_code == 0


def test_stop_from_a_services_own_execute_right_after_start_is_clean() -> None:
    for _ in range(20):
        _stop_from_own_execute()


def test_stop_from_a_signal_handler_inside_start_is_refused_not_deadlocked() -> None:
    outcome: list[BaseException] = []
    holder: list[th.Host] = []

    def handler(signum: int, frame: object) -> None:
        try:
            holder[0].stop()
        except RuntimeError as exc:
            outcome.append(exc)

    class SignalsDuringStart(th.HostedService):
        def start(self, cancellation_token: th.CancellationToken) -> None:
            signal.raise_signal(signal.SIGUSR1)  # the handler runs on this (main) thread

        def stop(self, cancellation_token: th.CancellationToken) -> None:
            pass

    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        host = make_builder(SignalsDuringStart()).build()
        holder.append(host)
        host.start()
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert len(outcome) == 1
    assert "would wait for itself" in str(outcome[0])
    assert stop_within(host).clean
    host.close()


# -- start and stop racing -----------------------------------------------------------------


def test_application_started_does_not_fire_when_a_stop_aborted_the_start() -> None:
    class StopsDuringStart(th.HostedService):
        def __init__(self, lifetime: th.HostApplicationLifetime) -> None:
            self.lifetime = lifetime

        def start(self, cancellation_token: th.CancellationToken) -> None:
            self.lifetime.stop_application()

        def stop(self, cancellation_token: th.CancellationToken) -> None:
            pass

    builder = make_builder()
    builder.services.add_hosted_service(StopsDuringStart)
    host = builder.build()
    lifetime = host.services.get(th.HostApplicationLifetime)
    host.start()
    report = stop_within(host)
    assert not lifetime.application_started.is_cancellation_requested
    assert lifetime.application_stopped.is_cancellation_requested
    assert report.clean
    host.close()


def test_concurrent_start_reports_every_failure() -> None:
    class FailsOne(th.HostedService):
        def start(self, cancellation_token: th.CancellationToken) -> None:
            raise ValueError("one")

        def stop(self, cancellation_token: th.CancellationToken) -> None:
            pass

    class FailsTwo(FailsOne):
        def start(self, cancellation_token: th.CancellationToken) -> None:
            raise KeyError("two")

    host = make_builder(FailsOne(), FailsTwo(), services_start_concurrently=True).build()
    with pytest.raises(th.HostStartupError,
                       match=r"^Services 'FailsOne', 'FailsTwo' failed in start") as info:
        host.start()
    cause = info.value.__cause__
    assert isinstance(cause, ExceptionGroup) and len(cause.exceptions) == 2
    report = info.value.report
    assert report is not None
    assert sorted(e.name for e in report.errors) == ["FailsOne", "FailsTwo"]
    host.close()


def test_stop_during_a_slow_start_cancels_the_start_token_and_does_not_wait_the_deadline() -> None:
    entered = threading.Event()
    saw_cancel: list[bool] = []

    class SlowStart(th.HostedService):
        def start(self, cancellation_token: th.CancellationToken) -> None:
            entered.set()
            saw_cancel.append(cancellation_token.wait(WAIT * 6))

        def stop(self, cancellation_token: th.CancellationToken) -> None:
            pass

    host = make_builder(SlowStart(), shutdown_timeout=WAIT * 6).build()
    starter = threading.Thread(target=host.start)
    starter.start()
    assert entered.wait(WAIT)
    report = stop_within(host)  # would take the whole 60 s deadline if it waited for start
    starter.join(WAIT)
    assert saw_cancel == [True] and report.clean
    host.close()


def test_a_start_call_stuck_past_the_stop_deadline_is_a_straggler_in_the_report() -> None:
    entered, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    class StuckStart(th.HostedService):
        def start(self, cancellation_token: th.CancellationToken) -> None:
            entered.set()
            release.wait(WAIT * 6)  # ignores its token

        def stop(self, cancellation_token: th.CancellationToken) -> None:
            raise ValueError("late stop error")

    host = make_builder(StuckStart(), shutdown_timeout=0.1).build()

    def start() -> None:
        try:
            host.start()
        except BaseException as exc:
            errors.append(exc)

    starter = threading.Thread(target=start)
    starter.start()
    assert entered.wait(WAIT)
    report = stop_within(host)
    release.set()
    starter.join(WAIT)
    assert [(s.name, s.phase) for s in report.stragglers] == [("StuckStart", "start")]
    assert "release.wait" in report.stragglers[0].stack
    assert errors == []  # the late stop's error is logged, never raised out of start()
    host.close()


# -- a host runs once ----------------------------------------------------------------------


def test_a_closed_host_cannot_be_started() -> None:
    host = make_builder(A(Recorder())).build()
    host.close()
    with pytest.raises(RuntimeError, match=r"^Cannot start the host, as it has been closed"):
        host.start()


def test_a_second_run_is_refused() -> None:
    builder = make_builder()
    builder.services.add_hosted_service(StopsApplication)
    host = builder.build()
    assert host.run() == 0
    with pytest.raises(RuntimeError, match=r"already been started|has been closed"):
        host.run()


def test_stop_before_start_then_start_returns_quietly_once() -> None:
    record = Recorder()
    host = make_builder(A(record)).build()
    assert host.stop().clean
    host.start()  # a stop came first: not an error
    with pytest.raises(RuntimeError, match="already been started"):
        host.start()
    assert record.snapshot() == []
    host.close()


def test_state_is_shown_in_repr() -> None:
    host = make_builder(IgnoresToken()).build()
    assert repr(host) == "<Host created, 1 hosted service(s)>"
    host.close()
    assert repr(host) == "<Host closed, 1 hosted service(s)>"
