"""Clocks: the one place in threadhost that touches real time.

Every wait in threadhost (token waits, ``cancel_after``, the shutdown deadline, the startup
timeout, periodic ticks) goes through a ``Clock``, so a test can swap in
``threadhost.testing.FakeClock`` and drive time by hand.

Design note: a clock offers exactly two ways to wait, and nothing else in threadhost may wait on
time by other means:

* ``wait(token, timeout)`` blocks the calling thread until the token is cancelled or ``timeout``
  seconds pass on this clock;
* ``call_later(delay, callback)`` runs a callback once ``delay`` seconds have passed on this
  clock (``cancel_after`` is built on it).

A fake clock can wake both: it knows every pending deadline and every thread blocked in a wait.
Rejected designs: patching ``time.monotonic`` (freezegun-style) cannot wake a thread blocked in
``Event.wait(300)``; waiting in short real-time slices and re-checking a fake ``now`` burns CPU
and makes tests timing-dependent.
"""

from __future__ import annotations

import abc
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, final

from ._threads import start_thread

if TYPE_CHECKING:
    from ._cancellation import CancellationToken

_log = logging.getLogger("threadhost.clock")


class TimerHandle(Protocol):
    """A callback scheduled with ``Clock.call_later``."""

    def cancel(self) -> None:
        """Unschedule the callback; does nothing if it already ran. Thread-safe, idempotent."""


class Clock(abc.ABC):
    """The source of time and of timed waits for a host, its tokens and its services.

    Subclass it only to write another clock (``SystemClock`` and ``FakeClock`` are the two that
    ship). Every method may be called from any thread and is thread-safe.
    """

    @abc.abstractmethod
    def monotonic(self) -> float:
        """Seconds on this clock's monotonic scale; only differences are meaningful."""

    @abc.abstractmethod
    def now(self) -> datetime:
        """The current time of day, as a timezone-aware UTC ``datetime``."""

    @abc.abstractmethod
    def wait(self, token: CancellationToken | None, timeout: float | None) -> bool:
        """Block the calling thread until ``token`` is cancelled or ``timeout`` seconds pass.

        ``timeout`` is measured on this clock; None waits for the token alone (with no token
        and no timeout, forever). Returns True if the token was cancelled, else False.
        """

    @abc.abstractmethod
    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        """Run ``callback`` once, on a thread of the clock's choosing, after ``delay`` seconds.

        ``delay`` is measured on this clock. An exception from the callback is logged on the
        ``threadhost.clock`` logger. Returns a handle whose ``cancel()`` unschedules it.
        """

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds`` on this clock."""
        self.wait(None, seconds)

    def register_participant(self, thread: threading.Thread) -> None:
        """Note that ``thread``, about to be started for a service, runs under this clock.

        Called by threadhost before it starts a service thread; the thread unregisters itself
        when it ends. ``FakeClock`` uses this to know whom to wait for before moving time; the
        system clock ignores it.
        """

    def unregister_participant(self, thread: threading.Thread) -> None:
        """Note that ``thread`` has ended (called on that thread, as its last act)."""


@dataclass(order=True)
class _Timer:
    deadline: float
    seq: int
    callback: Callable[[], object] = field(compare=False)
    owner: _TimerThread = field(compare=False, repr=False)

    def cancel(self) -> None:
        self.owner.cancel(self)


class _TimerThread:
    """Runs every SystemClock timer on one daemon thread, ``threadhost:timer``.

    The thread is started when a timer is scheduled and exits as soon as none is pending, so a
    process (or a test) that cancels its timers is left with no thread behind.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[_Timer] = []  # guarded by _cond
        self._thread: threading.Thread | None = None  # guarded by _cond
        self._seq = itertools.count()

    def schedule(self, delay: float, callback: Callable[[], object]) -> _Timer:
        timer = _Timer(time.monotonic() + delay, next(self._seq), callback, self)
        with self._cond:
            heapq.heappush(self._heap, timer)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="threadhost:timer", daemon=True)
                start_thread(self._thread)
            else:
                self._cond.notify()
        return timer

    def cancel(self, timer: _Timer) -> None:
        with self._cond:
            try:
                self._heap.remove(timer)
            except ValueError:
                return  # already ran or already cancelled
            heapq.heapify(self._heap)
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if not self._heap:
                        self._thread = None
                        return
                    delay = self._heap[0].deadline - time.monotonic()
                    if delay <= 0:
                        timer = heapq.heappop(self._heap)
                        break
                    self._cond.wait(delay)
            # Callbacks run outside the lock: they may schedule or cancel timers themselves.
            try:
                timer.callback()
            except BaseException:
                _log.exception("A timer callback raised; the timer thread goes on.")


_TIMERS = _TimerThread()


@final
class SystemClock(Clock):
    """Real time: ``time.monotonic`` and ``datetime.now(UTC)``; the default clock.

    Thread-safe. Timers share one daemon thread, ``threadhost:timer``, which exists only while
    a timer is pending.
    """

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def now(self) -> datetime:
        """``datetime.now(UTC)``."""
        return datetime.now(UTC)

    def wait(self, token: CancellationToken | None, timeout: float | None) -> bool:
        """Block on the token's lock for up to ``timeout`` real seconds (see ``Clock.wait``)."""
        if token is None:
            if timeout is None:
                threading.Event().wait()  # an explicit request to wait forever
                return False
            time.sleep(max(timeout, 0.0))
            return False
        return token._event.wait(timeout)

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        """Run ``callback`` on ``threadhost:timer`` after ``delay`` real seconds."""
        return _TIMERS.schedule(delay, callback)

    def __repr__(self) -> str:
        return "<SystemClock>"


SYSTEM_CLOCK = SystemClock()
