"""``StopChannel``: one host's own line for stop requests and for the notices of its stop.

Every request to stop the host comes through here, whoever makes it: the application
(``HostApplicationLifetime.stop_application()``), a signal (``ConsoleLifetime``), a crash (the
supervisor), ``Host.stop()``. A request is handed over without a lock: it is put on a
``queue.SimpleQueue``, whose ``put`` the standard library documents as reentrant (safe in a
signal handler and in ``__del__``), and a plain flag that readiness reads is set. The host
takes requests off the queue and carries out the stop; the first request's reason is the
stop's reason.

The layers above the kernel hear about the stop here too, through two lists of threadhost's
own quick hooks (never user code): ``on_stopping`` (as the stop begins, before the drain:
systemd's ``STOPPING=1``, "Application is shutting down...") and ``on_stopped`` (once the stop
plan is over: the probe endpoint's close, the signal watcher's end, logging put back), each
told the stop's budget (``Deadline``) so that what it waits for stays within the deadline and
its grace.

One channel per host, made by the builder and injected where it is needed; nothing outside
the kernel reaches into ``HostApplicationLifetime``.

Rejected: private attributes of ``HostApplicationLifetime`` that six modules reached into
(its queue, its flag, its hook lists: the public class carried the host's plumbing); a lock
around the reason (a signal handler may interrupt its holder).
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, final

from threadhost import _log_messages as log

if TYPE_CHECKING:
    from threadhost._hosting.deadline import Deadline


@final
@dataclass(frozen=True)
class StopRequest:
    """A request to stop the host: why, and the caller's shorter timeout (seconds)."""

    reason: str
    timeout: float | None = None


WAKE = StopRequest("the stop is over")
"""Put on the queue by a ``Host.stop()`` caller that carried out the stop itself: the host's
control thread takes it, finds the host stopped, and ends."""


@final
class StopChannel:
    """See the module notes. ``request`` is safe from any thread and from a signal handler;
    the hook lists are filled while the host is built and run by the thread carrying out the
    stop."""

    def __init__(self) -> None:
        self._requests: queue.SimpleQueue[StopRequest] = queue.SimpleQueue()
        self.requested = False
        """True as soon as any stop was requested (before the stop begins): set, never cleared,
        by the first request, without a lock; read only elsewhere. A plain attribute, not a
        property: the start reads it before every service's start call."""
        self._wake: Callable[[], None] | None = None  # the host's, set at start; non-blocking
        self._stopping: list[Callable[[], object]] = []  # filled at build, then read only
        self._stopped: list[Callable[[Deadline], object]] = []  # idem
        self._announced = False  # on_stopping hooks have run; the stop's thread only
        self.reason: str | None = None
        """What began the stop, once it has begun (written by the thread carrying it out)."""

    # -- requests (any thread, signal handlers included) ----------------------------------

    def request(self, reason: str, timeout: float | None = None) -> None:
        """Ask the host to stop for ``reason``. Lock-free, never blocks, never raises."""
        self.requested = True
        wake = self._wake
        if wake is not None:
            wake()
        self._requests.put(StopRequest(reason, timeout))

    # -- the host's side -------------------------------------------------------------------

    def listen(self, wake: Callable[[], None]) -> None:
        """The host starts: ``wake()`` (non-blocking, signal-safe) is called on each request."""
        self._wake = wake

    def mark_requested(self) -> None:
        """A stop begins without a request on the queue (``Host.stop()``): readiness ends."""
        self.requested = True

    def take(self) -> StopRequest:
        """The next request; blocks until there is one (the host's control thread)."""
        return self._requests.get()

    def take_nowait(self) -> StopRequest | None:
        """The next request, or None if there is none."""
        try:
            return self._requests.get_nowait()
        except queue.Empty:
            return None

    def put_wake(self) -> None:
        """Tell the control thread the stop is over (see ``WAKE``)."""
        self._requests.put(WAKE)

    # -- notices of the stop ---------------------------------------------------------------

    def on_stopping(self, hook: Callable[[], object]) -> None:
        """Run ``hook()`` once as the stop begins (before the drain). Build time only."""
        self._stopping.append(hook)

    def on_stopped(self, hook: Callable[[Deadline], object]) -> None:
        """Run ``hook(budget)`` once the stop plan is over (or when a host that never started
        is stopped or closed). ``hook`` keeps whatever it waits for within the budget's
        deadline and grace. Build time only."""
        self._stopped.append(hook)

    def run_stopping(self) -> None:
        """The ``on_stopping`` hooks, once (a hook that raises is logged)."""
        if self._announced:
            return
        self._announced = True
        for hook in list(self._stopping):
            try:
                hook()
            except Exception as exc:
                log.callback_failed("the stop's start", exc)

    def run_stopped(self, budget: Deadline) -> None:
        """The ``on_stopped`` hooks (a hook that raises is logged)."""
        for hook in list(self._stopped):
            try:
                hook(budget)
            except Exception as exc:
                log.callback_failed("the stop's end", exc)

    def __repr__(self) -> str:
        state = f"requested: {self.reason or '?'}" if self.requested else "idle"
        return f"<StopChannel {state}>"
