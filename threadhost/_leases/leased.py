"""A leased singleton service: an adapter hosted service that runs the service while this
replica holds its lease.

``services.add_hosted_service(Job, singleton=lease)`` registers ``Job`` with an adapter (the
kernel's ``HostedRegistration.adapter``): the host makes ``Job`` as usual (its name, slot and
state are ``Job``'s), then runs a ``LeasedHostedService`` in its place. The kernel knows nothing
of leases: to the host the adapter is a plain hosted service whose ``start`` returns at once
and whose ``stop`` waits under the stop's deadline.

* ``start`` launches the lease thread, ``threadhost:lease:<name>``, as the slot's *minder*
  (accounted, reported as a straggler if it outlives the grace, but not part of the service's
  own work), which runs ``drive_lease`` (``driver``): STANDBY until the lease is taken, then
  the service's ``starting``/``start``/``started`` on that thread, a check every
  ``check_interval``, and on a lost lease the service's stopping token is cancelled at once and
  it is stopped under a fresh shutdown timeout.
* ``stop`` cancels the lease thread's token and waits, under the stop's deadline, for the
  thread to stop the service and release the lease.
* A start of the service that raises after its threads began: those threads are stopped
  first, and the lease is released only once none of them runs (so no second replica runs the
  job beside a survivor).

The service runs again after a lost lease, as the same instance: a ``BackgroundService`` gets a
new run (a new thread and stopping token, as a restart does); any other hosted service gets its
``start`` again. ``current_lease()`` reads the lease the slot holds now (its ``context``).

Rejected: leases in the kernel (four modules special-cased them, and the start and stop plans
carried a second kind of call); starting the service in the start plan and stopping it when
the lease is not held (the service would run, however briefly, without the lease); one lease
thread per host (a slow database for one lease would delay another's checks).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import injector

from threadhost import _log_messages as log
from threadhost._hosting.background_service import BackgroundService, resume
from threadhost._hosting.deadline import Deadline, deadline_of
from threadhost._hosting.hosted_service import HostedLifecycleService, HostedService
from threadhost._hosting.options import HostOptions
from threadhost._hosting.registry import standalone_slot
from threadhost._hosting.slot import ServiceSlot, current_slot
from threadhost._hosting.states import ServiceState
from threadhost._leases.driver import LeaseState, drive_lease
from threadhost._leases.lease import LEASE_KEY, Lease, LeaseInfo
from threadhost._time.cancellation import CancellationToken, CancellationTokenSource
from threadhost._time.clock import Clock


class LeasedHostedService(HostedService):
    """Runs ``service`` only while this replica holds ``lease`` (see the module notes).

    Internal: made by the adapter that ``add_hosted_service(..., singleton=lease)`` registers.
    ``start`` and ``stop`` are called by the host; everything else runs on the lease thread.
    """

    def __init__(self, service: HostedService, lease: Lease, clock: Clock,
                 shutdown_timeout: float) -> None:
        self.service = service
        self.lease = lease
        self._clock = clock
        self._timeout = shutdown_timeout
        self._stop = CancellationTokenSource(clock)  # the host stops this service
        self._ended = CancellationTokenSource(clock)  # the lease thread has ended
        self._host_deadline: Deadline | None = None  # set when the host's stop reaches us
        self._started_once = False
        self._stop_errors: list[BaseException] = []  # the host's stop: raised by stop()
        self._slot: ServiceSlot | None = None
        self.thread: threading.Thread | None = None

    def start(self, cancellation_token: CancellationToken) -> None:
        """Launch the lease thread and return at once (STANDBY from now). Host thread."""
        slot = self._slot = current_slot() or standalone_slot(
            type(self.service).__name__, cancellation_token.clock)
        slot.move(ServiceState.STANDBY)  # before the thread: the host's RUNNING move is not ours
        thread = slot.make_thread(self._main, f"threadhost:lease:{slot.name}")
        self.thread = thread
        slot.launch(thread, minder=True)

    def stop(self, cancellation_token: CancellationToken) -> None:
        """End the lease thread (it stops the service and releases the lease) and wait for it
        under ``cancellation_token``'s deadline. Host thread. Raises what the service's stop
        hooks raised (an ExceptionGroup for several), so the report names them."""
        self._host_deadline = deadline_of(cancellation_token)
        self._stop.cancel()
        if self.thread is None or self._ended.is_cancellation_requested:
            return
        if self._host_deadline is not None:
            self._host_deadline.wait(self._ended.token)
        else:
            with CancellationTokenSource.create_linked(self._ended.token,
                                                       cancellation_token) as either:
                either.token.wait()
        errors = list(self._stop_errors)
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise BaseExceptionGroup(f"{len(errors)} stop hooks raised", errors)

    def _main(self) -> None:
        slot = self._slot
        assert slot is not None
        try:
            drive_lease(self.lease, service_name=slot.name, clock=self._clock,
                        stop_token=self._stop.token, start=self._start,
                        stop=self._stop_service, set_state=self._set_state)
        except BaseException as exc:  # a start or stop of the service raised: it has failed
            slot.run_ended(exc, stop_requested=self._stop.is_cancellation_requested)
        finally:
            slot.context.pop(LEASE_KEY, None)
            self._ended.cancel()

    def _start(self, info: LeaseInfo) -> CancellationToken:
        slot, service = self._slot, self.service
        assert slot is not None
        slot.context[LEASE_KEY] = info
        runs_over = slot.begin_runs()
        slot.move(ServiceState.STARTING)
        try:
            with slot.activate():
                if self._started_once and isinstance(service, BackgroundService):
                    resume(service)
                else:
                    hooks = ("starting", "start", "started") if isinstance(
                        service, HostedLifecycleService) else ("start",)
                    for hook in hooks:
                        getattr(service, hook)(self._stop.token)
        except BaseException:
            self._stop_survivors()
            raise
        self._started_once = True
        slot.move(ServiceState.RUNNING)
        return runs_over

    def _stop_survivors(self) -> None:
        """The service's start raised: stop what it had begun (its threads), then wait until
        none of them runs, however long (the lease is released after this: a second replica
        must never run the job beside a survivor). Lease thread."""
        slot = self._slot
        assert slot is not None
        survivors = [t for t in slot.live_threads() if t is not threading.current_thread()]
        if not survivors:
            return
        with CancellationTokenSource(self._clock) as cancelled:
            cancelled.cancel()
            try:
                self.service.stop(cancelled.token)
            except Exception as exc:
                log.service_stop_failed(slot.name, "stop", exc)
        slot.ask_to_stop()  # its own stopping token, whatever its stop did
        for thread in survivors:
            thread.join()  # plain joins: nothing may end this wait but the threads' end

    def _stop_service(self) -> None:
        slot, service = self._slot, self.service
        assert slot is not None
        deadline = self._host_deadline or Deadline(self._clock, self._timeout)
        slot.move(ServiceState.STOPPING)
        hooks = ("stopping", "stop", "stopped") if isinstance(
            service, HostedLifecycleService) else ("stop",)
        for hook in hooks:
            try:
                getattr(service, hook)(deadline.token)
            except Exception as exc:
                if self._host_deadline is not None:
                    self._stop_errors.append(exc)  # the host reports it (stop() raises it)
                else:
                    log.service_stop_failed(slot.name, hook, exc)
        slot.context.pop(LEASE_KEY, None)

    def _set_state(self, state: LeaseState) -> None:
        assert self._slot is not None
        self._slot.move(ServiceState[state])

    def __repr__(self) -> str:
        return f"<LeasedHostedService {type(self.service).__name__} lease={self.lease.name!r}>"


def lease_adapter(lease: Lease) -> Callable[[HostedService, injector.Injector], HostedService]:
    """The ``HostedRegistration.adapter`` of a service registered with ``singleton=lease``."""
    def adapt(service: HostedService, inj: injector.Injector) -> HostedService:
        clock: Clock = inj.get(Clock)  # type: ignore[type-abstract]
        return LeasedHostedService(service, lease, clock,
                                   inj.get(HostOptions).shutdown_timeout)
    return adapt
