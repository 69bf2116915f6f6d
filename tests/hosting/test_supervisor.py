"""Restart policies on a FakeClock: exact delays, the intensity limit, no overlap, counts."""

from __future__ import annotations

import functools
import logging
import threading

import pytest

import threadhost as th
from tests._services import WAIT, Recorder, make_builder, stop_within
from threadhost.testing import FakeClock

ON_FAILURE = th.RestartMode.ON_FAILURE


class CrashesEveryRun(th.BackgroundService):
    """Records (virtual time, thread) at each run's start, and whether the previous run's
    thread had ended; raises until ``runs_to_crash`` runs have crashed, then waits."""

    def __init__(self, runs_to_crash: int = 1_000, run_for: dict[int, float] | None = None
                 ) -> None:
        self.starts: list[float] = []
        self.changed = threading.Condition()
        self.overlaps: list[bool] = []
        self.threads: list[threading.Thread] = []
        self.runs_to_crash = runs_to_crash
        self.run_for = run_for or {}  # run number -> virtual seconds it lasts before crashing
        self.lock = threading.Lock()
        self.running = False

    def execute(self, stopping_token: th.CancellationToken) -> None:
        with self.lock:
            self.overlaps.append(self.running or any(t.is_alive() for t in self.threads))
            self.running = True
        self.threads.append(threading.current_thread())
        with self.changed:
            self.starts.append(stopping_token.clock.monotonic())
            self.changed.notify_all()
        try:
            lasts = self.run_for.get(len(self.starts), 0.0)
            if lasts and stopping_token.wait(lasts):
                return
            if len(self.starts) <= self.runs_to_crash:
                raise RuntimeError(f"run {len(self.starts)} broke")
            stopping_token.wait()
        finally:
            with self.lock:
                self.running = False

    def wait_runs(self, count: int) -> None:
        """Block until ``count`` runs have begun; fail loudly after WAIT real seconds."""
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.starts) >= count, WAIT), self.starts


def policy(**fields: object) -> th.RestartPolicy:
    return th.RestartPolicy(mode=ON_FAILURE, **fields)  # type: ignore[arg-type]


def host_of(service: CrashesEveryRun, clock: FakeClock, **fields: object) -> th.Host:
    """A host (built, not started) on ``clock`` running ``service`` under ``policy(**fields)``."""
    builder = make_builder(clock=clock)
    builder.services.add_hosted_service(service, restart=policy(**fields))
    return builder.build()


def restarted_until(service: CrashesEveryRun, runs: int, **fields: object) -> th.ShutdownReport:
    """Run ``service`` under ``policy(**fields)`` and autojump until ``runs`` runs have begun;
    then stop the host and return its report."""
    host = host_of(service, FakeClock(autojump=True), **fields)
    host.start()
    service.wait_runs(runs)
    report = stop_within(host)
    host.close()
    return report


def test_restart_delays_follow_the_backoff_exactly_on_the_host_clock() -> None:
    service = CrashesEveryRun(runs_to_crash=6)
    report = restarted_until(service, 7, backoff=1, multiplier=2, max_backoff=5,
                             max_restarts=10, within=1000)
    # Delays 1, 2, 4, then capped at 5: runs begin at 0, 1, 3, 7, 12, 17, 22.
    assert service.starts == [0, 1, 3, 7, 12, 17, 22]
    assert report.restarts == {"CrashesEveryRun": 6}
    assert report.failures == {"CrashesEveryRun": 6}
    assert report.clean and report.exit_code == 0


def test_a_restart_never_overlaps_the_previous_run_and_uses_a_new_thread_of_the_same_name(
) -> None:
    service = CrashesEveryRun(runs_to_crash=3)
    host = host_of(service, FakeClock(autojump=True), backoff=0)
    host.start()
    service.wait_runs(4)
    stop_within(host)
    host.close()
    assert service.overlaps == [False] * 4
    assert len({id(t) for t in service.threads}) == 4
    assert {t.name for t in service.threads} == {"threadhost:CrashesEveryRun"}


def test_more_restarts_than_the_limit_within_the_period_fail_the_service_for_good(
        caplog: pytest.LogCaptureFixture) -> None:
    service = CrashesEveryRun()
    host = host_of(service, FakeClock(autojump=True), backoff=1, multiplier=1, max_restarts=3,
                   within=60)
    with caplog.at_level(logging.ERROR, logger="threadhost"):
        assert host.run() == 1
    report = host.report
    assert report is not None
    assert service.starts == [0, 1, 2, 3]
    assert report.restarts == {"CrashesEveryRun": 3}
    assert report.failures == {"CrashesEveryRun": 3}
    assert [(e.name, str(e.exception)) for e in report.errors] == [
        ("CrashesEveryRun", "run 4 broke")]
    assert report.reason == "service 'CrashesEveryRun' crashed: RuntimeError('run 4 broke')"
    messages = [r.getMessage() for r in caplog.records]
    assert any("restart 3 in a row in 1s" in m for m in messages)
    assert any("failed for good" in m for m in messages)


def test_restarts_spread_over_more_than_the_period_never_reach_the_limit() -> None:
    service = CrashesEveryRun(runs_to_crash=5)
    report = restarted_until(service, 6, backoff=30, multiplier=1, max_restarts=1, within=20)
    assert service.starts == [0, 30, 60, 90, 120, 150]
    assert report.clean and report.restarts == {"CrashesEveryRun": 5}


def test_the_backoff_starts_over_after_a_run_longer_than_the_period() -> None:
    service = CrashesEveryRun(runs_to_crash=3, run_for={3: 100})
    report = restarted_until(service, 4, backoff=1, multiplier=10, max_restarts=10, within=50)
    # Delays 1, 10, then (after a 100 s run) 1 again.
    assert service.starts == [0, 1, 11, 112]
    assert report.restarts == {"CrashesEveryRun": 3}


def test_a_stop_during_a_backoff_cancels_the_restart_at_once() -> None:
    clock = FakeClock()  # manual: time never reaches the end of the backoff
    service = CrashesEveryRun(runs_to_crash=1)
    host = host_of(service, clock, backoff=3600)
    host.start()
    service.wait_runs(1)
    service.threads[0].join(WAIT)  # it decided on the restart before it ended
    report = stop_within(host)  # no clock.advance: the backoff is cancelled, not waited out
    host.close()
    assert service.starts == [0]
    assert clock.monotonic() == 0
    # The restart never happened: it is not counted; the crash it would have followed is.
    assert report.clean and report.restarts == {}
    assert report.failures == {"CrashesEveryRun": 1}


def test_always_restarts_a_run_that_returned_while_the_host_runs() -> None:
    clock = FakeClock(autojump=True)
    runs = Recorder()
    changed = threading.Condition()

    class ReturnsAtOnce(th.BackgroundService):
        def execute(self, stopping_token: th.CancellationToken) -> None:
            with changed:
                runs(str(stopping_token.clock.monotonic()))
                changed.notify_all()

    builder = make_builder(clock=clock, restart=th.RestartPolicy(
        mode=th.RestartMode.ALWAYS, backoff=5, multiplier=1, max_restarts=100, within=1))
    builder.services.add_hosted_service(ReturnsAtOnce())
    host = builder.build()
    host.start()
    with changed:
        assert changed.wait_for(lambda: len(runs.snapshot()) >= 4, WAIT)
    report = stop_within(host)
    host.close()
    assert runs.snapshot()[:4] == ["0.0", "5.0", "10.0", "15.0"]
    assert report.failures == {} and report.clean


def test_never_is_the_default_and_a_crash_stops_the_host() -> None:
    clock = FakeClock(autojump=True)
    service = CrashesEveryRun()
    assert make_builder(service, clock=clock).build().run() == 1
    assert service.starts == [0]


def test_the_policy_is_bound_from_configuration() -> None:
    host = make_builder(args=[
        "--HostOptions:Restart:Mode=OnFailure", "--HostOptions:Restart:MaxRestarts=7",
        "--HostOptions:Restart:Backoff=0.5", "--HostOptions:Restart:Jitter=0.1"]).build()
    assert host.services.get(th.HostOptions).restart == th.RestartPolicy(
        mode=ON_FAILURE, max_restarts=7, backoff=0.5, jitter=0.1)
    host.close()


@pytest.mark.parametrize(("arg", "message"), [
    ("--HostOptions:Restart:Backoff=-1",
     r"HostOptions:Restart:Backoff='-1' is invalid: expected seconds >= 0"),
    ("--HostOptions:Restart:MaxRestarts=-2",
     r"HostOptions:Restart:MaxRestarts='-2' is invalid: expected a whole number >= 0"),
    ("--HostOptions:Restart:Multiplier=0.5",
     r"HostOptions:Restart:Multiplier='0.5' is invalid: expected a number >= 1"),
    ("--HostOptions:Restart:Jitter=1.5",
     r"HostOptions:Restart:Jitter='1.5' is invalid: expected a fraction from 0 to 1"),
    ("--HostOptions:Restart:Mode=Sometimes",
     r"HostOptions:Restart:Mode='Sometimes' is invalid: expected one of"),
])
def test_a_nonsense_policy_in_configuration_fails_build_naming_the_key_and_value(
        arg: str, message: str) -> None:
    with pytest.raises(th.ConfigurationError, match=message):
        make_builder(args=[arg]).build()


def test_a_nonsense_policy_in_code_is_refused_naming_the_field_and_value() -> None:
    with pytest.raises(ValueError, match=r"^RestartPolicy\.backoff=-1 is invalid"):
        th.RestartPolicy(backoff=-1)
    with pytest.raises(ValueError, match=r"^RestartPolicy\.jitter=2 is invalid"):
        th.RestartPolicy(jitter=2)
    with pytest.raises(TypeError, match=r"restart='often'\): expected a threadhost.RestartPolicy"):
        make_builder().services.add_hosted_service(
            CrashesEveryRun(), restart="often")  # type: ignore[arg-type]


def test_jitter_scales_each_delay_within_its_bounds() -> None:
    restart = th.RestartPolicy(backoff=10, multiplier=1, jitter=0.5)
    delays = [restart.delay(1) for _ in range(200)]
    assert all(5 <= d <= 15 for d in delays)
    assert len(set(delays)) > 100


# -- failures that never hide ------------------------------------------------------------


class Flaky(th.PeriodicBackgroundService):
    interval = 10.0

    def __init__(self, fail_runs: set[int], max_consecutive_failures: int | None = None
                 ) -> None:
        self.fail_runs = fail_runs
        self.runs = 0
        self.max_consecutive_failures = max_consecutive_failures
        self.changed = threading.Condition()

    def run_once(self, stopping_token: th.CancellationToken) -> None:
        with self.changed:
            self.runs += 1
            self.changed.notify_all()
        if self.runs in self.fail_runs:
            raise ValueError(f"run {self.runs}")


def test_run_once_errors_are_counted_and_do_not_make_the_report_unclean() -> None:
    clock = FakeClock()
    flaky = Flaky({2, 3})
    with make_builder(flaky, clock=clock).build() as host:
        clock.advance(40)
    assert host.report is not None
    assert flaky.runs == 5
    assert host.report.failures == {"Flaky": 2} and host.report.clean
    assert "errors survived: Flaky 2" in str(host.report)


def test_max_consecutive_failures_makes_the_service_fail() -> None:
    clock = FakeClock(autojump=True)
    flaky = Flaky({2, 3, 4, 5}, max_consecutive_failures=3)
    assert make_builder(flaky, clock=clock).build().run() == 1
    assert flaky.runs == 4  # runs 2, 3, 4 raised in a row


def test_max_consecutive_failures_then_restart_resets_the_count() -> None:
    clock = FakeClock(autojump=True)
    flaky = Flaky({1, 2, 3, 4}, max_consecutive_failures=2)
    builder = make_builder(clock=clock)
    builder.services.add_hosted_service(flaky, restart=policy(backoff=1))
    host = builder.build()
    host.start()
    with flaky.changed:
        assert flaky.changed.wait_for(lambda: flaky.runs >= 6, WAIT)
    report = stop_within(host)
    host.close()
    # Runs 1-2 fail -> restart; runs 3-4 fail -> restart; run 5 on returns.
    assert report.restarts == {"Flaky": 2}
    assert report.failures == {"Flaky": 4}  # runs 1 and 3 survived, plus 2 restarted crashes


def test_work_items_that_raise_are_counted_and_the_workers_go_on() -> None:
    queue = th.BackgroundTaskQueue(10)
    done: list[int] = []

    def boom(token: th.CancellationToken) -> None:
        raise ValueError("boom")

    for item in (boom, lambda token: done.append(1), boom):
        queue.enqueue(item)
    builder = make_builder()
    builder.services.add_instance(th.BackgroundTaskQueue, queue)
    builder.services.add_hosted_service(th.QueuedHostedService)
    host = builder.build()
    host.start()
    report = stop_within(host)
    host.close()
    assert done == [1]
    assert report.failures == {"QueuedHostedService": 2} and report.clean


def test_on_unfinished_receives_exactly_the_items_not_started_in_order_before_stop_returns(
) -> None:
    clock = FakeClock(autojump=True)
    handed: list[list[object]] = []
    entered = threading.Event()

    def slow(token: th.CancellationToken) -> None:
        entered.set()
        token.wait()  # still running at the deadline: its token is cancelled then

    items = [functools.partial(print, n) for n in range(5)]
    queue = th.BackgroundTaskQueue(10, on_unfinished=handed.append)
    queue.enqueue(slow)
    for item in items:
        queue.enqueue(item)  # type: ignore[arg-type]
    builder = make_builder(clock=clock, shutdown_timeout=10)
    builder.services.add_instance(th.BackgroundTaskQueue, queue)
    builder.services.add_hosted_service(th.QueuedHostedService)
    host = builder.build()
    host.start()
    assert entered.wait(WAIT)
    report = stop_within(host)
    host.close()
    assert handed == [items]
    assert [w.item for w in report.unfinished_work] == items


def test_an_exception_from_on_unfinished_is_reported() -> None:
    clock = FakeClock(autojump=True)

    def refuse(items: list[object]) -> None:
        raise OSError("disk full")

    queue = th.BackgroundTaskQueue(10, on_unfinished=refuse)
    queue.enqueue(lambda token: token.wait())
    queue.enqueue(lambda token: None)
    builder = make_builder(clock=clock, shutdown_timeout=10)
    builder.services.add_instance(th.BackgroundTaskQueue, queue)
    builder.services.add_hosted_service(th.QueuedHostedService)
    host = builder.build()
    host.start()
    report = stop_within(host)
    host.close()
    assert [(e.name, type(e.exception)) for e in report.errors] == [
        ("QueuedHostedService", OSError)]


def test_the_unfinished_warning_names_lambdas_and_partials_readably() -> None:
    from threadhost._services.messages import describe

    def job(token: th.CancellationToken, n: int) -> None:
        pass

    where = f"{__name__}.test_the_unfinished_warning_names_lambdas_and_partials_readably"
    assert describe(functools.partial(job, n=3)) == f"partial({where}.<locals>.job, n=3)"
    assert describe(lambda token: None) == f"{where}.<locals>.<lambda>"
    assert describe(42) == "42"


def test_a_crash_while_the_host_is_still_starting_shows_restarting_during_the_backoff() -> None:
    clock = FakeClock()
    service = CrashesEveryRun(runs_to_crash=1)
    host = host_of(service, clock, backoff=60)
    host.start()
    service.wait_runs(1)
    service.threads[0].join(WAIT)
    health = host.health()
    assert health.services["CrashesEveryRun"].state is th.ServiceState.RESTARTING
    assert health.status is th.HealthStatus.DEGRADED
    clock.advance(60)
    service.wait_runs(2)
    assert host.health().services["CrashesEveryRun"].state is th.ServiceState.RUNNING
    stop_within(host)
    host.close()
