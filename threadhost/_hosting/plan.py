"""The order of the host's phases, written once as data, and the runner that carries it out.

``START_PLAN`` and ``STOP_PLAN`` are the only place the order lives; ``Host.start``/``Host.stop``
document it, and a recording test pins it. ``run_start`` and ``run_stop`` execute a plan:

* start runs on the thread calling ``Host.start()`` (as .NET awaits its start calls): a start
  that ignores its token delays startup. It aborts at the first failure, or, in a concurrent
  phase, once every call of the phase has returned, with all their errors. Between calls it
  asks ``should_continue`` (a stop may have begun) and stops early if not.
* stop runs on the host's control thread under one ``Deadline`` and never aborts. A call made
  of threadhost's own code that cannot block past the deadline (the stop of a
  ``BackgroundService``, firing a lifetime event nobody listens to, a default no-op hook) runs
  inline; any call into user code runs on an abandonable runner thread, ``threadhost:stop``,
  while the control thread waits for it *or* the deadline. At the deadline the runner is
  abandoned inside the call it is stuck in (reported as a straggler with its stack); the calls
  not yet made still run, on a fresh runner, within the grace (their token is cancelled, so a
  well-behaved hook returns at once); calls not reached by the end of the grace are never made,
  and reported. On the system clock, a run of sequential ``BackgroundService`` stops is made
  by a relay instead (``_relay``): each ending service thread begins the next stop, and the
  control thread waits once for the run, under the same deadline.

Rejected: a thread per call (a thousand services would cost a thousand thread starts on every
stop); running user hooks on the control thread (nobody could abandon them); the order written
out in several places (start loop, stop list, request callbacks), which drifted apart.
"""

from __future__ import annotations

import enum
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from threadhost._hosting.deadline import Deadline
from threadhost._hosting.relay import Handoff, Relay, relay_length
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
    handoff: Handoff | None = None  # a stop call a relay may begin on any thread (_relay)
    thread: threading.Thread | None = None
    begun: bool = False
    done: bool = False
    error: BaseException | None = None
    elapsed: float = 0.0

    def run(self, clock: Clock) -> None:
        """Make the call on this thread, recording what happened; never raises."""
        self.thread = threading.current_thread()
        self.run_inline(clock)

    def run_inline(self, clock: Clock) -> None:
        """``run`` without recording the thread: for a call of threadhost's own code, which is
        never abandoned (an inline stop call on the control thread, a prepared start)."""
        if self.stopping:  # no user code runs here; should any, it may not stop the host
            outer, _local.call = getattr(_local, "call", None), self
            try:
                self._make(clock)
            finally:
                _local.call = outer
            return
        self._make(clock)

    def _make(self, clock: Clock) -> None:
        self.begun = True
        began = clock.monotonic()
        try:
            self.fn()
        except BaseException as exc:  # every failure is reported; none may stop the others
            self.error = exc
        finally:
            self.elapsed = clock.monotonic() - began
            self.done = True

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
    """A thread that makes the stop's user calls one group at a time, until abandoned."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._work: queue.SimpleQueue[tuple[Sequence[Call], CancellationTokenSource] | None] = (
            queue.SimpleQueue())
        self.thread = threading.Thread(target=self._run, name="threadhost:stop", daemon=True)
        clock.register_participant(self.thread)
        self.thread.start()

    def submit(self, calls: Sequence[Call]) -> CancellationTokenSource:
        done = CancellationTokenSource(self._clock)
        self._work.put((calls, done))
        return done

    def close(self) -> None:
        self._work.put(None)

    def _run(self) -> None:
        try:
            while (item := self._work.get()) is not None:
                calls, done = item
                _run_group(calls, self._clock)
                done.cancel()
        finally:
            self._clock.unregister_participant(threading.current_thread())


def _inline(group: Sequence[Call]) -> bool:
    if len(group) == 1:  # the common case, without a generator
        inline = group[0].inline
        return inline is not None and inline()
    return all(c.may_run_inline() for c in group)


def run_stop(groups: Sequence[Sequence[Call]], deadline: Deadline, clock: Clock) -> None:
    """Make every call of ``groups`` in order under ``deadline`` (see the module notes).

    Blocks the control thread until all calls are done, or the deadline and its grace have
    passed. Afterwards each call is done, abandoned while running (``begun and not done``), or
    never begun.
    """
    runner: _Runner | None = None
    relays = deadline.independent  # see _relay: on the system clock only
    index = 0
    left_to_us = -1  # a call a relay stopped at: made here, as usual
    try:
        while index < len(groups):
            group = groups[index]
            if _inline(group):
                length = relay_length(groups, index) if relays and index != left_to_us else 0
                if length > 1 and not deadline.passed:
                    index += _relay([g[0] for g in groups[index:index + length]], deadline,
                                    clock)
                    left_to_us = index
                    continue
                for call in group:
                    call.run_inline(clock)
                index += 1
                continue
            if runner is None:
                runner = _Runner(clock)
            done = runner.submit(group)
            finished = (deadline.wait_within_grace(done.token) if deadline.passed
                        else deadline.wait(done.token) or deadline.wait_within_grace(done.token))
            if not finished:
                runner.close()  # abandoned, stuck in a call of this group; ends after it
                runner = None
                _leave_unmade(groups[index + 1:], deadline, clock)
                return
            index += 1
    finally:
        if runner is not None:
            runner.close()
            if runner.thread is not threading.current_thread():
                runner.thread.join()


def _relay(calls: Sequence[Call], deadline: Deadline, clock: Clock) -> int:
    """Make ``calls`` (each with a handoff) by a relay under ``deadline``: how many of them
    are made; the control thread makes the rest."""
    relay = Relay(calls, clock)
    relay.start()
    if not relay.finished.is_set():
        deadline.wait_latch(relay.finished, _system_clock_only)
    return relay.claim()


def _system_clock_only() -> CancellationToken:
    raise AssertionError("a relay runs on the system clock only")


def _leave_unmade(groups: Sequence[Sequence[Call]], deadline: Deadline, clock: Clock) -> None:
    """After the runner was abandoned: make what may run inline, once more on a fresh runner
    what may not, each within what is left of the grace."""
    rest = [g for g in groups if g]
    if not rest:
        return
    runner: _Runner | None = None
    try:
        for group in rest:
            if _inline(group):
                for call in group:
                    call.run_inline(clock)
                continue
            if deadline.grace_left() <= 0:
                continue  # never made; reported as such
            if runner is None:
                runner = _Runner(clock)
            if not deadline.wait_within_grace(runner.submit(group).token):
                runner.close()
                runner = None  # abandoned too; what is left may still run inline
    finally:
        if runner is not None:
            runner.close()
