"""Running the host's hook calls (``starting``, ``start``, ``stop`` ...) phase by phase.

Start runs its calls on the thread calling ``Host.start()`` (as .NET awaits them): a start that
ignores its token delays startup, exactly as in .NET.

Stop must keep one deadline, so its calls run where the host can stop waiting for them: on a
runner thread, ``threadhost:stop``, that works through the phases in order while the host waits
for "runner done" or "deadline passed", whichever comes first. At the deadline the runner is
abandoned inside the call it is stuck in (a straggler, reported with its stack); the calls not
yet begun are handed to a fresh runner and get ``_GRACE`` seconds of real time between them,
since their token is already cancelled and a well-behaved hook returns at once. Calls not
reached by then are never made, and reported. So stop never waits past the deadline plus
``_GRACE``.

Rejected: a thread per call (a thousand services would cost a thousand thread starts on every
stop, doubling its time); running calls on the waiting thread (nobody could abandon them).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ._cancellation import CancellationToken, CancellationTokenSource, wait_any
from ._clock import SYSTEM_CLOCK, Clock
from ._threads import start_thread

_GRACE = 0.5
"""Real seconds the calls left after the deadline get, all together."""

_local = threading.local()


def current_call() -> Call | None:
    """The hook call the current thread is running, if any (to catch re-entrant stops)."""
    return getattr(_local, "call", None)


@dataclass(eq=False)
class Call:
    """One hook call: ``fn()`` for service ``name`` in ``phase``.

    Written only by the thread running it (``thread``, ``begun``, ``error``, ``elapsed``,
    then ``done`` last); read by the host after ``done`` or after abandoning it.
    """

    name: str
    phase: str
    fn: Callable[[], object]
    thread: threading.Thread | None = None
    begun: bool = False
    done: bool = False
    error: BaseException | None = None
    elapsed: float = 0.0

    def run(self, clock: Clock) -> None:
        self.thread = threading.current_thread()
        self.begun = True
        began = clock.monotonic()
        outer, _local.call = getattr(_local, "call", None), self
        try:
            self.fn()
        except BaseException as exc:  # every failure is reported; none may stop the others
            self.error = exc
        finally:
            _local.call = outer
            self.elapsed = clock.monotonic() - began
            self.done = True


@dataclass(eq=False)
class Phase:
    """Calls that run one after another, or side by side if ``concurrent``."""

    calls: Sequence[Call]
    concurrent: bool = False

    def run(self, clock: Clock) -> None:
        if not self.concurrent or len(self.calls) < 2:
            for call in self.calls:
                call.run(clock)
            return
        threads = [threading.Thread(target=_as_participant, args=(clock, call.run, clock),
                                    daemon=True, name=f"threadhost:{call.phase}:{call.name}")
                   for call in self.calls]
        for thread in threads:
            clock.register_participant(thread)
            start_thread(thread)
        for thread in threads:
            thread.join()


def _as_participant(clock: Clock, fn: Callable[..., object], *args: object) -> None:
    """Run ``fn`` on a thread registered as a clock participant, then leave the clock.

    The host's own working threads are participants while they work, so a FakeClock under
    autojump does not move time while the host is busy starting or stopping.
    """
    try:
        fn(*args)
    finally:
        clock.unregister_participant(threading.current_thread())


@dataclass(eq=False)
class _Runner:
    units: deque[Phase | Call]
    lock: threading.Lock
    clock: Clock
    done: CancellationTokenSource = field(init=False)
    abandoned: bool = False  # guarded by lock
    thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.done = CancellationTokenSource(self.clock)
        self.thread = threading.Thread(target=_as_participant, args=(self.clock, self._run),
                                       name="threadhost:stop", daemon=True)
        self.clock.register_participant(self.thread)
        start_thread(self.thread)

    def _run(self) -> None:
        try:
            while True:
                with self.lock:
                    if self.abandoned or not self.units:
                        return
                    unit = self.units.popleft()
                unit.run(self.clock)
        finally:
            self.done.cancel()

    def abandon(self) -> None:
        with self.lock:
            self.abandoned = True


def run_with_deadline(phases: Sequence[Phase], deadline: CancellationToken,
                      clock: Clock) -> None:
    """Run phases in order until all are done, or until the deadline passes plus ``_GRACE``.

    Blocks the calling thread. Afterwards each call is either done, abandoned while running
    (``begun and not done``) or never begun.
    """
    lock = threading.Lock()
    units: deque[Phase | Call] = deque()
    for phase in phases:
        if phase.concurrent and len(phase.calls) > 1:
            units.append(phase)
        else:
            units.extend(phase.calls)
    runner = _Runner(units, lock, clock)
    wait_any([runner.done.token, deadline])
    if runner.done.is_cancellation_requested:
        runner.thread.join()
        return
    # Deadline. The runner takes no more calls; the one it is in may be returning this very
    # moment (a BackgroundService.stop returns at the deadline too), so it shares the grace
    # with a fresh runner for the calls not begun.
    runner.abandon()
    runners = [runner]
    if units:
        runners.append(_Runner(units, lock, clock))
    with CancellationTokenSource(SYSTEM_CLOCK) as grace:
        grace.cancel_after(_GRACE)
        for each in runners:
            if wait_any([each.done.token, grace.token]) and not grace.is_cancellation_requested:
                each.thread.join()
    for each in runners:
        each.abandon()
