"""``Deadline``: the stop's budget, one shutdown deadline and its grace, fired by the thread
that waits on it.

Every wait of a stop goes through this one object (the stop's code is handed nothing else to
wait with): the calls (``wait``, ``wait_latch``), the calls left after the deadline
(``wait_within_grace``), the service threads' end (``settle``), and the notices at the end of
the stop (the probe endpoint's close is bounded by ``grace_left``). A stop has exactly one
deadline, ``HostOptions.shutdown_timeout`` (or the caller's shorter
``timeout``) after the stop began, measured on the host's clock. Every blocking step of the
stop waits through ``Deadline.wait``, which waits for what it needs *or* the deadline; the
first waiter to see the deadline pass fires it: the token handed to every stop hook is then
cancelled. No timer thread is involved, so a timer cannot die, be starved, or run user
callbacks outside the deadline.

``math.inf``, or any value above ``threading.TIMEOUT_MAX``, means "no deadline": the waits
have no timeout and the token is never cancelled by time.

After the deadline the stop gets ``GRACE`` seconds of *real* time, all together, for what is
left: the call the deadline found under way (left at once, it may still return), hook calls
not yet made (their token is already cancelled, so a well-behaved hook returns at once) and
service threads that are ending right now (an idle worker woken by the cancellation). Only
what still runs user code after the grace is a straggler. Under a ``FakeClock`` the grace and
the settle end as soon as every thread they wait for waits on the clock (``Clock.wait_for``,
``Clock.join_threads``): nothing of a stop waits in real time there.

Firing runs the token's callbacks, which are user code (anything registered on a stop token):
they run on a short-lived thread of their own, ``threadhost:deadline``, so a callback that
blocks can never hold up the stop that fired it.

Rejected: ``cancel_after`` on a shared timer thread (one thread for the process: an overflow or
a stuck callback there disabled every deadline in the process); a fresh timer thread per stop
(a thread start on every stop, for a deadline that rarely passes).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import final

from threadhost import _log_messages as log
from threadhost._time.cancellation import (
    CancellationToken,
    CancellationTokenSource,
    Latch,
    wait_any,
)
from threadhost._time.clock import SYSTEM_CLOCK, Clock, SystemClock

GRACE = 0.5
"""Real seconds the stop gives, all together, to the calls left once the deadline has passed."""
SETTLE = 0.25
"""Real seconds service threads get at least, after the last call, to end once asked to (a
well-behaved service stopped after a straggler used up the grace still gets them)."""


JOIN_FIRST = 0.05
"""Real seconds ``wait_latch`` joins a thread's end before it waits on the latch alone."""


def is_unbounded(seconds: float | None) -> bool:
    """True when ``seconds`` means "no limit": None, ``inf``, or above ``TIMEOUT_MAX``."""
    return seconds is None or math.isinf(seconds) or seconds > threading.TIMEOUT_MAX


@final
class Deadline:
    """One deadline, ``seconds`` from now on ``clock``; ``token`` is cancelled when it fires.

    Thread-safe: any thread may wait on it; the first to see it pass fires it (idempotent).
    """

    __slots__ = ("_clock", "_end", "_fired", "_grace_end", "_independent", "_lock",
                 "_settle_end", "_source", "seconds")

    def __init__(self, clock: Clock, seconds: float) -> None:
        self._clock = clock
        self._independent = isinstance(clock, SystemClock)
        self.seconds = seconds
        self._end = None if is_unbounded(seconds) else clock.monotonic() + seconds
        self._source = _DeadlineSource(clock, self)
        self._lock = threading.Lock()
        self._fired = False  # guarded by _lock
        self._grace_end: float | None = None  # real time; guarded by _lock
        self._settle_end: float | None = None  # real time; guarded by _lock

    @property
    def token(self) -> CancellationToken:
        """Cancelled once the deadline has been fired (the token every stop hook receives)."""
        return self._source.token

    @property
    def bounded(self) -> bool:
        """False for an infinite deadline."""
        return self._end is not None

    def remaining(self) -> float | None:
        """Seconds left on the host's clock (0 once passed); None when unbounded."""
        if self._end is None:
            return None
        return max(0.0, self._end - self._clock.monotonic())

    @property
    def passed(self) -> bool:
        """True once the deadline has been fired."""
        return self._fired

    def wait(self, token: CancellationToken) -> bool:
        """Block until ``token`` is cancelled (True) or the deadline passes (False; fired).

        Once fired, returns ``token``'s state at once. Any thread; waits on the host's clock.
        """
        if self._fired:
            return token.is_cancellation_requested
        # On the system clock every waiter's timeout ends at the same real moment on its own.
        # On another clock (a FakeClock) the wait is linked to our token, so that when another
        # waiter fires the deadline this one ends at once too: time might not move again.
        if self._independent:
            if token.wait(self.remaining()):
                return True
        elif wait_any([token, self._source.token], self.remaining()) and (
                token.is_cancellation_requested):
            return True
        self.fire()
        return token.is_cancellation_requested

    def wait_latch(self, latch: Callable[[], Latch | None],
                   as_token: Callable[[], CancellationToken],
                   thread: threading.Thread | None = None) -> bool:
        """``wait`` for the ``Latch`` that ``latch()`` makes when asked (True once set; None
        means set already): on the system clock on the latch itself, which costs no token; on
        another clock through ``as_token()``, a token cancelled when the latch is set.

        ``thread``: the thread whose end sets the latch, just asked to end. On the system
        clock its end is joined first, for at most ``JOIN_FIRST`` real seconds: a thread
        asked to stop usually ends within microseconds, and its end wakes the waiter once,
        after the thread's teardown, where the latch (set by the thread just before) wakes it
        while the thread still holds the interpreter, to wait for it a second time (measured
        with ``benchmarks/bench_lifecycle.py``: a stop of 1000 services in about 1.2x bare
        threads' time against 1.5x). The latch remains the answer: a thread that left the
        account without ending (a service thread waiting in ``Host.stop()``) costs at most
        ``JOIN_FIRST``, and a thread not started yet (a restart being launched) is not
        joined."""
        if self._fired:
            gate = latch()
            return gate is None or gate.is_set()
        if not self._independent:
            return self.wait(as_token())
        # A restart's thread not started yet has no ident and cannot be joined: the latch
        # decides. (The callers never pass the calling thread.)
        if thread is not None and thread.ident is not None:
            end = self._end  # (remaining(), without a call: once per service per stop)
            thread.join(JOIN_FIRST if end is None else
                        min(JOIN_FIRST, max(0.0, end - self._clock.monotonic())))
        gate = latch()  # asked after the join: a thread that ended costs no latch
        if gate is None or gate.wait(self.remaining()):
            return True
        self.fire()
        return gate.is_set()

    def fire(self) -> None:
        """Mark the deadline passed, start the grace, and cancel ``token`` (the application's
        callbacks on it run on ``threadhost:deadline``). Idempotent, thread-safe, never
        blocks."""
        with self._lock:
            if self._fired:
                return
            self._fired = True
            self._grace_end = SYSTEM_CLOCK.monotonic() + GRACE
        # The cancel and the taking of the callbacks are one step under the token's lock: a
        # callback registered just now runs on threadhost:deadline, never here, on the thread
        # carrying out the stop. threadhost's own wake-ups (a FakeClock waiter) run here, so
        # no waiter looks blocked while its wake-up is on its way (time could move then).
        rest = self._source._cancel_handing_over()
        if rest:
            threading.Thread(target=_run_logging, args=(rest,), name="threadhost:deadline",
                             daemon=True).start()

    def grace_left(self) -> float:
        """Real seconds of grace left (the whole grace before the deadline passed)."""
        with self._lock:
            end = self._grace_end
        if end is None:
            return GRACE
        return max(0.0, end - SYSTEM_CLOCK.monotonic())

    def wait_within_grace(self, token: CancellationToken, *threads: threading.Thread) -> bool:
        """Wait (real time) for ``token`` for what is left of the grace; True if cancelled.
        ``threads``: the threads whose progress the wait is for (under a ``FakeClock`` the
        grace ends as soon as all of them wait on the clock: see ``Clock.wait_for``)."""
        return self._clock.wait_for(token, threads, self.grace_left())

    def settle(self, threads: list[threading.Thread]) -> list[threading.Thread]:
        """Once every call is made or abandoned: join ``threads`` (real time) until the grace
        ends, but at least ``SETTLE`` seconds after the first such wait; the threads still
        alive. Under a ``FakeClock`` it returns as soon as every one
        left is blocked in a clock wait (see ``Clock.join_threads``). Stop never waits past
        deadline + GRACE + SETTLE."""
        now = SYSTEM_CLOCK.monotonic()
        with self._lock:
            if self._settle_end is None:
                self._settle_end = max(now + SETTLE, self._grace_end or now)
            end = self._settle_end
        return self._clock.join_threads(threads, max(0.0, end - now))

    def __repr__(self) -> str:
        state = "passed" if self._fired else f"{self.remaining()}s left"
        return f"<Deadline {self.seconds}s, {state}>"


def _run_logging(callbacks: list[Callable[[], object]]) -> None:
    """The application's callbacks on a fired deadline's token; each that raises is logged."""
    for callback in callbacks:
        try:
            callback()
        except BaseException as exc:  # one failing callback must not stop the rest
            log.callback_failed("the shutdown deadline", exc)


class _DeadlineSource(CancellationTokenSource):
    """The source of a deadline's token, which knows its deadline (see ``deadline_of``)."""

    def __init__(self, clock: Clock, deadline: Deadline) -> None:
        super().__init__(clock)
        self.deadline = deadline


def deadline_of(token: CancellationToken) -> Deadline | None:
    """The ``Deadline`` whose token ``token`` is, or None: lets threadhost's own stop code wait
    through the deadline (and fire it) when it is handed a deadline's token."""
    source = token._source
    return source.deadline if isinstance(source, _DeadlineSource) else None
