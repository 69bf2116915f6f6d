"""The engine under ``FakeClock``: who holds the clock, when it is settled, and the steps.

Design note
-----------
Moving virtual time is a series of *steps*: pop the earliest deadline (a heap; ties in
registration order), set the time to it, wake its waiter (or start its callback on a helper
thread), and take no other step until the clock is *settled* again: every *counted* thread is
blocked in a clock wait, has ended, or has stalled. That is what makes periodic code run the
same way every time: a woken thread finishes reacting before time moves on.

Counted threads: the participants (registered through ``register_participant``; the callback
helpers; a thread inside ``hold()``), and any other thread from the moment the clock or a
token wakes it out of a clock wait until it waits again, ends, or ``stall_timeout`` passes.
A participant registered *by another thread* (a host thread, before its start) holds the
clock until it ends, not merely until it unregisters: its last acts (waking the thread that
joins it) come after the unregistration, and time must not move before them.

Event-driven, never polling. ``_busy`` holds the counted threads that run, in the order they
began running (so the oldest is first, for the stall timer). Every transition that shrinks it
calls ``_check_settled``: a thread entering a wait, a participant unregistering, a thread
ending (heard through ``_thread_exit``, not by polling ``is_alive``), a stall. Under autojump
the thread whose transition settles the clock takes the next step itself, at once: a lone
poller that waits for 60 s finds its own deadline earliest and returns, with no other thread
involved. The one real-time wait left is the stall timer: whoever waits for the clock to
settle (an advance, an outside reader, the autojump watcher) sleeps at most until the oldest
running thread would stall. While every counted thread is blocked, no thread of ours runs.

The watcher, ``threadhost:autojump``, exists under autojump while a deadline is pending or a
participant runs. It times stalls and takes the steps no other thread can (after a thread
ended: no thread is started from a dying one). A thread counted only because the clock woke
it (the test's own) does not keep it alive, so no test leaves it behind.

Outside readers. A thread that is not counted and reads the time while a step is in flight
waits until a step has settled and reads the time it settled at: a test polling
``clock.now()`` in a loop sees only settled states, and blocks instead of spinning, so it does
not starve the services of the GIL (measured on the queue scenario of bench_fakeclock.py: a
virtual day took 0.73 s real with a reader spinning on the time unblocked, 0.08 s with this).
Under autojump, where settles follow each other in microseconds, a reader is let through at
the first settle after it has waited ``_READER_PATIENCE`` of real time rather than at every
one (each let-through is a GIL hand-off the services pay for); when no step follows a settle,
it is let through at once. Only *when* an outside reader looks depends on real time; what the
services do never does.

Rejected: running callbacks on the stepping thread (a callback that waited on the clock
deadlocked ``advance`` and autojump); a driver thread that takes every step (two context
switches per step where none are needed); polling ``is_alive`` for threads that end without
telling the clock (a 5 ms real-time poll).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import cast

from threadhost._hosting.report import capture_stack
from threadhost._time.threads import start_thread
from threadhost.testing import _messages as messages

from ._engine_lock import EngineLock
from ._entries import Callback, FakeClockStallError, Waiter
from ._thread_exit import on_thread_exit

_READER_PATIENCE = 0.001  # real seconds an outside reader waits before any settle frees it
_TURN = "its turn to advance the clock"  # what a thread waiting in advance() is blocked on


class Stepper:
    """The state and the stepping of a ``FakeClock`` (see the module note)."""

    def __init__(self, *, autojump: bool, stall_timeout: float, on_stall: str) -> None:
        self.autojump = autojump
        self.stall_timeout = stall_timeout
        self.on_stall = on_stall
        # A thread's end is posted to the lock, never waited for (see _engine_lock); so is a
        # poke (None) for the threads in _joins_cv.wait, from a token callback.
        self._lock: EngineLock[threading.Thread | None] = EngineLock(self._take_report)
        lock = cast(threading.Lock, self._lock)  # a Condition needs only acquire and release
        self._settled_cv = threading.Condition(lock)  # advancers and outside readers
        self._turn_cv = threading.Condition(lock)  # threads waiting to advance
        self._watch_cv = threading.Condition(lock)  # the autojump watcher
        self._joins_cv = threading.Condition(lock)  # join_threads: a thread blocked/ended
        # All guarded by _lock. The four step fields may be read without it (each is one
        # object, written whole) where a stale value is harmless.
        self._now = 0.0
        self._steps = 0  # deadlines fired so far
        self._settled_at = 0  # _steps when the clock last settled
        self._settled_now = 0.0  # _now when the clock last settled
        self._timers: list[tuple[float, int, Waiter | Callback]] = []  # heap; done left lazily
        self._live = 0  # heap entries not done
        self._seq = itertools.count()
        self._regs: dict[threading.Thread, int] = {}  # participants: open registrations
        self._hosted: set[threading.Thread] = set()  # participants registered by another
        self._busy: dict[threading.Thread, float] = {}  # counted and running: real start
        self._blocked: dict[threading.Thread, Waiter | str] = {}  # in a clock wait: on what
        self._watched: set[threading.Thread] = set()  # threads whose end we will hear of
        self._ended: weakref.WeakSet[threading.Thread] = weakref.WeakSet()  # ends we heard of
        self._join_waiters = 0  # threads in _joins_cv.wait
        self._advancer: threading.Thread | None = None  # the thread whose advance runs
        self._turns: deque[threading.Thread] = deque()  # threads waiting to advance, in order
        self._settle_waiters = 0  # threads in _settled_cv.wait
        self._readers_since = float("inf")  # real time the longest-waiting reader began
        self._watcher: threading.Thread | None = None
        self._watcher_idle = False  # the watcher waits with no timeout
        self.stall_errors: list[FakeClockStallError] = []  # appended under _lock

    # -- deadlines (all under _lock) -------------------------------------------------------

    def _push(self, deadline: float, entry: Waiter | Callback) -> None:
        if isinstance(entry, Waiter):
            entry.timed = True
        heapq.heappush(self._timers, (deadline, next(self._seq), entry))
        self._live += 1
        if len(self._timers) > 64 + 2 * self._live:  # mostly cancelled: compact
            self._timers = [item for item in self._timers if not item[2].done]
            heapq.heapify(self._timers)
        if self.autojump:
            if self._watcher is None:
                self._start_watcher()
            elif self._watcher_idle:
                self._watch_cv.notify()

    def _retire(self, entry: Waiter | Callback) -> bool:
        """Mark an entry done; False if it already was. Timed ones leave the heap lazily."""
        if entry.done:
            return False
        entry.done = True
        if not isinstance(entry, Waiter) or entry.timed:
            self._live -= 1
            if not self._live:
                self._release_watcher()
        return True

    def _wake_by_token(self, waiter: Waiter) -> None:
        with self._lock:
            if self._retire(waiter):
                self._wake(waiter)

    def _wake(self, waiter: Waiter) -> None:
        """Count the waiter's thread as running from now (it holds the clock), let it go."""
        thread = waiter.thread
        self._blocked.pop(thread, None)
        self._busy.pop(thread, None)  # (a token may fire before its thread blocks)
        self._busy[thread] = time.monotonic()  # last in the dict: it is the youngest
        waiter.latch.set()

    def _fire_next(self, up_to: float | None) -> bool:
        """One step, if a deadline is due by ``up_to`` (any if None): time moves to it, its
        waiter wakes or its callback starts. False if none is due."""
        heap = self._timers
        while heap:
            deadline, _, entry = heap[0]
            if entry.done:
                heapq.heappop(heap)
                continue
            if up_to is not None and deadline > up_to:
                return False
            heapq.heappop(heap)
            self._retire(entry)
            self._now = max(self._now, deadline)
            self._steps += 1
            if isinstance(entry, Waiter):
                self._wake(entry)
            else:
                self._start_callback(entry.callback)
            return True
        return False

    def _start_callback(self, callback: Callable[[], object]) -> None:
        """Run a due callback on a new helper thread, counted from now."""
        helper = threading.Thread(target=self._run_callback, args=(callback,),
                                  name="threadhost:clock-callback", daemon=True)
        self._regs[helper] = 1
        self._hosted.add(helper)
        self._busy[helper] = time.monotonic()
        try:
            start_thread(helper)
        except RuntimeError:  # interpreter shutdown
            del self._regs[helper], self._busy[helper]
            self._hosted.discard(helper)

    def _run_callback(self, callback: Callable[[], object]) -> None:
        try:
            callback()
        except BaseException as exc:  # a helper has no one else to tell
            messages.clock_callback_failed(callback, exc)
        finally:
            self._leave(threading.current_thread())

    def _leave(self, thread: threading.Thread) -> None:
        """Close one registration of ``thread`` (see ``FakeClock.unregister_participant``)."""
        with self._lock:
            count = self._regs.get(thread)
            if count is None:
                return
            if count > 1:
                self._regs[thread] = count - 1
                return
            del self._regs[thread]
            if thread in self._hosted:
                self._hosted.discard(thread)
                if thread is threading.current_thread():
                    self._watch_end(thread)  # ending: it holds the clock until it has ended
                    return
            if self._busy.pop(thread, None) is not None:
                self._check_settled()
                self._release_watcher()

    def _watch_end(self, thread: threading.Thread) -> None:
        """Arrange to hear of the calling thread's end (under _lock)."""
        if thread not in self._watched:
            self._watched.add(thread)
            on_thread_exit(self)

    def _thread_ended(self, thread: threading.Thread) -> None:
        """``_thread_exit`` callback: ``thread`` has ended and holds the clock no longer.
        Usually on the ending thread; the garbage collector may run it on any thread, even one
        holding our lock, so it never blocks: ``_end`` runs under the lock, now or soon."""
        self._lock.post(thread)

    def _take_report(self, thread: threading.Thread | None) -> None:
        """A report posted to the lock: a thread's end, or (None) a poke for joiners."""
        if thread is None:
            if self._join_waiters:
                self._joins_cv.notify_all()
            return
        self._end(thread)

    def _end(self, thread: threading.Thread) -> None:
        """What ``_thread_ended`` posted, taken under _lock."""
        self._watched.discard(thread)
        self._ended.add(thread)
        self._regs.pop(thread, None)
        self._hosted.discard(thread)
        self._blocked.pop(thread, None)
        self._now_blocked()
        if self._busy.pop(thread, None) is not None:
            self._check_settled(step=False)  # no thread is started from a dying one
            self._release_watcher()

    def _now_blocked(self) -> None:
        """A thread just blocked in a clock wait or ended: tell ``join_threads`` (under _lock)."""
        if self._join_waiters:
            self._joins_cv.notify_all()

    # -- settling (all under _lock) --------------------------------------------------------

    def _check_settled(self, *, step: bool = True) -> None:
        """After the running set shrank: if settled, say so, then (autojump) step here."""
        busy = self._busy
        advancer = self._advancer
        if busy and not (advancer is not None and len(busy) == 1 and advancer in busy):
            return
        self._settled_at = self._steps
        self._settled_now = self._now
        jump = advancer is None and self.autojump and self._live
        if self._settle_waiters and not (
                jump and time.monotonic() - self._readers_since < _READER_PATIENCE):
            self._readers_since = float("inf")
            self._settled_cv.notify_all()
        if jump:
            if step:
                self._fire_next(None)
            elif self._watcher is not None:
                self._watch_cv.notify()
        elif not self._live:
            self._release_watcher()

    def _await_settled(self, exclude: threading.Thread | None) -> None:
        """One round of waiting for a settle (callers loop): at most until the oldest running
        thread would stall, then mark the stalls. An advance (``exclude`` set) raises the
        first new stall if ``on_stall="raise"``."""
        timeout, stalls = self._find_stalls(exclude)
        if stalls is not None:
            self._check_settled()
            if stalls:
                self._report_stalls(stalls, raise_first=exclude is not None)
            return
        if exclude is None and self._readers_since == float("inf"):
            self._readers_since = time.monotonic()
        self._settle_waiters += 1
        try:
            self._settled_cv.wait(timeout)
        finally:
            self._settle_waiters -= 1

    def _settle(self, me: threading.Thread) -> None:
        """Wait until nothing runs but ``me``, the advancer."""
        while True:
            busy = self._busy
            if not busy or (len(busy) == 1 and me in busy):
                self._check_settled()
                return
            self._await_settled(me)

    def _find_stalls(self, exclude: threading.Thread | None
                     ) -> tuple[float | None, list[tuple[threading.Thread, str]] | None]:
        """Real seconds until the next possible stall (None: nothing runs), and the threads
        that stalled just now, with their stacks; they are counted no more. The list is None
        if no thread stopped counting (a list, maybe empty, if one did: re-check)."""
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
        if not stalled:
            return next_stall, None
        found: list[tuple[threading.Thread, str]] = []
        for thread in stalled:
            del self._busy[thread]
            if thread in self._regs and thread.is_alive():
                found.append((thread, capture_stack(thread)))
            elif thread not in self._regs:
                messages.clock_outsider_released(thread.name, limit)
        return next_stall, found

    def _report_stalls(self, stalls: list[tuple[threading.Thread, str]], *,
                       raise_first: bool) -> None:
        """Record and log stalls (the lock is released around the logging)."""
        errors = [FakeClockStallError(t.name, stack, self.stall_timeout) for t, stack in stalls]
        self.stall_errors.extend(errors)
        self._lock.release()  # log handlers are user code: never under our lock
        try:
            for thread, stack in stalls:
                messages.clock_stalled(thread.name, self.stall_timeout, stack)
        finally:
            self._lock.acquire()
        if raise_first and self.on_stall == "raise":
            raise errors[0]

    # -- turns to advance (under _lock) ----------------------------------------------------

    def _take_turn(self, me: threading.Thread) -> None:
        """Become the advancer, waiting (as in a clock wait) behind earlier ones."""
        if self._advancer is None:
            self._advancer = me
            return
        was_busy = self._busy.pop(me, None) is not None
        self._blocked[me] = _TURN
        self._now_blocked()
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
            return
        self._advancer = None
        if self._watcher_idle:
            self._watch_cv.notify()  # it may have running threads to time again
        self._check_settled()  # autojump may go on from here

    # -- the autojump watcher --------------------------------------------------------------

    def _start_watcher(self) -> None:
        self._watcher = threading.Thread(target=self._watch, name="threadhost:autojump",
                                         daemon=True)
        start_thread(self._watcher)

    def _release_watcher(self) -> None:
        """Let the watcher end if nothing is left for it to do (under _lock)."""
        if self._watcher is not None and not self._watcher_needed():
            self._watch_cv.notify()

    def _watcher_needed(self) -> bool:
        # A deadline to move to, or a participant running that may add one. A thread that is
        # counted only because the clock woke it (the test's own) does not keep it.
        return bool(self._live) or any(thread in self._regs for thread in self._busy)

    def _watch(self) -> None:
        with self._lock:
            while self._watcher_needed():
                if self._advancer is None and self._live and not self._busy:
                    self._check_settled()  # a step left to us
                    continue
                timeout: float | None = None  # nothing to move to, or an advance times it
                if self._live and self._advancer is None:
                    timeout, stalls = self._find_stalls(None)
                    if stalls is not None:
                        self._check_settled()
                        if stalls:
                            self._report_stalls(stalls, raise_first=False)
                        continue
                self._watcher_idle = timeout is None
                self._watch_cv.wait(timeout)
                self._watcher_idle = False
            self._watcher = None
