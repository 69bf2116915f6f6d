"""Application lifetime events, and the ``HostLifetime`` contract.

A stop request is handed over without a lock: ``stop_application()`` (and threadhost's own
requests: a signal, a crash, ``Host.stop()``) puts a ``StopRequest`` on a
``queue.SimpleQueue``, whose ``put`` the standard library documents as reentrant (safe in a
signal handler and in ``__del__``), and sets a plain flag that readiness reads. The host's
control thread takes requests off the queue and carries out the stop; the first request's
reason is the stop's reason. ``application_stopping`` is fired by the stop itself, as the first
step of the stop plan, so its callbacks always finish before any service is touched.

Rejected: cancelling ``application_stopping`` inside ``stop_application()`` (its callbacks then
ran on whichever thread asked, outside the shutdown deadline, and the stop could overtake
them); a lock around the reason (a signal handler may interrupt its holder).
"""

from __future__ import annotations

import abc
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import final

from threadhost import _log_messages as log
from threadhost._time.cancellation import CancellationToken, CancellationTokenSource
from threadhost._time.clock import Clock


@final
@dataclass(frozen=True)
class StopRequest:
    """A request to stop the host: why, the caller's shorter timeout, who waits in stop()."""

    reason: str
    timeout: float | None = None


@final
class HostApplicationLifetime:
    """The application's lifetime events, as tokens; injectable into any service.

    ``application_started`` is cancelled once every service has started,
    ``application_stopping`` when the stop begins (before any service is stopped; all its
    callbacks finish first), and ``application_stopped`` when the stop has finished. Register
    callbacks on them, or wait on them. Thread-safe. An exception from an
    ``application_started`` callback is logged; one from a stopping or stopped callback is an
    error in the shutdown report. Neither keeps the host from going on.
    """

    def __init__(self, clock: Clock) -> None:
        self._started = CancellationTokenSource(clock)
        self._stopping = CancellationTokenSource(clock)
        self._stopped = CancellationTokenSource(clock)
        self._requests: queue.SimpleQueue[StopRequest] = queue.SimpleQueue()
        self._requested = False  # set (never cleared) by the first request; no lock
        self._stop_reason: str | None = None  # written by the host's control thread only
        self._on_request: Callable[[], None] | None = None  # the host's wake-up; set at start
        self._when_stopping: list[Callable[[], None]] = []  # threadhost's own, quick, inline
        self._when_stopped: list[Callable[[], None]] = []  # threadhost's own, after the stop
        self._announced = False  # _when_stopping hooks have run; control thread only

    @property
    def application_started(self) -> CancellationToken:
        """Cancelled when the host has fully started."""
        return self._started.token

    @property
    def application_stopping(self) -> CancellationToken:
        """Cancelled when the stop begins, before any service is stopped."""
        return self._stopping.token

    @property
    def application_stopped(self) -> CancellationToken:
        """Cancelled when the host has completely stopped."""
        return self._stopped.token

    @property
    def stop_reason(self) -> str | None:
        """What began the stop, in words, once the stop has begun; None until then."""
        return self._stop_reason

    @property
    def stop_requested(self) -> bool:
        """True as soon as any stop was requested (before the stop begins)."""
        return self._requested

    def stop_application(self) -> None:
        """Request a graceful stop of the host; returns at once, without waiting for it.

        Callable from any thread, a service's own and a signal handler included: it never
        blocks and takes no lock that any other code holds. Idempotent: the first request's
        reason is the stop's reason. The host carries out the stop on its own.
        """
        self.request_stop(f"stop_application() called from thread "
                          f"{threading.current_thread().name!r}")

    def request_stop(self, reason: str) -> None:
        """Request a stop for ``reason`` (threadhost's own requests; see ``stop_application``)."""
        self.submit(StopRequest(reason))

    def submit(self, request: StopRequest) -> None:
        """Hand ``request`` to the host (internal). Lock-free, never blocks."""
        self._requested = True
        wake = self._on_request
        if wake is not None:
            wake()
        self._requests.put(request)

    def _fire_started(self) -> None:
        cancel_logging(self._started, "application_started")

    def _run_when_stopping(self) -> None:
        """threadhost's own stopping hooks (STOPPING=1, "Application is shutting down..."),
        once: the host runs them as the stop begins, before the drain (SPEC §10); firing
        ``application_stopping`` runs them first if nobody did. Control thread only."""
        if self._announced:
            return
        self._announced = True
        for hook in list(self._when_stopping):
            try:
                hook()
            except Exception as exc:
                log.callback_failed("application_stopping", exc)

    def _fire_stopping(self) -> None:
        self._run_when_stopping()
        _cancel_raising(self._stopping)

    def _fire_stopped(self) -> None:
        _cancel_raising(self._stopped)

    def _fire_stopping_quietly(self) -> bool:
        """Fire ``application_stopping`` if no callback is registered on it (True), else
        change nothing but threadhost's own stopping hooks (False): the host's inline check,
        atomic, so no user callback can run on its control thread."""
        self._run_when_stopping()
        return self._stopping._cancel_quietly()

    def _fire_stopped_quietly(self) -> bool:
        """``_fire_stopping_quietly`` for ``application_stopped``."""
        return self._stopped._cancel_quietly()

    def _run_when_stopped(self) -> None:
        for hook in list(self._when_stopped):
            try:
                hook()
            except Exception as exc:
                log.callback_failed("application_stopped", exc)


def _cancel_raising(source: CancellationTokenSource) -> None:
    """Cancel; a single failing callback's exception is raised as itself, several as a group."""
    try:
        source.cancel()
    except BaseExceptionGroup as group:
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise


def cancel_logging(source: CancellationTokenSource, what: str) -> None:
    """Cancel ``source``; log each callback's exception (any kind) instead of raising it."""
    try:
        source.cancel()
    except BaseExceptionGroup as group:
        for exc in group.exceptions:
            log.callback_failed(what, exc)


class HostLifetime(abc.ABC):
    """Ties the host to its environment: when it may start, what asks it to stop.

    ``wait_for_start`` is the first thing ``Host.start()`` does (on the thread calling it);
    ``stop`` runs near the end of the stop, after every service has stopped, on a host thread
    under the shutdown deadline.
    """

    @abc.abstractmethod
    def wait_for_start(self, cancellation_token: CancellationToken) -> None:
        """Called at the beginning of start; return when the host may start its services."""

    @abc.abstractmethod
    def stop(self, cancellation_token: CancellationToken) -> None:
        """Called when the host is stopping, after the services; release what you hold."""


_INLINE: set[type[HostLifetime]] = set()
"""threadhost's own lifetimes, whose ``stop`` returns at once (the control thread calls it)."""


def stops_inline(lifetime: HostLifetime) -> bool:
    """True if ``lifetime`` is one of threadhost's own, whose ``stop`` never blocks."""
    return type(lifetime) in _INLINE


@final
class NullLifetime(HostLifetime):
    """A lifetime that does nothing: no signals, no messages. For a host embedded in another
    program, or in tests."""

    def wait_for_start(self, cancellation_token: CancellationToken) -> None:
        """Return at once."""

    def stop(self, cancellation_token: CancellationToken) -> None:
        """Return at once."""


_INLINE.add(NullLifetime)
