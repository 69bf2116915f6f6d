"""Application lifetime events, and the ``HostLifetime`` contract.

``HostApplicationLifetime`` is the application's view of the host's lifetime: three event
tokens and ``stop_application()``, which hands the request to the host's ``StopChannel``
(``channel``: lock-free, signal-safe). ``application_stopping`` is fired by the stop itself,
as the first step of the stop plan, so its callbacks always finish before any service is
touched.

Rejected: cancelling ``application_stopping`` inside ``stop_application()`` (its callbacks then
ran on whichever thread asked, outside the shutdown deadline, and the stop could overtake
them); the host's plumbing (request queue, hook lists) on this public class (six modules
reached into it: it is the channel's now).
"""

from __future__ import annotations

import abc
import threading
from typing import final

from threadhost import _log_messages as log
from threadhost._hosting.channel import StopChannel
from threadhost._time.cancellation import CancellationToken, CancellationTokenSource
from threadhost._time.clock import Clock


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

    def __init__(self, clock: Clock, channel: StopChannel | None = None) -> None:
        self._started = CancellationTokenSource(clock)
        self._stopping = CancellationTokenSource(clock)
        self._stopped = CancellationTokenSource(clock)
        self._channel = channel if channel is not None else StopChannel()

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
        return self._channel.reason

    @property
    def stop_requested(self) -> bool:
        """True as soon as any stop was requested (before the stop begins)."""
        return self._channel.requested

    def stop_application(self) -> None:
        """Request a graceful stop of the host; returns at once, without waiting for it.

        Callable from any thread, a service's own and a signal handler included: it never
        blocks and takes no lock that any other code holds. Idempotent: the first request's
        reason is the stop's reason. The host carries out the stop on its own.
        """
        self._channel.request(f"stop_application() called from thread "
                              f"{threading.current_thread().name!r}")

    def _fire_started(self) -> None:
        cancel_logging(self._started, "application_started")

    def _fire_stopping(self) -> None:
        self._channel.run_stopping()  # threadhost's own notices first, if nobody ran them
        _cancel_raising(self._stopping)

    def _fire_stopped(self) -> None:
        _cancel_raising(self._stopped)

    def _fire_stopping_quietly(self) -> bool:
        """Fire ``application_stopping`` if no callback is registered on it (True), else
        change nothing but threadhost's own stopping hooks (False): the host's inline check,
        atomic, so no user callback can run on its control thread."""
        self._channel.run_stopping()
        return self._stopping._cancel_quietly()

    def _fire_stopped_quietly(self) -> bool:
        """``_fire_stopping_quietly`` for ``application_stopped``."""
        return self._stopped._cancel_quietly()


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
