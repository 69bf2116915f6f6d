"""A Ctrl+C deferred: the ``KeyboardInterrupt`` that Python's own SIGINT handler raised on the
main thread while threadhost's code ran there (a host without ``ConsoleLifetime``), kept until
threadhost can let it go on without leaving a stop half made.

It is the process's, not the error of whatever code it happened to interrupt (a service's stop
call, a log call): the stop records it here, goes on, and ``Host.stop()`` raises it once the
report is published. Rejected: letting it go on at once (the stop would end half made, with
services never asked to stop); reporting it as the interrupted service's error (it is not)."""

from __future__ import annotations

import threading

_local = threading.local()  # .interrupt: the deferred KeyboardInterrupt of this thread


def defer(exc: KeyboardInterrupt) -> bool:
    """Keep ``exc`` for later if the calling thread is the main thread (True); False
    elsewhere (a KeyboardInterrupt raised on another thread is an ordinary exception)."""
    if threading.current_thread() is not threading.main_thread():
        return False
    _local.interrupt = exc
    return True


def take() -> KeyboardInterrupt | None:
    """The deferred KeyboardInterrupt of the calling thread, if any (it is then forgotten)."""
    interrupt: KeyboardInterrupt | None = getattr(_local, "interrupt", None)
    _local.interrupt = None
    return interrupt
