"""The loop that runs a leased singleton service: wait for the lease, run, check, release.

The host runs ``drive_lease`` on a thread of its own per leased service,
``threadhost:lease:<service>`` (registered with the host's clock as a participant), from
``start()`` on; the service itself is started only from this loop, while the lease is held.

Order, for one service:

1. STANDBY: ``acquire()`` at once, then every ``check_interval`` until it returns the lease
   (an exception counts as "cannot be reached": a WARNING once per change, then retry).
2. ``start(info)``: the host starts the service with the lease info (``current_lease()``);
   it returns a token cancelled when that run has ended (``execute`` returned or failed, and
   is not restarted).
3. Every ``check_interval``: ``check()``. False (or an exception) is a lost lease: a
   WARNING, ``stop()`` (the service's stopping token is cancelled at once, then it is joined
   under the shutdown timeout), ``release()``, back to 1, whose first try then comes after
   one ``check_interval`` (the standby replicas try first; a holder that just lost its
   connection is the least likely to keep the next one).
4. The run ended by itself: ``release()`` and return; the service keeps the state the host
   gave it (STOPPED, or FAILED) and a standby replica may take the lease.
5. ``stop_token`` cancelled (the host stops this service): ``stop()`` if the run is still
   going, then ``release()``, and return. During STANDBY: ``release()`` (it closes the standby
   connection), the state becomes STOPPED, return.

The lease is released only after ``stop()`` has returned, so another replica cannot start
while this one's service still runs (a straggler abandoned at the deadline aside: fencing
numbers cover that window).

Design note: the driver is a function over callables rather than a method of the host, so it
can be tested with ``FakeClock`` and an in-memory lease without a host, and the host keeps
sole ownership of the service's state and threads. Every wait is ``clock.wait`` on a token,
so a stop interrupts any wait at once and virtual time drives the retries in tests.
Rejected: one thread for all leases (a slow ``acquire()`` on one database would delay
another service's ``check()``); checking on the service's own thread (``execute`` owns it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from threadhost._leases import messages
from threadhost._leases.lease import Lease, LeaseInfo
from threadhost._time.cancellation import CancellationToken, CancellationTokenSource
from threadhost._time.clock import Clock

LeaseState = Literal["STANDBY", "STOPPED"]
"""What the driver reports through ``set_state``; the host sets every other state itself."""

_Condition = Literal["new", "held", "lost", "standby", "unreachable"]


def drive_lease(lease: Lease, *, service_name: str, clock: Clock,
                stop_token: CancellationToken,
                start: Callable[[LeaseInfo], CancellationToken],
                stop: Callable[[], None],
                set_state: Callable[[LeaseState], None]) -> None:
    """Run ``service_name`` while ``lease`` is held, until ``stop_token`` is cancelled or a
    run ends by itself (see the module notes for the order).

    Runs on the calling thread (the host's ``threadhost:lease:<service>``) and blocks until
    then; every wait is ``clock.wait`` (``check_interval`` seconds on ``clock``), interrupted
    at once by ``stop_token``. Calls ``lease`` from this thread only. The callbacks:

    * ``start(info)``: start the service holding ``info``; returns a token cancelled when
      that run has ended (not restarted). Called on this thread.
    * ``stop()``: cancel the service's stopping token at once and join it under the shutdown
      timeout; must be idempotent (the host's own stop phase may stop it too).
    * ``set_state(state)``: ``"STANDBY"`` when the service waits for the lease (once per
      entry into standby, not per retry), ``"STOPPED"`` when the host stops it while it was
      on standby. RUNNING, STOPPED after a run and FAILED are the host's to set.

    Never raises for the lease's failures (logged once per change of state). An exception
    from ``start`` or ``stop`` propagates, after the lease was released.
    """
    _Driver(lease, service=service_name, clock=clock, stop_token=stop_token, start=start,
            stop=stop, set_state=set_state).run()


class _Driver:
    """One leased service's loop; all fields belong to the driving thread."""

    def __init__(self, lease: Lease, *, service: str, clock: Clock,
                 stop_token: CancellationToken,
                 start: Callable[[LeaseInfo], CancellationToken],
                 stop: Callable[[], None], set_state: Callable[[LeaseState], None]) -> None:
        self.lease = lease
        self.service = service
        self.clock = clock
        self.stop_token = stop_token
        self.start = start
        self.stop = stop
        self.set_state = set_state
        self.condition: _Condition = "new"  # what was last logged, for once-per-change logs

    def run(self) -> None:
        at_once = True
        while True:
            info = self._wait_for_lease(at_once)
            if info is None or not self._run(info):
                return
            # The lease was lost: let the standby replicas have the first try at it.
            at_once = False

    def _wait_for_lease(self, at_once: bool) -> LeaseInfo | None:
        """STANDBY until the lease is taken (its info) or the host stops (None); the first
        try is at once, or after one ``check_interval`` when ``at_once`` is False."""
        self.set_state("STANDBY")
        if not at_once:
            self.clock.wait(self.stop_token, self.lease.check_interval)
        while not self._stopping():
            try:
                info = self.lease.acquire()
            except Exception as exc:
                # Whatever the backend raised, the service must not run: stay on standby.
                if self.condition != "unreachable":
                    messages.lease_unreachable(self.lease.name, self.service,
                                          self.lease.check_interval, exc)
                    self.condition = "unreachable"
            else:
                if info is not None:
                    if self._stopping():
                        break  # taken as the stop came: give it back without starting
                    messages.lease_acquired(info.name, self.service, info.holder, info.fencing)
                    self.condition = "held"
                    return info
                if self.condition != "standby":
                    messages.lease_standby(self.lease.name, self.service, self.lease.check_interval)
                    self.condition = "standby"
            self.clock.wait(self.stop_token, self.lease.check_interval)
        self._release(held=False)
        self.set_state("STOPPED")
        return None

    def _run(self, info: LeaseInfo) -> bool:
        """Run the service under the lease; True to go back to standby, False to return."""
        try:
            ended = self.start(info)
        except BaseException:
            self._release(held=True)
            raise
        with CancellationTokenSource.create_linked(self.stop_token, ended) as either:
            while True:
                self.clock.wait(either.token, self.lease.check_interval)
                if ended.is_cancellation_requested:
                    self._release(held=True)
                    return False
                if self._stopping():
                    self._stop_then_release()
                    return False
                reason = self._check()
                if reason is not None:
                    messages.lease_lost(info.name, self.service, reason)
                    self.condition = "lost"
                    self._stop_then_release()
                    return True

    def _stopping(self) -> bool:
        return self.stop_token.is_cancellation_requested

    def _check(self) -> str | None:
        """None while the lease is held, else why it is not."""
        try:
            if self.lease.check():
                return None
        except Exception as exc:  # the contract says it must not raise; treat it as lost
            return f"check() raised {type(exc).__name__}: {exc}"
        return "the connection or the lock is gone"

    def _stop_then_release(self) -> None:
        try:
            self.stop()
        finally:
            self._release(held=True)

    def _release(self, *, held: bool) -> None:
        try:
            self.lease.release()
        except Exception as exc:
            messages.lease_release_failed(self.lease.name, self.service, exc)
            return
        if held:
            messages.lease_released(self.lease.name, self.service)
