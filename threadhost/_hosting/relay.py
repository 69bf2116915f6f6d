"""The relay: a run of sequential stop calls handed on from each ending service thread.

A sequential stop phase stops the services one at a time: the stop of a service begins only
once the thread of the one before it has ended. Made by the control thread, every service costs
two thread wake-ups: the control thread wakes the service (cancelling its token), then the
service's ending thread wakes the control thread, which makes the next call. Most of a stop of
many ``BackgroundService``s is those wake-ups.

A relay makes the same calls in the same order, but a service's thread, as it ends, begins the
next call itself (sets its stop flag and cancels its token), so each service costs one wake-up;
the control thread waits once, for the whole run, under the deadline. Only calls that can be
begun without user code take part (a ``Handoff``: threadhost's own ``BackgroundService.stop``,
whose token has no callbacks): beginning one is setting a flag and opening a latch, safe on any
thread. A call that would run user code (a callback on its token) ends the relay, and the
control thread makes it as usual, on the stop's runner thread.

At the deadline the control thread takes the relay back (``claim``): from then on no service
thread begins anything, the call under way counts as made (its wait ended at the deadline, as
the control thread's own wait would have), and the control thread makes the rest as usual.

Only on the system clock: under a ``FakeClock`` time moves when every participant waits, and a
service thread that has left the clock must not begin the next call. There the control thread
makes each call as before (speed does not matter under a fake clock).

Locking: the relay's lock guards where it is; under it the relay begins a call (the service's
token source lock and slot lock, taken inside: threadhost's own, and never the other way round,
since a slot calls the relay back only after releasing its lock). No user code runs under it.

Rejected: cancelling every token at once and then waiting for all (the order of a sequential
stop would be lost: each service may rely on the ones after it still running); a thread that
waits for each service in turn (still two wake-ups per service).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from threadhost._time.cancellation import Latch
from threadhost._time.clock import Clock

if TYPE_CHECKING:
    from threadhost._hosting.plan import Call


class Handoff(Protocol):
    """A stop call that a relay may begin on any thread (see the module notes)."""

    def begin_quietly(self) -> bool:
        """Begin the call without running any user code; False (having changed nothing that
        the call would not) if it cannot, because it would run user code."""

    def when_over(self, then: Callable[[], None]) -> bool:
        """Once the begun call has nothing left to wait for, run ``then()`` on the thread that
        ended it; False (and ``then`` is not kept) if it has nothing to wait for now."""


class Relay:
    """One run of stop calls, each with a ``handoff``, made in order by the ending threads.

    ``start`` on the control thread; ``finished`` is set once every call was made, or a call
    needs the control thread. The control thread waits for it under the deadline, then
    ``claim``s the relay back, which tells it where to go on. Thread-safe.
    """

    __slots__ = ("_began", "_calls", "_claimed", "_clock", "_lock", "_next", "_on_ended",
                 "finished")

    def __init__(self, calls: Sequence[Call], clock: Clock) -> None:
        self._calls = calls
        self._clock = clock
        self._lock = threading.Lock()
        self._next = 0  # guarded by _lock: the next call to begin
        self._claimed = False  # guarded by _lock
        self._began = 0.0  # guarded by _lock: when the call under way began (host clock)
        self.finished = Latch()  # set once, under _lock
        self._on_ended = self._ended  # (bound once: handed to every slot of the run)

    def start(self) -> None:
        """Begin the first call (control thread); the rest follow from the service threads."""
        self._advance()

    def claim(self) -> int:
        """Take the relay back, once ``finished`` or at the deadline: no service thread begins
        anything after this, and a call still under way counts as made now (its wait ended at
        the deadline). Returns the index of the first call left for the control thread."""
        with self._lock:
            self._claimed = True
            if self._next:
                call = self._calls[self._next - 1]
                if not call.done:
                    call.elapsed = self._clock.monotonic() - self._began
                    call.done = True
            return self._next

    def _ended(self) -> None:
        # On the thread that ended the call under way (a service thread, as it ends): that call
        # is made, and this thread begins the next, under one hold of the lock.
        with self._lock:
            if self._claimed:
                return
            call = self._calls[self._next - 1]
            call.elapsed = self._clock.monotonic() - self._began
            call.done = True
            self._advance_locked()

    def _advance(self) -> None:
        with self._lock:
            self._advance_locked()

    def _advance_locked(self) -> None:
        while not self._claimed and not self.finished.is_set():
            if self._next == len(self._calls):
                self.finished.set()
                return
            call = self._calls[self._next]
            handoff = call.handoff
            assert handoff is not None
            try:
                if not handoff.begin_quietly():
                    self.finished.set()  # the control thread makes this one
                    return
                self._next += 1
                call.begun = True
                self._began = self._clock.monotonic()
                if handoff.when_over(self._on_ended):
                    return  # the ending thread goes on (in _ended)
            except BaseException as exc:  # threadhost's own code: a bug; never a stall
                if not call.begun:
                    self._next += 1
                    call.begun = True
                call.error = exc
                self.finished.set()
            call.elapsed = self._clock.monotonic() - self._began
            call.done = True


def relay_length(groups: Sequence[Sequence[Call]], start: int) -> int:
    """How many one-call groups from ``start`` on a relay may make (each with a handoff)."""
    end = start
    while end < len(groups) and len(groups[end]) == 1 and groups[end][0].handoff is not None:
        end += 1
    return end - start
