"""The log events of calendar schedules, one named function each (as .NET's LoggerExtensions
classes: each area keeps its own beside its code; the host's are in ``_log_messages``).

Templates use lazy ``%s`` arguments; the logger is ``threadhost.services``. Every call goes
through a ``GuardedLogger``, so a failing handler never raises here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from threadhost._guarded_log import GuardedLogger

if TYPE_CHECKING:
    from datetime import datetime

services_log = GuardedLogger("threadhost.services")


def schedule_misfired(name: str, skipped: list[datetime], listed: int, at_least: bool,
                      grace: float) -> None:
    for fire_time in skipped[:listed]:
        services_log.warning("%s: the run for %s was missed (more than misfire_grace=%gs late);"
                             " skipping it.", name, fire_time.isoformat(), grace)
    rest = len(skipped) - listed
    if rest > 0 or at_least:
        services_log.warning("%s: %s%d more missed fire time(s) skipped, the last %s.", name,
                             "at least " if at_least else "", max(rest, 0),
                             skipped[-1].isoformat())


def schedule_run_failed(name: str, fire_time: datetime, exc: BaseException) -> None:
    services_log.error("%s: the run for %s raised; the next fire time still runs.", name,
                       fire_time.isoformat(), exc_info=exc)


def schedule_state_failed(name: str, fire_time: datetime, exc: BaseException) -> None:
    services_log.error("%s: could not claim the run for %s in the schedule's state (%s); "
                       "skipping it.", name, fire_time.isoformat(), exc)


def schedule_state_unreadable(name: str, exc: BaseException) -> None:
    services_log.error("%s: could not read the last fire time from the schedule's state (%s); "
                       "going on from now.", name, exc)


def schedule_claimed_elsewhere(name: str, fire_time: datetime) -> None:
    services_log.debug("%s: the run for %s was claimed by another replica.", name,
                       fire_time.isoformat())


def schedule_exhausted(name: str, expression: str) -> None:
    services_log.warning("%s: schedule %r has no fire time left; the service waits for the "
                         "stop.", name, expression)
