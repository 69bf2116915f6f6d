"""``FakeClock``: virtual time that wakes sleeping threads, in a deterministic order.

Design note
-----------
Every wait in threadhost goes through ``Clock.wait`` or ``Clock.call_later``, so this clock
sees each pending deadline (a heap, ties broken by registration order) and each thread blocked
on it. Moving time is a series of *steps*: pop the earliest deadline, set virtual time to it,
wake its thread (or hand its callback to a fresh helper thread), and let nothing else move
until every thread that matters is *settled* again. That is what makes periodic code run the
same way every time: a woken thread finishes reacting (and blocks in its next clock wait)
before time moves on.

Who matters (is *counted*): the participants (threads registered through
``register_participant``, from before their start until they end; the callback helpers; a
thread inside ``hold()``), and any other thread from the moment the clock or a token wakes it
out of a clock wait until it waits again, ends, or ``stall_timeout`` passes. Settled: every
counted thread is blocked in a clock wait, has ended, or has stalled.

Event-driven, never polling. The clock keeps the set of counted threads that are running
(``_busy``, in the order they began running, so the oldest is first) and every transition
that shrinks it checks whether the clock is now settled: a thread entering a wait, a
participant unregistering, a thread ending (heard through ``_thread_exit``, not by polling
``is_alive``), a stall. Under autojump the thread whose transition settles the clock takes the
next step itself, on the spot: a lone poller that waits for 60 s simply finds its own deadline
earliest and returns, with no other thread involved. The only real-time wait left is the stall
timer: whoever waits for the clock to settle (``advance``, a reader, the autojump watcher)
sleeps at most until the oldest running thread would stall. While every counted thread is
blocked, no thread of ours runs at all.

Readers from outside. A thread that is not counted (typically the test's own) and reads
``now()``/``monotonic()`` while a step is in flight (time has moved and the woken threads have
not settled yet) waits for that step to settle and reads the time at which it did. So a test
polling ``clock.now()`` sees only settled states, and, blocked instead of spinning, does not
starve the service threads of the GIL (the cost of a spinning reader was one switch interval,
5 ms, per step). Counted threads read at once.

Callbacks (``call_later``, hence ``cancel_after``) run on a helper thread per firing,
``threadhost:clock-callback``, counted like a participant: so a callback may itself wait on the
clock, and the stepping thread is never the one blocked. Rejected: running callbacks on the
stepping thread (a callback that waits on the clock deadlocked ``advance`` and autojump).

Concurrent ``advance``/``set`` calls take turns, in the order they arrive; each moves time by
its own amount from where the previous one left it, as if they had been made one after the
other. A thread waiting for its turn counts as blocked in a clock wait (before, a service
thread's advance beside the test's own was taken for a stall). Autojump does not step while an
advance runs.

Rejected: patching ``time.monotonic`` (freezegun, time-machine) cannot wake a thread blocked in
``Event.wait(300)``; .NET's ``FakeTimeProvider`` wakes timers but cannot tell when the woken
code has finished reacting, so tests must sleep or poll; trio's ``autojump_threshold`` jumps
on a real-time idle guess, which is what makes such tests flaky when a thread is merely busy.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal, final

from threadhost import _log_messages as log
from threadhost._cancellation import Latch, Registration
from threadhost._clock import NEVER, Clock, TimerHandle, no_timeout
from threadhost._report import capture_stack
from threadhost._threads import start_thread

from ._thread_exit import on_thread_exit

if TYPE_CHECKING:
    from threadhost._cancellation import CancellationToken

DEFAULT_START = datetime(2000, 1, 1, tzinfo=UTC)
_TURN = "its turn to advance the clock"  # what a thread waiting in advance() is blocked on


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


class _Waiter:
    """One thread blocked in ``FakeClock.wait``."""

    __slots__ = ("clock", "latch", "thread", "timer", "woken")

    def __init__(self, clock: FakeClock, thread: threading.Thread) -> None:
        self.clock = clock
        self.thread = thread
        self.latch = Latch()
        self.timer: _Timer | None = None
        self.woken = False  # guarded by the clock's lock

    def cancelled(self) -> None:
        """The token's callback (on the cancelling thread)."""
        self.clock._wake_by_token(self)


class _Timer:
    """A pending deadline: a waiter to wake or a callback to run."""

    __slots__ = ("callback", "deadline", "done", "owner", "waiter")

    def __init__(self, owner: FakeClock, deadline: float, waiter: _Waiter | None,
                 callback: Callable[[], object] | None) -> None:
        self.owner = owner
        self.deadline = deadline
        self.waiter = waiter
        self.callback = callback
        self.done = False  # guarded by the clock's lock: fired or cancelled

    def cancel(self) -> None:
        self.owner._cancel_timer(self)


@final
class FakeClock(Clock):
    """Virtual time for tests: frozen until moved, and it wakes the threads waiting on it.

    ``start`` is the virtual time of day at ``monotonic() == 0`` (default 2000-01-01 UTC).
    ``advance(seconds)`` and ``set(when)`` move time through every pending deadline in order;
    with ``autojump=True`` time also jumps by itself whenever every participant is blocked in a
    clock wait. ``stall_timeout`` is in *real* seconds; ``on_stall`` is ``"log"`` (default) or
    ``"raise"``. Thread-safe: any thread may read or move the clock, a service's own included.
    Raises ValueError for a naive ``start``, a bad ``stall_timeout`` or ``on_stall``.
    """

    def __init__(self, start: datetime | None = None, *, autojump: bool = False,
                 stall_timeout: float = 1.0, on_stall: Literal["log", "raise"] = "log") -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("FakeClock(start=...) needs a timezone-aware datetime, e.g. "
                             "datetime(2030, 1, 1, tzinfo=UTC)")
        if on_stall not in ("log", "raise"):
            raise ValueError(f"FakeClock(on_stall={on_stall!r}): expected 'log' or 'raise'")
        if not (isinstance(stall_timeout, int | float) and 0 < stall_timeout < math.inf):
            raise ValueError(f"FakeClock(stall_timeout={stall_timeout!r}): expected real "
                             "seconds > 0")
        self._start = (start or DEFAULT_START).astimezone(UTC)
        self.autojump = autojump
        self.stall_timeout = float(stall_timeout)
        self.on_stall = on_stall
        self._lock = threading.Lock()
        self._settled_cv = threading.Condition(self._lock)  # advancers and outside readers
        self._turn_cv = threading.Condition(self._lock)  # threads waiting to advance
        self._watch_cv = threading.Condition(self._lock)  # the autojump watcher
        # Everything below is guarded by _lock (plain reads of the four step counters and
        # times are safe without it: each is one object written whole).
        self._now = 0.0
        self._steps = 0  # deadlines fired so far
        self._settled_at = 0  # _steps when the clock last settled
        self._settled_now = 0.0  # _now when the clock last settled
        self._timers: list[tuple[float, int, _Timer]] = []  # a heap; done ones left lazily
        self._live = 0  # timers in the heap neither fired nor cancelled
        self._seq = itertools.count()
        self._regs: dict[threading.Thread, int] = {}  # participants: open registrations
        self._busy: dict[threading.Thread, float] = {}  # counted and running: real start
        self._blocked: dict[threading.Thread, _Waiter | str] = {}  # in a clock wait: on what
        self._watched: set[threading.Thread] = set()  # threads whose end we will hear of
        self._advancer: threading.Thread | None = None  # the thread whose advance runs
        self._turns: deque[threading.Thread] = deque()  # threads waiting to advance, in order
        self._settle_waiters = 0  # threads in _settled_cv.wait
        self._watcher: threading.Thread | None = None
        self._watcher_idle = False  # the watcher waits with no timeout
        self.stall_errors: list[FakeClockStallError] = []  # appended under _lock

    # -- reading ---------------------------------------------------------------------------

    def monotonic(self) -> float:
        """Virtual seconds since the clock was made.

        Any thread. A counted thread (a participant, or one the clock woke) reads at once; any
        other thread, while a step is in flight, waits until that step has settled (at most
        ``stall_timeout`` real seconds) and reads the time it settled at.
        """
        if self._settled_at == self._steps:
            return self._settled_now
        return self._read_settled()

    def now(self) -> datetime:
        """``start`` plus ``monotonic()`` virtual seconds, timezone-aware UTC (same rules)."""
        return self._start + timedelta(seconds=self.monotonic())

    def _read_settled(self) -> float:
        me = threading.current_thread()
        with self._lock:
            if me in self._busy or me in self._regs or me is self._advancer:
                return self._now
            step = self._steps
            while self._settled_at < step:
                self._await_settled(None)
            return self._settled_now

    @property
    def pending(self) -> list[float]:
        """The virtual deadlines still pending, soonest first (for debugging tests)."""
        with self._lock:
            return sorted(d for d, _, t in self._timers if not t.done)

    # -- waiting ---------------------------------------------------------------------------

    def wait(self, token: CancellationToken | None, timeout: float | None) -> bool:
        """Block until the token is cancelled or ``timeout`` *virtual* seconds pass.

        Any thread. Real time never ends the wait: only ``advance``/``set``/autojump reaching
        the deadline, or the token. Returns at once if the token is already cancelled or the
        timeout is zero or less. While blocked, the calling thread counts as settled; once
        woken it counts (holds the clock) until it waits again, ends, or stalls. Raises
        ValueError for a NaN timeout.
        """
        if token is not None and token.is_cancellation_requested:
            return True
        forever = no_timeout(timeout)
        if not forever and timeout is not None and timeout <= 0:
            return False
        me = threading.current_thread()
        waiter = _Waiter(self, me)
        with self._lock:
            if me not in self._watched:
                self._watched.add(me)
                on_thread_exit(self)
            if not forever:
                assert timeout is not None
                waiter.timer = self._push(self._now + timeout, waiter, None)
            self._blocked[me] = waiter
            self._busy.pop(me, None)
            self._check_settled()  # may step at once, and may even wake this very wait
        registration: Registration | None = None
        if token is not None and not waiter.latch.is_set():
            registration = token.register(waiter.cancelled)
        waiter.latch.wait()
        if registration is not None:
            registration.unregister()
        return token is not None and token.is_cancellation_requested

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        """Run ``callback`` once ``delay`` virtual seconds have passed.

        Any thread. The callback runs on a helper thread, ``threadhost:clock-callback``,
        which counts as a participant until it returns, so it may wait on the clock itself;
        an exception from it is logged. An infinite delay never fires. Raises ValueError for
        NaN.
        """
        if no_timeout(delay):
            return NEVER
        with self._lock:
            timer = self._push(self._now + max(delay, 0.0), None, callback)
            self._check_settled()  # under autojump with everyone blocked, it may fire now
            return timer

    def _push(self, deadline: float, waiter: _Waiter | None,
              callback: Callable[[], object] | None) -> _Timer:
        """Schedule a deadline (under _lock)."""
        timer = _Timer(self, deadline, waiter, callback)
        heapq.heappush(self._timers, (deadline, next(self._seq), timer))
        self._live += 1
        if len(self._timers) > 64 + 2 * self._live:  # mostly cancelled: compact
            self._timers = [entry for entry in self._timers if not entry[2].done]
            heapq.heapify(self._timers)
        if self.autojump:
            if self._watcher is None:
                self._start_watcher()
            elif self._watcher_idle:
                self._watch_cv.notify()
        return timer

    def _cancel_timer(self, timer: _Timer) -> None:
        with self._lock:
            self._drop(timer)

    def _drop(self, timer: _Timer) -> None:
        """Retire a timer that will not fire (under _lock); it leaves the heap lazily."""
        if not timer.done:
            timer.done = True
            self._live -= 1
            if not self._live:
                self._release_watcher()

    def _wake_by_token(self, waiter: _Waiter) -> None:
        with self._lock:
            if not waiter.woken:
                if waiter.timer is not None:
                    self._drop(waiter.timer)
                self._wake(waiter)

    def _wake(self, waiter: _Waiter) -> None:
        """Mark the waiter's thread running (it now holds the clock), then let it go."""
        waiter.woken = True
        thread = waiter.thread
        self._blocked.pop(thread, None)
        self._busy[thread] = time.monotonic()
        waiter.latch.set()

    # -- participants ----------------------------------------------------------------------

    def register_participant(self, thread: threading.Thread) -> None:
        """Count ``thread`` as a participant (running) until as many unregistrations.

        Any thread; typically the host, before it starts ``thread``.
        """
        with self._lock:
            count = self._regs.get(thread, 0)
            self._regs[thread] = count + 1
            if not count and thread not in self._blocked and thread not in self._busy:
                self._busy[thread] = time.monotonic()

    def unregister_participant(self, thread: threading.Thread) -> None:
        """Close one registration of ``thread``; at the last it no longer holds the clock."""
        with self._lock:
            count = self._regs.get(thread)
            if count is None:
                return
            if count > 1:
                self._regs[thread] = count - 1
                return
            del self._regs[thread]
            if self._busy.pop(thread, None) is not None:
                self._check_settled()
                self._release_watcher()

    def _thread_ended(self, thread: threading.Thread) -> None:
        """``_thread_exit`` callback, on the ending thread: it holds the clock no longer."""
        with self._lock:
            self._watched.discard(thread)
            self._regs.pop(thread, None)
            self._blocked.pop(thread, None)
            if self._busy.pop(thread, None) is not None:
                self._check_settled(step=False)  # no thread starts from a dying one
                self._release_watcher()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Keep time still while the ``with`` block runs (for autojump tests' setup).

        The calling thread counts as a busy participant for the block (stall detection
        included: past ``stall_timeout`` real seconds it is logged and holds no more), so
        autojump does not move time while the test sets things up; time may move again as
        soon as the block ends. Reentrant. Any thread.
        """
        me = threading.current_thread()
        self.register_participant(me)
        try:
            yield
        finally:
            self.unregister_participant(me)

    # -- settling --------------------------------------------------------------------------

    def _check_settled(self, *, step: bool = True) -> None:
        """After the running set shrank (under _lock): if settled, say so, then step.

        Settled: nothing runs but the advancer. Under autojump with no advance running, the
        next deadline fires here, on the calling thread (unless ``step`` is False; the
        watcher then takes it).
        """
        busy = self._busy
        advancer = self._advancer
        if busy and not (advancer is not None and len(busy) == 1 and advancer in busy):
            return
        self._settled_at = self._steps
        self._settled_now = self._now
        if self._settle_waiters:
            self._settled_cv.notify_all()
        if advancer is None and self.autojump and self._live:
            if step:
                self._fire_next(None)
            elif self._watcher is not None:
                self._watch_cv.notify()
        elif not self._live:
            self._release_watcher()

    def _await_settled(self, exclude: threading.Thread | None) -> None:
        """One round of waiting for the clock to settle (under _lock; callers loop).

        Sleeps at most until the oldest running thread (but ``exclude``) would stall, then
        marks the stalls. Raises the first new stall if ``on_stall="raise"`` and ``exclude``
        is set (an advance).
        """
        timeout, stalls = self._find_stalls(exclude)
        if stalls:
            self._check_settled()
            self._report_stalls(stalls, raise_first=exclude is not None)
            return
        self._settle_waiters += 1
        try:
            self._settled_cv.wait(timeout)
        finally:
            self._settle_waiters -= 1

    def _find_stalls(self, exclude: threading.Thread | None
                     ) -> tuple[float | None, list[tuple[threading.Thread, str]]]:
        """Real seconds until the next possible stall (None: nothing runs), and the threads
        that stalled just now, with their stacks; stops counting them (under _lock)."""
        now = time.monotonic()
        limit = self.stall_timeout
        stalled: list[threading.Thread] = []
        next_stall: float | None = None
        for thread, since in self._busy.items():  # oldest first
            if thread is exclude or thread is self._advancer:
                continue  # it runs our code: it is waiting too
            if since + limit > now:
                next_stall = since + limit - now
                break
            stalled.append(thread)
        found: list[tuple[threading.Thread, str]] = []
        for thread in stalled:
            del self._busy[thread]
            if thread in self._regs and thread.is_alive():
                found.append((thread, capture_stack(thread)))
            elif thread not in self._regs:
                log.clock_outsider_released(thread.name, limit)
        return next_stall, found

    def _report_stalls(self, stalls: list[tuple[threading.Thread, str]], *,
                       raise_first: bool) -> None:
        """Log and record stalls (under _lock, released around the logging)."""
        errors = [FakeClockStallError(t.name, stack, self.stall_timeout) for t, stack in stalls]
        self.stall_errors.extend(errors)
        self._lock.release()  # log handlers are user code: never under our lock
        try:
            for (thread, stack) in stalls:
                log.clock_stalled(thread.name, self.stall_timeout, stack)
        finally:
            self._lock.acquire()
        if raise_first and self.on_stall == "raise":
            raise errors[0]

    def _fire_next(self, up_to: float | None) -> bool:
        """Fire the earliest pending deadline, if due by ``up_to`` (under _lock).

        One step: time moves to the deadline, its waiter wakes (or its callback starts on a
        helper). False if there is none.
        """
        heap = self._timers
        while heap:
            deadline, _, timer = heap[0]
            if timer.done:
                heapq.heappop(heap)
                continue
            if up_to is not None and deadline > up_to:
                return False
            heapq.heappop(heap)
            timer.done = True
            self._live -= 1
            if not self._live:
                self._release_watcher()
            if deadline > self._now:
                self._now = deadline
            self._steps += 1
            if timer.waiter is not None:
                self._wake(timer.waiter)
            else:
                assert timer.callback is not None
                self._start_callback(timer.callback)
            return True
        return False

    def _start_callback(self, callback: Callable[[], object]) -> None:
        """Run a due callback on a new helper thread, counted from now (under _lock)."""
        helper = threading.Thread(target=self._run_callback, args=(callback,),
                                  name="threadhost:clock-callback", daemon=True)
        self._regs[helper] = 1
        self._busy[helper] = time.monotonic()
        try:
            start_thread(helper)
        except RuntimeError:  # interpreter shutdown
            del self._regs[helper], self._busy[helper]

    def _run_callback(self, callback: Callable[[], object]) -> None:
        try:
            callback()
        except BaseException as exc:
            log.clock_callback_failed(callback, exc)
        finally:
            self.unregister_participant(threading.current_thread())

    # -- moving time -----------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, stepping through every deadline on the way.

        Any thread, a service's own included. First waits until every counted thread other
        than the caller is settled (blocked in a clock wait, ended or stalled); then, for
        each pending deadline up to the target in deadline order (ties in registration
        order), sets the time to it, wakes its waiter (or starts its callback) and waits for
        everyone to settle again. Ends at exactly ``now + seconds``. Concurrent calls take
        turns in arrival order, each moving time by its own amount (while waiting for its
        turn a thread counts as blocked in a clock wait). Blocks for as long as that takes
        in real time. Raises ValueError for a negative or non-finite amount and
        ``FakeClockStallError`` on a stall when ``on_stall="raise"``.
        """
        if seconds < 0:
            raise ValueError(f"FakeClock.advance() cannot go backwards: got {seconds!r}")
        if not math.isfinite(seconds):
            raise ValueError(f"FakeClock.advance() needs a finite number of seconds: got "
                             f"{seconds!r}")
        self._move(lambda now: now + seconds)

    def set(self, when: datetime) -> None:
        """Move time forward to ``when`` (timezone-aware), as ``advance`` does.

        Raises ValueError if ``when`` is earlier than the time when its turn comes: time
        never goes backwards.
        """
        target = (when - self._start).total_seconds()

        def to(now: float) -> float:
            if target < now:
                raise ValueError(
                    f"FakeClock.set({when.isoformat()}) would go backwards from "
                    f"{(self._start + timedelta(seconds=now)).isoformat()}")
            return target

        self._move(to)

    def _move(self, target_of: Callable[[float], float]) -> None:
        me = threading.current_thread()
        with self._lock:
            nested = self._advancer is me
            if not nested:
                self._take_turn(me)
            try:
                self._settle(me)
                target = target_of(self._now)
                while self._fire_next(target):
                    self._settle(me)
                self._now = max(self._now, target)
                self._settled_now = self._now
            finally:
                if not nested:
                    self._give_turn()

    def _settle(self, me: threading.Thread) -> None:
        """Wait until nothing runs but ``me`` (under _lock)."""
        while True:
            busy = self._busy
            if not busy or (len(busy) == 1 and me in busy):
                self._check_settled()
                return
            self._await_settled(me)

    def _take_turn(self, me: threading.Thread) -> None:
        """Become the advancer, waiting (as in a clock wait) behind earlier ones (under _lock)."""
        if self._advancer is None:
            self._advancer = me
            return
        was_busy = self._busy.pop(me, None) is not None
        self._blocked[me] = _TURN
        self._turns.append(me)
        self._check_settled()  # our wait may be what the running advance waits for
        while self._advancer is not me:
            self._turn_cv.wait()
        del self._blocked[me]
        if was_busy or me in self._regs:
            self._busy[me] = time.monotonic()

    def _give_turn(self) -> None:
        if self._turns:
            self._advancer = self._turns.popleft()
            self._turn_cv.notify_all()
        else:
            self._advancer = None
            if self._watcher_idle:
                self._watch_cv.notify()  # it may have running threads to time again
            self._check_settled()  # autojump may go on from here

    # -- autojump --------------------------------------------------------------------------

    def _start_watcher(self) -> None:
        """Start the autojump watcher (under _lock): it times stalls and takes the steps that
        no other thread can, while deadlines are pending or counted threads run."""
        self._watcher = threading.Thread(target=self._watch, name="threadhost:autojump",
                                         daemon=True)
        start_thread(self._watcher)

    def _release_watcher(self) -> None:
        """Let the watcher end if it has nothing left to do (under _lock)."""
        if self._watcher is not None and not self._watcher_needed():
            self._watch_cv.notify()

    def _watcher_needed(self) -> bool:
        # A deadline to move to, or a participant running that will add one. A thread that
        # is counted only because the clock woke it (the test's own, say) does not keep it.
        return bool(self._live) or any(thread in self._regs for thread in self._busy)

    def _watch(self) -> None:
        with self._lock:
            while self._watcher_needed():
                if self._advancer is None and self._live and not self._busy:
                    self._check_settled()
                    continue
                if not self._live or self._advancer is not None:
                    timeout: float | None = None  # no deadline to move to: no stall to time
                else:
                    timeout, stalls = self._find_stalls(None)
                    if stalls:
                        self._report_stalls(stalls, raise_first=False)
                        self._check_settled()
                        continue
                self._watcher_idle = timeout is None
                self._watch_cv.wait(timeout)
                self._watcher_idle = False
            self._watcher = None

    # -- describing ------------------------------------------------------------------------

    def _describe(self) -> str:
        """What the clock is waiting for, in words (for ``run_host``'s timeout message)."""
        with self._lock:
            mode = "autojump" if self.autojump else "manual"
            lines = [f"FakeClock ({mode}) at {self._now_unlocked().isoformat()} "
                     f"(+{self._now:g}s virtual)."]
            due = sorted((d, s, t) for d, s, t in self._timers if not t.done)
            for deadline, _, timer in due:
                what = (f"thread {timer.waiter.thread.name!r} waits" if timer.waiter
                        else f"callback {timer.callback!r}")
                lines.append(f"  pending deadline +{deadline:g}s: {what}")
            for thread, on in self._blocked.items():
                if isinstance(on, str) or on.timer is None:
                    what = on if isinstance(on, str) else "a token, with no deadline"
                    lines.append(f"  thread {thread.name!r} is blocked waiting for {what}")
            running = list(self._busy)
        for thread in running:
            lines.append(f"  thread {thread.name!r} is running outside a clock wait, in:\n"
                         f"{capture_stack(thread)}")
        return "\n".join(lines)

    def _now_unlocked(self) -> datetime:
        """The current virtual time of day, without waiting for a step to settle."""
        return self._start + timedelta(seconds=self._now)

    def __repr__(self) -> str:
        mode = "autojump" if self.autojump else "manual"
        return f"<FakeClock {self._now_unlocked().isoformat()} {mode}>"
