"""Where a schedule keeps the last fire time it ran: in the process, or shared (PostgreSQL).

What is chosen: the state is asked two things, the last fire time claimed (at the start of
each run of the service) and to claim the next one (before each run), and a claim is an
atomic compare-and-set ("the last fire time is earlier than this one"), so replicas that
share the state each run a fire time at most once, and a restarted process goes on from the
last fire time claimed rather than from now. The claim is made *before* the run: a process
killed during a run does not run that fire time again (at most once), as a lost run is
logged by nobody but a repeated one can do harm twice (a second invoice).

Rejected: claiming after the run (at least once: a crash repeats the run), and a lock held
through the run (a crashed holder blocks every replica until a timeout; the lease of
``singleton=`` already offers that shape, for the users who want it).
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Protocol, final, runtime_checkable


@runtime_checkable
class ScheduleState(Protocol):
    """The record of a schedule's last fire time, by schedule name.

    Both methods are called on the schedule's own thread, may block (a database round trip)
    and may raise: the run is then skipped and the error counted as the service's failure.
    Implementations are thread-safe: several services (and processes) may share one.
    """

    def last_fire(self, name: str) -> datetime | None:
        """The last fire time claimed for ``name`` (aware), or None if none ever was."""

    def claim(self, name: str, fire_time: datetime) -> bool:
        """Record ``fire_time`` (aware) as the last fire time of ``name`` if the last one
        recorded is earlier (or none is); True if this call did so, False if another claimed
        it (or a later one) first."""


@final
class LocalScheduleState:
    """A ``ScheduleState`` in this process's memory (the default): it lasts as long as the
    host, so a service restarted by its restart policy goes on where it was. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, datetime] = {}

    def last_fire(self, name: str) -> datetime | None:
        """See ``ScheduleState.last_fire``; never blocks for long."""
        with self._lock:
            return self._last.get(name)

    def claim(self, name: str, fire_time: datetime) -> bool:
        """See ``ScheduleState.claim``; never blocks for long."""
        with self._lock:
            last = self._last.get(name)
            if last is not None and last >= fire_time:
                return False
            self._last[name] = fire_time
            return True
