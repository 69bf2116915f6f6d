"""Application lifetime events, and the ``HostLifetime`` contract."""

from __future__ import annotations

import abc
import threading
from typing import final

from . import _log_messages as log
from ._cancellation import CancellationToken, CancellationTokenSource
from ._clock import Clock


@final
class HostApplicationLifetime:
    """The application's lifetime events, as tokens; injectable into any service.

    ``application_started`` is cancelled once every service has started,
    ``application_stopping`` when a stop is requested (before any service is stopped), and
    ``application_stopped`` when the stop has finished. Register callbacks on them, or wait on
    them. Thread-safe. An exception from a callback is logged on ``threadhost.hosting``; it
    never stops the host from going on.
    """

    def __init__(self, clock: Clock) -> None:
        self._started = CancellationTokenSource(clock)
        self._stopping = CancellationTokenSource(clock)
        self._stopped = CancellationTokenSource(clock)
        self._lock = threading.Lock()
        self._stop_reason: str | None = None  # guarded by _lock; the first reason wins

    @property
    def application_started(self) -> CancellationToken:
        """Cancelled when the host has fully started."""
        return self._started.token

    @property
    def application_stopping(self) -> CancellationToken:
        """Cancelled when a stop begins (or is requested)."""
        return self._stopping.token

    @property
    def application_stopped(self) -> CancellationToken:
        """Cancelled when the host has completely stopped."""
        return self._stopped.token

    @property
    def stop_reason(self) -> str | None:
        """What first asked the application to stop, in words; None until then."""
        return self._stop_reason

    def stop_application(self) -> None:
        """Request a graceful stop of the host; returns at once, without waiting for it.

        Callable from any thread, including a service's own; idempotent. Not for signal
        handlers (``ConsoleLifetime`` hands signals to a thread of its own first).
        """
        self.request_stop(f"stop_application() called from thread "
                          f"{threading.current_thread().name!r}")

    def request_stop(self, reason: str) -> None:
        """Request a stop, recording ``reason`` if it is the first. Used by threadhost itself."""
        self.record_stop_reason(reason)
        _cancel_logging(self._stopping, "application_stopping")

    def record_stop_reason(self, reason: str) -> None:
        """Record ``reason`` as what began the stop, unless a reason is already recorded."""
        with self._lock:
            if self._stop_reason is None:
                self._stop_reason = reason

    def _notify_started(self) -> None:
        _cancel_logging(self._started, "application_started")

    def _notify_stopped(self) -> None:
        _cancel_logging(self._stopped, "application_stopped")


def _cancel_logging(source: CancellationTokenSource, what: str) -> None:
    try:
        source.cancel()
    except ExceptionGroup as group:
        for exc in group.exceptions:
            log.callback_failed(what, exc)


class HostLifetime(abc.ABC):
    """Ties the host to its environment: when it may start, what asks it to stop.

    ``wait_for_start`` is the first thing ``Host.start()`` does (on the thread calling it);
    ``stop`` runs near the end of the stop, after every service has stopped, on a host thread.
    """

    @abc.abstractmethod
    def wait_for_start(self, cancellation_token: CancellationToken) -> None:
        """Called at the beginning of start; return when the host may start its services."""

    @abc.abstractmethod
    def stop(self, cancellation_token: CancellationToken) -> None:
        """Called when the host is stopping, after the services; release what you hold."""


@final
class NullLifetime(HostLifetime):
    """A lifetime that does nothing: no signals, no messages. For a host embedded in another
    program, or in tests."""

    def wait_for_start(self, cancellation_token: CancellationToken) -> None:
        """Return at once."""

    def stop(self, cancellation_token: CancellationToken) -> None:
        """Return at once."""
