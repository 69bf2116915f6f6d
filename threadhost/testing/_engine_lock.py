"""The FakeClock engine's lock, and the reports it takes without ever blocking their sender.

A thread's end is heard through a ``__del__`` (``_thread_exit``): normally on the ending thread,
as it ends. But the garbage collector may run that ``__del__`` on any thread at any allocation,
including a thread that holds this very lock inside the engine, or one that is inside
``sys._current_frames()`` holding the interpreter's own thread-list lock. Blocking there
deadlocks the process (seen: the autojump watcher, formatting a stall's stack, collected a dead
thread's watch; every thread then waited for it). So a report is never delivered under a
blocking acquire: ``post`` queues it (``queue.SimpleQueue.put`` is safe in ``__del__``) and takes
the lock only if it is free at once; whoever holds the lock takes the queued reports before it
lets the lock go, and looks once more after letting go, so no report is left behind.

Rejected: an ``RLock`` (the report would run in the middle of whatever engine step the collector
interrupted); delivering the report on a fresh thread (a thread start needs the same interpreter
lock the collector may be holding).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar, final

T = TypeVar("T")


@final
class EngineLock(Generic[T]):
    """A non-reentrant lock (usable with ``threading.Condition``) with a queue of reports.

    ``take(report)`` runs under the lock for each report ``post``-ed; it must not release the
    lock. Thread-safe; ``post`` never blocks.
    """

    def __init__(self, take: Callable[[T], None]) -> None:
        self._lock = threading.Lock()
        self._take = take
        self._posted: queue.SimpleQueue[T] = queue.SimpleQueue()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Acquire the lock, as ``threading.Lock.acquire``."""
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        """Take the posted reports, then release; if more were posted meanwhile and the lock
        is free, take them too (the poster found it held, and counts on us)."""
        while True:
            self._take_posted()
            self._lock.release()
            if self._posted.empty() or not self._lock.acquire(blocking=False):
                return

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def locked(self) -> bool:
        """Whether some thread holds the lock."""
        return self._lock.locked()

    def post(self, report: T) -> None:
        """Have ``take(report)`` run under the lock: here if it is free, else by its holder
        before it lets go. Never blocks: safe in ``__del__`` and on any thread."""
        self._posted.put(report)
        if self._lock.acquire(blocking=False):
            self.release()

    def _take_posted(self) -> None:
        while True:
            try:
                report = self._posted.get_nowait()
            except queue.Empty:
                return
            self._take(report)
