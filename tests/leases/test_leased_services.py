"""Leased singleton services in a host (SPEC §11), under a FakeClock with an in-memory lease.

These need the host wiring of ``add_hosted_service(..., singleton=lease)`` and the STANDBY
state in health (SPEC §10).
"""

from __future__ import annotations

import logging
import threading

import pytest

import threadhost as th
from tests._leases import InMemoryLease, LeaseTable
from threadhost.contrib.postgres import PostgresLease
from threadhost.testing import FakeClock, run_host


class Job(th.BackgroundService):
    """Runs until stopped; records the lease each run held."""

    def __init__(self) -> None:
        self.leases: list[th.LeaseInfo | None] = []

    def execute(self, stopping_token: th.CancellationToken) -> None:
        self.leases.append(th.current_lease())
        stopping_token.wait()


class OneShot(th.BackgroundService):
    """Returns at once: its run ends by itself."""

    def __init__(self) -> None:
        self.runs = 0

    def execute(self, stopping_token: th.CancellationToken) -> None:
        self.runs += 1


def state(host: th.Host, name: str = "Job") -> object:
    return host.health().services[name].state


def test_leased_service_runs_holding_its_lease(
        host_builder: th.HostApplicationBuilder, fake_clock: FakeClock) -> None:
    table, job = LeaseTable(), Job()
    host_builder.services.add_hosted_service(job, singleton=InMemoryLease(table, "nightly"))
    with run_host(host_builder) as host:
        fake_clock.advance(0)
        assert job.leases == [th.LeaseInfo("nightly", "test:1", 1)]
        assert state(host) is th.ServiceState.RUNNING
    assert table.holder("nightly") is None  # released by the stop


def test_service_is_standby_healthy_and_ready_while_another_replica_holds_the_lease(
        host_builder: th.HostApplicationBuilder, fake_clock: FakeClock) -> None:
    table, job = LeaseTable(), Job()
    other = InMemoryLease(table, "nightly", holder="other:9")
    assert other.acquire() is not None
    host_builder.services.add_hosted_service(
        job, singleton=InMemoryLease(table, "nightly", check_interval=5.0))
    with run_host(host_builder) as host:
        fake_clock.advance(12.0)
        health = host.health()
        assert health.services["Job"].state is th.ServiceState.STANDBY
        assert health.status is th.HealthStatus.HEALTHY
        assert health.ready
        assert job.leases == []
        other.release()
        fake_clock.advance(5.0)  # the next try, one check_interval later, takes it
        assert job.leases == [th.LeaseInfo("nightly", "test:1", 2)]
        assert state(host) is th.ServiceState.RUNNING


def test_lost_lease_cancels_the_stopping_token_at_once_and_goes_back_to_standby(
        host_builder: th.HostApplicationBuilder, fake_clock: FakeClock,
        caplog: pytest.LogCaptureFixture) -> None:
    table, job = LeaseTable(), Job()
    host_builder.services.add_hosted_service(
        job, singleton=InMemoryLease(table, "nightly", check_interval=5.0))
    with run_host(host_builder) as host:
        fake_clock.advance(0)
        token = job.stopping_token
        table.revoke("nightly")  # the server ended the holder's session
        other = InMemoryLease(table, "nightly", holder="other:9")
        assert other.acquire() is not None
        fake_clock.advance(5.0)
        assert token.is_cancellation_requested
        assert state(host) is th.ServiceState.STANDBY
        assert any(r.levelno == logging.WARNING and "'nightly' was lost" in r.getMessage()
                   for r in caplog.records)
        other.release()
        fake_clock.advance(10.0)
        assert [info.fencing for info in job.leases if info] == [1, 3]


def test_service_whose_execute_returns_releases_the_lease_and_stays_stopped(
        host_builder: th.HostApplicationBuilder, fake_clock: FakeClock) -> None:
    table, job = LeaseTable(), OneShot()
    host_builder.services.add_hosted_service(
        job, singleton=InMemoryLease(table, "nightly", check_interval=5.0))
    with run_host(host_builder) as host:
        fake_clock.advance(20.0)
        assert job.runs == 1
        assert table.holder("nightly") is None
        assert state(host, "OneShot") is th.ServiceState.STOPPED


def test_unreachable_lease_keeps_the_service_on_standby_with_one_warning(
        host_builder: th.HostApplicationBuilder, fake_clock: FakeClock,
        caplog: pytest.LogCaptureFixture) -> None:
    table, job = LeaseTable(), Job()
    table.reachable = False
    host_builder.services.add_hosted_service(
        job, singleton=InMemoryLease(table, "nightly", check_interval=5.0))
    with run_host(host_builder) as host:
        fake_clock.advance(60.0)
        assert state(host) is th.ServiceState.STANDBY
        assert host.health().ready
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING
                    and "'nightly' cannot be reached" in r.getMessage()]
        assert len(warnings) == 1
        table.reachable = True
        fake_clock.advance(5.0)
        assert state(host) is th.ServiceState.RUNNING


def test_two_services_sharing_a_lease_name_fail_build(
        host_builder: th.HostApplicationBuilder) -> None:
    table = LeaseTable()
    host_builder.services.add_hosted_service(Job(), singleton=InMemoryLease(table, "nightly"))
    host_builder.services.add_hosted_service(OneShot(),
                                             singleton=InMemoryLease(table, "nightly"))
    with pytest.raises(th.ConfigurationError, match=r"both use the lease 'nightly'"):
        host_builder.build()


def test_malformed_conninfo_fails_build_naming_the_lease(
        host_builder: th.HostApplicationBuilder) -> None:
    host_builder.services.add_hosted_service(
        Job(), singleton=PostgresLease("host=db this-is-not-a-conninfo"))
    with pytest.raises(th.ConfigurationError, match=r"^PostgresLease 'Job': malformed "):
        host_builder.build()


class StartsThenFails(th.BackgroundService):
    """Its start launches the thread, then raises. The thread runs until its token fires,
    then records whether the lease was still held."""

    def __init__(self, table: LeaseTable) -> None:
        self.table = table
        self.recorded = threading.Event()
        self.held_when_stopped: list[bool] = []

    def start(self, cancellation_token: th.CancellationToken) -> None:
        super().start(cancellation_token)
        raise RuntimeError("start failed after its thread began")

    def execute(self, stopping_token: th.CancellationToken) -> None:
        stopping_token.wait(60)
        self.held_when_stopped.append(self.table.holder("nightly") is not None)
        self.recorded.set()


def test_a_leased_start_that_fails_after_its_thread_began_stops_it_before_the_release() -> None:
    # The system clock: the lease thread waits for the job's real thread.
    table = LeaseTable()
    job = StartsThenFails(table)
    builder = th.Host.create_application_builder([])
    builder.services.add_singleton(th.HostLifetime, th.NullLifetime)
    builder.services.add_hosted_service(job, singleton=InMemoryLease(table, "nightly"))
    host = builder.build()
    host.start()
    try:
        assert job.recorded.wait(10), "the failed start's thread was never asked to stop"
    finally:
        host.stop()
        host.close()
    assert job.held_when_stopped == [True]  # the lease outlived the job's thread ...
    assert table.holder("nightly") is None  # ... and was released after it
    assert job.thread is not None and not job.thread.is_alive()



class SignalledJob(Job):
    """A Job that says when its run has begun (it begins once its lease is taken)."""

    def __init__(self) -> None:
        super().__init__()
        self.running = threading.Event()

    def execute(self, stopping_token: th.CancellationToken) -> None:
        self.running.set()
        super().execute(stopping_token)


def test_a_lease_thread_finishing_its_exit_hooks_as_the_stop_ends_is_no_straggler() -> None:
    # The lease thread releases the lease, then runs the host's thread-exit hooks (the demo
    # closes its database connection there): the stop waits for it to end, within its budget,
    # instead of reporting it stuck.
    table, job = LeaseTable(), SignalledJob()
    builder = th.Host.create_application_builder([])
    builder.services.add_singleton(th.HostLifetime, th.NullLifetime)
    builder.services.add_hosted_service(job, singleton=InMemoryLease(table, "nightly"))

    def slow_close_on_the_lease_thread() -> None:
        if threading.current_thread().name.startswith("threadhost:lease:"):
            threading.Event().wait(0.05)  # a connection that takes a moment to close

    builder.add_thread_exit_hook(slow_close_on_the_lease_thread)
    host = builder.build()
    try:
        host.start()
        assert job.running.wait(10), "the leased job never ran"
        report = host.stop()
    finally:
        host.close()
    assert report.stragglers == () and report.clean, report
    assert table.holder("nightly") is None
