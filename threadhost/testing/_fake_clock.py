"""``FakeClock``: virtual time that wakes sleeping threads, in a deterministic order.

Every wait in threadhost goes through ``Clock.wait`` or ``Clock.call_later``, so this clock
sees each pending deadline and each thread blocked on it; how it steps through them, and when
it counts as settled, is the engine's business (``_stepping``, whose note explains the design
and what was rejected). This module is the public face: reading, waiting, moving time.

Concurrent ``advance``/``set`` calls take turns, in the order they arrive; each moves time by
its own amount from where the previous one left it, as if made one after the other. A thread
waiting for its turn counts as blocked in a clock wait (it used to be taken for a stall: a
service thread's advance beside the test's own). Autojump takes no step while an advance runs.

Rejected: patching ``time.monotonic`` (freezegun, time-machine) cannot wake a thread blocked in
``Event.wait(300)``; .NET's ``FakeTimeProvider`` wakes timers but cannot tell when the woken
code has finished reacting, so tests must sleep or poll; trio's ``autojump_threshold`` jumps
on a real-time idle guess, which is what makes such tests flaky when a thread is merely busy.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal, final

from threadhost._hosting.report import capture_stack
from threadhost._time.cancellation import Registration
from threadhost._time.clock import NEVER, Clock, TimerHandle, no_timeout

from ._entries import Callback, Waiter
from ._stepping import Stepper

if TYPE_CHECKING:
    from threadhost._time.cancellation import CancellationToken

DEFAULT_START = datetime(2000, 1, 1, tzinfo=UTC)


@final
class FakeClock(Stepper, Clock):
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
        if isinstance(stall_timeout, bool) or not isinstance(stall_timeout, int | float) or not (
                0 < stall_timeout < math.inf):
            raise ValueError(f"FakeClock(stall_timeout={stall_timeout!r}): expected real "
                             "seconds > 0")
        super().__init__(autojump=autojump, stall_timeout=float(stall_timeout),
                         on_stall=on_stall)
        self._start = (start or DEFAULT_START).astimezone(UTC)

    # -- reading ---------------------------------------------------------------------------

    def monotonic(self) -> float:
        """Virtual seconds since the clock was made.

        Any thread. A counted thread (a participant, or one the clock woke) reads at once.
        Any other thread, while a step is in flight (time moved, the woken threads have not
        settled yet), waits until a step has settled, at most ``stall_timeout`` real seconds,
        and reads the time it settled at: an outside observer sees only settled states.
        """
        if self._settled_at == self._steps:
            return self._settled_now
        me = threading.current_thread()
        with self._lock:
            if me in self._busy or me in self._regs or me is self._advancer:
                return self._now
            step = self._steps
            while self._settled_at < step:
                self._await_settled(None)
            return self._settled_now

    def now(self) -> datetime:
        """``start`` plus ``monotonic()`` virtual seconds, timezone-aware UTC (same rules)."""
        return self._start + timedelta(seconds=self.monotonic())

    @property
    def pending(self) -> list[float]:
        """The virtual deadlines still pending, soonest first (for debugging tests)."""
        with self._lock:
            return sorted(d for d, _, entry in self._timers if not entry.done)

    # -- waiting ---------------------------------------------------------------------------

    def wait(self, token: CancellationToken | None, timeout: float | None) -> bool:
        """Block until the token is cancelled or ``timeout`` *virtual* seconds pass.

        Any thread. Real time never ends the wait: only ``advance``/``set``/autojump reaching
        the deadline, or the token. Returns at once if the token is already cancelled or the
        timeout is zero or less; None, ``inf`` or above TIMEOUT_MAX mean no timeout. While
        blocked, the calling thread counts as settled; once woken it holds the clock until it
        waits again, ends, or stalls. Raises ValueError for a NaN timeout.
        """
        if token is not None and token.is_cancellation_requested:
            return True
        timed = not no_timeout(timeout)
        if timed and timeout is not None and timeout <= 0:
            return False
        me = threading.current_thread()
        waiter = Waiter(self, me)
        # Registered before the thread counts as blocked: a cancel in between would
        # otherwise leave it "blocked" with its token cancelled, and time could move.
        registration: Registration | None = None
        if token is not None:
            registration = token._register_quiet(waiter.cancelled)
        with self._lock:
            if me not in self._watched:
                self._watch_end(me)
            if not waiter.done:
                if timed:
                    assert timeout is not None
                    self._push(self._now + timeout, waiter)
                self._blocked[me] = waiter
                self._now_blocked()
                self._busy.pop(me, None)
                self._check_settled()  # may take a step at once, even the one ending this wait
        waiter.latch.wait()
        if registration is not None:
            registration.unregister()
        return token is not None and token.is_cancellation_requested

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        """Run ``callback`` once ``delay`` virtual seconds have passed.

        Any thread. The callback runs on a helper thread, ``threadhost:clock-callback``,
        which counts as a participant until it ends, so it may wait on the clock itself; an
        exception from it is logged. An infinite delay never fires. Raises ValueError for NaN.
        """
        if no_timeout(delay):
            return NEVER
        entry = Callback(self, callback)
        with self._lock:
            self._push(self._now + max(delay, 0.0), entry)
            self._check_settled()  # under autojump with everyone blocked, it may start now
        return entry

    # -- participants ----------------------------------------------------------------------

    def register_participant(self, thread: threading.Thread) -> None:
        """Count ``thread`` as a participant (running) until as many unregistrations.

        Any thread; typically the host, before it starts ``thread``. A thread registered by
        another thread holds the clock until it *ends* (or waits on the clock again), not
        merely until its last unregistration: what it does after that (waking whoever joins
        it) happens before time moves.
        """
        if thread.ident is not None and not thread.is_alive():
            return  # it has ended: it can hold nothing (a late request woke no one)
        with self._lock:
            count = self._regs.get(thread, 0)
            self._regs[thread] = count + 1
            if thread is not threading.current_thread():
                self._hosted.add(thread)
            if not count and thread not in self._blocked and thread not in self._busy:
                self._busy[thread] = time.monotonic()

    def unregister_participant(self, thread: threading.Thread) -> None:
        """Close one registration of ``thread`` (any thread; see ``register_participant``)."""
        self._leave(thread)

    def join_threads(self, threads: Iterable[threading.Thread], real_timeout: float
                     ) -> list[threading.Thread]:
        """Join ``threads`` for at most ``real_timeout`` real seconds; return those alive.

        Any thread. Returns as soon as every thread still alive is blocked in a wait on this
        clock (it cannot end before virtual time moves, so there is nothing to wait for in
        real time), or the time is up. A thread this clock has never seen (never registered,
        never waited on it) is joined plainly.
        """
        me = threading.current_thread()
        others = [t for t in threads if t is not me]
        end = None if no_timeout(real_timeout) else time.monotonic() + max(real_timeout, 0.0)
        with self._lock, self._standing_by(me, "the threads it joins"):
            self._join_threads_for(None, others, end)
            unknown = [t for t in others if t not in self._watched and t not in self._regs
                       and t not in self._ended]
        for thread in unknown:  # never seen by the clock: joined plainly
            thread.join(None if end is None else max(end - time.monotonic(), 0.0))
        with self._lock:  # (a thread whose end we heard may not have left is_alive() yet)
            return [t for t in others if t.is_alive() and t not in self._ended]

    def wait_for(self, token: CancellationToken, threads: Iterable[threading.Thread],
                 real_timeout: float) -> bool:
        """Wait until ``token`` is cancelled (True), or every one of ``threads`` still alive
        is blocked in a wait on this clock, has stalled or ended, or ``real_timeout`` real
        seconds pass (False). The caller counts as blocked meanwhile: ``advance()`` and
        autojump never wait for it (see ``Clock.wait_for``). Any thread."""
        me = threading.current_thread()
        others = [t for t in threads if t is not me]
        end = None if no_timeout(real_timeout) else time.monotonic() + max(real_timeout, 0.0)
        registration = token._register_quiet(self._poke)
        try:
            with self._lock, self._standing_by(me, "threads it waits for"):
                return self._join_threads_for(token, others, end)
        finally:
            registration.unregister()

    def _stand_by_for(self, token: CancellationToken, real_timeout: float) -> bool:
        """Wait for ``token`` at most ``real_timeout`` real seconds (True once cancelled),
        counting as blocked meanwhile, even inside ``hold()``: ``run_host`` waiting for the
        stop it asked for must not hold the clock the stop needs."""
        me = threading.current_thread()
        end = time.monotonic() + real_timeout
        registration = token._register_quiet(self._poke)
        try:
            with self._lock, self._standing_by(me, "the host's stop"):
                return self._join_threads_for(token, None, end)
        finally:
            registration.unregister()

    def _poke(self) -> None:
        self._lock.post(None)  # never blocks: it may run on any thread (see _engine_lock)

    @contextlib.contextmanager
    def _standing_by(self, me: threading.Thread, on: str) -> Iterator[None]:
        """Under _lock: for the block, ``me`` counts as blocked in a clock wait (on ``on``),
        not as running: the wait of threadhost's own stop for threads that are themselves
        waiting, so that ``advance()`` and autojump never wait for the stop (nor call it a
        stall). Time may move at once (autojump) as ``me`` stops counting."""
        was_busy = self._busy.pop(me, None) is not None
        self._blocked[me] = on
        self._now_blocked()
        self._check_settled()
        try:
            yield
        finally:
            self._blocked.pop(me, None)
            if was_busy or (me in self._regs and me not in self._busy):
                self._busy[me] = time.monotonic()

    def _join_threads_for(self, token: CancellationToken | None,
                          threads: list[threading.Thread] | None, end: float | None) -> bool:
        """Under _lock: wait until ``token`` is cancelled (True), or each of ``threads`` the
        clock knows has ended, blocks in a clock wait or has stalled, or ``end`` (real time)
        passes (False). ``threads`` None: for the token alone. Threads the clock has never
        seen are the caller's to join. Woken by the clock's own events and by a poke posted
        from the token's callback: no polling."""
        known = None if threads is None else [
            t for t in threads if t in self._watched or t in self._regs]
        while not (token is not None and token.is_cancellation_requested):
            running = known is None or any(
                t.is_alive() and t not in self._ended and t in self._busy for t in known)
            left = None if end is None else end - time.monotonic()
            if not running or (left is not None and left <= 0):
                return False
            self._join_waiters += 1
            try:
                self._joins_cv.wait(left)
            finally:
                self._join_waiters -= 1
        return True

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Keep time still while the ``with`` block runs (for an autojump test's setup).

        The calling thread counts as a busy participant for the block (stall detection
        included: past ``stall_timeout`` real seconds it is logged and holds no more), so
        autojump does not move time while the test sets things up; time may move again as
        soon as the block ends. Reentrant; any thread. A clock wait inside the block does
        let time move while it blocks.
        """
        me = threading.current_thread()
        self.register_participant(me)
        try:
            yield
        finally:
            self._leave(me)

    # -- moving time -----------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, stepping through every deadline on the way.

        Any thread, a service's own included. First waits until every counted thread other
        than the caller is settled (blocked in a clock wait, ended or stalled); then, for
        each pending deadline up to the target in deadline order (ties in registration
        order), sets the time to it, wakes its waiter (or starts its callback) and waits for
        everyone to settle again. Ends at exactly ``now + seconds``. Concurrent calls take
        turns in arrival order, each moving time by its own amount; a thread waiting for its
        turn counts as blocked in a clock wait. Blocks for as long as that takes in real
        time. Raises ValueError for a negative or non-finite amount and
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

    # -- describing ------------------------------------------------------------------------

    def _describe(self) -> str:
        """What the clock waits for, in words (for ``run_host``'s timeout message)."""
        with self._lock:
            mode = "autojump" if self.autojump else "manual"
            lines = [f"FakeClock ({mode}) at {self._virtual_now().isoformat()}"]
            for deadline, _, entry in sorted(self._timers, key=lambda item: item[:2]):
                if not entry.done:
                    what = (f"thread {entry.thread.name!r} waits" if isinstance(entry, Waiter)
                            else f"callback {entry.callback!r}")
                    lines.append(f"  pending deadline at +{deadline:g}s virtual: {what}")
            for thread, on in self._blocked.items():
                if isinstance(on, str) or not on.timed:
                    what = on if isinstance(on, str) else "a token, with no deadline"
                    lines.append(f"  thread {thread.name!r} is blocked waiting for {what}")
            running = list(self._busy)
            stalled = [t for t in self._regs if t not in self._busy and t not in self._blocked]
        for what, threads in (("is running", running), ("has stalled", stalled)):
            for thread in threads:
                lines.append(f"  thread {thread.name!r} {what} outside a clock wait, in:\n"
                             f"{capture_stack(thread)}")
        return "\n".join(lines)

    def _virtual_now(self) -> datetime:
        return self._start + timedelta(seconds=self._now)

    def __repr__(self) -> str:
        mode = "autojump" if self.autojump else "manual"
        return f"<FakeClock {self._virtual_now().isoformat()} {mode}>"
