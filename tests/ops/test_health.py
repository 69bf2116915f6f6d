"""host.health() on a FakeClock: states over a service's life, the liveness rule, heartbeats,
custom checks (raising, hanging, odd answers), readiness and the drain."""

from __future__ import annotations

import json
import threading

import pytest

import threadhost as th
from tests._services import WAIT, make_builder, stop_within
from threadhost.testing import FakeClock

S = th.ServiceState
H = th.HealthStatus


class Waits(th.BackgroundService):
    """Waits for its stopping token; heartbeats when the test asks it to."""

    def execute(self, stopping_token: th.CancellationToken) -> None:
        stopping_token.wait()


class Returns(th.BackgroundService):
    """Returns from execute when ``go`` is cancelled (a wait on the clock)."""

    def __init__(self, clock: th.Clock) -> None:
        self.go = th.CancellationTokenSource(clock)

    def execute(self, stopping_token: th.CancellationToken) -> None:
        self.go.token.wait()


class Crashes(th.BackgroundService):
    """Raises one virtual second after it starts (the host is RUNNING by then)."""

    def execute(self, stopping_token: th.CancellationToken) -> None:
        if not stopping_token.wait(1.0):
            raise RuntimeError("boom")


class Sees(th.HostedLifecycleService):
    """Records host.health() from inside its own start hooks."""

    def __init__(self) -> None:
        self.host: th.Host | None = None
        self.seen: list[th.HealthReport] = []

    def _look(self) -> None:
        assert self.host is not None
        self.seen.append(self.host.health())

    def starting(self, cancellation_token: th.CancellationToken) -> None:
        self._look()

    def start(self, cancellation_token: th.CancellationToken) -> None:
        self._look()

    def stop(self, cancellation_token: th.CancellationToken) -> None:
        self._look()


class Hung(th.BackgroundService):
    liveness_timeout = 10.0

    def execute(self, stopping_token: th.CancellationToken) -> None:
        stopping_token.wait()


class Ticks(th.PeriodicBackgroundService):
    interval = 5.0
    liveness_timeout = 6.0

    def run_once(self, stopping_token: th.CancellationToken) -> None:
        pass


def test_health_before_start_lists_no_service_and_is_not_ready(fake_clock: FakeClock) -> None:
    host = make_builder(Waits, clock=fake_clock).build()
    report = host.health()
    assert (report.status, report.ready, dict(report.services)) == (H.HEALTHY, False, {})
    host.close()


def test_states_over_a_service_life_starting_running_stopped(fake_clock: FakeClock) -> None:
    sees, returns = Sees(), Returns(fake_clock)
    host = make_builder(sees, Waits, returns, clock=fake_clock).build()
    sees.host = host
    host.start()
    starting, start = sees.seen
    assert starting.services["Sees"].state is S.STARTING
    assert start.services["Waits"].state is S.CREATED
    assert not start.ready
    report = host.health()
    assert {n: s.state for n, s in report.services.items()} == {
        "Sees": S.RUNNING, "Waits": S.RUNNING, "Returns": S.RUNNING}
    assert report.ready and report.status is H.HEALTHY
    returns.go.cancel()
    fake_clock.advance(0)
    assert host.health().services["Returns"].state is S.STOPPED
    assert host.health().services["Returns"].heartbeat_age is None
    assert host.health().status is H.HEALTHY
    report_at_stop = stop_within(host)
    assert report_at_stop.clean
    during = sees.seen[-1]
    assert during.services["Sees"].state is S.STOPPING and not during.ready
    after = host.health()
    assert {s.state for s in after.services.values()} == {S.STOPPED}
    assert not after.ready
    host.close()


class SeesInStarted(th.HostedLifecycleService):
    """Records host.health() from inside its ``started`` hook."""

    def __init__(self) -> None:
        self.host: th.Host | None = None
        self.seen: list[th.HealthReport] = []

    def start(self, cancellation_token: th.CancellationToken) -> None:
        pass

    def started(self, cancellation_token: th.CancellationToken) -> None:
        assert self.host is not None
        self.seen.append(self.host.health())

    def stop(self, cancellation_token: th.CancellationToken) -> None:
        pass


def test_a_service_is_running_once_its_own_last_start_call_returned(
        fake_clock: FakeClock) -> None:
    sees = SeesInStarted()
    host = make_builder(Waits, sees, clock=fake_clock).build()
    sees.host = host
    host.start()
    [during] = sees.seen
    # Waits made its only start call; SeesInStarted is inside its last one.
    assert during.services["Waits"].state is S.RUNNING
    assert during.services["SeesInStarted"].state is S.STARTING
    assert host.health().services["SeesInStarted"].state is S.RUNNING
    assert stop_within(host).clean
    host.close()


def test_a_service_that_failed_for_good_is_failed_and_unhealthy_also_after_the_stop(
        fake_clock: FakeClock) -> None:
    host = make_builder(Waits, Crashes, clock=fake_clock,
                        background_service_exception_behavior="Ignore").build()
    host.start()
    fake_clock.advance(1.0)
    report = host.health()
    crashed = report.services["Crashes"]
    assert crashed.state is S.FAILED
    assert crashed.last_error == "RuntimeError: boom"
    assert (report.status, report.ready) == (H.UNHEALTHY, False)
    stop_within(host)
    assert host.health().services["Crashes"].state is S.FAILED
    assert host.health().status is H.UNHEALTHY
    host.close()


def test_a_service_waiting_out_a_restart_backoff_is_restarting_and_degraded(
        fake_clock: FakeClock) -> None:
    builder = make_builder(clock=fake_clock)
    builder.services.add_hosted_service(Crashes, restart=th.RestartPolicy(
        mode=th.RestartMode.ON_FAILURE, backoff=30.0, max_restarts=100))
    host = builder.build()
    host.start()
    fake_clock.advance(1.0)
    report = host.health()
    service = report.services["Crashes"]
    assert (service.state, service.restarts, service.failures) == (S.RESTARTING, 1, 1)
    assert service.heartbeat_age is None
    assert (report.status, report.ready) == (H.DEGRADED, True)
    stop_within(host)
    host.close()


def test_heartbeat_age_counts_from_the_run_start_until_the_first_heartbeat(
        fake_clock: FakeClock) -> None:
    waits = Waits()
    host = make_builder(waits, clock=fake_clock).build()
    host.start()
    fake_clock.advance(7)
    assert host.health().services["Waits"].heartbeat_age == 7.0
    waits.heartbeat()
    fake_clock.advance(2)
    assert host.health().services["Waits"].heartbeat_age == 2.0
    stop_within(host)
    host.close()


def test_liveness_fails_only_when_the_heartbeat_is_strictly_older_than_the_timeout(
        fake_clock: FakeClock) -> None:
    hung = Hung()
    host = make_builder(hung, clock=fake_clock).build()
    host.start()
    fake_clock.advance(10)
    report = host.health()
    assert report.services["Hung"].heartbeat_age == 10.0
    assert (report.status, report.ready) == (H.HEALTHY, True)
    fake_clock.advance(0.5)
    report = host.health()
    assert (report.status, report.ready) == (H.UNHEALTHY, False)
    hung.heartbeat()  # any thread may heartbeat
    assert host.health().status is H.HEALTHY
    stop_within(host)
    host.close()


def test_the_registration_liveness_timeout_wins_over_the_class_attribute(
        fake_clock: FakeClock) -> None:
    builder = make_builder(clock=fake_clock)
    builder.services.add_hosted_service(Hung, liveness_timeout=60.0)
    host = builder.build()
    host.start()
    fake_clock.advance(30)
    assert host.health().status is H.HEALTHY
    fake_clock.advance(31)
    assert host.health().status is H.UNHEALTHY
    stop_within(host)
    host.close()


def test_without_a_liveness_timeout_heartbeats_are_not_checked(fake_clock: FakeClock) -> None:
    host = make_builder(Waits, clock=fake_clock).build()
    host.start()
    fake_clock.advance(10_000)
    assert host.health().status is H.HEALTHY
    stop_within(host)
    host.close()


def test_heartbeat_before_start_does_nothing() -> None:
    Waits().heartbeat()


def test_a_bad_liveness_timeout_class_attribute_fails_the_start(fake_clock: FakeClock) -> None:
    class BadLiveness(Waits):
        liveness_timeout = -1.0

    host = make_builder(BadLiveness, clock=fake_clock).build()
    with pytest.raises(th.HostStartupError, match=r"BadLiveness.liveness_timeout=-1.0 is "
                                                  r"invalid: expected seconds > 0, or None"):
        host.start()
    host.close()


def test_a_periodic_service_heartbeats_after_every_run(fake_clock: FakeClock) -> None:
    host = make_builder(Ticks, clock=fake_clock).build()
    host.start()
    for _ in range(10):
        fake_clock.advance(4)
        report = host.health()
        assert report.status is H.HEALTHY, report.to_dict()
        age = report.services["Ticks"].heartbeat_age
        assert age is not None and age < 5.0
    stop_within(host)
    host.close()


def test_an_idle_queued_service_heartbeats_every_second(fake_clock: FakeClock) -> None:
    queue = th.BackgroundTaskQueue(10)
    builder = make_builder(clock=fake_clock)
    builder.services.add_instance(th.BackgroundTaskQueue, queue)
    builder.services.add_hosted_service(th.QueuedHostedService, liveness_timeout=1.0)
    host = builder.build()
    host.start()
    fake_clock.advance(30.5)
    report = host.health()
    age = report.services["QueuedHostedService"].heartbeat_age
    assert age is not None and age <= 1.0
    assert report.status is H.HEALTHY
    stop_within(host)
    host.close()


def test_a_stuck_work_item_makes_the_queued_service_unhealthy(fake_clock: FakeClock) -> None:
    queue = th.BackgroundTaskQueue(10)
    release = th.CancellationTokenSource(fake_clock)
    builder = make_builder(clock=fake_clock)
    builder.services.add_instance(th.BackgroundTaskQueue, queue)
    builder.services.add_hosted_service(th.QueuedHostedService, liveness_timeout=5.0)
    host = builder.build()
    host.start()
    queue.enqueue(lambda token: release.token.wait())
    fake_clock.advance(5.0)
    assert host.health().status is H.HEALTHY
    fake_clock.advance(0.5)
    assert host.health().status is H.UNHEALTHY
    release.cancel()
    fake_clock.advance(0)
    assert host.health().status is H.HEALTHY  # the item ended: a heartbeat
    stop_within(host)
    host.close()


# -- custom checks ---------------------------------------------------------------------------


def _host_with_checks(fake_clock: FakeClock, **checks: object) -> th.Host:
    builder = make_builder(Waits, clock=fake_clock)
    for name, check in checks.items():
        builder.services.add_health_check(name, check)  # type: ignore[arg-type]
    host = builder.build()
    host.start()
    return host


@pytest.mark.parametrize(("answer", "status"), [
    (True, H.HEALTHY), (False, H.UNHEALTHY), (H.HEALTHY, H.HEALTHY),
    (H.DEGRADED, H.DEGRADED), (H.UNHEALTHY, H.UNHEALTHY)])
def test_a_check_answers_with_a_status_or_a_bool(fake_clock: FakeClock, answer: object,
                                                 status: th.HealthStatus) -> None:
    host = _host_with_checks(fake_clock, db=lambda: answer)
    report = host.health()
    assert report.checks == {"db": status}
    assert report.status is status
    assert report.ready is (status is not H.UNHEALTHY)
    stop_within(host)
    host.close()


def test_a_check_that_raises_is_unhealthy_with_its_error_and_never_raises_in_the_caller(
        fake_clock: FakeClock) -> None:
    def broken() -> bool:
        raise ConnectionError("db down")

    host = _host_with_checks(fake_clock, db=broken, cache=lambda: True)
    report = host.health()
    assert report.checks == {"db": H.UNHEALTHY, "cache": H.HEALTHY}
    assert report.check_errors == {"db": "ConnectionError: db down"}
    assert report.to_dict()["checks"]["db"] == {"status": "unhealthy",
                                                "error": "ConnectionError: db down"}
    stop_within(host)
    host.close()


def test_a_check_that_returns_something_else_is_unhealthy(fake_clock: FakeClock) -> None:
    host = _host_with_checks(fake_clock, odd=lambda: "yes")
    report = host.health()
    assert report.checks == {"odd": H.UNHEALTHY}
    assert "returned 'yes'" in report.check_errors["odd"]
    stop_within(host)
    host.close()


def test_a_hung_check_is_unhealthy_for_that_call_and_runs_on_one_thread_only(
        fake_clock: FakeClock) -> None:
    release = threading.Event()
    calls: list[str] = []

    def hangs() -> bool:
        calls.append(threading.current_thread().name)
        return release.wait(WAIT)

    host = _host_with_checks(fake_clock, slow=hangs)
    try:
        first = host.health()
        second = host.health()
        assert first.checks == second.checks == {"slow": H.UNHEALTHY}
        assert "did not answer within 1.0s" in first.check_errors["slow"]
        assert calls == ["threadhost:health:slow"]  # the second call waited for the same run
    finally:
        release.set()
    stop_within(host)
    host.close()


def test_add_health_check_rejects_bad_arguments() -> None:
    services = th.Host.create_application_builder([]).services
    with pytest.raises(TypeError, match=r"^add_health_check\('x', check=3\): the check must"):
        services.add_health_check("x", 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^add_health_check\(name=''\)"):
        services.add_health_check("", lambda: True)
    services.add_health_check("x", lambda: True)
    with pytest.raises(ValueError, match=r"^add_health_check\('x'\): a check of that name"):
        services.add_health_check("x", lambda: True)


def test_the_report_is_json_ready(fake_clock: FakeClock) -> None:
    host = _host_with_checks(fake_clock, db=lambda: H.DEGRADED)
    fake_clock.advance(1.5)
    data = json.loads(json.dumps(host.health().to_dict()))
    assert data == {
        "status": "degraded", "ready": True,
        "services": {"Waits": {"state": "running", "restarts": 0, "failures": 0,
                               "last_error": None, "heartbeat_age": 1.5}},
        "checks": {"db": {"status": "degraded", "error": None}},
    }
    stop_within(host)
    host.close()


# -- readiness and the drain -----------------------------------------------------------------


def test_readiness_is_false_before_stop_application_returns(fake_clock: FakeClock) -> None:
    host = make_builder(Waits, clock=fake_clock, shutdown_delay=5.0,
                        shutdown_timeout=30.0).build()
    host.start()
    app = host.services.get(th.HostApplicationLifetime)
    assert host.health().ready
    app.stop_application()
    assert not host.health().ready
    assert host.health().services["Waits"].state is S.RUNNING  # the drain: still running
    fake_clock.advance(5.0)
    stop_within(host)
    host.close()


def test_the_drain_keeps_services_running_for_the_delay_then_stops(
        fake_clock: FakeClock) -> None:
    waits = Waits()
    host = make_builder(waits, clock=fake_clock, shutdown_delay=5.0,
                        shutdown_timeout=30.0).build()
    host.start()
    app = host.services.get(th.HostApplicationLifetime)
    stopping_at: list[float] = []
    app.application_stopping.register(lambda: stopping_at.append(fake_clock.monotonic()))
    began = fake_clock.monotonic()
    app.stop_application()
    fake_clock.advance(4.9)
    assert not app.application_stopping.is_cancellation_requested
    assert host.health().services["Waits"].state is S.RUNNING
    assert not waits.stopping_token.is_cancellation_requested
    fake_clock.advance(0.1)
    assert app.application_stopping.wait(WAIT)
    assert stopping_at == [began + 5.0]
    report = stop_within(host)
    assert report.clean
    assert report.elapsed == 5.0  # the delay counts against the one deadline
    host.close()


def test_a_stop_timeout_shorter_than_the_delay_cuts_the_drain() -> None:
    clock = FakeClock(autojump=True)
    host = make_builder(Waits, clock=clock, shutdown_delay=20.0, shutdown_timeout=30.0).build()
    host.start()
    report = host.stop(timeout=2.0)
    assert 2.0 <= report.elapsed < 20.0
    host.close()


def test_a_delay_that_does_not_fit_the_timeout_fails_build_naming_both_keys() -> None:
    builder = make_builder(args=["--HostOptions:ShutdownDelay=10",
                                 "--HostOptions:ShutdownTimeout=10"])
    with pytest.raises(th.ConfigurationError, match=r"HostOptions:ShutdownDelay=10\.0 does not "
                                                    r"fit in HostOptions:ShutdownTimeout=10\.0"):
        builder.build()
