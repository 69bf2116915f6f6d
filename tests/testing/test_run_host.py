from __future__ import annotations

import threading

import pytest

import threadhost as th
from tests._services import WAIT, IgnoresToken, Waiter, make_builder
from threadhost.testing import FakeClock, FakeClockStallError, run_host


def test_run_host_starts_yields_and_stops_cleanly() -> None:
    waiter = Waiter()
    with run_host(make_builder(waiter)) as host:
        assert waiter.entered.wait(WAIT)
        assert isinstance(host, th.Host)
    assert host.report is not None and host.report.clean and waiter.cleanups == 1


def test_run_host_fails_the_test_when_the_stop_was_not_clean() -> None:
    straggler = IgnoresToken()
    unclean = r"(?s)the host did not stop cleanly:.*IgnoresToken \(execute\) did not stop"
    with pytest.raises(AssertionError, match=unclean), \
            run_host(make_builder(straggler, shutdown_timeout=0.1)):
        assert straggler.entered.wait(WAIT)
    straggler.release.set()


def test_run_host_registers_the_given_clock() -> None:
    clock = FakeClock()
    with run_host(make_builder(), clock=clock) as host:
        assert host.services.get(th.Clock) is clock  # type: ignore[type-abstract]


def test_run_host_refuses_a_clock_for_a_built_host() -> None:
    host = make_builder().build()
    with pytest.raises(TypeError, match="the host is already built"), \
            run_host(host, clock=FakeClock()):
        pass


def test_run_host_raises_a_recorded_stall_under_autojump() -> None:
    clock = FakeClock(autojump=True, stall_timeout=0.1, on_stall="raise")
    release = threading.Event()

    class BlocksOffClock(th.BackgroundService):
        def execute(self, stopping_token: th.CancellationToken) -> None:
            release.wait(WAIT)  # not a clock wait: the clock sees a stall
            stopping_token.wait()

    class Ticks(th.PeriodicBackgroundService):
        interval = 1.0

        def run_once(self, stopping_token: th.CancellationToken) -> None:
            if stopping_token.clock.monotonic() >= 3:
                release.set()

    with pytest.raises(FakeClockStallError, match="'threadhost:BlocksOffClock'"), \
            run_host(make_builder(BlocksOffClock(), Ticks()), clock=clock):
        assert release.wait(WAIT)


def test_run_host_with_a_manual_clock_fails_instead_of_hanging_on_a_stuck_stop() -> None:
    clock = FakeClock(stall_timeout=0.1)
    straggler = IgnoresToken()
    builder = make_builder(straggler, shutdown_timeout=30, clock=clock)
    hosts: list[th.Host] = []
    message = (r"(?s)^run_host: host\.stop\(\) has not ended after 10s of real time\. Time on a "
               r"manual FakeClock moves only when the test advances it.*"
               r"pending deadline at \+30s virtual.*"
               r"thread 'threadhost:IgnoresToken' (is running|has stalled) outside a clock wait, "
               r"in:.*"
               r"self\.release\.wait")
    with pytest.raises(AssertionError, match=message), run_host(builder) as host:
        hosts.append(host)
        assert straggler.entered.wait(WAIT)
    clock.advance(30)  # the stop's deadline passes: it ends, abandoning the straggler
    stopper = [t for t in threading.enumerate() if t.name == "threadhost:run_host-stop"]
    for thread in stopper:
        thread.join(WAIT)
    report = hosts[0].stop()
    straggler.release.set()  # only now: a thread that ends within the grace is no straggler
    hosts[0].close()
    assert [s.name for s in report.stragglers] == ["IgnoresToken"]


def test_run_host_under_autojump_stops_a_straggler_at_its_virtual_deadline() -> None:
    clock = FakeClock(autojump=True, stall_timeout=0.1)
    straggler = IgnoresToken()
    builder = make_builder(straggler, shutdown_timeout=3600, clock=clock)
    with pytest.raises(AssertionError, match=r"IgnoresToken \(execute\) did not stop"), \
            run_host(builder):
        assert straggler.entered.wait(WAIT)
    straggler.release.set()
