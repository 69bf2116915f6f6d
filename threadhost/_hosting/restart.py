"""Restart policies for BackgroundServices, after Erlang/OTP supervisors.

``RestartMode`` is OTP's restart type (``NEVER`` = temporary, ``ON_FAILURE`` = transient,
``ALWAYS`` = permanent); ``max_restarts`` within ``within`` seconds is OTP's intensity and
period. Unlike OTP, threads cannot be killed, so a restart never overlaps the run it replaces:
the next run's thread first waits for the previous thread to end, then waits out the backoff on
the host's clock (a ``FakeClock`` pins every delay), and a stop request during the backoff
cancels it at once.

``RestartTracker`` holds what one service's supervision remembers: the restarts made within
the intensity period and how many restarts in a row the current backoff has reached. It is
touched only by the thread on which a run ends, one at a time (runs never overlap).

Rejected: restarting on the crashed thread itself (its stack, locals and thread-locals would
leak into the next run, and ``is_alive()`` would lie); a supervisor thread per host polling the
services (a thread that exists only to wait).
"""

from __future__ import annotations

import enum
import math
from collections import deque
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, final

if TYPE_CHECKING:
    import random


@final
class RestartMode(enum.Enum):
    """When a BackgroundService is restarted. Configuration spells them as the values."""

    NEVER = "Never"
    """Never (the default, as .NET): a crash goes straight to the exception behavior."""
    ON_FAILURE = "OnFailure"
    """When ``execute`` raised."""
    ALWAYS = "Always"
    """When ``execute`` raised, and when it returned while the host runs."""


def _count(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return "expected a whole number >= 0"
    return None


def _seconds(value: object, *, positive: bool = False) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return "expected a number of seconds"
    if value < 0 or (positive and value == 0):
        return "expected seconds > 0" if positive else "expected seconds >= 0"
    return None


def _multiplier(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
            math.isfinite(value) and value >= 1):
        return "expected a number >= 1"
    return None


def _fraction(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (0 <= value <= 1):
        return "expected a fraction from 0 to 1"
    return None


@final
@dataclass(frozen=True)
class RestartPolicy:
    """How (and whether) a failed BackgroundService is run again. Immutable; thread-safe.

    The delay before the k-th restart in a row is ``min(max_backoff, backoff * multiplier **
    (k - 1))`` seconds on the host's clock, scaled by a factor drawn uniformly from
    ``[1 - jitter, 1 + jitter]``; k goes back to 1 after a run that lasted longer than
    ``within``. More than ``max_restarts`` restarts within any ``within`` seconds and the
    service has failed for good: the restart that would be the ``max_restarts + 1``-th is not
    made, and the host acts on ``HostOptions.background_service_exception_behavior``.

    Bound from ``HostOptions:Restart`` (``Mode``, ``MaxRestarts``, ``Within``, ``Backoff``,
    ``Multiplier``, ``MaxBackoff``, ``Jitter``). Raises ValueError naming the field and the
    value for a nonsense policy (a negative backoff, ``max_restarts < 0``, ``multiplier < 1``,
    jitter outside [0, 1]).
    """

    mode: RestartMode = RestartMode.NEVER
    max_restarts: int = field(default=5, metadata={"validate": _count})
    within: float = field(default=60.0, metadata={
        "validate": lambda v: _seconds(v, positive=True)})
    backoff: float = field(default=1.0, metadata={"validate": _seconds})
    multiplier: float = field(default=2.0, metadata={"validate": _multiplier})
    max_backoff: float = field(default=60.0, metadata={"validate": _seconds})
    jitter: float = field(default=0.0, metadata={"validate": _fraction})

    def __post_init__(self) -> None:
        if not isinstance(self.mode, RestartMode):
            raise ValueError(f"RestartPolicy.mode={self.mode!r} is invalid: expected one of "
                             + ", ".join(m.value for m in RestartMode))
        for each in fields(self):
            validate = each.metadata.get("validate")
            value = getattr(self, each.name)
            problem = validate(value) if validate is not None else None
            if problem:
                raise ValueError(f"RestartPolicy.{each.name}={value!r} is invalid: {problem}")

    def delay(self, k: int, rng: random.Random | None = None) -> float:
        """Seconds before the k-th restart in a row (k >= 1), jittered."""
        base = min(self.max_backoff, self.backoff * self.multiplier ** (k - 1))
        if self.jitter:
            import random  # noqa: PLC0415  (lazy: needed only once a service restarts)
            base *= (rng or random).uniform(1 - self.jitter, 1 + self.jitter)
        return base


class RestartTracker:
    """One service's restart memory (see the module notes), made at its first restart (most
    services never restart). Not thread-safe by design: only the thread on which a run ends
    uses it, and runs never overlap."""

    __slots__ = ("_in_a_row", "_restarts")

    def __init__(self) -> None:
        self._restarts: deque[float] = deque()  # host-clock times of the restarts made
        self._in_a_row = 0

    def next_delay(self, policy: RestartPolicy, now: float, run_began: float) -> float | None:
        """The delay before restarting a run that began at ``run_began`` and ended at ``now``
        (host clock), or None if the restart would break the intensity limit (the service
        has then failed for good). Records the restart when it returns a delay."""
        while self._restarts and self._restarts[0] <= now - policy.within:
            self._restarts.popleft()
        if len(self._restarts) >= policy.max_restarts:
            return None
        if now - run_began > policy.within:
            self._in_a_row = 0
        self._in_a_row += 1
        self._restarts.append(now)
        return policy.delay(self._in_a_row)

    @property
    def in_a_row(self) -> int:
        """The number of the latest restart in the current run of restarts (1 for the first)."""
        return self._in_a_row
