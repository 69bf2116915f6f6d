"""``CronBackgroundService``: run something at the fire times of a cron schedule.

What is chosen: one loop on the service's own thread. The next fire time is always computed
from the last *scheduled* one (never from now, never from the jittered time), so neither a
late wake-up nor jitter moves the schedule. A run is claimed in the schedule's state before it
is made (``state``: at most once per fire time, across replicas sharing the state and across
restarts). When the loop finds fire times already past (the process was down, a run overran,
the machine slept), it runs the latest of them once if it is within ``misfire_grace`` of now,
and logs each other one at WARNING as a misfire: a backlog never turns into a burst of runs.
Waits go through the stopping token on the host's clock; wall time is the clock's ``now()``,
so a ``FakeClock`` runs a virtual year with no real waiting.

Rejected: a scheduler thread shared by all schedules (a slow job would delay the others, and
a user callback would run on shared infrastructure), and running every missed fire time after
a pause (a day down with a job every minute would be 1440 runs at once).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, final

from threadhost._errors import ConfigurationError, OperationCanceledError
from threadhost._hosting.background_service import BackgroundService, slot_of
from threadhost._hosting.hosted_service import BuildChecked
from threadhost._leases.lease import current_lease
from threadhost._schedules import messages
from threadhost._schedules.cron import CronEngine, CronSchedule
from threadhost._schedules.state import LocalScheduleState, ScheduleState
from threadhost._time.cancellation import CancellationToken

SCHEDULE_KEY = "schedule"
"""The key of a schedule's ``ScheduleStatus`` in its slot's ``context`` (health, metrics)."""

_MAX_BACKLOG = 10_000  # fire times listed one by one before a backlog is only summed up
_LISTED = 10  # misfires logged one line each; the rest of a backlog in one line


@dataclass(slots=True)
class ScheduleStatus:
    """What health and metrics show of a schedule; written by its thread only (single
    reference reads elsewhere)."""

    state: ScheduleState
    next_fire: datetime | None = None
    misfires: int = 0


def check_schedule(owner: str, source: CronBackgroundService | type[CronBackgroundService],
                   ) -> CronSchedule:
    """The schedule ``source`` (a service, or its class) describes, or ConfigurationError
    naming ``owner`` (the service's name), the value at fault and what is expected. Any
    thread; never blocks."""
    for label in ("misfire_grace", "jitter"):
        value = getattr(source, label)
        if isinstance(value, bool) or not isinstance(value, int | float) or not (
                value >= 0 and math.isfinite(value)):
            raise ConfigurationError(f"{owner}: {label}={value!r} is invalid: expected seconds "
                                     ">= 0")
    state, timezone = source.state, source.timezone
    if state is not None and not isinstance(state, ScheduleState):
        raise ConfigurationError(f"{owner}: state={state!r} is not a ScheduleState (expected, "
                                 "e.g., threadhost.contrib.postgres.PostgresScheduleState)")
    if not isinstance(timezone, str):
        raise ConfigurationError(f"{owner}: timezone={timezone!r} is invalid: expected an IANA "
                                 "time zone name such as 'Europe/Berlin'")
    try:
        return CronSchedule(source.schedule, timezone, engine=source.engine)
    except ValueError as exc:
        raise ConfigurationError(f"{owner}: {exc}") from None


class CronBackgroundService(BackgroundService, BuildChecked):
    """Calls ``run_once(stopping_token, fire_time)`` at each fire time of ``schedule``.

    Set, as class attributes or in ``__init__``: ``schedule`` (cron: five fields, or six with
    the seconds first; ``L``, ``W``, ``#``; ``@yearly @monthly @weekly @daily @hourly``),
    ``timezone`` (IANA name, default ``"UTC"``), ``misfire_grace`` (seconds, default 60),
    ``jitter`` (seconds, default 0: each run starts up to that much after its fire time, at
    random), ``state`` (a ``ScheduleState`` shared by replicas, e.g.
    ``PostgresScheduleState``; default: this process's memory), ``engine`` (a ``CronEngine``
    reading the expression; default: cronsim, the ``cron`` extra).

    Fire times follow the schedule in its zone: a wall time skipped by a spring-forward change
    fires once, when the gap ends; one repeated by a fall-back change fires once, the first
    time. ``fire_time`` is the scheduled time (aware, in the zone), not the jittered one. Runs
    happen one at a time on the service's thread, never overlapping; when fire times were
    missed, one run is made for the latest if it is no older than ``misfire_grace``, and
    each skipped fire time is logged at WARNING and counted (health, metrics), not as a
    failure. An exception from ``run_once`` is logged and counted in the report's
    ``failures``; the next fire time still runs. A bad schedule, zone or value is a
    ConfigurationError naming the service, at ``build()`` for class attributes, else at
    ``start()``. ``Host.health()`` shows the next fire time (``ServiceHealth.next_fire``).
    With ``singleton=`` and no shared ``state``, a replica that takes the lease over starts
    from the next fire time (it cannot know what the others ran); a ``state`` that cannot be
    read at the start of a run is logged, counted as a failure, and the run goes on from now.
    """

    schedule: str = ""
    timezone: str = "UTC"
    misfire_grace: float = 60.0
    jitter: float = 0.0
    state: ScheduleState | None = None
    engine: CronEngine | None = None

    @abc.abstractmethod
    def run_once(self, stopping_token: CancellationToken, fire_time: datetime) -> None:
        """One run, for ``fire_time``; on the service's thread. Return promptly once
        ``stopping_token`` fires."""

    @classmethod
    def _check_registration(cls, name: str, instance: BuildChecked | None) -> None:
        """At ``build()``: the schedule, when the class or the instance registered sets it
        (one set in ``__init__`` is checked by ``start``)."""
        if isinstance(instance, CronBackgroundService):
            check_schedule(name, instance)
        elif cls.schedule:
            check_schedule(name, cls)

    def start(self, cancellation_token: CancellationToken) -> None:
        """Check the schedule (ConfigurationError naming the service), then start the thread
        as ``BackgroundService.start`` does."""
        check_schedule(type(self).__name__, self)
        super().start(cancellation_token)

    def execute(self, stopping_token: CancellationToken) -> None:
        """The schedule's loop; not meant to be overridden."""
        slot = slot_of(self)
        name = slot.name if slot is not None else type(self).__name__
        _loop(self, name, check_schedule(name, self), _status(slot, self.state),
              stopping_token)


def _status(slot: Any, state: ScheduleState | None) -> ScheduleStatus:
    """The schedule's status, kept on its slot so that a restart goes on where it was."""
    if slot is None:
        return ScheduleStatus(state or LocalScheduleState())
    status = slot.context.get(SCHEDULE_KEY)
    if not isinstance(status, ScheduleStatus):
        status = slot.context[SCHEDULE_KEY] = ScheduleStatus(state or LocalScheduleState())
    return status


def _loop(service: CronBackgroundService, name: str, schedule: CronSchedule,
          status: ScheduleStatus, token: CancellationToken) -> None:
    clock = token.clock
    grace, jitter = float(service.misfire_grace), float(service.jitter)
    slot = slot_of(service)
    now = clock.now()
    try:
        last = status.state.last_fire(name)
    except Exception as exc:  # the shared state is out of reach: go on from now
        messages.schedule_state_unreadable(name, exc)
        if slot is not None:
            slot.count_failure(exc)
        last = None
    if last is None or last > now or (
            isinstance(status.state, LocalScheduleState) and current_lease() is not None):
        # Nothing claimed yet (or by a clock ahead of ours); or a replica that took the lease
        # over, which cannot know what the others ran without a shared state: from now on.
        last = now
    while True:
        fire = schedule.next_after(last)
        status.next_fire = fire
        if fire is None:
            messages.schedule_exhausted(name, schedule.expression)
            token.wait(None)
            return
        now = clock.now()
        if fire > now:
            delay = (fire - now).total_seconds() + (_jitter(jitter) if jitter else 0.0)
            if token.wait(delay):
                return
            now = clock.now()
            if now < fire:
                continue  # the wall clock was set back while we waited: wait again
        # The jitter is a delay we chose: it does not count against the grace.
        due = _backlog(schedule, fire, now, grace + jitter)
        if due.skipped:
            status.misfires += len(due.skipped)
            messages.schedule_misfired(name, due.skipped, _LISTED, due.at_least, grace)
        if due.run is None:
            last = due.last
            continue
        last = due.run
        try:
            claimed = status.state.claim(name, due.run)
        except Exception as exc:
            messages.schedule_state_failed(name, due.run, exc)
            if slot is not None:
                slot.count_failure(exc)
            continue
        if not claimed:
            messages.schedule_claimed_elsewhere(name, due.run)
            continue
        try:
            service.run_once(token, due.run)
        except Exception as exc:
            if isinstance(exc, OperationCanceledError) and token.is_cancellation_requested:
                return
            messages.schedule_run_failed(name, due.run, exc)
            if slot is not None:
                slot.count_failure(exc)
        if slot is not None:
            slot.heartbeat()
        if token.is_cancellation_requested:
            return


def _jitter(bound: float) -> float:
    """A random delay in [0, bound] seconds."""
    import random  # noqa: PLC0415  (imported on first use: most schedules have no jitter)
    return random.uniform(0.0, bound)


@dataclass(slots=True)
class _Due:
    run: datetime | None  # the fire time to run now, if any
    last: datetime  # the latest fire time that is past
    skipped: list[datetime]  # the fire times past that will not run
    at_least: bool  # True if a backlog longer than _MAX_BACKLOG was not walked through


def _backlog(schedule: CronSchedule, fire: datetime, now: datetime, grace: float) -> _Due:
    """The fire times from ``fire`` (past) up to ``now``; the latest runs if within grace."""
    past = [fire]
    at_least = False
    upcoming = schedule.next_after(fire)
    while upcoming is not None and upcoming <= now:
        if len(past) == _MAX_BACKLOG and not at_least:
            # Walking a year of seconds would take minutes: jump to the grace's start.
            at_least = True
            since = max(past[-1], now - timedelta(seconds=grace) - timedelta(microseconds=1))
            upcoming = schedule.next_after(since)
            continue
        past.append(upcoming)
        upcoming = schedule.next_after(upcoming)
    latest = past[-1]
    if (now - latest).total_seconds() <= grace:
        return _Due(latest, latest, past[:-1], at_least)
    return _Due(None, latest, past, at_least)


@final
class FunctionSchedule(CronBackgroundService):
    """The service ``services.add_schedule`` registers: calls ``fn(stopping_token,
    fire_time)`` at each fire time (see ``CronBackgroundService``)."""

    def __init__(self, fn: Callable[[CancellationToken, datetime], object], schedule: str, *,
                 timezone: str, misfire_grace: float, jitter: float,
                 state: ScheduleState | None, engine: CronEngine | None) -> None:
        self._fn = fn
        self.schedule = schedule
        self.timezone = timezone
        self.misfire_grace = misfire_grace
        self.jitter = jitter
        self.state = state
        self.engine = engine

    def run_once(self, stopping_token: CancellationToken, fire_time: datetime) -> None:
        """Call the function; on the service's thread."""
        self._fn(stopping_token, fire_time)
