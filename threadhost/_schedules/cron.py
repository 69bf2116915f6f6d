"""Cron expressions in a time zone: the fire times of a schedule, DST as Debian cron has it.

What is chosen: the engine (cronsim by default, any ``CronEngine``) only ever walks *naive
wall-clock* times, and mapping a wall time to an instant is done here, in one function
(``_instant``): a wall time that occurs twice (the autumn fall-back) is its first occurrence,
and one that does not occur (the spring gap) is the instant the gap ends, so a schedule fires
once on both days, as Debian cron does. ``CronSchedule.next_after`` then keeps only fire times
strictly later than the instant it is asked about, so fire times are strictly increasing
whatever the engine returns.

Rejected: giving the engine an aware datetime. cronsim 2.9, started inside the repeated autumn
hour (02:15 CET, 2026-10-25, Europe/Berlin), returns a "next" time 45 minutes *before* the
start; croniter and APScheduler run a 02:30 daily job twice on that day. Computing in UTC was
rejected too: a daily job would move by an hour twice a year.

The ``@`` aliases are expanded here (cronsim has none, croniter has other ones), and so is a
day of month ``nW`` (the weekday nearest day n, in its month, as Quartz has it; cronsim reads
only ``LW``): the engine is asked for days n-2..n+2 and the others are dropped. An expression
with six fields has the seconds first (cronsim's order; croniter needs
``second_at_beginning=True``).
"""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Protocol, final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ALIASES = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
"""The aliases a schedule accepts, and the five-field expression each stands for."""

_SECOND = timedelta(seconds=1)


class CronEngine(Protocol):
    """What computes the wall times an expression matches (cronsim by default).

    Called with an expression of five fields, or six with the seconds first (aliases already
    expanded), and a naive wall-clock start; returns an iterator of the naive wall times the
    expression matches strictly after ``start``, in increasing order, ending (StopIteration)
    when there is none. Raises ValueError (any Exception is taken as such) for an expression it
    cannot read. Called on the schedule's thread; need not be thread-safe.
    """

    def __call__(self, expression: str, start: datetime, /) -> Iterator[datetime]: ...


def cronsim_engine(expression: str, start: datetime) -> Iterator[datetime]:
    """The default ``CronEngine``: cronsim (the ``cron`` extra), given naive times only.

    Raises ValueError with cronsim's reason for an expression it cannot read, and
    RuntimeError naming the extra when cronsim is not installed.
    """
    try:
        from cronsim import CronSim, CronSimError  # noqa: PLC0415  (an optional extra)
    except ImportError:
        raise RuntimeError("Calendar schedules need cronsim: pip install 'threadhost[cron]' "
                           "(or pass engine= a CronEngine of your own).") from None
    try:
        return CronSim(expression, start)
    except CronSimError as exc:
        raise ValueError(str(exc)) from None


def expand(expression: str) -> str:
    """The expression with an alias replaced by its five fields, and blanks normalised.

    Raises ValueError for an unknown alias or a number of fields other than five or six.
    """
    text = " ".join(expression.split())
    if text.startswith("@"):
        fields = ALIASES.get(text.lower())
        if fields is None:
            raise ValueError(f"unknown alias {text!r}; known: {', '.join(ALIASES)}")
        return fields
    count = len(text.split())
    if count not in (5, 6):
        raise ValueError(f"{count} field(s); expected 5 (minute hour day month weekday) or "
                         "6 (with the seconds first), or an alias such as @daily")
    return text


@final
class CronSchedule:
    """A cron expression in an IANA time zone: its fire times, as aware instants.

    Immutable and thread-safe (each call makes its own engine iterator); never blocks.
    The constructor raises ValueError naming the expression or the zone when either cannot be
    read, or when the expression never matches (for example ``0 0 30 2 *``).
    """

    __slots__ = ("_engine", "_fields", "_nearest", "expression", "timezone", "zone")

    def __init__(self, expression: str, timezone: str = "UTC", *,
                 engine: CronEngine | None = None) -> None:
        if not isinstance(expression, str):
            raise ValueError(f"schedule {expression!r} is not a string: expected a cron "
                             "expression such as '30 2 * * *' or '@daily'")
        try:
            self.zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"time zone {timezone!r} is not an IANA time zone name (for "
                             "example 'Europe/Berlin' or 'UTC')") from None
        self.expression = expression
        self.timezone = timezone
        self._engine: CronEngine = engine or cronsim_engine
        try:
            self._fields, self._nearest = _weekday_nearest(expand(expression))
            first = next(self._walk(datetime(2000, 1, 1)), None)
        except ValueError as exc:
            raise ValueError(f"schedule {expression!r} cannot be read: {exc}") from None
        except RuntimeError:
            raise
        except Exception as exc:  # an engine of the user's raising something else
            raise ValueError(f"schedule {expression!r} cannot be read: {exc!r}") from None
        if first is None:
            raise ValueError(f"schedule {expression!r} never fires")

    def next_after(self, after: datetime) -> datetime | None:
        """The first fire time strictly later than ``after`` (an aware datetime), as an aware
        datetime in the schedule's zone; None when the engine finds none (cronsim looks 50
        years ahead). Raises ValueError for a naive ``after``."""
        if after.tzinfo is None:
            raise ValueError("next_after() needs a timezone-aware datetime")
        zone = self.zone
        local = after.astimezone(zone)
        start = local.replace(tzinfo=None, fold=0)
        if local.fold:
            # After the second occurrence began, every wall time still in the repeated span
            # maps (as its first occurrence) to the past: ask from the end of the span on.
            first = local.replace(fold=0).astimezone(UTC)
            change = _transition(first, after.astimezone(UTC), zone)
            before = first.astimezone(zone).utcoffset()
            assert before is not None
            start = (change + before).replace(tzinfo=None) - _SECOND
        for _ in range(2):
            for wall in self._walk(start):
                instant = _instant(wall, zone)
                if instant > after:
                    return instant.astimezone(zone)
                if instant.astimezone(zone).replace(tzinfo=None) != wall:
                    # A gap's wall times all map to its end, which is not later: go on from
                    # the gap's end rather than through every time in it.
                    start = instant.astimezone(zone).replace(tzinfo=None)
                    break
            else:
                return None
        return None

    def _walk(self, start: datetime) -> Iterator[datetime]:
        """The engine's wall times after ``start``, less the days an ``nW`` drops."""
        walls = iter(self._engine(self._fields, start))
        day = self._nearest
        if day is None:
            return walls
        horizon = start.year + 50  # as cronsim: a day that never comes ends the walk
        return (w for w in itertools.takewhile(lambda w: w.year <= horizon, walls)
                if w.day == _nearest_weekday(w.year, w.month, day))

    def __repr__(self) -> str:
        return f"CronSchedule({self.expression!r}, {self.timezone!r})"


def _weekday_nearest(fields: str) -> tuple[str, int | None]:
    """``nW`` in the day-of-month field: the fields asking for days n-2..n+2, and n. Raises
    ValueError for ``nW`` beside a weekday field other than ``*`` or in a list."""
    parts = fields.split()
    index = len(parts) - 3
    day = parts[index].upper()
    if not day.endswith("W") or day == "LW":
        return fields, None
    number = day[:-1]
    if not number.isdigit() or not 1 <= int(number) <= 31:
        raise ValueError(f"{parts[index]!r}: a nearest weekday is a day 1-31 followed by W, "
                         "alone in its field (15W)")
    if parts[-1] not in ("*", "?"):
        raise ValueError(f"{parts[index]!r} needs '*' as the day of the week")
    n = int(number)
    parts[index] = f"{max(n - 2, 1)}-{min(n + 2, 31)}"
    parts[-1] = "*"
    return " ".join(parts), n


def _nearest_weekday(year: int, month: int, day: int) -> int | None:
    """The weekday (Monday-Friday) nearest ``day`` within its month, or None if the month
    has no such day."""
    length = calendar.monthrange(year, month)[1]
    if day > length:
        return None
    weekday = calendar.weekday(year, month, day)
    if weekday == calendar.SATURDAY:
        return day - 1 if day > 1 else day + 2
    if weekday == calendar.SUNDAY:
        return day + 1 if day < length else day - 2
    return day


def _instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant a naive wall time fires at: its first occurrence, or the end of the
    gap it falls in."""
    aware = wall.replace(tzinfo=zone, fold=0)
    instant = aware.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    # In a gap, fold=0 reads the wall time with the offset before the change (an instant at
    # or after it) and fold=1 with the offset after (an instant before it).
    return _transition(wall.replace(tzinfo=zone, fold=1).astimezone(UTC), instant, zone)


def _transition(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The instant in (``before``, ``after``] at which the zone's offset changes to the one
    it has at ``after``: a bisection over whole seconds (zones change on whole seconds)."""
    low, high = int(before.timestamp()), int(after.timestamp())
    target = after.astimezone(zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == target:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)
