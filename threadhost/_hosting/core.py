"""``HostCore``: the machinery behind the ``Host`` facade.

It holds the host's one lifecycle state (``HostState``, moved only through
``HOST_TRANSITIONS``, under one lock), the registry of service slots, and the control thread
``threadhost:host``, which takes stop requests off the host's ``StopChannel`` and carries out
the stop (``stopping.perform_stop``, its steps in order). Start runs on the thread calling
``Host.start()`` (``starting.run_start``).

Threads and who does what:

* the starting thread runs ``START_PLAN`` and, between calls, asks whether a stop has begun;
  when it is done (or has given up) it cancels ``start_yielded``;
* the control thread waits for the first lock-free stop request (``stop_application()``, a
  signal, a crash); if it moves the state to STOPPING it carries out the stop and publishes
  the report in the same step as the move to STOPPED, whatever the stop met (``_carry_out``);
* a caller of ``Host.stop()`` that moves the state to STOPPING carries out the same stop on
  its own thread (then wakes the control thread, which ends); a later caller waits for the
  report: every caller gets the same one. A caller that is itself a service thread is detached
  from its slot first, so the stop does not wait for it.

Whoever carries out the stop is a clock participant from the moment it is requested until the
report is published, so a ``FakeClock`` under autojump never moves time while the host stops.

Rejected: handing every stop to the control thread (two thread switches on every stop, and the
caller of ``Host.stop()`` idle meanwhile); carrying out a lock-free request on the requesting
thread (a signal handler, a crashing service: neither may block for a whole stop).
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Iterator, Sequence

import injector

from threadhost import _interrupt as interrupts
from threadhost import _log_messages as log
from threadhost._errors import HostStartupError
from threadhost._hosting.channel import StopChannel, StopRequest
from threadhost._hosting.deadline import Deadline
from threadhost._hosting.lifetime import HostApplicationLifetime, HostLifetime
from threadhost._hosting.options import HostOptions
from threadhost._hosting.plan import Call, current_call
from threadhost._hosting.registry import ThreadExitHook, ThreadRegistry
from threadhost._hosting.report import ServiceError, ShutdownReport, Straggler, capture_stack
from threadhost._hosting.roster import Roster
from threadhost._hosting.starting import ABORTED, StartFailure, run_start
from threadhost._hosting.states import (
    HOST_TRANSITIONS,
    Do,
    HostEvent,
    HostState,
    Next,
)
from threadhost._hosting.stopping import Account, perform_stop
from threadhost._hosting.supervisor import Supervisor
from threadhost._time.cancellation import CancellationTokenSource
from threadhost._time.clock import Clock


class HostCore:
    """See the module notes. Internal: ``Host`` is the public face."""

    def __init__(self, services: injector.Injector, factories: Sequence[object],
                 exit_hooks: Sequence[ThreadExitHook] = ()) -> None:
        self.injector = services
        self.factories = tuple(factories)
        self.clock: Clock = services.get(Clock)  # type: ignore[type-abstract]
        self.options = services.get(HostOptions)
        self.app = services.get(HostApplicationLifetime)
        self.channel = services.get(StopChannel)
        self._lock = threading.Lock()
        self._state = HostState.CREATED  # guarded by _lock
        self.report: ShutdownReport | None = None  # written with STOPPED, under _lock
        self._published = CancellationTokenSource(self.clock)  # cancelled after publishing
        self._stop_begun = CancellationTokenSource(self.clock)
        self.roster = Roster(self.clock)  # which services started, failed; the errors
        self.supervisor = Supervisor(self.clock, self.options, self.channel, self._stop_begun.token,
                                     self.roster.crashed)
        self.registry = ThreadRegistry(self.clock, exit_hooks, self.supervisor.on_run_end,
                                       self._stop_begun.token)
        self._start_token: CancellationTokenSource | None = None
        self._start_yielded = CancellationTokenSource(self.clock)
        self._start_calls: list[Call] = []  # the start phase under way: the calls begun and
        # not done are the ones being made now
        self._control: threading.Thread | None = None
        self._busy = threading.Lock()  # acquired once, without blocking: see _wake_control
        self._inside = threading.local()  # .depth: Host calls under way on this thread
        self.lifetime: HostLifetime | None = None

    # -- state -----------------------------------------------------------------------------

    @property
    def state(self) -> HostState:
        return self._state

    def _move(self, event: HostEvent) -> Next:
        """Apply ``event`` to the state (caller holds ``_lock``); what to do next."""
        step = HOST_TRANSITIONS.get((self._state, event))
        assert step is not None, f"no transition for {event} in {self._state}"
        self._state = step.state
        return step

    @contextlib.contextmanager
    def inside(self) -> Iterator[None]:
        """Mark the calling thread as inside start/stop/close (so a re-entrant stop from a
        signal handler on it is refused instead of deadlocking)."""
        self._inside.depth = getattr(self._inside, "depth", 0) + 1
        try:
            yield
        finally:
            self._inside.depth -= 1

    def refuse_reentrant_stop(self) -> None:
        """Raise RuntimeError if ``Host.stop()`` on this thread would wait for itself."""
        call = current_call()
        if call is not None and call.stopping:
            raise RuntimeError(
                f"Host.stop() was called from {call.name}.{call.phase}, inside the host's own "
                "stop, and would wait for itself; call "
                "HostApplicationLifetime.stop_application() there.")
        if getattr(self._inside, "depth", 0):
            raise RuntimeError(
                "Host.stop() was called on a thread that is inside Host.start(), stop() or "
                "close() (from a signal handler, or a start hook), and would wait for itself; "
                "call HostApplicationLifetime.stop_application() there.")

    # -- start -----------------------------------------------------------------------------

    def start(self, timeout: float | None) -> None:
        with self._lock:
            begin = self._move(HostEvent.START)
        if begin.do is Do.REFUSE:
            raise RuntimeError(begin.message)
        if begin.do is Do.SKIP:
            log.start_aborted("the host was stopped before it started")
            return
        log.starting()
        self._control = threading.Thread(target=self._control_main, name="threadhost:host",
                                         daemon=True)
        self.channel.listen(self._wake_control)
        self._control.start()
        if self.channel.requested:
            self._wake_control()
        limits = [t for t in (timeout, self.options.startup_timeout) if t is not None]
        limit = min(limits) if limits else None
        self._start_token = CancellationTokenSource(self.clock)
        if limit is not None and not math.isinf(limit) and limit <= threading.TIMEOUT_MAX:
            self._start_token.cancel_after(limit)
        me = threading.current_thread()
        self.clock.register_participant(me)
        step: Next | None = None
        try:
            outcome = run_start(self, self._start_token.token, limit)
            failure = outcome if isinstance(outcome, StartFailure) else None
            if outcome is ABORTED:
                log.start_aborted("a stop was requested")
            elif failure is not None:
                # Recorded before the start yields, so the stop that follows reports them.
                self.roster.add_errors(ServiceError(c.name, c.error, c.phase)
                                       for c in failure.calls if c.error is not None)
                with self._lock:
                    step = self._move(HostEvent.START_FAILED)
            else:
                with self._lock:
                    step = self._move(HostEvent.STARTED)
                if step.do is Do.FIRE_STARTED:
                    self.app._fire_started()
                    log.started()
                else:
                    log.start_aborted("a stop was requested")
        finally:
            self._start_calls = []
            # The startup timeout's timer is dropped: once started it no longer applies, and
            # its pending timer would keep threadhost:timer alive after the stop.
            self._start_token.close()
            self._start_yielded.cancel()
            self.clock.unregister_participant(me)
        if failure is not None:
            assert step is not None
            self._fail_start(failure, request=step.do is Do.REQUEST_STOP)

    def _fail_start(self, failure: StartFailure, *, request: bool) -> None:
        names = failure.names
        first = failure.calls[0]
        assert first.error is not None
        for call in failure.calls:
            assert call.error is not None
            if not isinstance(call.error, TimeoutError):
                log.service_start_failed(call.name, call.phase, call.error)
        where = (f"service {names[0]!r}" if len(names) == 1
                 else "services " + ", ".join(repr(n) for n in names))
        if request:
            self.channel.request(f"{where} failed to start: {first.error!r}")
        stopped = self.wait_report()
        errors = [c.error for c in failure.calls if c.error is not None]
        cause: BaseException = errors[0] if len(errors) == 1 else BaseExceptionGroup(
            f"{len(errors)} services failed to start", errors)
        raise HostStartupError(
            f"{where[0].upper()}{where[1:]} failed in {first.phase}: {first.error}",
            service=names[0] if names[0] not in ("startup", "lifetime") else None,
            report=stopped) from cause

    # -- crashes ---------------------------------------------------------------------------

    # -- stop ------------------------------------------------------------------------------

    def request_stop(self, reason: str, timeout: float | None) -> ShutdownReport:
        """Stop the host and wait for the report (any thread but a re-entrant one).

        The first to move the state to STOPPING carries out the stop on its own thread (no
        hand-over: a stop is two thread switches cheaper); a later caller waits for that
        stop's report. A caller that is a service thread is detached from its slot first.
        """
        me = threading.current_thread()
        with self._lock:
            was_starting = self._state is HostState.STARTING
            step = self._move(HostEvent.STOP)
        if step.do is Do.STOP_UNSTARTED:
            self._publish_unstarted(reason)
        elif step.do is Do.BEGIN_STOP:
            self.registry.detach_current()
            self.channel.mark_requested()  # readiness ends now, as for any request
            self.clock.register_participant(me)
            try:
                self._carry_out(StopRequest(reason, timeout), was_starting)
            finally:
                self.clock.unregister_participant(me)
            self.channel.put_wake()  # the control thread finds the stop done, and ends
            interrupt = interrupts.take()
            if interrupt is not None:
                raise interrupt
        elif self.report is None:
            self.registry.detach_current()
        return self.wait_report()

    def close_unstarted(self) -> bool:
        """Close a host that never started (publishing an empty report); False if it did."""
        with self._lock:
            if self._state is not HostState.CREATED:
                return False
            self._move(HostEvent.CLOSE)
        self._publish_unstarted("Host.close() called")
        return True

    def closed(self) -> None:
        with self._lock:
            if self._state in (HostState.STOPPED, HostState.CANCELLED, HostState.CLOSED):
                self._move(HostEvent.CLOSE)

    def _publish_unstarted(self, reason: str) -> None:
        """The stop of a host that never started: the same stop, with no service to stop
        (``application_stopping`` and ``application_stopped`` still fire, as .NET's
        ``StopAsync`` fires them), its report published without a state move (the host is
        CANCELLED or CLOSED already)."""
        first = self._first_request()
        reason = first.reason if first is not None else reason
        self._start_yielded.cancel()  # no start to wait for
        self._carry_out(StopRequest(reason, None), True, self._set_report)

    def _set_report(self, result: ShutdownReport) -> None:
        with self._lock:
            self.report = result
        self._published.cancel()

    def _first_request(self) -> StopRequest | None:
        return self.channel.take_nowait()

    def wait_report(self) -> ShutdownReport:
        self._published.token.wait()
        assert self.report is not None
        return self.report

    def wait_stop_begun(self, timeout: float | None) -> bool:
        return self._stop_begun.token.wait(timeout)

    def _wake_control(self) -> None:
        # Whoever requests first makes the control thread a clock participant until it has
        # published (so autojump cannot move time in between). Non-blocking: signal-safe.
        control = self._control
        if control is not None and self.report is None and control.is_alive() and (
                self._busy.acquire(blocking=False)):
            self.clock.register_participant(control)

    def _control_main(self) -> None:
        request = self.channel.take()
        try:
            with self._lock:
                was_starting = self._state is HostState.STARTING
                step = self._move(HostEvent.STOP)
            if step.do is Do.BEGIN_STOP:
                self._carry_out(request, was_starting)
            # else JOIN_STOP: a Host.stop() caller carried out the stop; nothing is left to do
        finally:
            # Ending: take _busy if no request took it, so no later request can register this
            # thread (it would hold a FakeClock for good); if one did, leave the clock.
            if not self._busy.acquire(blocking=False):
                self.clock.unregister_participant(threading.current_thread())

    def _carry_out(self, request: StopRequest, was_starting: bool,
                   publish: Callable[[ShutdownReport], None] | None = None) -> None:
        """Carry out the stop and publish its report, whatever happens: every caller of
        ``stop()``, ``run()``, ``wait_for_shutdown()`` and ``close()`` gets a report. Should the
        stop itself fail (it never raises by design: this is the last line), the report
        carries that error, and the error goes on up this thread after publishing."""
        publish = publish or self._publish
        began = self.clock.monotonic()
        try:
            result = perform_stop(self, request, was_starting)
        except BaseException as exc:
            self._stop_begun.cancel()
            errors = (*self.roster.errors(), ServiceError("host", exc, "stop"))
            publish(ShutdownReport(reason=request.reason, errors=errors,
                                   elapsed=self.clock.monotonic() - began))
            raise
        publish(result)

    def _publish(self, result: ShutdownReport) -> None:
        with self._lock:
            self._move(HostEvent.STOPPED)
            self.report = result
        self._published.cancel()

    def begin_stop(self, request: StopRequest) -> Account:
        """Step 2: the stop has begun (readiness went False at the request already)."""
        self.channel.reason = request.reason
        log.stopping(request.reason)
        self._stop_begun.cancel()
        self.channel.run_stopping()
        return Account(request.reason, self.clock.monotonic(), [], [])

    def yield_start(self, budget: Deadline, was_starting: bool) -> list[Straggler]:
        """Step 4: cancel a start under way and wait (within the budget) for it to yield;
        even once RUNNING, ``start()`` may still run ``application_started`` callbacks."""
        if was_starting and self._start_token is not None:
            self._start_token.cancel()
        if self._start_yielded.is_cancellation_requested or budget.wait(
                self._start_yielded.token):
            return []
        stragglers = []
        for call in list(self._start_calls):
            if call.begun and not call.done and call.thread is not None:
                stack = capture_stack(call.thread)
                log.straggler(call.name, call.phase, call.thread.name, budget.seconds, stack)
                stragglers.append(Straggler(call.name, stack, call.thread.name, call.phase))
        return stragglers

    def join_control(self) -> None:
        control = self._control
        if control is not None and control is not threading.current_thread() and (
                self.report is not None):
            control.join()
