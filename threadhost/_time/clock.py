"""Clocks: the one place in threadhost that touches real time.

Every wait in threadhost (token waits, ``cancel_after``, the shutdown deadline, the startup
timeout, periodic ticks, ``threadhost.Event`` and ``threadhost.Queue``) goes through a
``Clock``, so a test can swap in ``threadhost.testing.FakeClock`` and drive time by hand.

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

Timeouts: ``None``, ``math.inf`` and anything above ``threading.TIMEOUT_MAX`` (about 292 years)
mean "no timeout", everywhere (``no_timeout``): the OS primitives raise OverflowError beyond
TIMEOUT_MAX, and one such value once killed the shared timer thread, so that no later timer in
the process fired. Zero or less means "do not block". NaN is refused with ValueError.

The timer thread: every SystemClock timer runs on one daemon thread, ``threadhost:timer``,
which exists only while a timer is pending. Nothing a callback does can end it (every
exception, ``BaseException`` included, is logged and the loop goes on), and should the thread
die anyway, the next ``call_later`` starts a new one. After ``os.fork()`` the child gets a
fresh, empty timer state: the parent's thread does not exist there, and the parent's pending
callbacks (a host's deadline, say) belong to objects the child does not run, so they are
dropped, as ``threading.Timer`` threads are; timers the child schedules work as usual.
Rejected: keeping the inherited timers (they would fire the parent's callbacks in the child).
"""

from __future__ import annotations

import abc
import heapq
import itertools
import math
import os
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime  # at import (1 ms): typing.get_type_hints(Clock.now) works
from typing import TYPE_CHECKING, Protocol, final

from threadhost import _log_messages as log
from threadhost._time.threads import start_thread

if TYPE_CHECKING:
    from threadhost._time.cancellation import CancellationToken


def no_timeout(timeout: float | None) -> bool:
    """True if ``timeout`` means "wait without limit": None, ``inf``, or above TIMEOUT_MAX.

    Raises ValueError for NaN. Any thread; pure.
    """
    if timeout is None:
        return True
    if math.isnan(timeout):
        raise ValueError("timeout must be a number of seconds or None, got nan")
    return timeout > threading.TIMEOUT_MAX


class TimerHandle(Protocol):
    """A callback scheduled with ``Clock.call_later``."""

    def cancel(self) -> None:
        """Unschedule the callback; does nothing if it already ran. Thread-safe, idempotent."""


@final
class _NeverHandle:
    """The handle of a callback that can never run (an infinite delay)."""

    __slots__ = ()

    def cancel(self) -> None:
        """Nothing to unschedule."""


NEVER = _NeverHandle()


class Clock(abc.ABC):
    """The source of time and of timed waits for a host, its tokens and its services.

    Subclass it only to write another clock (``SystemClock`` and ``FakeClock`` are the two that
    ship). Every method may be called from any thread and is thread-safe. A timeout of None,
    ``math.inf`` or above ``threading.TIMEOUT_MAX`` means no timeout; zero or less, do not
    block.
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

        ``timeout`` is measured on this clock; None (or infinite) waits for the token alone
        (with no token and no timeout, forever); zero or less never blocks. Returns True if
        the token was cancelled, else False. Raises ValueError for a NaN timeout.
        """

    @abc.abstractmethod
    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        """Run ``callback`` once, on a thread of the clock's choosing, after ``delay`` seconds.

        ``delay`` is measured on this clock; an infinite delay (or above TIMEOUT_MAX) never
        fires. An exception from the callback is logged on the ``threadhost.clock`` logger.
        Returns a handle whose ``cancel()`` unschedules it. Raises ValueError for NaN.
        """

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds`` on this clock."""
        self.wait(None, seconds)

    def register_participant(self, thread: threading.Thread) -> None:
        """Note that ``thread``, about to be started for a service, runs under this clock.

        Called by threadhost before it starts a service thread; the thread unregisters itself
        when it ends. Registrations count: a thread registered twice needs two
        unregistrations. ``FakeClock`` uses this to know whom to wait for before moving time;
        the system clock ignores it.
        """

    def unregister_participant(self, thread: threading.Thread) -> None:
        """Close one registration of ``thread`` (called on that thread, as its last act)."""

    def wait_for(self, token: CancellationToken, threads: Iterable[threading.Thread],
                 real_timeout: float) -> bool:
        """Wait for ``token`` (True once cancelled) for at most ``real_timeout`` *real*
        seconds, for the sake of ``threads`` (False if it was not cancelled).

        For a stop's grace: the threads are those whose progress would cancel the token (a
        runner making a call). A clock that knows its waiters (``FakeClock``) also ends the
        wait as soon as every one of them still alive is blocked in a clock wait, has stalled
        or ended (nothing can progress before time moves), and counts the caller as blocked
        meanwhile, so moving time never waits for it. Here (the system clock): a plain
        real-time wait. Any thread.
        """
        return SYSTEM_CLOCK.wait(token, real_timeout)

    def join_threads(self, threads: Iterable[threading.Thread], real_timeout: float
                     ) -> list[threading.Thread]:
        """Join ``threads`` for at most ``real_timeout`` *real* seconds; return those alive.

        For a stop's grace: the threads that end within it are not stragglers. Any thread
        may call it; it blocks until every thread has ended or the time is up. A clock that
        knows its waiters (``FakeClock``) stops waiting as soon as every thread still alive
        is blocked in a clock wait: such a thread cannot end before time moves, so real time
        spent waiting for it would be wasted. Here (the system clock), plain joins.
        """
        others = [t for t in threads if t is not threading.current_thread()]
        if no_timeout(real_timeout):
            for thread in others:
                thread.join()
            return []
        end = time.monotonic() + max(real_timeout, 0.0)
        for thread in others:
            thread.join(max(end - time.monotonic(), 0.0))
        return [thread for thread in others if thread.is_alive()]


class _Timer:
    """One pending SystemClock callback; ordered by (deadline, seq) in the heap."""

    __slots__ = ("callback", "deadline", "owner", "seq")

    def __init__(self, deadline: float, seq: int, callback: Callable[[], object],
                 owner: _TimerThread) -> None:
        self.deadline = deadline
        self.seq = seq
        self.callback: Callable[[], object] | None = callback  # None once ran or cancelled
        self.owner = owner

    def cancel(self) -> None:
        self.owner.cancel(self)


class _TimerThread:
    """Runs every SystemClock timer on one daemon thread, ``threadhost:timer``.

    The thread is started when a timer is scheduled and exits as soon as none is pending, so a
    process (or a test) that cancels its timers is left with no thread behind. Cancelled
    timers stay in the heap, marked, until they reach its top (O(log n) cancel).
    """

    def __init__(self) -> None:
        self._seq = itertools.count()
        self._reset()

    def _reset(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, _Timer]] = []  # guarded by _cond
        self._live = 0  # guarded by _cond: timers in the heap not yet ran or cancelled
        self._thread: threading.Thread | None = None  # guarded by _cond

    def schedule(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        if no_timeout(delay):
            return NEVER
        timer = _Timer(time.monotonic() + max(delay, 0.0), next(self._seq), callback, self)
        with self._cond:
            heapq.heappush(self._heap, (timer.deadline, timer.seq, timer))
            self._live += 1
            if self._thread is None:
                self._start()
            elif self._heap[0][2] is timer:
                self._cond.notify()  # a new earliest deadline; otherwise the wait is right
        return timer

    def _start(self) -> None:
        """Start a timer thread (under _cond)."""
        self._thread = threading.Thread(target=self._run, name="threadhost:timer", daemon=True)
        try:
            start_thread(self._thread)
        except RuntimeError:  # interpreter shutdown: no timer can run any more
            self._thread = None

    def cancel(self, timer: _Timer) -> None:
        with self._cond:
            if timer.callback is None:
                return  # already ran or already cancelled
            timer.callback = None
            self._live -= 1
            if self._live == 0:
                self._cond.notify()  # let the thread exit now rather than at the deadline

    def _run(self) -> None:
        me = threading.current_thread()
        try:
            while True:
                callback = self._next(me)
                if callback is None:
                    return
                # Outside the lock: a callback may schedule or cancel timers itself.
                try:
                    callback()
                except BaseException as exc:  # nothing a callback does may end this thread
                    log.timer_callback_failed(exc)
        finally:
            with self._cond:
                if self._thread is me:
                    self._thread = None
                    if self._live:  # died with timers pending: never leave them stranded
                        self._start()

    def _next(self, me: threading.Thread) -> Callable[[], object] | None:
        """Wait for the next due callback; None when no timer is pending (the thread ends)."""
        with self._cond:
            while True:
                if self._thread is not me:
                    return None  # replaced (after a fork in the child, say)
                while self._heap and self._heap[0][2].callback is None:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._thread = None
                    return None
                deadline, _, timer = self._heap[0]
                delay = deadline - time.monotonic()
                if delay <= 0:
                    heapq.heappop(self._heap)
                    callback, timer.callback = timer.callback, None
                    self._live -= 1
                    return callback
                self._cond.wait(delay)  # delay <= TIMEOUT_MAX: schedule() refused the rest

    def after_fork_in_child(self) -> None:
        """In a forked child: forget the parent's thread, lock and timers (see module note)."""
        for _, _, timer in self._heap:
            timer.callback = None
        self._reset()


_TIMERS = _TimerThread()
if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_TIMERS.after_fork_in_child)


@final
class SystemClock(Clock):
    """Real time: ``time.monotonic`` and ``datetime.now(UTC)``; the default clock.

    Thread-safe. Timers share one daemon thread, ``threadhost:timer``, which exists only while
    a timer is pending.
    """

    monotonic = staticmethod(time.monotonic)
    """``time.monotonic()`` itself (no Python frame: the host reads it several times for
    every service it starts or stops)."""

    def now(self) -> datetime:
        """``datetime.now(UTC)``."""
        return datetime.now(UTC)

    def wait(self, token: CancellationToken | None, timeout: float | None) -> bool:
        """Block on the token's latch for up to ``timeout`` real seconds (see ``Clock.wait``).

        Any thread; returns at once (without blocking) for a timeout of zero or less.
        """
        forever = no_timeout(timeout)
        if token is None:
            if forever:
                threading.Event().wait()  # an explicit request to wait forever
            elif timeout is not None and timeout > 0:
                time.sleep(timeout)
            return False
        if forever:
            return token._event.wait(None)
        assert timeout is not None
        return token._event.wait(max(timeout, 0.0))

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        """Run ``callback`` on ``threadhost:timer`` after ``delay`` real seconds.

        Any thread. An infinite delay (or one above TIMEOUT_MAX) never fires and schedules
        nothing. Raises ValueError for NaN.
        """
        return _TIMERS.schedule(delay, callback)

    def __repr__(self) -> str:
        return "<SystemClock>"


SYSTEM_CLOCK = SystemClock()
