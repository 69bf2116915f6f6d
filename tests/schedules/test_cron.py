"""CronSchedule: fire times of an expression in a zone, DST days included."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from threadhost import CronSchedule

BERLIN, NEW_YORK, LORD_HOWE = (ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"),
                               ZoneInfo("Australia/Lord_Howe"))


def fires(schedule: CronSchedule, after: datetime, count: int) -> list[datetime]:
    made = []
    for _ in range(count):
        after = schedule.next_after(after)  # type: ignore[assignment]
        made.append(after)
    return made


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(("zone", "expression", "day_before", "expected_utc"), [
    # Spring forward: the wall time does not exist that day; it fires once, as the gap ends.
    ("Europe/Berlin", "30 2 * * *", datetime(2026, 3, 28, 12), [
        utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)]),
    ("America/New_York", "30 2 * * *", datetime(2026, 3, 7, 12), [
        utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 30)]),
    ("Australia/Lord_Howe", "15 2 * * *", datetime(2026, 10, 3, 12), [
        utc(2026, 10, 3, 15, 30), utc(2026, 10, 4, 15, 15)]),  # 02:00 -> 02:30, a 30-min gap
    # Fall back: the wall time happens twice; it fires once, the first time.
    ("Europe/Berlin", "30 2 * * *", datetime(2026, 10, 24, 12), [
        utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]),
    ("America/New_York", "30 1 * * *", datetime(2026, 10, 31, 12), [
        utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]),
    ("Australia/Lord_Howe", "45 1 * * *", datetime(2026, 4, 4, 12), [
        utc(2026, 4, 4, 14, 45), utc(2026, 4, 5, 15, 15)]),  # 02:00 -> 01:30
])
def test_a_daily_job_fires_once_on_each_dst_day(zone: str, expression: str,
                                                day_before: datetime,
                                                expected_utc: list[datetime]) -> None:
    schedule = CronSchedule(expression, zone)
    start = day_before.replace(tzinfo=ZoneInfo(zone))
    assert [f.astimezone(UTC) for f in fires(schedule, start, 2)] == expected_utc


def test_fire_times_are_wall_times_in_the_zone() -> None:
    fire = CronSchedule("0 9 * * MON-FRI", "Europe/Berlin").next_after(utc(2026, 7, 3, 12))
    assert fire == datetime(2026, 7, 6, 9, 0, tzinfo=BERLIN)  # Friday noon -> Monday 09:00
    assert fire is not None and fire.tzinfo is BERLIN


def test_asked_from_inside_the_repeated_hour_the_next_fire_is_in_the_future() -> None:
    # cronsim 2.9 given this aware start answers 02:30 CEST the same day: 45 minutes earlier.
    start = datetime(2026, 10, 25, 2, 15, fold=1, tzinfo=BERLIN)
    fire = CronSchedule("30 2 * * *", "Europe/Berlin").next_after(start)
    assert fire == datetime(2026, 10, 26, 2, 30, tzinfo=BERLIN)


def test_every_quarter_hour_skips_the_gap_and_the_repeat_of_the_hour() -> None:
    schedule = CronSchedule("*/15 * * * *", "Europe/Berlin")
    spring = fires(schedule, datetime(2026, 3, 29, 1, 30, tzinfo=BERLIN), 3)
    assert [f.strftime("%H:%M%z") for f in spring] == ["01:45+0100", "03:00+0200",
                                                       "03:15+0200"]
    autumn = fires(schedule, datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN), 3)
    assert [f.strftime("%H:%M%z") for f in autumn] == ["02:45+0200", "03:00+0100",
                                                       "03:15+0100"]


@pytest.mark.parametrize(("expression", "after", "expected"), [
    ("0 0 L * *", datetime(2028, 2, 3), [datetime(2028, 2, 29), datetime(2028, 3, 31)]),
    ("0 0 15W * *", datetime(2026, 8, 1), [datetime(2026, 8, 14), datetime(2026, 9, 15)]),
    ("0 0 1W * *", datetime(2026, 7, 20), [datetime(2026, 8, 3), datetime(2026, 9, 1)]),
    ("0 0 31W * *", datetime(2026, 4, 20), [datetime(2026, 5, 29), datetime(2026, 7, 31)]),
    ("0 0 LW * *", datetime(2026, 5, 1), [datetime(2026, 5, 29), datetime(2026, 6, 30)]),
    ("0 12 * * 5#3", datetime(2026, 1, 1), [datetime(2026, 1, 16, 12),
                                            datetime(2026, 2, 20, 12)]),
    ("0 12 * * 5L", datetime(2026, 1, 1), [datetime(2026, 1, 30, 12),
                                           datetime(2026, 2, 27, 12)]),
    ("*/20 * * * * *", datetime(2026, 1, 1, 8, 0, 5), [datetime(2026, 1, 1, 8, 0, 20),
                                                       datetime(2026, 1, 1, 8, 0, 40)]),
    ("@yearly", datetime(2026, 6, 1), [datetime(2027, 1, 1), datetime(2028, 1, 1)]),
    ("@monthly", datetime(2026, 6, 1), [datetime(2026, 7, 1), datetime(2026, 8, 1)]),
    ("@weekly", datetime(2026, 6, 1), [datetime(2026, 6, 7), datetime(2026, 6, 14)]),
    ("@daily", datetime(2026, 6, 1, 5), [datetime(2026, 6, 2), datetime(2026, 6, 3)]),
    ("@hourly", datetime(2026, 6, 1, 5, 1), [datetime(2026, 6, 1, 6),
                                             datetime(2026, 6, 1, 7)]),
])
def test_month_ends_weekdays_nth_weekdays_seconds_and_aliases(
        expression: str, after: datetime, expected: list[datetime]) -> None:
    schedule = CronSchedule(expression, "UTC")
    assert fires(schedule, after.replace(tzinfo=UTC), 2) == [
        e.replace(tzinfo=ZoneInfo("UTC")) for e in expected]


@pytest.mark.parametrize(("expression", "zone", "message"), [
    ("30 2 * *", "UTC", "'30 2 * *' cannot be read: 4 field(s); expected 5"),
    ("61 2 * * *", "UTC", "'61 2 * * *' cannot be read: Bad minute"),
    ("@fortnightly", "UTC", "unknown alias '@fortnightly'"),
    ("0 0 30 2 *", "UTC", "'0 0 30 2 *' cannot be read: Bad day-of-month"),
    ("0 0 * * *", "Europe/Berlinn", "time zone 'Europe/Berlinn' is not an IANA time zone"),
    ("0 0 31W 2 *", "UTC", "schedule '0 0 31W 2 *' never fires"),
    ("0 0 15W * 1", "UTC", "'15W' needs '*' as the day of the week"),
])
def test_a_bad_expression_or_zone_is_a_value_error_naming_it(expression: str, zone: str,
                                                             message: str) -> None:
    with pytest.raises(ValueError) as caught:
        CronSchedule(expression, zone)
    assert message in str(caught.value)


def croniter_engine(expression: str, start: datetime) -> Iterator[datetime]:
    walker = croniter(expression, start, second_at_beginning=True)
    while True:
        yield walker.get_next(datetime)


def test_another_engine_can_be_plugged_in_and_gets_the_same_dst_rules() -> None:
    start = datetime(2026, 10, 24, 12, tzinfo=BERLIN)
    ours = CronSchedule("30 2 * * *", "Europe/Berlin", engine=croniter_engine)
    default = CronSchedule("30 2 * * *", "Europe/Berlin")
    assert fires(ours, start, 5) == fires(default, start, 5)
    assert len({f.date() for f in fires(ours, start, 5)}) == 5  # once a day, fall-back too


def test_fire_times_are_strictly_later_than_the_instant_asked_about() -> None:
    schedule = CronSchedule("* * * * * *", "Europe/Berlin")
    after = datetime(2026, 3, 29, 0, 59, 58, tzinfo=UTC)  # two seconds before the gap
    times = list(islice(_walk(schedule, after), 5))
    assert all(b > a for a, b in zip([after, *times], times, strict=False))
    assert [t - after for t in times] == [timedelta(seconds=s) for s in (1, 2, 3, 4, 5)]


def _walk(schedule: CronSchedule, after: datetime) -> Iterator[datetime]:
    while True:
        after = schedule.next_after(after)  # type: ignore[assignment]
        yield after
