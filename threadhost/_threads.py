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

import signal
import threading

_STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGQUIT})


def start_thread(thread: threading.Thread) -> None:
    """``thread.start()``, with the stop signals blocked in the new thread (see module notes).

    Any thread may call it; the caller's own signal mask is unchanged afterwards.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
