"""CronBackgroundService and add_schedule on a FakeClock: a virtual year, misfires, no
overlap, jitter, restarts with a shared state, errors at build(), health and metrics."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import threadhost as th
from tests._probe import Probe
from tests._services import make_builder, stop_within
from threadhost.testing import FakeClock

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YEAR = datetime(2026, 1, 1, tzinfo=UTC)


class Runs:
    """What each run saw: its fire time, and the host clock's wall time at its start and end."""

    def __init__(self, clock: th.Clock, busy: dict[int, float] | None = None,
                 fail: set[int] | None = None) -> None:
        self.clock = clock
        self.busy = busy or {}  # run number -> virtual seconds the run takes
        self.fail = fail or set()  # run numbers that raise
        self.fired: list[datetime] = []
        self.spans: list[tuple[datetime, datetime]] = []
        self._lock = threading.Lock()

    def __call__(self, stopping_token: th.CancellationToken, fire_time: datetime) -> None:
        began = self.clock.now()
        with self._lock:
            number = len(self.fired)
            self.fired.append(fire_time)
        stopping_token.wait(self.busy.get(number, 0.0))
        self.spans.append((began, self.clock.now()))
        if number in self.fail:
            raise RuntimeError(f"run {number} broke")


def host_with(clock: FakeClock, runs: Runs, schedule: str, **options: object) -> th.Host:
    builder = make_builder(clock=clock)
    builder.services.add_schedule(runs, schedule, name="job", **options)  # type: ignore[arg-type]
    return builder.build()


def test_a_virtual_year_of_a_daily_berlin_job_runs_once_a_day_dst_days_included() -> None:
    clock = FakeClock(NEW_YEAR, autojump=True)
    runs = Runs(clock)
    # hold(): no time passes between the host's start and the sleep (else autojump may move
    # it as soon as the schedule waits, and the year starts late).
    with clock.hold(), host_with(clock, runs, "30 2 * * *", timezone="Europe/Berlin"):
        clock.sleep(365 * 86400)
    assert len(runs.fired) == 365
    assert len({f.date() for f in runs.fired}) == 365
    by_day = {f.date(): f for f in runs.fired}
    spring, autumn = by_day[datetime(2026, 3, 29).date()], by_day[datetime(2026, 10, 25).date()]
    assert spring == datetime(2026, 3, 29, 3, 0, tzinfo=BERLIN)  # 02:30 does not exist
    assert autumn.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # the first
    # On time, to the second. (An aware datetime in the repeated hour never compares equal to
    # one in another zone, as PEP 495 says: compare in UTC.)
    assert [began for began, _ in runs.spans] == [f.astimezone(UTC) for f in runs.fired]


def test_a_run_that_overruns_skips_the_fire_times_it_covered_and_logs_each(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(datetime(2026, 5, 4, 0, 30, tzinfo=UTC))
    runs = Runs(clock, busy={0: 2.5 * 3600})  # the 01:00 run ends at 03:30
    with caplog.at_level(logging.WARNING, logger="threadhost.services"), \
            host_with(clock, runs, "0 * * * *", misfire_grace=60) as host:
        clock.advance(5 * 3600)
        health = host.health().services["job"]
    assert [f.hour for f in runs.fired] == [1, 4, 5]  # 02:00 and 03:00 were skipped
    starts = [began for began, _ in runs.spans]
    ends = [ended for _, ended in runs.spans]
    assert all(start >= end for start, end in zip(starts[1:], ends, strict=False))  # no overlap
    assert [r.getMessage() for r in caplog.records if "missed" in r.getMessage()] == [
        "job: the run for 2026-05-04T02:00:00+00:00 was missed (more than misfire_grace=60s "
        "late); skipping it.",
        "job: the run for 2026-05-04T03:00:00+00:00 was missed (more than misfire_grace=60s "
        "late); skipping it."]
    assert health.failures == 0  # a misfire is not a failure
    assert health.next_fire == datetime(2026, 5, 4, 6, 0, tzinfo=ZoneInfo("UTC"))


def test_after_a_pause_the_latest_fire_time_within_the_grace_runs_once_late() -> None:
    clock = FakeClock(datetime(2026, 5, 4, 0, 30, tzinfo=UTC))
    runs = Runs(clock, busy={0: 2.5 * 3600})
    with host_with(clock, runs, "0 * * * *", misfire_grace=3600):
        clock.advance(4 * 3600)
    assert [f.hour for f in runs.fired] == [1, 3, 4]  # 02:00 skipped, 03:00 ran at 03:30
    assert runs.spans[1][0] == datetime(2026, 5, 4, 3, 30, tzinfo=UTC)


def test_jitter_delays_each_run_within_its_bound_and_the_fire_time_stays_the_scheduled_one(
        ) -> None:
    clock = FakeClock(NEW_YEAR)
    runs = Runs(clock)
    with host_with(clock, runs, "* * * * *", jitter=20):
        clock.advance(50 * 60 + 30)
    assert [f.astimezone(UTC) for f in runs.fired] == [
        NEW_YEAR + timedelta(minutes=m) for m in range(1, 51)]
    delays = [(began - fired).total_seconds()
              for (began, _), fired in zip(runs.spans, runs.fired, strict=True)]
    assert all(0 <= d <= 20 for d in delays)
    assert len(set(delays)) > 1  # jittered, not a fixed offset


def test_a_run_that_raises_is_counted_and_the_next_fire_time_still_runs(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(NEW_YEAR)
    runs = Runs(clock, fail={0})
    with caplog.at_level(logging.ERROR, logger="threadhost.services"), \
            host_with(clock, runs, "*/10 * * * *") as host:
        clock.advance(25 * 60)
        health = host.health().services["job"]
    assert len(runs.fired) == 2
    assert health.failures == 1 and health.last_error == "RuntimeError: run 0 broke"
    assert "job: the run for 2026-01-01T00:10:00+00:00 raised" in caplog.text


def test_a_restart_with_a_shared_state_neither_repeats_nor_skips_a_fire_time_in_the_grace(
        ) -> None:
    state = th.LocalScheduleState()
    clock = FakeClock(NEW_YEAR)
    first = Runs(clock)
    with host_with(clock, first, "* * * * *", state=state, misfire_grace=90):
        clock.advance(3 * 60 + 10)  # runs 00:01, 00:02, 00:03
    later = FakeClock(NEW_YEAR + timedelta(minutes=4, seconds=40))  # down over 00:04
    second = Runs(later)
    with host_with(later, second, "* * * * *", state=state, misfire_grace=90):
        later.advance(60)
    assert [f.minute for f in first.fired] == [1, 2, 3]
    assert [f.minute for f in second.fired] == [4, 5]  # 00:04 ran late, 00:03 not again
    assert second.spans[0][0] == NEW_YEAR + timedelta(minutes=4, seconds=40)


class Nightly(th.CronBackgroundService):
    schedule = "0 3 * * *"
    timezone = "Europe/Berlin"

    def run_once(self, stopping_token: th.CancellationToken, fire_time: datetime) -> None:
        pass


class Typo(Nightly):
    schedule = "0 3 * * * * *"


class Nowhere(Nightly):
    timezone = "Europe/Berlim"


def test_a_subclass_with_class_attributes_shows_its_next_fire_time_in_health() -> None:
    clock = FakeClock(NEW_YEAR)
    with make_builder(Nightly, clock=clock).build() as host:
        report = host.health()
    assert report.services["Nightly"].next_fire == datetime(2026, 1, 1, 3, 0, tzinfo=BERLIN)
    assert report.services["Nightly"].to_dict()["next_fire"] == "2026-01-01T03:00:00+01:00"


@pytest.mark.parametrize(("service", "message"), [
    (Typo, "Typo: schedule '0 3 * * * * *' cannot be read: 7 field(s)"),
    (Nowhere, "Nowhere: time zone 'Europe/Berlim' is not an IANA time zone name"),
])
def test_a_bad_schedule_or_zone_fails_build_naming_the_service(
        service: type[th.CronBackgroundService], message: str) -> None:
    with pytest.raises(th.ConfigurationError) as caught:
        make_builder(service, clock=FakeClock()).build()
    assert message in str(caught.value)


def test_add_schedule_with_a_bad_expression_fails_build_naming_it() -> None:
    builder = make_builder(clock=FakeClock())
    builder.services.add_schedule(lambda token, fire: None, "0 25 * * *", name="report")
    with pytest.raises(th.ConfigurationError,
                       match=r"^report: schedule '0 25 \* \* \*' cannot be read: Bad hour$"):
        builder.build()


def test_misfires_and_the_next_fire_time_are_metrics() -> None:
    clock = FakeClock(datetime(2026, 5, 4, 0, 30, tzinfo=UTC))
    runs = Runs(clock, busy={0: 2.5 * 3600})
    builder = make_builder(clock=clock)
    builder.services.add_schedule(runs, "0 * * * *", name="job")
    builder.use_health_endpoint(port=0)
    host = builder.build()
    host.start()
    clock.advance(4 * 3600)
    status, body, _ = Probe(host).get("/metrics")
    stop_within(host)
    host.close()
    assert status == 200
    lines = set(body.splitlines())
    assert 'threadhost_schedule_misfires_total{service="job"} 2.0' in lines
    name = 'threadhost_schedule_next_fire_timestamp_seconds{service="job"}'
    upcoming = [line for line in lines if line.startswith(name)]
    assert len(upcoming) == 1
    assert float(upcoming[0].split()[-1]) == datetime(2026, 5, 4, 5, 0, tzinfo=UTC).timestamp()


class Unreachable:
    """A shared state whose server is down at first: reading fails, claims work."""

    def __init__(self) -> None:
        self.local = th.LocalScheduleState()

    def last_fire(self, name: str) -> datetime | None:
        raise ConnectionError("server closed the connection")

    def claim(self, name: str, fire_time: datetime) -> bool:
        return self.local.claim(name, fire_time)


def test_a_state_that_cannot_be_read_is_a_failure_and_the_schedule_goes_on_from_now(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(NEW_YEAR)
    runs = Runs(clock)
    with caplog.at_level(logging.ERROR, logger="threadhost.services"), \
            host_with(clock, runs, "*/10 * * * *", state=Unreachable()) as host:
        clock.advance(25 * 60)
        health = host.health().services["job"]
    assert [f.minute for f in runs.fired] == [10, 20]
    assert health.failures == 1 and health.state is th.ServiceState.RUNNING
    assert "job: could not read the last fire time from the schedule's state" in caplog.text
