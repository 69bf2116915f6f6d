"""``FakeClock``: virtual time that wakes sleeping threads, in a deterministic order.

Design note
-----------
Every wait in threadhost goes through ``Clock.wait`` or ``Clock.call_later``, so this clock
sees each pending deadline (a heap of timers, ties broken by registration order) and each
thread blocked on it. Moving time is then a loop of small steps: pop the earliest timer, set
virtual time to its deadline, wake its thread (or run its callback on the advancing thread),
and wait until every thread that matters is *settled* before the next step. That last part
is what makes periodic code run the same way every time: a woken thread finishes reacting
(and blocks in its next clock wait) before time moves on.

Settled means: blocked in a clock wait, ended, or stalled. The threads that matter are the
*participants*, the threads the host starts for its services (registered through
``Clock.register_participant`` from their start until they end), plus any other thread while
it is blocked in a clock wait and, once woken, until it waits again or ``stall_timeout``
passes. A participant that stays outside a clock wait for ``stall_timeout`` seconds of real
time (blocked on a socket, a database, a plain ``threading.Event``) is logged as stalled with
its stack and stops holding the clock back, so a straggler cannot freeze a test; with
``on_stall="raise"`` the stall is an error instead.

A thread is marked woken *by the thread that wakes it*, under the clock's lock, before its
wait returns; so a settle that follows a wake always waits for the woken thread, even if the
scheduler has not run it yet.

Autojump (``autojump=True``): a driver thread, ``threadhost:autojump``, exists while timers
are pending; whenever every participant is settled it jumps to the earliest deadline. It never
jumps on a real-time idle guess (trio's ``MockClock.autojump_threshold``), which is what makes
such tests flaky when a thread is merely busy.

Rejected: patching ``time.monotonic`` (freezegun, time-machine) cannot wake a thread blocked in
``Event.wait(300)``; .NET's ``FakeTimeProvider`` wakes timers but cannot tell when the woken
code has finished reacting, so tests must sleep or poll.

Real time is used in two places only, both documented: ``stall_timeout`` and the polling of
threads that end without telling the clock (a woken non-participant, checked every 5 ms).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal, final

from threadhost import _log_messages as log
from threadhost._cancellation import Latch, Registration
from threadhost._clock import Clock, TimerHandle
from threadhost._report import capture_stack
from threadhost._threads import start_thread

if TYPE_CHECKING:
    from threadhost._cancellation import CancellationToken

DEFAULT_START = datetime(2000, 1, 1, tzinfo=UTC)
_POLL = 0.005  # real seconds between checks for threads that end without telling the clock


class FakeClockStallError(RuntimeError):
    """A participant stayed outside a clock wait for ``stall_timeout`` real seconds while
    ``on_stall="raise"``. ``thread_name`` and ``stack`` say which and where."""

    def __init__(self, thread_name: str, stack: str, stall_timeout: float) -> None:
        super().__init__(
            f"FakeClock: thread {thread_name!r} stayed outside a clock wait for "
            f"{stall_timeout}s of real time (blocked on something the clock cannot see, or "
            f"busy). It is in:\n{stack}")
        self.thread_name = thread_name
        self.stack = stack


@dataclass(eq=False)
class _ThreadState:
    participant: bool
    registrations: int = 0  # participants: how many registrations are open
    blocked: bool = False
    stalled: bool = False
    since: float = field(default_factory=time.monotonic)  # real time it last began running


@dataclass(order=True)
class _Timer:
    deadline: float
    seq: int
    thread: threading.Thread | None = field(compare=False, default=None)
    latch: Latch | None = field(compare=False, default=None)
    callback: Callable[[], object] | None = field(compare=False, default=None)
    owner: FakeClock | None = field(compare=False, default=None, repr=False)
    done: bool = field(compare=False, default=False)

    def cancel(self) -> None:
        if self.owner is not None:
            self.owner._cancel_timer(self)


@final
class FakeClock(Clock):
    """Virtual time for tests: frozen until moved, and it wakes the threads waiting on it.

    ``start`` is the virtual time of day at ``monotonic() == 0`` (default 2000-01-01 UTC).
    ``advance(seconds)`` and ``set(when)`` move time through every pending deadline in order;
    with ``autojump=True`` time also jumps by itself whenever every participant is blocked in a
    clock wait. ``stall_timeout`` is in *real* seconds; ``on_stall`` is ``"log"`` (default) or
    ``"raise"``. Thread-safe: any thread may read or move the clock, a service's own included.
    """

    def __init__(self, start: datetime | None = None, *, autojump: bool = False,
                 stall_timeout: float = 1.0, on_stall: Literal["log", "raise"] = "log") -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("FakeClock(start=...) needs a timezone-aware datetime, e.g. "
                             "datetime(2030, 1, 1, tzinfo=UTC)")
        if on_stall not in ("log", "raise"):
            raise ValueError(f"FakeClock(on_stall={on_stall!r}): expected 'log' or 'raise'")
        self._start = (start or DEFAULT_START).astimezone(UTC)
        self.autojump = autojump
        self.stall_timeout = stall_timeout
        self.on_stall = on_stall
        self._cond = threading.Condition(threading.Lock())
        self._now = 0.0  # guarded by _cond
        self._timers: list[_Timer] = []  # guarded by _cond; a heap
        self._seq = itertools.count()
        self._threads: dict[threading.Thread, _ThreadState] = {}  # guarded by _cond
        self._driver: threading.Thread | None = None  # guarded by _cond
        self._advancing = threading.RLock()  # one advance (or jump) at a time
        self.stall_errors: list[FakeClockStallError] = []  # appended under _cond

    # -- reading ---------------------------------------------------------------------------

    def monotonic(self) -> float:
        """Virtual seconds since the clock was made."""
        return self._now

    def now(self) -> datetime:
        """``start`` plus the virtual seconds passed, timezone-aware UTC."""
        return self._start + timedelta(seconds=self._now)

    @property
    def pending(self) -> list[float]:
        """The virtual deadlines still pending, soonest first (for debugging tests)."""
        with self._cond:
            return sorted(t.deadline for t in self._timers)

    # -- waiting ---------------------------------------------------------------------------

    def wait(self, token: CancellationToken | None, timeout: float | None) -> bool:
        """Block until the token is cancelled or ``timeout`` *virtual* seconds pass.

        Real time never ends the wait: only ``advance``/``set``/autojump reaching the deadline,
        or the token. While blocked, the calling thread counts as settled.
        """
        if token is not None and token.is_cancellation_requested:
            return True
        me = threading.current_thread()
        latch = Latch()
        timer: _Timer | None = None
        registration: Registration | None = None
        with self._cond:
            if timeout is not None:
                timer = _Timer(self._now + max(timeout, 0.0), next(self._seq), me, latch)
                heapq.heappush(self._timers, timer)
                self._ensure_driver()
            state = self._threads.get(me)
            if state is None:
                state = self._threads[me] = _ThreadState(participant=False)
            state.blocked, state.stalled = True, False
            self._cond.notify_all()
        if token is not None:
            registration = token.register(lambda: self._wake(me, latch, timer))
        latch.wait()
        if registration is not None:
            registration.unregister()
        return token is not None and token.is_cancellation_requested

    def _wake(self, thread: threading.Thread, latch: Latch, timer: _Timer | None) -> None:
        """Wake a waiter (on the waking thread): mark it running, then open its latch."""
        with self._cond:
            if latch.is_set():
                return
            if timer is not None and not timer.done:
                timer.done = True
                self._remove(timer)
            self._mark_running(thread)
            latch.set()

    def _mark_running(self, thread: threading.Thread) -> None:
        state = self._threads.get(thread)
        if state is not None:
            state.blocked, state.stalled, state.since = False, False, time.monotonic()
        self._cond.notify_all()

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        """Run ``callback`` on the thread that moves time past ``delay`` virtual seconds."""
        timer = _Timer(0.0, 0, callback=callback, owner=self)
        with self._cond:
            timer.deadline, timer.seq = self._now + max(delay, 0.0), next(self._seq)
            heapq.heappush(self._timers, timer)
            self._ensure_driver()
        return timer

    def _cancel_timer(self, timer: _Timer) -> None:
        with self._cond:
            if not timer.done:
                timer.done = True
                self._remove(timer)

    def _remove(self, timer: _Timer) -> None:
        try:
            self._timers.remove(timer)
        except ValueError:
            return
        heapq.heapify(self._timers)
        self._cond.notify_all()

    # -- participants ----------------------------------------------------------------------

    def register_participant(self, thread: threading.Thread) -> None:
        """Count ``thread`` as a participant (running) until as many unregistrations."""
        with self._cond:
            state = self._threads.get(thread)
            if state is None or not state.participant:
                state = self._threads[thread] = _ThreadState(participant=True)
            state.registrations += 1
            self._cond.notify_all()

    def unregister_participant(self, thread: threading.Thread) -> None:
        """Close one registration of ``thread``; at the last it no longer holds the clock."""
        with self._cond:
            state = self._threads.get(thread)
            if state is not None and state.participant:
                state.registrations -= 1
                if state.registrations <= 0:
                    del self._threads[thread]
            self._cond.notify_all()

    # -- moving time -----------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, stepping through every deadline on the way.

        First waits until every participant other than the caller is settled (blocked in a
        clock wait, ended or stalled); then, for each pending deadline up to the target in
        deadline order (ties in registration order), sets the time to it, wakes its waiter
        (or runs its callback on this thread) and waits for everyone to settle again. Ends
        at exactly ``now + seconds``. Blocks for as long as that takes in real time. Raises
        ValueError for a negative amount and ``FakeClockStallError`` on a stall when
        ``on_stall="raise"``.
        """
        if seconds < 0:
            raise ValueError(f"FakeClock.advance() cannot go backwards: got {seconds!r}")
        me = threading.current_thread()
        with self._advancing:
            self._settle(exclude=me)
            with self._cond:
                target = self._now + seconds
            while self._step(up_to=target):
                self._settle(exclude=me)
            with self._cond:
                self._now = max(self._now, target)

    def set(self, when: datetime) -> None:
        """Move time forward to ``when`` (timezone-aware), as ``advance`` does.

        Raises ValueError if ``when`` is earlier than ``now()``: time never goes backwards.
        """
        delta = (when - self.now()).total_seconds()
        if delta < 0:
            raise ValueError(f"FakeClock.set({when.isoformat()}) would go backwards from "
                             f"{self.now().isoformat()}")
        self.advance(delta)

    def _step(self, up_to: float | None) -> bool:
        """Fire the earliest timer (if due by ``up_to``; any if None). False if none."""
        with self._cond:
            if not self._timers or (up_to is not None and self._timers[0].deadline > up_to):
                return False
            timer = heapq.heappop(self._timers)
            timer.done = True
            self._now = max(self._now, timer.deadline)
            if timer.latch is not None:
                assert timer.thread is not None
                self._mark_running(timer.thread)
                timer.latch.set()
                return True
        assert timer.callback is not None
        try:
            timer.callback()  # on the advancing thread, outside the lock
        except BaseException as exc:
            log.callback_failed("a FakeClock timer", exc)
        return True

    def _settle(self, exclude: threading.Thread | None) -> None:
        """Block until every thread that matters (but ``exclude``) is settled."""
        with self._cond:
            while True:
                wait, stalls = self._unsettled(exclude)
                if stalls and self.on_stall == "raise":
                    raise stalls[0]
                if wait is None:
                    return
                self._cond.wait(wait)

    def _unsettled(self, exclude: threading.Thread | None
                   ) -> tuple[float | None, list[FakeClockStallError]]:
        """How long to wait before checking again (None: all settled), and new stalls.

        Under the lock. Marks and logs stalls as it finds them.
        """
        now = time.monotonic()
        soonest: float | None = None
        poll: float | None = None
        stalls: list[FakeClockStallError] = []
        for thread, state in list(self._threads.items()):
            if thread is exclude or state.blocked or state.stalled:
                continue
            if not thread.is_alive() and thread.ident is not None:
                del self._threads[thread]
                continue
            left = state.since + self.stall_timeout - now
            if left > 0:
                soonest = left if soonest is None else min(soonest, left)
                poll = _POLL  # it may end without telling us (a woken outsider does)
                continue
            if not state.participant:
                del self._threads[thread]  # a woken outsider stops counting after the timeout
                continue
            state.stalled = True
            stack = capture_stack(thread)
            log.clock_stalled(thread.name, self.stall_timeout, stack)
            error = FakeClockStallError(thread.name, stack, self.stall_timeout)
            self.stall_errors.append(error)
            stalls.append(error)
        if soonest is None:
            return None, stalls
        return (min(soonest, poll) if poll is not None else soonest), stalls

    # -- autojump --------------------------------------------------------------------------

    def _ensure_driver(self) -> None:
        """Start the autojump driver if it is needed and not running (under lock)."""
        if self.autojump and self._driver is None:
            self._driver = threading.Thread(target=self._drive, name="threadhost:autojump",
                                            daemon=True)
            start_thread(self._driver)
        else:
            self._cond.notify_all()

    def _drive(self) -> None:
        # Stalls found here are only recorded (stall_errors); run_host raises them at the end.
        while True:
            with self._cond:
                if not self._timers:
                    self._driver = None
                    return
                wait = self._unsettled(None)[0]
                if wait is not None:
                    self._cond.wait(wait)
                    continue
            with self._advancing:
                with self._cond:
                    ready = bool(self._timers) and self._unsettled(None)[0] is None
                if ready:
                    self._step(up_to=None)

    def __repr__(self) -> str:
        mode = "autojump" if self.autojump else "manual"
        return f"<FakeClock {self.now().isoformat()} {mode}>"
