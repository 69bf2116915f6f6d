"""Hearing that a thread has ended, without polling.

``FakeClock`` must stop counting a thread that it woke once that thread ends, or time would
stay frozen until ``stall_timeout``. CPython frees a thread's ``threading.local`` values as
the thread ends, on that thread, after its last Python frame and before ``join()`` returns;
an object stored there therefore runs its ``__del__`` exactly then. ``on_thread_exit`` uses
that to call back each clock the thread waited on. If the garbage collector gets to that
object first, the callback runs at an allocation on any thread instead, even one holding the
listener's own lock: a listener must never block in it (``_engine_lock``).

Rejected: checking ``Thread.is_alive()`` every few milliseconds (a real-time poll, the thing
this module exists to remove); wrapping ``Thread.run`` (only works for threads we start, and
the threads that need it are the ones we do not start).

The callback must not call ``threading.current_thread()``: by then the thread has left
``threading``'s table, and the call would register a ``_DummyThread`` that never goes away.
"""

from __future__ import annotations

import threading
import weakref
from typing import Protocol


class ExitListener(Protocol):
    def _thread_ended(self, thread: threading.Thread) -> None:
        """Called on ``thread`` itself as it ends. Must not raise or block for long."""


class _ExitWatch:
    __slots__ = ("__weakref__", "listeners", "thread")

    def __init__(self, thread: threading.Thread) -> None:
        self.thread = thread
        self.listeners: weakref.WeakSet[ExitListener] = weakref.WeakSet()

    def __del__(self) -> None:
        for listener in list(self.listeners):
            listener._thread_ended(self.thread)


_local = threading.local()


def on_thread_exit(listener: ExitListener) -> None:
    """Call ``listener._thread_ended(thread)`` when the calling thread ends (held weakly).

    Must be called on the thread to watch; idempotent per listener. Never fires for the main
    thread, which outlives every test.
    """
    watch: _ExitWatch | None = getattr(_local, "watch", None)
    if watch is None:
        watch = _local.watch = _ExitWatch(threading.current_thread())
    watch.listeners.add(listener)
