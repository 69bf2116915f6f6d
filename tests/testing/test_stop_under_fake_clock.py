"""A stop under a FakeClock waits for nothing in real time: the grace and the settle end when
every participant left waits on the clock, and moving time never waits for the stop."""

from __future__ import annotations

import threading

import threadhost as th
from tests._services import WAIT, IgnoresToken, Waiter, make_builder, stop_within
from threadhost.testing import FakeClock, run_host


class SleepsThroughItsStop(th.HostedService):
    """A stop hook that ignores its token and sleeps on the host's clock: a straggler that
    waits on the clock (virtual time must move for it to return)."""

    def start(self, cancellation_token: th.CancellationToken) -> None:
        pass

    def stop(self, cancellation_token: th.CancellationToken) -> None:
        cancellation_token.clock.sleep(10_000)


class StopTakesThreeSeconds(th.HostedService):
    def start(self, cancellation_token: th.CancellationToken) -> None:
        pass

    def stop(self, cancellation_token: th.CancellationToken) -> None:
        cancellation_token.clock.sleep(3)


def threadhost_stalls(clock: FakeClock) -> list[str]:
    return [str(e).splitlines()[0] for e in clock.stall_errors
            if "threadhost:stop" in str(e).splitlines()[0]
            or "threadhost:host" in str(e).splitlines()[0]
            or "MainThread" in str(e).splitlines()[0]]


def test_a_stop_with_a_straggler_under_on_stall_raise_names_no_thread_of_threadhost() -> None:
    clock = FakeClock(autojump=True, on_stall="raise")
    straggler = IgnoresToken()
    host = make_builder(straggler, Waiter(), clock=clock, shutdown_timeout=5).build()
    host.start()
    assert straggler.entered.wait(WAIT)
    try:
        report = host.stop()
    finally:
        straggler.release.set()
        host.close()
    assert [s.name for s in report.stragglers] == ["IgnoresToken"]
    assert threadhost_stalls(clock) == []


def test_advancing_past_the_deadline_of_a_stop_with_a_straggler_never_waits_for_a_stall(
        ) -> None:
    # A stall timeout shorter than the grace: a stop waiting in real time would be a stall.
    clock = FakeClock(stall_timeout=0.1, on_stall="raise")
    host = make_builder(SleepsThroughItsStop(), Waiter(), clock=clock,
                        shutdown_timeout=5).build()
    host.start()
    reports: list[th.ShutdownReport] = []
    stopper = threading.Thread(target=lambda: reports.append(host.stop()))
    stopper.start()
    clock.advance(5)  # the deadline: raises FakeClockStallError if the stop ran outside
    stopper.join(WAIT)
    assert not stopper.is_alive()
    clock.advance(10_000)  # let the abandoned hook return, so no thread is left behind
    host.close()
    assert [(s.name, s.phase) for s in reports[0].stragglers] == [
        ("SleepsThroughItsStop", "stop")]
    assert clock.stall_errors == []


def test_run_host_inside_hold_stops_without_a_stall() -> None:
    clock = FakeClock(autojump=True, stall_timeout=30)  # a stall would cost 30 real seconds
    with clock.hold(), run_host(make_builder(StopTakesThreeSeconds(), clock=clock)):
        pass
    assert clock.stall_errors == []
    assert clock.monotonic() == 3.0


def test_a_stop_application_after_the_stop_leaves_no_participant_behind() -> None:
    # A dead thread registered as a participant would hold the clock until it "stalled":
    # advance() would then hang past the suite's per-test timeout.
    clock = FakeClock(stall_timeout=120, on_stall="raise")
    host = make_builder(Waiter(), clock=clock).build()
    host.start()
    lifetime = host.services.get(th.HostApplicationLifetime)
    report = stop_within(host)  # carried out on a thread of the test's
    host.close()  # the control thread has ended
    lifetime.stop_application()  # late: nobody is woken, nothing is registered
    clock.advance(1)  # returns at once: nothing holds the clock
    assert report.clean and clock.stall_errors == []
