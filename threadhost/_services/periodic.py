"""``PeriodicBackgroundService``: run something every ``interval`` seconds, on a fixed grid."""

from __future__ import annotations

import abc
import math

from threadhost._errors import OperationCanceledError
from threadhost._hosting.background_service import BackgroundService, slot_of
from threadhost._services import messages
from threadhost._time.cancellation import CancellationToken

_EPSILON = 1e-9  # float slack when asking "is now exactly on a tick?"


class PeriodicBackgroundService(BackgroundService):
    """Calls ``run_once`` at start + k·``interval`` on the host's clock, k = 0, 1, 2 ...

    Subclasses set ``interval`` (seconds, > 0) and optionally ``first_delay`` (seconds before
    the first run; default 0: at once when the service starts), as class attributes or in
    ``__init__``, and implement ``run_once``. Runs happen one after another on the service's
    thread, never overlapping: a run that overruns makes the ticks it covered be skipped (one
    WARNING says how many) and the next run happens on the next tick of the grid, so the
    schedule never drifts. An exception from ``run_once`` is logged with its traceback, counted
    in the report's ``failures``, and the next tick still runs; with
    ``max_consecutive_failures`` set, that many runs in a row that raise make the service fail
    as if ``execute`` had raised (its restart policy, then the exception behavior act). A run
    that returns resets the count, and so does a restart. ``start()`` raises ValueError for a
    bad interval, delay or limit.
    """

    interval: float = 0.0
    first_delay: float = 0.0
    max_consecutive_failures: int | None = None

    @abc.abstractmethod
    def run_once(self, stopping_token: CancellationToken) -> None:
        """One run; on the service's thread. Return promptly once ``stopping_token`` fires."""

    def start(self, cancellation_token: CancellationToken) -> None:
        """Check ``interval`` and ``first_delay``, then start the thread (see BackgroundService)."""
        name = type(self).__name__
        interval, delay = self.interval, self.first_delay
        if isinstance(interval, bool) or not isinstance(interval, int | float) or not (
                interval > 0 and math.isfinite(interval)):
            raise ValueError(f"{name}.interval={interval!r} is invalid: expected seconds > 0 "
                             "(set it as a class attribute or in __init__)")
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not (
                delay >= 0 and math.isfinite(delay)):
            raise ValueError(f"{name}.first_delay={delay!r} is invalid: expected seconds >= 0")
        limit = self.max_consecutive_failures
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 1):
            raise ValueError(f"{name}.max_consecutive_failures={limit!r} is invalid: expected "
                             "an int >= 1, or None")
        super().start(cancellation_token)

    def execute(self, stopping_token: CancellationToken) -> None:
        """The schedule loop; not meant to be overridden."""
        clock = stopping_token.clock
        interval = float(self.interval)
        name = type(self).__name__
        grid_start = clock.monotonic() + self.first_delay
        if self.first_delay > 0 and stopping_token.wait(self.first_delay):
            return
        tick = 0
        in_a_row = 0
        slot = slot_of(self)
        limit = self.max_consecutive_failures
        if slot is not None and slot.periodic_runs is None:
            slot.periodic_runs = 0  # a restart keeps counting
        while True:
            try:
                self.run_once(stopping_token)
                in_a_row = 0
            except Exception as exc:
                if isinstance(exc, OperationCanceledError) and (
                        stopping_token.is_cancellation_requested):
                    return
                in_a_row += 1
                if limit is not None and in_a_row >= limit:
                    messages.periodic_gave_up(name, in_a_row)
                    raise
                messages.periodic_run_failed(name, exc)
                if slot is not None:
                    slot.count_failure(exc)
            if slot is not None:
                slot.heartbeat()
                slot.periodic_runs = (slot.periodic_runs or 0) + 1  # only this thread writes
            if stopping_token.is_cancellation_requested:
                return
            elapsed_ticks = (clock.monotonic() - grid_start) / interval
            next_tick = max(tick + 1, math.ceil(elapsed_ticks - _EPSILON))
            if next_tick > tick + 1:
                messages.periodic_overrun(name, next_tick - tick - 1, interval)
            tick = next_tick
            delay = grid_start + tick * interval - clock.monotonic()
            if stopping_token.wait(max(delay, 0.0)):
                return
