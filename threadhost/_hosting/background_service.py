"""``BackgroundService``: a hosted service whose work runs on a thread of its own.

The thread is spawned through the service's ``ServiceSlot`` (``slot``), which the host
made current while it calls ``start``: the host, not the service, keeps the account of the
thread. All of the base class's state lives in one attribute, ``_threadhost``, so a subclass
may use any other name (``self.clock``, ``self.state``, ``self.name`` ...).

Stopping under the deadline: ``stop(token)`` cancels the stopping token, then waits for the
thread to end or the deadline, whichever comes first. When ``token`` is a shutdown deadline's,
the wait goes through that ``Deadline`` (which fires it if it passes while we wait), so the host
can make this call on its control thread without a timer: see ``_deadline``.
"""

from __future__ import annotations

import abc
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from threadhost._errors import OperationCanceledError
from threadhost._hosting.deadline import Deadline, deadline_of
from threadhost._hosting.hosted_service import HostedService
from threadhost._hosting.registry import standalone_slot
from threadhost._hosting.slot import ServiceSlot, current_slot
from threadhost._hosting.states import ServiceState
from threadhost._time.cancellation import CancellationToken, CancellationTokenSource, wait_any
from threadhost._time.clock import Clock

_STATE = "_threadhost"
_CLAIM = threading.Lock()
"""Serialises the claim of every service's first run (``_claim``): one lock for the process
rather than one per service, which each start would allocate for a check made once."""


def _new_claim_lock() -> None:
    global _CLAIM  # (a fork's child gets a lock no thread of it holds)
    _CLAIM = threading.Lock()


if hasattr(os, "register_at_fork"):  # a fork while another thread claimed would leave the
    os.register_at_fork(after_in_child=_new_claim_lock)  # child's copy held for good


class _State:
    # Written by start() and by each run's thread; reads are of single references (atomic).
    __slots__ = ("exception", "service", "slot", "stop_requested", "stopping", "thread")

    def __init__(self, service: BackgroundService) -> None:
        self.service = service
        self.slot: ServiceSlot | None = None
        self.thread: threading.Thread | None = None
        self.stopping: CancellationTokenSource | None = None
        self.exception: BaseException | None = None
        self.stop_requested = False

    def ask(self) -> Callable[[], object] | None:
        """``ServiceSlot.on_ask``: the stop flag, then the stopping token cancelled if nothing
        is registered on it; else the cancel, handed back to run elsewhere. Never blocks."""
        self.stop_requested = True  # before reading the token, as _stop
        stopping = self.stopping
        if stopping is None or stopping._cancel_quietly():
            return None
        return stopping.cancel

    def rerun(self, delay: float) -> None:
        """Begin the next run after ``delay`` seconds (``ServiceSlot.rerun``: see ``_begin``)."""
        assert self.slot is not None
        _begin(self.service, self, self.slot, delay)


def _state_of(service: BackgroundService) -> _State:
    state: _State | None = service.__dict__.get(_STATE)
    if state is None:
        state = service.__dict__.setdefault(_STATE, _State(service))
    return state


class BackgroundService(HostedService):
    """A hosted service that runs ``execute(stopping_token)`` on its own daemon thread.

    ``start()`` starts one daemon thread named ``threadhost:<name>`` (the service's name in the
    host: its class name, ``Name#2`` for a second instance) and returns at once,
    so a slow or blocking ``execute`` never delays the host's startup. ``stop()`` cancels the
    stopping token, then waits for the thread to end or for the stop token to be cancelled
    (the shutdown deadline), whichever comes first; ``stop()`` before ``start()`` does nothing.

    Leaving ``execute`` after the stopping token fired, by returning or by raising
    ``OperationCanceledError``, is a clean stop. Any other exception is stored in
    ``exception``, logged at ERROR with the service's name, and the host then acts on its
    restart policy and on ``HostOptions.background_service_exception_behavior``. Returning
    early is not an error: the host keeps running without this service.

    Liveness: call ``heartbeat()`` whenever the work makes progress; with
    ``liveness_timeout`` set (seconds on the host's clock, as a class attribute, or
    ``add_hosted_service(..., liveness_timeout=...)``, which wins), a heartbeat older than that
    makes the host UNHEALTHY (``/healthz`` 503; systemd's watchdog is no longer fed). The start
    of each run counts as a heartbeat. None (the default): heartbeats are not checked.

    Subclasses need not call ``super().__init__()``, and may use any attribute name but
    ``thread``, ``stopping_token``, ``exception``, ``heartbeat``, ``liveness_timeout`` and
    ``_threadhost``. A service instance is started once: a second ``start()`` raises
    RuntimeError.
    """

    liveness_timeout: float | None = None

    @abc.abstractmethod
    def execute(self, stopping_token: CancellationToken) -> None:
        """The service's work; runs on the service's own thread.

        Return (or raise ``OperationCanceledError``) soon after ``stopping_token`` is
        cancelled; wait through the token (``stopping_token.wait(5)``), never ``time.sleep``,
        so the wait ends at once on stop and follows the host's clock in tests.
        """

    @property
    def thread(self) -> threading.Thread | None:
        """The thread running ``execute`` (the current run's); None before ``start()``."""
        return _state_of(self).thread

    @property
    def stopping_token(self) -> CancellationToken:
        """Cancelled when the service is asked to stop; ``CancellationToken.NONE`` before
        ``start()``."""
        source = _state_of(self).stopping
        return source.token if source is not None else CancellationToken.NONE

    @property
    def exception(self) -> BaseException | None:
        """What ``execute`` raised, or None (also None for a clean cancellation)."""
        return _state_of(self).exception

    def heartbeat(self) -> None:
        """Record progress now (host clock), for ``liveness_timeout``.

        Any thread; lock-free, never blocks, never raises. A no-op before ``start()``.
        """
        slot = _state_of(self).slot
        if slot is not None:
            slot.heartbeat()

    def start(self, cancellation_token: CancellationToken) -> None:
        """Start ``execute`` on a new daemon thread and return at once.

        Called on a host thread. Raises RuntimeError if the service was already started,
        ValueError for a ``liveness_timeout`` class attribute that is not seconds > 0 or None.
        """
        state = _state_of(self)
        slot = _claim(self, state, None, cancellation_token.clock)
        _begin(self, state, slot, 0.0)

    def stop(self, cancellation_token: CancellationToken) -> None:
        """Cancel the stopping token, then wait for the thread to end or for
        ``cancellation_token`` to be cancelled, whichever comes first.

        Called on a host thread; thread-safe and idempotent. Returns without waiting when
        called on the service's own thread. Does nothing before ``start()``. An exception from
        a callback on the stopping token is raised (as an ExceptionGroup) after the wait.
        """
        _stop(_state_of(self), cancellation_token)

    def __repr__(self) -> str:
        slot = _state_of(self).slot
        where = slot.state.value if slot is not None else "created"
        return f"<BackgroundService {type(self).__name__} {where}>"


def _stop(state: _State, token: CancellationToken) -> None:
    slot = state.slot
    if slot is None:
        return
    # Before reading the token: a restart replacing it just now sees the request (_begin).
    state.stop_requested = True
    stopping = state.stopping
    if stopping is None:
        return
    try:
        stopping.cancel()
    finally:
        if threading.current_thread() is not state.thread:
            _wait_ended(slot, state.thread, token)


def _wait_ended(slot: ServiceSlot, thread: threading.Thread | None,
                token: CancellationToken) -> None:
    if not slot.working():  # none left (a thread waiting in Host.stop() left the account)
        return
    deadline = deadline_of(token)
    if deadline is not None:
        deadline.wait_latch(slot.ended_latch, slot.ended_token, thread)
    else:
        wait_any([slot.ended_token(), token])


def _claim(service: BackgroundService, state: _State, slot: ServiceSlot | None,
           clock: Clock) -> ServiceSlot:
    """What ``start`` checks and records before the first run: the service's slot (``slot``,
    else the one the host made current, else a standalone one). Raises as ``start`` does."""
    limit = type(service).liveness_timeout
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int | float)
                              or not limit > 0):
        raise ValueError(f"{type(service).__name__}.liveness_timeout={limit!r} is invalid: "
                         "expected seconds > 0, or None")
    with _CLAIM:
        if state.slot is not None:
            raise RuntimeError(
                f"Cannot start {service!r}: a BackgroundService instance runs only once.")
        slot = state.slot = slot or current_slot() or standalone_slot(
            type(service).__name__, clock)
    if slot.liveness_timeout is None:  # the registration's value wins
        slot.liveness_timeout = limit
    slot.rerun = state.rerun
    slot.on_ask = state.ask
    return slot


def _begin(service: BackgroundService, state: _State, slot: ServiceSlot, delay: float) -> None:
    """Begin one run of ``execute`` on a new thread of the service's slot: the first (from
    ``start``), or a restart after ``delay`` seconds on the host's clock (``slot.rerun``,
    called by ``_supervisor`` on the thread whose run just ended).

    For a restart the new thread first waits for the current one to end, so two runs never
    overlap; a stop of the service, or of the host, during the backoff cancels the run before
    it begins.
    """
    _launch(state, slot, *_make_run(service, state, slot, delay))


def _make_run(service: BackgroundService, state: _State, slot: ServiceSlot, delay: float
              ) -> tuple[CancellationTokenSource, threading.Thread]:
    """The stopping token and the thread (not started) of the next run of ``execute``."""
    stopping = CancellationTokenSource(slot.clock)
    thread = slot.make_thread(_Run(service, state, stopping, delay, state.thread),
                              f"threadhost:{slot.name}")
    return stopping, thread


def _launch(state: _State, slot: ServiceSlot, stopping: CancellationTokenSource,
            thread: threading.Thread) -> None:
    restart = state.thread is not None
    state.stopping = stopping
    # stop() sets stop_requested before it reads state.stopping: if it read the old token just
    # before the line above, it is seen here, and the new run's backoff ends at once.
    if restart and state.stop_requested:
        stopping.cancel()
    state.thread = thread  # before it starts: the thread finds itself there
    slot.launch(thread)


@dataclass(slots=True, eq=False)
class _Run:
    """One run of ``execute``: the target of its thread (one object, not a partial)."""

    service: BackgroundService
    state: _State
    stopping: CancellationTokenSource
    delay: float
    previous: threading.Thread | None

    def __call__(self) -> None:
        state, stopping = self.state, self.stopping
        slot = state.slot
        assert slot is not None
        if self.previous is not None:
            self.previous.join()  # it is returning from its run right now: a bounded wait
            if (self.delay and wait_any([stopping.token, slot.registry.stopping], self.delay)) or (
                    state.stop_requested or stopping.is_cancellation_requested):
                slot.uncount_restart()  # a stop came during the backoff: no run, no restart
                return
            slot.move(ServiceState.RUNNING)
            state.exception = None
        # The start of a run counts as a heartbeat: "since the run began, if it has not
        # heartbeated yet" is then one subtraction for health().
        slot.run_began = slot.heartbeat_at = slot.registry.monotonic()
        error: BaseException | None = None
        try:
            self.service.execute(stopping.token)
        except BaseException as exc:
            if not (isinstance(exc, OperationCanceledError)
                    and stopping.is_cancellation_requested):
                state.exception = error = exc
        slot.run_ended(error, stop_requested=state.stop_requested)


def prepare_start(service: HostedService, slot: ServiceSlot, token: CancellationToken
                  ) -> Callable[[], None] | None:
    """``service.start(token)`` with its first run made now, to be called later in the start
    plan; None if ``start`` is not the base class's own (overridden, set on the instance, or
    wrapped on any class, ``BackgroundService`` included: the host then calls it as it is).

    The host makes these for a whole phase before its first call, so that between two thread
    starts little more than the thread start itself runs: a thread object and a token source
    made between two thread starts cost more than made in a row (the new thread's first steps
    and the next one's making contend for the interpreter; measured with
    ``benchmarks/bench_lifecycle.py``: a start of 1000 services in 1.2x bare threads' time
    against 1.35x). The call checks and records exactly what ``start`` does, raising as it
    does; nothing of the service changes until it is called. A class lookup: nothing of the
    instance is read but its ``__dict__`` for an instance-level ``start``."""
    if type(service).start is not _BASE_START or "start" in service.__dict__:
        return None
    background = cast(BackgroundService, service)
    state = _state_of(background)
    return _PreparedStart(background, state, slot, token.clock,
                          *_make_run(background, state, slot, 0.0))


@dataclass(slots=True, eq=False)
class _PreparedStart:
    """A BackgroundService's own ``start``, its first run made ahead (see ``prepare_start``)."""

    service: BackgroundService
    state: _State
    slot: ServiceSlot
    clock: Clock  # the start token's
    stopping: CancellationTokenSource
    thread: threading.Thread

    def __call__(self) -> None:
        _claim(self.service, self.state, self.slot, self.clock)
        _launch(self.state, self.slot, self.stopping, self.thread)


def prepare_stop(service: HostedService, deadline: Deadline) -> PreparedStop | None:
    """``service.stop(deadline.token)``, to be made later in the host's stop plan, with the
    service's state looked up now; None if the class overrides ``stop`` (the host then calls
    it as it is, on its runner thread). A class lookup: nothing of the instance is read."""
    if type(service).stop is not _BASE_STOP or "stop" in service.__dict__:
        return None  # (plain lookups of the documented method: no ABC check)
    return PreparedStop(_state_of(cast(BackgroundService, service)), deadline)


class PreparedStop:
    """A BackgroundService's own ``stop(token)`` under a stop's ``Deadline``, ready to be made
    (see ``prepare_stop``): begun on the thread carrying out the stop (``begin_quietly``),
    then waited for (the call)."""

    __slots__ = ("asked", "deadline", "state")

    def __init__(self, state: _State, deadline: Deadline) -> None:
        self.state = state
        self.deadline = deadline
        self.asked = False  # begin_quietly cancelled the token: only the wait is left

    def __call__(self) -> None:
        """``BackgroundService.stop(token)``, on the calling thread. After ``begin_quietly``
        (the token already cancelled, by the same thread) only the wait is left."""
        state = self.state
        if not self.asked:
            _stop(state, self.deadline.token)  # (the whole stop, callbacks included: the runner's)
            return
        slot, thread = state.slot, state.thread
        if slot is None or thread is None or not slot.working() or (
                thread.ident == threading.get_ident()):
            return
        self.deadline.wait_latch(slot.ended_latch, slot.ended_token, thread)

    def begin_quietly(self) -> bool:
        """Begin the stop without running user code: the stop flag, then the token cancelled
        if nothing is registered on it; False if something is (then the host makes the whole
        call on its runner thread). Atomic: no callback can slip in between the check and the
        cancel, so the thread carrying out the stop (``Call.inline``) may call it."""
        state = self.state
        if state.slot is None:
            return True  # never started: nothing to stop (as stop()); the call returns at once
        state.stop_requested = True  # before reading the token, as _stop
        stopping = state.stopping
        if stopping is None or not stopping._cancel_quietly():
            return stopping is None
        self.asked = True
        return True


def slot_of(service: BackgroundService) -> ServiceSlot | None:
    """The slot accounting for ``service`` once started (internal: lets ready-made services
    count survived errors and heartbeats)."""
    return _state_of(service).slot


def resume(service: BackgroundService) -> None:
    """Run a stopped service again (internal: a leased service whose lease was lost and taken
    again): a new run on a new thread, with a fresh stopping token."""
    state = _state_of(service)
    state.stop_requested = False
    assert state.slot is not None
    _begin(service, state, state.slot, 0.0)


_BASE_START = BackgroundService.start
"""The base class's own ``start``, as defined here (see ``_BASE_STOP``)."""
_BASE_STOP = BackgroundService.stop
"""The base class's own ``stop``, as defined here: a ``stop`` wrapped on any class (tracing,
``mock.patch``), ``BackgroundService`` included, is not this object, and the host then calls
the wrapper as it is."""
