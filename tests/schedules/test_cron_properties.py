"""Property tests: fire times are strictly increasing and are exactly those of a brute-force
minute-by-minute reference, in random zones, over random windows of a random year (half of
them around one of the zone's DST changes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from threadhost import CronSchedule

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Chatham",
         "America/St_Johns", "Europe/London", "Asia/Kolkata", "UTC", "America/Santiago"]
MINUTE = timedelta(minutes=1)
WINDOW = timedelta(days=3)
RANGES = {"minute": (0, 59), "hour": (0, 23), "day": (1, 31), "month": (1, 12),
          "weekday": (0, 6)}


@st.composite
def cron_field(draw: st.DrawFn, kind: str) -> str:
    low, high = RANGES[kind]
    shape = draw(st.sampled_from(["*", "step", "value", "range", "list"]))
    if shape == "*":
        return "*"
    if shape == "step":
        return f"*/{draw(st.integers(1, high - low + 1))}"
    if shape == "value":
        return str(draw(st.integers(low, high)))
    if shape == "range":
        a = draw(st.integers(low, high))
        b = draw(st.integers(a, high))
        step = draw(st.integers(1, 5))
        return f"{a}-{b}/{step}" if step > 1 else f"{a}-{b}"
    values = draw(st.lists(st.integers(low, high), min_size=2, max_size=4, unique=True))
    return ",".join(map(str, sorted(values)))


@st.composite
def expressions(draw: st.DrawFn) -> str:
    return " ".join(draw(cron_field(kind)) for kind in RANGES)


def matches_field(text: str, value: int, kind: str) -> bool:
    low = RANGES[kind][0]
    for term in text.split(","):
        if term == "*":
            return True
        if term.startswith("*/"):
            if (value - low) % int(term[2:]) == 0:
                return True
            continue
        base, _, step = term.partition("/")
        a, _, b = base.partition("-")
        start, end = int(a), int(b or a)
        if start <= value <= end and (value - start) % int(step or 1) == 0:
            return True
    return False


def matches(expression: str, wall: datetime) -> bool:
    """Vixie cron's rule, written out: day of month and day of week are OR-ed when both are
    restricted, else AND-ed."""
    minute, hour, day, month, weekday = expression.split()
    cron_weekday = (wall.weekday() + 1) % 7  # cron: 0 is Sunday
    day_ok = matches_field(day, wall.day, "day")
    weekday_ok = matches_field(weekday, cron_weekday, "weekday")
    days = (day_ok or weekday_ok) if not (day.startswith("*") or weekday.startswith("*")) \
        else (day_ok and weekday_ok)
    return (days and matches_field(minute, wall.minute, "minute")
            and matches_field(hour, wall.hour, "hour")
            and matches_field(month, wall.month, "month"))


def reference(expression: str, zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Walk UTC minutes in (start, end]: a wall time fires at its first occurrence; the wall
    times a spring change skips fire at the instant the change happens."""
    made = []
    instant = start + MINUTE
    previous = start.astimezone(zone).replace(tzinfo=None)
    while instant <= end:
        local = instant.astimezone(zone)
        wall = local.replace(tzinfo=None)
        fire = local.fold == 0 and matches(expression, wall)
        skipped = previous + MINUTE
        while not fire and skipped < wall:  # a gap: the wall times jumped over
            fire = matches(expression, skipped)
            skipped += MINUTE
        if fire:
            made.append(instant)
        previous = max(previous, wall)
        instant += MINUTE
    return made


def can_ever_fire(expression: str) -> bool:
    """False for a day of month that no month it names has (``30 2``: February the 30th),
    with the day of week unrestricted: such an expression is refused, not run."""
    _, _, day, month, weekday = expression.split()
    if not weekday.startswith("*") or day.startswith("*"):
        return True
    leap = datetime(2000, 1, 1)
    return any(matches_field(day, (leap + timedelta(days=n)).day, "day")
               and matches_field(month, (leap + timedelta(days=n)).month, "month")
               for n in range(366))


def dst_changes(zone: ZoneInfo, year: int) -> list[datetime]:
    changes = []
    hour = datetime(year, 1, 1, tzinfo=UTC)
    offset = hour.astimezone(zone).utcoffset()
    while hour.year == year:
        hour += timedelta(hours=1)
        now = hour.astimezone(zone).utcoffset()
        if now != offset:
            changes.append(hour)
            offset = now
    return changes


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expression=expressions(), zone_name=st.sampled_from(ZONES),
       year=st.integers(2000, 2037), day=st.integers(0, 360), near_change=st.booleans(),
       which=st.integers(0, 1))
def test_fire_times_match_a_minute_by_minute_reference(  # noqa: PLR0917  (hypothesis)
        expression: str, zone_name: str, year: int, day: int, near_change: bool,
        which: int) -> None:
    zone = ZoneInfo(zone_name)
    changes = dst_changes(zone, year)
    if near_change and changes:
        start = changes[which % len(changes)] - timedelta(days=1, minutes=17)
    else:
        start = datetime(year, 1, 1, tzinfo=UTC) + timedelta(days=day, minutes=day * 7)
    end = start + WINDOW
    if not can_ever_fire(expression):
        with pytest.raises(ValueError, match=r"cannot be read"):
            CronSchedule(expression, zone_name)
        return
    schedule = CronSchedule(expression, zone_name)
    expected = reference(expression, zone, start, end)
    made = []
    after = start
    while True:
        fire = schedule.next_after(after)
        assert fire is not None
        assert fire > after  # strictly increasing
        if fire > end:
            break
        made.append(fire.astimezone(UTC))
        after = fire
    assert made == expected


@st.composite
def hourly_at_most(draw: st.DrawFn) -> str:
    """An expression firing at most once an hour (a year of them is quick to walk)."""
    minute = str(draw(st.integers(0, 59)))
    return " ".join([minute, *(draw(cron_field(kind)) for kind in list(RANGES)[1:])])


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expression=hourly_at_most(), zone_name=st.sampled_from(ZONES[:4]),
       year=st.integers(2000, 2037))
def test_a_whole_random_year_matches_the_reference(expression: str, zone_name: str,
                                                   year: int) -> None:
    start = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    schedule = CronSchedule(expression, zone_name)
    made = []
    after = start
    while (fire := schedule.next_after(after)) is not None and fire <= end:
        assert fire > after
        made.append(fire.astimezone(UTC))
        after = fire
    assert made == reference(expression, ZoneInfo(zone_name), start, end)
