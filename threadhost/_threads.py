"""Starting threadhost's threads so that stop signals reach the main thread.

Design note: Python runs signal handlers only on the main thread, and only when that thread
executes bytecode. A process-directed SIGTERM may be delivered by the kernel to *any* thread
that does not block it; if it lands on a service thread while the main thread sleeps in a lock
acquire (``Host.run()`` waiting for shutdown), the main thread is never interrupted and the
handler never runs: the stop request is lost until something else wakes it. (Seen here: about
one SIGTERM in a dozen ignored on a loaded 2-core machine.)

So every thread threadhost starts is born with SIGINT, SIGTERM and SIGQUIT blocked: the mask is
set on the starting thread around ``Thread.start()`` (a new thread inherits its creator's
mask) and restored at once; a signal arriving in that window stays pending and is delivered
when the mask is restored, never lost. Threads a service starts inherit the block too. Only
these asynchronous signals are blocked; faults such as SIGSEGV still go to the faulting thread.

Rejected: waking the main thread every few milliseconds to let pending handlers run (a poll,
and latency); ``signal.set_wakeup_fd`` (one per process, and the application may own it).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

# SIGQUIT and pthread_sigmask are POSIX; elsewhere (Windows) there is nothing to block.
_STOP_SIGNALS = frozenset(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGQUIT")
                          if hasattr(signal, name))
_CAN_MASK = hasattr(signal, "pthread_sigmask")
_local = threading.local()  # .depth: how many stop_signals_blocked() blocks this thread is in


@contextlib.contextmanager
def stop_signals_blocked() -> Iterator[None]:
    """Block the stop signals on the calling thread for the ``with`` block (reentrant).

    Threads started inside inherit the block. A stop signal arriving meanwhile stays pending
    and is handled the moment the block ends, so wrap only code that never blocks (the host
    wraps runs of its own non-blocking ``start`` calls, saving two system calls per thread).
    """
    depth = getattr(_local, "depth", 0)
    if depth or not _CAN_MASK:
        _local.depth = depth + 1
        try:
            yield
        finally:
            _local.depth = depth
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    _local.depth = 1
    try:
        yield
    finally:
        _local.depth = 0
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def start_thread(thread: threading.Thread) -> None:
    """``thread.start()``, with the stop signals blocked in the new thread (see module notes).

    Any thread may call it; the caller's own signal mask is unchanged afterwards.
    """
    if getattr(_local, "depth", 0):
        thread.start()
        return
    with stop_signals_blocked():
        thread.start()
