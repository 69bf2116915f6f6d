"""The order of the host's phases, written once as data, and the runner that carries it out.

``START_PLAN`` and ``STOP_PLAN`` are the only place the order lives; ``Host.start``/``Host.stop``
document it, and a recording test pins it. ``run_start`` and ``run_stop`` execute a plan:

* start runs on the thread calling ``Host.start()`` (as .NET awaits its start calls): a start
  that ignores its token delays startup. It aborts at the first failure, or, in a concurrent
  phase, once every call of the phase has returned, with all their errors. Between calls it
  asks ``should_continue`` (a stop may have begun) and stops early if not.
* stop runs on the thread carrying out the stop, under one ``Deadline`` (the stop's budget),
  and never aborts. A call made of threadhost's own code that cannot block past the deadline
  (the stop of a ``BackgroundService`` whose token carries no callback, firing a lifetime event
  nobody listens to, a default no-op hook) runs inline; any call into user code runs on an
  abandonable runner thread, ``threadhost:stop``, while the stop waits for it *or* the
  deadline. The call the deadline finds under way is abandoned at once, inside the call it is
  stuck in (reported as a straggler with its stack); the calls not yet made are still made, in
  order, on a fresh runner, with the cancelled token, each within what is left of the grace (a
  well-behaved hook returns at once). Only once the grace is spent are calls into user code
  skipped (and reported); the inline ones are always made, so every service is asked to stop.
  The same path runs on every clock.

Rejected: a relay of stops handed on by each ending service thread (a second path, on the
system clock only, so virtual-time tests never ran the production stop; it bought little
once measured); a thread per call (a thousand services would cost a thousand thread starts on
every stop); running user hooks on the stop's own thread (nobody could abandon them); the
order written out in several places (start loop, stop list, request callbacks), which drifted
apart.
"""

from __future__ import annotations

import enum
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from threadhost import _interrupt as interrupts
from threadhost._hosting.deadline import Deadline
from threadhost._time.cancellation import CancellationToken, CancellationTokenSource
from threadhost._time.clock import Clock


class Target(enum.Enum):
    LIFETIME = "the host lifetime"
    SERVICES = "every hosted service"
    LIFECYCLE = "every HostedLifecycleService"
    EVENT = "a lifetime event"


@dataclass(frozen=True)
class Phase:
    """One phase of a plan: the method ``name`` called on every ``target``, in registration
    order or reversed; ``concurrent`` phases follow the host option."""

    name: str
    target: Target
    reverse: bool = False
    concurrent: bool = False


START_PLAN: tuple[Phase, ...] = (
    Phase("wait_for_start", Target.LIFETIME),
    Phase("starting", Target.LIFECYCLE, concurrent=True),
    Phase("start", Target.SERVICES, concurrent=True),
    Phase("started", Target.LIFECYCLE, concurrent=True),
    Phase("application_started", Target.EVENT),
)

STOP_PLAN: tuple[Phase, ...] = (
    Phase("application_stopping", Target.EVENT),
    Phase("stopping", Target.LIFECYCLE, reverse=True, concurrent=True),
    Phase("stop", Target.SERVICES, reverse=True, concurrent=True),
    Phase("stopped", Target.LIFECYCLE, reverse=True, concurrent=True),
    Phase("stop", Target.LIFETIME),
    Phase("application_stopped", Target.EVENT),
)

_local = threading.local()


def current_call() -> Call | None:
    """The stop call the calling thread is running, if any (to refuse re-entrant stops)."""
    return getattr(_local, "call", None)


@dataclass(eq=False, slots=True)
class Call:
    """One call of a plan: ``fn()`` for the part called ``name`` in ``phase``.

    ``inline``, asked just before the call, says it is threadhost's own code and cannot block
    past the deadline, so the control thread may make it itself. It may begin the call as it
    answers (a stop or an event fired only if no user callback is registered, checked and
    done in one step), so that no user code slips in between the answer and the call: the
    call then finds itself begun. Written only by the thread running it (``thread``,
    ``begun``, ``error``, ``elapsed``, then ``done`` last); read by the host after ``done`` or
    after abandoning it.
    """

    name: str
    phase: str
    fn: Callable[[], object]
    inline: Callable[[], bool] | None = None
    stopping: bool = False  # a stop call: the place it runs in is a stop
    after: Callable[[float], object] | None = None  # told the call's seconds once it returned
    thread: threading.Thread | None = None
    begun: bool = False
    done: bool = False
    error: BaseException | None = None
    elapsed: float = 0.0

    def run(self, clock: Clock) -> None:
        """Make the call on this thread, recording what happened; never raises. User code may
        run in it: a stop call is marked on the thread, so a ``Host.stop()`` made in it is
        refused (``current_call``) instead of waiting for itself."""
        self.thread = threading.current_thread()
        if self.stopping:
            outer, _local.call = getattr(_local, "call", None), self
            try:
                self.run_inline(clock)
            finally:
                _local.call = outer
            return
        self.run_inline(clock)

    def run_inline(self, clock: Clock) -> None:
        """``run`` for a call ``inline`` vouched for: threadhost's own code, which runs no
        user code and is never abandoned, so neither its thread nor the stop mark is
        recorded (an inline stop call, on the thread carrying out the stop, between a
        service's token cancelled and its thread joined). ``run`` makes its call here."""
        self.begun = True
        began = clock.monotonic()
        try:
            self.fn()
        except KeyboardInterrupt as exc:
            if not interrupts.defer(exc):  # a Ctrl+C is the process's, not the service's
                self.error = exc
        except BaseException as exc:  # every failure is reported; none may stop the others
            self.error = exc
        finally:
            self.elapsed = clock.monotonic() - began
            self.done = True
            if self.after is not None:
                self.after(self.elapsed)

    def may_run_inline(self) -> bool:
        return self.inline is not None and self.inline()


def _run_side_by_side(calls: Sequence[Call], clock: Clock) -> None:
    """Run ``calls`` on a thread each (clock participants) and wait for all of them."""
    threads = [threading.Thread(target=_as_participant, args=(clock, call),
                                name=f"threadhost:{call.phase}:{call.name}", daemon=True)
               for call in calls]
    for thread in threads:
        clock.register_participant(thread)
        thread.start()
    for thread in threads:
        thread.join()


def _as_participant(clock: Clock, call: Call) -> None:
    try:
        call.run(clock)
    finally:
        clock.unregister_participant(threading.current_thread())


def _run_group(calls: Sequence[Call], clock: Clock) -> None:
    if len(calls) > 1:
        _run_side_by_side(calls, clock)
    elif calls:
        calls[0].run(clock)


# -- start -------------------------------------------------------------------------------


def run_start_group(calls: Sequence[Call], clock: Clock) -> list[Call]:
    """Run one group of start calls on this thread (several: side by side); the failed ones."""
    if len(calls) == 1:  # the common case (a sequential start), without a comprehension
        call = calls[0]
        call.run(clock)
        return [] if call.error is None else [call]
    _run_group(calls, clock)
    return [c for c in calls if c.error is not None]


# -- stop --------------------------------------------------------------------------------


class _Runner:
    """A thread that makes the stop's user calls one group at a time, until abandoned.

    It is a clock participant only while it makes a group (from ``submit`` until the stop
    sees the group done, ``idle``): waiting for the next group it waits on a queue the clock
    cannot see, and must not hold a ``FakeClock`` meanwhile (nor be called stalled). A runner
    abandoned in a call stays a participant until that call returns and the thread ends."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._work: queue.SimpleQueue[tuple[Sequence[Call], CancellationTokenSource] | None] = (
            queue.SimpleQueue())
        self._counted = False  # a participant now; the stop's thread only, then the runner's
        self.thread = threading.Thread(target=self._run, name="threadhost:stop", daemon=True)
        self.thread.start()

    def submit(self, calls: Sequence[Call]) -> CancellationTokenSource:
        done = CancellationTokenSource(self._clock)
        if not self._counted:
            self._counted = True
            self._clock.register_participant(self.thread)
        self._work.put((calls, done))
        return done

    def idle(self) -> None:
        """The stop saw the group done: the runner no longer holds the clock."""
        if self._counted:
            self._counted = False
            self._clock.unregister_participant(self.thread)

    def close(self) -> None:
        self._work.put(None)

    def _run(self) -> None:
        try:
            while (item := self._work.get()) is not None:
                calls, done = item
                _run_group(calls, self._clock)
                done.cancel()
        finally:
            if self._counted:  # abandoned in a call: it held the clock until now
                self._counted = False
                self._clock.unregister_participant(threading.current_thread())


def _inline(group: Sequence[Call]) -> bool:
    return all(c.may_run_inline() for c in group)


def run_stop(groups: Sequence[Sequence[Call]], deadline: Deadline, clock: Clock) -> None:
    """Make every call of ``groups`` in order under ``deadline`` (see the module notes).

    Blocks the calling thread until all calls are made, or abandoned at the deadline, or
    skipped once the grace is spent; never raises. A call abandoned at the deadline goes on
    (its token is cancelled) while the next calls are made, and counts as made if it returns
    within the grace. Afterwards each call is done, abandoned while running (``begun and not
    done``), or never begun.
    """
    runner: _Runner | None = None
    abandoned: list[tuple[_Runner, CancellationToken]] = []
    try:
        for group in groups:
            if len(group) == 1:  # the common case (a sequential phase), without a generator
                call = group[0]
                inline = call.inline
                if inline is not None and inline():  # threadhost's own code, never blocking
                    call.run_inline(clock)            # past the deadline: made right here
                    continue
            elif _inline(group):
                for call in group:
                    call.run_inline(clock)
                continue
            if deadline.passed and deadline.grace_left() <= 0:
                continue  # never made; reported as such
            if runner is None:
                runner = _Runner(clock)
            done = runner.submit(group).token
            made = (deadline.wait_within_grace(done, runner.thread) if deadline.passed
                    else deadline.wait(done))
            if made:
                runner.idle()
            else:
                # Left at once, still in this group: the next calls go to a fresh runner.
                runner.close()  # (it ends after its call, if that ever returns)
                abandoned.append((runner, done))
                runner = None
        for left, done in abandoned:  # what the grace leaves them, to return after all
            deadline.wait_within_grace(done, left.thread)
    finally:
        if runner is not None:
            runner.close()
            if runner.thread is not threading.current_thread():
                runner.thread.join()
