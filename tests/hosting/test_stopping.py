"""One stop, one deadline: order, bounds, and who is (and is not) a straggler."""

from __future__ import annotations

import math
import threading

import threadhost as th
from tests._services import (
    WAIT,
    A,
    IgnoresToken,
    Recorder,
    Waiter,
    make_builder,
    stop_within,
)
from threadhost.testing import FakeClock


class SlowCleanup(th.BackgroundService):
    """Well-behaved, but needs 10 ms of real time to clean up after its token fires."""

    def execute(self, stopping_token: th.CancellationToken) -> None:
        stopping_token.wait()
        threading.Event().wait(0.01)


class IdleWorkers(th.QueuedHostedService):
    def __init__(self) -> None:
        super().__init__(th.BackgroundTaskQueue(10), workers=4)


def stopped_beside_a_straggler(service: th.HostedService, clock: FakeClock | None,
                               shutdown_timeout: float) -> th.ShutdownReport:
    """Start ``service`` registered before an ``IgnoresToken`` (so stopped after it), stop the
    host, release the straggler, and return the report."""
    straggler = IgnoresToken()
    host = make_builder(service, straggler, clock=clock,
                        shutdown_timeout=shutdown_timeout).build()
    host.start()
    assert straggler.entered.wait(WAIT)
    report = stop_within(host)
    straggler.release.set()
    host.close()
    return report


class MeetsOthersWhenAsked(th.BackgroundService):
    """Once asked to stop, waits (up to WAIT) for the two others to be asked too."""

    def __init__(self, barrier: threading.Barrier) -> None:
        self.barrier = barrier
        self.met = False

    def execute(self, stopping_token: th.CancellationToken) -> None:
        stopping_token.wait()
        self.barrier.wait()  # raises BrokenBarrierError if the others are asked only after
        self.met = True


def test_a_concurrent_stop_asks_every_background_service_before_waiting_for_any() -> None:
    barrier = threading.Barrier(3, timeout=WAIT)
    services = [MeetsOthersWhenAsked(barrier) for _ in range(3)]
    host = make_builder(*services, services_stop_concurrently=True,
                        shutdown_timeout=3600).build()
    host.start()
    report = stop_within(host, timeout=WAIT * 2)
    assert report.clean, str(report)
    assert [s.met for s in services] == [True, True, True]


def test_application_stopping_callbacks_finish_before_any_service_is_stopped() -> None:
    record = Recorder()
    proceed = threading.Event()
    host = make_builder(A(record)).build()
    lifetime = host.services.get(th.HostApplicationLifetime)

    def slow_callback() -> None:
        record("callback begun")
        proceed.wait(WAIT)
        record("callback done")

    lifetime.application_stopping.register(slow_callback)
    host.start()
    requester = threading.Thread(target=lifetime.stop_application)
    requester.start()
    requester.join(WAIT)
    proceed.set()
    assert host.wait_for_shutdown(WAIT)
    report = stop_within(host)
    host.close()
    events = record.snapshot()
    assert events[events.index("callback begun"):] == [
        "callback begun", "callback done", "A.stopping", "A.stop", "A.stopped"]
    assert report.clean


def test_a_blocking_application_stopping_callback_is_abandoned_at_the_deadline() -> None:
    release = threading.Event()
    host = make_builder(Waiter(), shutdown_timeout=0.3).build()
    lifetime = host.services.get(th.HostApplicationLifetime)
    lifetime.application_stopping.register(lambda: release.wait(WAIT * 6))
    host.start()
    report = stop_within(host)  # bounded: deadline plus grace, not the callback's 60 s
    release.set()
    host.close()
    assert [(s.name, s.phase) for s in report.stragglers] == [
        ("application", "application_stopping")]
    assert "release.wait" in report.stragglers[0].stack
    assert report.exit_code == 3


def test_a_well_behaved_service_stopped_after_a_straggler_is_not_a_straggler() -> None:
    for _ in range(10):
        # Registered first, so stopped last: after the straggler used up the deadline.
        report = stopped_beside_a_straggler(SlowCleanup(), None, 0.05)
        assert [s.name for s in report.stragglers] == ["IgnoresToken"], str(report)


def test_a_well_behaved_service_after_a_straggler_is_not_a_straggler_under_a_fake_clock(
) -> None:
    for _ in range(5):
        # The straggler blocks outside the clock: it holds time back until it stalls.
        clock = FakeClock(autojump=True, stall_timeout=0.2)
        report = stopped_beside_a_straggler(SlowCleanup(), clock, 1)
        assert [s.name for s in report.stragglers] == ["IgnoresToken"], str(report)


def test_idle_queue_workers_are_never_false_stragglers() -> None:
    for clock in [None] * 10 + [FakeClock(autojump=True, stall_timeout=0.2) for _ in range(5)]:
        report = stopped_beside_a_straggler(IdleWorkers(), clock, 0.05)
        assert [s.name for s in report.stragglers] == ["IgnoresToken"], str(report)
        assert report.exit_code == 3


def test_an_infinite_shutdown_timeout_leaves_other_deadlines_in_the_process_working() -> None:
    for infinite in (math.inf, 1e10):
        host = make_builder(Waiter(), shutdown_timeout=infinite).build()
        host.start()
        assert stop_within(host).clean
        host.close()
    straggler = IgnoresToken()
    host = make_builder(straggler, shutdown_timeout=0.1).build()
    host.start()
    report = stop_within(host)
    straggler.release.set()
    host.close()
    assert [s.name for s in report.stragglers] == ["IgnoresToken"]


def test_infinite_shutdown_timeout_from_configuration_means_no_deadline() -> None:
    clock = FakeClock()
    waiter = Waiter()
    host = make_builder(waiter, clock=clock,
                        args=["--HostOptions:ShutdownTimeout=inf"]).build()
    assert host.services.get(th.HostOptions).shutdown_timeout == math.inf
    host.start()
    report = stop_within(host)
    host.close()
    assert report.clean and waiter.cleanups == 1


def test_the_deadline_token_is_cancelled_for_hooks_still_waiting_when_it_passes() -> None:
    seen: list[bool] = []

    class WaitsForDeadline(th.HostedService):
        def start(self, cancellation_token: th.CancellationToken) -> None:
            pass

        def stop(self, cancellation_token: th.CancellationToken) -> None:
            seen.append(cancellation_token.wait(WAIT))

    clock = FakeClock(autojump=True)
    host = make_builder(WaitsForDeadline(), clock=clock, shutdown_timeout=5).build()
    host.start()
    report = stop_within(host)
    host.close()
    assert seen == [True] and report.clean
    assert clock.monotonic() == 5.0


def test_a_blocking_application_stopped_callback_is_abandoned_at_the_deadline() -> None:
    release = threading.Event()
    host = make_builder(Waiter(), shutdown_timeout=0.3).build()
    lifetime = host.services.get(th.HostApplicationLifetime)
    lifetime.application_stopped.register(lambda: release.wait(WAIT * 6))
    host.start()
    report = stop_within(host)
    release.set()
    host.close()
    assert [(s.name, s.phase) for s in report.stragglers] == [
        ("application", "application_stopped")]
    assert report.stopped == ("Waiter",)
