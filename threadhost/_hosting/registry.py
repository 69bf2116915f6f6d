"""``ThreadRegistry``: every ``ServiceSlot`` of one host (``slot``), and the process's list
of registries (for the forced-exit log of every service thread still running).

A slot knows its registry (the host's clock, the thread-exit hooks, what to do when a run
ends); the registry knows its slots, in registration order. Split from ``slot`` so each module
holds one concept: the account of one service there, the host's list of them here.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from typing import final

from threadhost._hosting.service_thread import ServiceThread
from threadhost._hosting.slot import RunEndHandler, ServiceSlot
from threadhost._time.cancellation import CancellationToken
from threadhost._time.clock import Clock

ThreadExitHook = Callable[[], object]

_REGISTRIES: weakref.WeakSet[ThreadRegistry] = weakref.WeakSet()
"""Every registry in the process (for the forced-exit log of every service thread)."""


def live_service_threads() -> list[threading.Thread]:
    """Service threads of every host that are still running (any thread; a snapshot)."""
    return [t for registry in list(_REGISTRIES) for slot in registry.slots
            for t in slot.live_threads()]


@final
class ThreadRegistry:
    """Every slot of one host, and the threads that wait in ``Host.stop()``. Thread-safe."""

    def __init__(self, clock: Clock, exit_hooks: Sequence[ThreadExitHook] = (),
                 on_run_end: RunEndHandler | None = None,
                 stopping: CancellationToken | None = None) -> None:
        self.clock = clock
        self.stopping = stopping if stopping is not None else CancellationToken.NONE
        """Cancelled when the host's stop begins (ends restart backoffs at once)."""
        self.exit_hooks = tuple(exit_hooks)
        # The clock's participant hooks, bound once: called for every service thread, as it is
        # launched (between two thread starts) and as its last act (on the path every stop
        # waits for), each on a thread just woken, where every lookup costs several times more.
        self.join_clock = clock.register_participant
        self.leave_clock = clock.unregister_participant
        self.monotonic = clock.monotonic  # (read as each run begins, and by every heartbeat)
        self.on_run_end = on_run_end
        self._lock = threading.Lock()
        self._slots: list[ServiceSlot] = []  # guarded by _lock
        _REGISTRIES.add(self)

    def add(self, name: str) -> ServiceSlot:
        """A new slot for the service called ``name``."""
        [slot] = self.add_all([name])
        return slot

    def add_all(self, names: Sequence[str]) -> list[ServiceSlot]:
        """A new slot for each service named, in order (listed together, under one lock)."""
        slots = [ServiceSlot(name, self) for name in names]
        with self._lock:
            self._slots.extend(slots)
        return slots

    @property
    def slots(self) -> list[ServiceSlot]:
        """Every slot, in registration order (a snapshot)."""
        with self._lock:
            return list(self._slots)

    def detach_current(self) -> None:
        """The calling thread now waits in ``Host.stop()``: if it is a thread of one of our
        services, whoever waits for that service's threads to end stops waiting for this one,
        and it is no straggler (it would wait for itself). No scan: a service thread knows
        its slot (a thread-local set as it began)."""
        me = threading.current_thread()
        if isinstance(me, ServiceThread) and me.slot.registry is self:
            me.slot._forget(me)


def standalone_slot(name: str, clock: Clock) -> ServiceSlot:
    """A slot for a service started outside any host (its crashes are only logged)."""
    return ThreadRegistry(clock).add(name)
