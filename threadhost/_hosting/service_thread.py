"""``ServiceThread``: the thread that runs a service's work, accounted in its slot.

Made by ``ServiceSlot.make_thread`` and started by ``ServiceSlot.launch`` (``slot``). It
runs the work, then the host's thread-exit hooks, then leaves its slot's account. It knows its
slot, so a service thread that calls ``Host.stop()`` is found by its class
(``ThreadRegistry.detach_current``), and ``current_service_slot()`` answers on it.

Rejected: a thread-local set on every service thread as it begins (a per-thread dict made on
each one, before its work first blocks, while the host waits to start the next); a scan of
every slot for the calling thread (a thousand services, a thousand looks on every stop).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from threadhost import _log_messages as log

if TYPE_CHECKING:
    from threadhost._hosting.slot import ServiceSlot


class ServiceThread(threading.Thread):
    """A daemon thread running ``target()`` for the service of ``slot`` (see the module
    notes). Internal: made and started only by the slot."""

    def __init__(self, slot: ServiceSlot, target: Callable[[], object], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.slot = slot
        self._work: Callable[[], object] | None = target

    def run(self) -> None:
        """The service's work, then the host's thread-exit hooks, then the end of the thread
        in its slot's account."""
        work, self._work = self._work, None  # (dropped once run, as Thread.run does)
        assert work is not None
        slot = self.slot
        try:
            work()
        finally:
            registry = slot.registry
            for hook in registry.exit_hooks:
                try:
                    hook()
                except Exception as exc:
                    log.thread_exit_hook_failed(slot.name, exc)
            registry.leave_clock(self)
            slot._forget(self)


def current_service_slot() -> ServiceSlot | None:
    """The slot of the service whose thread (a ``ServiceThread``, its minder's included) calls
    this, or None on any other thread. Any thread; never blocks."""
    me = threading.current_thread()
    return me.slot if isinstance(me, ServiceThread) else None
