"""What the host does when a run of a service's work ends: restart it, or let it end or fail.

Called on the thread whose run just ended (``ServiceSlot.run_ended``), before that thread does
anything else, so the decision is logged before anything changes. The rules:

* a run that ends after its service was asked to stop, or while the host is stopping, is never
  restarted: a clean end is STOPPED, an error goes to the exception behavior (the commonest
  end of all, asked to stop and returned cleanly, the slot settles itself without calling
  here: ``ServiceSlot.run_ended``);
* otherwise ``RestartPolicy.mode`` decides whether to restart (``ON_FAILURE``: an error;
  ``ALWAYS``: an error or a return); a restart counts in ``restarts`` (and, for an error, in
  ``failures``, errors the service survived), the service is RESTARTING during the backoff,
  and the next run is begun by the service on a new thread that first waits for this one;
* a restart that would break the intensity limit is not made: the service has failed for good
  and ``background_service_exception_behavior`` acts (STOP_HOST: the host stops, exit code 1;
  IGNORE: the host goes on without it). Either way the service is FAILED, for good.
"""

from __future__ import annotations

from collections.abc import Callable

from threadhost import _log_messages as log
from threadhost._hosting.channel import StopChannel
from threadhost._hosting.options import BackgroundServiceExceptionBehavior, HostOptions
from threadhost._hosting.restart import RestartMode, RestartTracker
from threadhost._hosting.slot import ServiceSlot
from threadhost._hosting.states import ServiceState
from threadhost._time.cancellation import CancellationToken
from threadhost._time.clock import Clock


class Supervisor:
    """One host's restart decisions. Thread-safe: each call is about one slot, whose runs never
    overlap, and touches shared state only through the lock-free stop request."""

    def __init__(self, clock: Clock, options: HostOptions, channel: StopChannel,
                 stopping: CancellationToken,
                 record_error: Callable[[ServiceSlot, BaseException], None]) -> None:
        self._clock = clock
        self._options = options
        self._channel = channel
        self._stopping = stopping
        self._record_error = record_error

    def on_run_end(self, slot: ServiceSlot, error: BaseException | None,
                   stop_requested: bool) -> None:
        """Decide and act on the end of one run of ``slot``'s work (see the module notes)."""
        policy = slot.restart or self._options.restart
        wanted = policy.mode is RestartMode.ALWAYS or (
            error is not None and policy.mode is RestartMode.ON_FAILURE)
        stopping = stop_requested or self._channel.requested or (
            self._stopping.is_cancellation_requested)
        if not wanted or stopping or slot.rerun is None:
            if error is None:
                slot.move(ServiceState.STOPPED)
            else:
                log.service_crashed(slot.name, error)
                self._fail(slot, error)
            slot.end_runs()
            return
        tracker = slot.tracker
        if tracker is None:
            tracker = slot.tracker = RestartTracker()
        delay = tracker.next_delay(policy, self._clock.monotonic(), slot.run_began)
        if delay is None:
            log.restart_limit_reached(slot.name, policy.max_restarts, policy.within, error)
            self._fail(slot, error or RuntimeError(
                f"{slot.name} ended {policy.max_restarts + 1} times within {policy.within}s "
                "(RestartPolicy.max_restarts)"))
            slot.end_runs()
            return
        slot.count_restart(error)
        slot.move(ServiceState.RESTARTING)
        log.service_restarting(slot.name, error, tracker.in_a_row, delay)
        slot.rerun(delay)

    def _fail(self, slot: ServiceSlot, error: BaseException) -> None:
        slot.move(ServiceState.FAILED)
        if self._options.background_service_exception_behavior is (
                BackgroundServiceExceptionBehavior.IGNORE):
            log.crash_ignored(slot.name)
            return
        self._record_error(slot, error)
        log.crash_stops_host(slot.name)
        self._channel.request(f"service {slot.name!r} crashed: {error!r}")
