"""The lease driver: standby, run, check, lose, release (FakeClock, in-memory lease)."""

from __future__ import annotations

import logging
import threading

import pytest

import threadhost as th
from tests._leases import InMemoryLease, LeaseTable
from tests._services import WAIT, Recorder
from threadhost._leases.driver import LeaseState, drive_lease
from threadhost.testing import FakeClock


class DriverRun:
    """``drive_lease`` on its own participant thread, with recording start/stop/set_state."""

    def __init__(self, lease: th.Lease, clock: FakeClock, record: Recorder,
                 service: str = "Job",
                 stop_source: th.CancellationTokenSource | None = None) -> None:
        self.lease = lease
        self.clock = clock
        self.record = record
        self.service = service
        self.stop_source = stop_source or th.CancellationTokenSource(clock)
        self.runs: list[th.CancellationTokenSource] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, name=f"threadhost:lease:{service}",
                                       daemon=True)
        clock.register_participant(self.thread)
        self.thread.start()

    def _start(self, info: th.LeaseInfo) -> th.CancellationToken:
        self.record(f"{self.service} start fencing={info.fencing}")
        run = th.CancellationTokenSource(self.clock)
        self.runs.append(run)
        return run.token

    def _stop(self) -> None:
        self.record(f"{self.service} stop")
        self.runs[-1].cancel()

    def _set_state(self, state: LeaseState) -> None:
        self.record(f"{self.service} {state}")

    def _main(self) -> None:
        try:
            drive_lease(self.lease, service_name=self.service, clock=self.clock,
                        stop_token=self.stop_source.token, start=self._start, stop=self._stop,
                        set_state=self._set_state)
        except BaseException as exc:
            self.error = exc
        finally:
            self.clock.unregister_participant(threading.current_thread())

    def end_run(self) -> None:
        """The service's execute returned by itself."""
        self.runs[-1].cancel()
        self.join()

    def stop(self) -> None:
        self.stop_source.cancel()
        self.join()

    def join(self) -> None:
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "the driver did not return"


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "threadhost.lease" and r.levelno == logging.WARNING]


def infos(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "threadhost.lease" and r.levelno == logging.INFO]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def record() -> Recorder:
    return Recorder()


def test_a_free_lease_is_taken_at_once_and_the_service_started_with_its_info(
        clock: FakeClock, record: Recorder, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "threadhost.lease")
    lease = InMemoryLease(LeaseTable(), "nightly", record=record)
    run = DriverRun(lease, clock, record)
    clock.advance(0)
    assert record.snapshot() == ["Job STANDBY", "test:1 acquire -> 1", "Job start fencing=1"]
    run.stop()
    assert record.snapshot()[3:] == ["Job stop", "test:1 release"]
    assert infos(caplog) == [
        "Lease 'nightly' acquired by test:1 (fencing 1); starting service 'Job'.",
        "Lease 'nightly' released (service 'Job')."]
    assert run.error is None


def test_standby_retries_every_check_interval_until_the_holder_lets_go(
        clock: FakeClock, record: Recorder, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "threadhost.lease")
    table = LeaseTable()
    other = InMemoryLease(table, "nightly", holder="other:9")
    assert other.acquire() is not None
    lease = InMemoryLease(table, "nightly", check_interval=5.0, record=record)
    run = DriverRun(lease, clock, record)
    clock.advance(4.9)
    assert record.snapshot() == ["Job STANDBY", "test:1 acquire -> None"]
    clock.advance(0.1)
    clock.advance(5.0)
    assert lease.calls["acquire"] == 3
    other.release()
    clock.advance(5.0)
    assert record.snapshot()[-2:] == ["test:1 acquire -> 2", "Job start fencing=2"]
    assert infos(caplog)[0] == ("Lease 'nightly' is held by another replica; service 'Job' is "
                                "on standby (trying again every 5.0s).")
    assert len(infos(caplog)) == 2  # standby once, however many retries; then acquired
    run.stop()


def test_unreachable_backend_warns_once_however_many_retries_then_recovers(
        clock: FakeClock, record: Recorder, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "threadhost.lease")
    table = LeaseTable()
    table.reachable = False
    lease = InMemoryLease(table, "nightly", check_interval=2.0, record=record)
    run = DriverRun(lease, clock, record)
    clock.advance(20.0)
    assert lease.calls["acquire"] == 11
    assert warnings(caplog) == [
        "Lease 'nightly' cannot be reached; service 'Job' stays on standby and the lease is "
        "tried again every 2.0s: the lease table cannot be reached"]
    assert not run.runs
    table.reachable = True
    clock.advance(2.0)
    assert record.snapshot()[-1] == "Job start fencing=1"
    assert len(warnings(caplog)) == 1
    run.stop()


def test_lost_lease_stops_the_service_before_releasing_then_goes_back_to_standby(
        clock: FakeClock, record: Recorder, caplog: pytest.LogCaptureFixture) -> None:
    table = LeaseTable()
    lease = InMemoryLease(table, "nightly", check_interval=5.0, record=record)
    run = DriverRun(lease, clock, record)
    clock.advance(5.0)
    assert record.snapshot()[-1] == "test:1 check -> True"
    table.revoke("nightly")  # the server ended the holder's session
    other = InMemoryLease(table, "nightly", holder="other:9")
    assert other.acquire() is not None
    clock.advance(5.0)
    assert record.snapshot()[4:] == [
        "test:1 check -> False", "Job stop", "test:1 release", "Job STANDBY"]
    clock.advance(5.0)  # the replica that lost the lease tries again one interval later
    assert record.snapshot()[-1] == "test:1 acquire -> None"
    assert run.runs[0].is_cancellation_requested
    assert warnings(caplog) == [
        "Lease 'nightly' was lost (the connection or the lock is gone); stopping service "
        "'Job' and going back to standby."]
    other.release()
    clock.advance(5.0)
    assert record.snapshot()[-1] == "Job start fencing=3"
    run.stop()


def test_check_that_raises_counts_as_a_lost_lease(
        clock: FakeClock, record: Recorder, caplog: pytest.LogCaptureFixture) -> None:
    class BrokenCheck(InMemoryLease):
        def check(self) -> bool:
            raise RuntimeError("socket gone")

    lease = BrokenCheck(LeaseTable(), "nightly", record=record)
    run = DriverRun(lease, clock, record)
    clock.advance(5.0)
    assert warnings(caplog) == [
        "Lease 'nightly' was lost (check() raised RuntimeError: socket gone); stopping "
        "service 'Job' and going back to standby."]
    assert run.runs[0].is_cancellation_requested
    run.stop()


def test_run_that_ends_by_itself_releases_the_lease_and_the_driver_returns(
        clock: FakeClock, record: Recorder) -> None:
    table = LeaseTable()
    lease = InMemoryLease(table, "nightly", record=record)
    run = DriverRun(lease, clock, record)
    clock.advance(0)
    run.end_run()
    assert record.snapshot() == ["Job STANDBY", "test:1 acquire -> 1", "Job start fencing=1",
                                 "test:1 release"]
    assert table.holder("nightly") is None


def test_stop_during_standby_releases_and_reports_stopped_without_starting(
        clock: FakeClock, record: Recorder) -> None:
    table = LeaseTable()
    assert InMemoryLease(table, "nightly", holder="other:9").acquire() is not None
    lease = InMemoryLease(table, "nightly", record=record)
    run = DriverRun(lease, clock, record)
    clock.advance(0)
    run.stop()
    assert record.snapshot() == ["Job STANDBY", "test:1 acquire -> None", "test:1 release",
                                 "Job STOPPED"]


def test_stop_arriving_while_the_lease_is_taken_gives_it_back_without_starting(
        clock: FakeClock, record: Recorder) -> None:
    table = LeaseTable()
    stop = th.CancellationTokenSource(clock)

    class StopDuringAcquire(InMemoryLease):
        def acquire(self) -> th.LeaseInfo | None:
            stop.cancel()
            return super().acquire()

    lease = StopDuringAcquire(table, "nightly", record=record)
    DriverRun(lease, clock, record, stop_source=stop).join()
    assert record.snapshot() == ["Job STANDBY", "test:1 acquire -> 1", "test:1 release",
                                 "Job STOPPED"]
    assert table.holder("nightly") is None


def test_start_that_raises_releases_the_lease_and_the_error_propagates(
        clock: FakeClock, record: Recorder) -> None:
    table = LeaseTable()
    lease = InMemoryLease(table, "nightly", record=record)

    class FailingStart(DriverRun):
        def _start(self, info: th.LeaseInfo) -> th.CancellationToken:
            raise OSError("cannot start")

    run = FailingStart(lease, clock, record)
    run.join()
    assert isinstance(run.error, OSError)
    assert record.snapshot() == ["Job STANDBY", "test:1 acquire -> 1", "test:1 release"]
    assert table.holder("nightly") is None


def test_release_that_raises_is_logged_and_the_driver_still_returns(
        clock: FakeClock, record: Recorder, caplog: pytest.LogCaptureFixture) -> None:
    class BrokenRelease(InMemoryLease):
        def release(self) -> None:
            raise RuntimeError("already closed")

    run = DriverRun(BrokenRelease(LeaseTable(), "nightly", record=record), clock, record)
    clock.advance(0)
    run.stop()
    assert run.error is None
    assert warnings(caplog) == [
        "Lease 'nightly' (service 'Job'): release() raised; the backend frees the lease when "
        "its connection ends."]


def test_two_replicas_on_one_table_run_the_service_one_at_a_time(
        clock: FakeClock, record: Recorder) -> None:
    table = LeaseTable()
    active: list[str] = []

    class Replica(DriverRun):
        def _start(self, info: th.LeaseInfo) -> th.CancellationToken:
            active.append(self.service)
            assert len(active) == 1, f"two runs at once: {active}"
            return super()._start(info)

        def _stop(self) -> None:
            super()._stop()
            active.remove(self.service)

    first = Replica(InMemoryLease(table, "nightly", holder="a:1", record=record), clock,
                    record, service="A")
    clock.advance(0)
    second = Replica(InMemoryLease(table, "nightly", holder="b:2", record=record), clock,
                     record, service="B")
    clock.advance(12.0)
    assert active == ["A"]
    first.stop()  # the host of replica A stops: B takes over on its next try
    clock.advance(5.0)
    assert active == ["B"]
    assert record.snapshot()[-2:] == ["b:2 acquire -> 2", "B start fencing=2"]
    second.stop()
    assert active == []
