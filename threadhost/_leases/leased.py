"""The host side of a leased singleton service (SPEC §11): its lease thread and callbacks.

A service registered with ``singleton=lease`` is not started by the start plan. In its place
in the ``start`` phase the host starts the service's lease thread, ``threadhost:lease:<name>``,
which runs ``drive_lease`` (``_lease_driver``): STANDBY until the lease is taken, then the
service's ``starting``/``start``/``started`` on that thread, checks every ``check_interval``,
and on a lost lease the service's stopping token is cancelled at once and it is stopped under
a fresh shutdown timeout. In its place in the ``stop`` phase the host cancels the lease
thread's token and waits, under the stop's deadline, for the thread to stop the service and
release the lease. A lease thread still alive after the grace is a straggler.

The service runs again after a lost lease, as the same instance: a ``BackgroundService`` gets a
new run (a new thread and stopping token, as a restart does); any other hosted service gets
its ``start`` again.

Rejected: starting the service in the start plan and stopping it when the lease is not held
(the service would run, however briefly, without the lease); one lease thread per host (a slow
database for one lease would delay another's checks).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from threadhost import _log_messages as log
from threadhost._hosting.background_service import BackgroundService, resume
from threadhost._hosting.deadline import Deadline, deadline_of
from threadhost._hosting.hosted_service import HostedLifecycleService
from threadhost._hosting.states import ServiceState
from threadhost._hosting.stopping import Entry
from threadhost._leases.driver import LeaseState, drive_lease
from threadhost._leases.lease import Lease, LeaseInfo
from threadhost._time.cancellation import CancellationToken, CancellationTokenSource
from threadhost._time.clock import Clock

ErrorSink = Callable[[str, BaseException, str], None]


class LeasedService:
    """One leased service's lease thread and the callbacks ``drive_lease`` calls on it.

    ``launch`` and ``stop`` are called by the host (start and stop plans); everything else
    runs on the lease thread.
    """

    def __init__(self, entry: Entry, lease: Lease, clock: Clock, shutdown_timeout: float,
                 record_error: ErrorSink) -> None:
        self.entry = entry
        self.lease = lease
        self._clock = clock
        self._timeout = shutdown_timeout
        self._record_error = record_error
        self._stop = CancellationTokenSource(clock)  # the host stops this service
        self._ended = CancellationTokenSource(clock)  # the lease thread has ended
        self._host_deadline: Deadline | None = None  # set when the host's stop reaches us
        self._started_once = False
        self.thread: threading.Thread | None = None

    def launch(self) -> None:
        """Start the lease thread; returns at once (the host's start phase)."""
        thread = threading.Thread(target=self._main, name=f"threadhost:lease:{self.entry.name}",
                                  daemon=True)
        self.thread = thread
        self.entry.slot.lease_thread = thread
        self._clock.register_participant(thread)
        thread.start()

    def stop(self, token: CancellationToken) -> None:
        """The host's stop of this service: end the lease thread (it stops the service and
        releases the lease) and wait for it under ``token``'s deadline. Control thread."""
        self._host_deadline = deadline_of(token)
        self._stop.cancel()
        if self.thread is None or self._ended.is_cancellation_requested:
            return
        if self._host_deadline is not None:
            self._host_deadline.wait(self._ended.token)
        else:
            CancellationTokenSource.create_linked(self._ended.token, token).token.wait()

    def _main(self) -> None:
        try:
            drive_lease(self.lease, service_name=self.entry.name, clock=self._clock,
                        stop_token=self._stop.token, start=self._start,
                        stop=self._stop_service, set_state=self._set_state)
        except BaseException as exc:  # a start or stop of the service raised: it has failed
            self.entry.slot.run_ended(exc, stop_requested=self._stop.is_cancellation_requested)
        finally:
            self._clock.unregister_participant(threading.current_thread())
            self._ended.cancel()

    def _start(self, info: LeaseInfo) -> CancellationToken:
        slot, service = self.entry.slot, self.entry.service
        slot.lease = info
        runs_over = slot.begin_runs()
        slot.move(ServiceState.STARTING)
        with slot.activate():
            if self._started_once and isinstance(service, BackgroundService):
                resume(service)
            else:
                hooks = ("starting", "start", "started") if isinstance(
                    service, HostedLifecycleService) else ("start",)
                for hook in hooks:
                    getattr(service, hook)(self._stop.token)
        self._started_once = True
        slot.move(ServiceState.RUNNING)
        return runs_over

    def _stop_service(self) -> None:
        slot, service = self.entry.slot, self.entry.service
        deadline = self._host_deadline or Deadline(self._clock, self._timeout)
        slot.move(ServiceState.STOPPING)
        hooks = ("stopping", "stop", "stopped") if isinstance(
            service, HostedLifecycleService) else ("stop",)
        for hook in hooks:
            try:
                getattr(service, hook)(deadline.token)
            except Exception as exc:
                log.service_stop_failed(self.entry.name, hook, exc)
                if self._host_deadline is not None:
                    self._record_error(self.entry.name, exc, hook)

    def _set_state(self, state: LeaseState) -> None:
        self.entry.slot.move(ServiceState[state])
