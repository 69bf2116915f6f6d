"""``ConsoleLifetime``: stop on Ctrl+C, SIGTERM or SIGQUIT; the default lifetime.

Design note — signal handling that cannot deadlock
--------------------------------------------------
Python runs a signal handler on the main thread, between two bytecodes of whatever the main
thread was doing. That may be the middle of ``Event.wait()`` on the very event the handler
would set, or any code holding one of our locks, or ``Thread.start()`` holding the
interpreter's thread-registry lock. A handler that takes any non-reentrant lock can therefore
deadlock the process, and one that joins or waits can hang it.

So the handler does exactly one thing: ``queue.SimpleQueue.put(signum)``, which the standard
library documents as reentrant (safe in signal handlers and ``__del__``). A watcher thread,
``threadhost:signals``, takes the number off the queue and acts: the first SIGINT, SIGTERM or
SIGQUIT calls ``request_stop`` (as ``stop_application()``); a second SIGINT or SIGTERM while
the stop is under way logs every ``threadhost:`` thread still alive with its stack and ends
the process with ``os._exit(130)``.

Rejected: doing the stop inside the handler (it joins threads and takes locks, see above);
``signal.set_wakeup_fd`` with a selector thread (one fd per process, and the application may
own it already); raising KeyboardInterrupt as the default SIGINT handler does (it lands at an
arbitrary bytecode, possibly inside a ``finally`` of ours).

Handlers are installed only when ``wait_for_start`` runs on the main thread (Python allows
``signal.signal`` nowhere else); off the main thread the lifetime installs nothing and the
host still works. The previous handlers are put back by ``restore_signal_handlers()``, which
``Host.run()``, ``Host.stop()`` and ``Host.close()`` call on the main thread once stopped; a
signal that arrives after the stop but before that goes to the previous handler.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import sys
import threading
from types import FrameType
from typing import Any, final

from . import _log_messages as log
from ._cancellation import CancellationToken
from ._environment import HostEnvironment
from ._lifetime import HostApplicationLifetime, HostLifetime
from ._options import ConsoleLifetimeOptions
from ._report import capture_stack
from ._threads import start_thread

_HANDLED = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGQUIT")
                 if hasattr(signal, name))  # no SIGQUIT on Windows
_FORCE_ON_REPEAT = (signal.SIGINT, signal.SIGTERM)
_STOP_WATCHING = -1
FORCED_EXIT_CODE = 130


@final
class ConsoleLifetime(HostLifetime):
    """Stops the host on SIGINT, SIGTERM or SIGQUIT, and logs the status messages.

    ``wait_for_start`` (on the thread calling ``Host.start()``) installs the signal handlers if
    that is the main thread and starts the watcher thread ``threadhost:signals``; see the module
    notes for why the handler itself does nothing but queue the signal. A second SIGINT or
    SIGTERM during the stop ends the process at once with exit code 130, after logging the
    stacks of the threads left behind. Logs on ``threadhost.hosting.lifetime`` at INFO unless
    ``ConsoleLifetimeOptions.suppress_status_messages``.
    """

    def __init__(self, application_lifetime: HostApplicationLifetime,
                 environment: HostEnvironment, options: ConsoleLifetimeOptions) -> None:
        self._app = application_lifetime
        self._environment = environment
        self._options = options
        self._signals: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._previous: dict[int, Any] = {}  # written and read on the main thread only
        self._watcher: threading.Thread | None = None  # main thread only
        self._watching = False  # read by the handler; a plain bool, no lock

    def wait_for_start(self, cancellation_token: CancellationToken) -> None:
        """Install the signal handlers (main thread only) and the status messages."""
        if not self._options.suppress_status_messages:
            self._app.application_started.register(
                lambda: log.application_started(self._environment.environment_name,
                                                self._environment.content_root_path))
            self._app.application_stopping.register(log.application_stopping)
        if threading.current_thread() is not threading.main_thread():
            return
        self._watching = True
        self._watcher = threading.Thread(
            target=self._watch, name="threadhost:signals", daemon=True)
        start_thread(self._watcher)
        for signum in _HANDLED:
            self._previous[signum] = signal.signal(signum, self._on_signal)

    def stop(self, cancellation_token: CancellationToken) -> None:
        """Nothing to do here: handlers go back on the main thread (``restore_signal_handlers``)
        and the watcher must live until then, to answer a second signal."""

    def restore_signal_handlers(self) -> None:
        """Put back the handlers that were there before and end the watcher thread.

        Main thread only (a no-op elsewhere); idempotent.
        """
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()
        self._watching = False
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            self._signals.put(_STOP_WATCHING)
            watcher.join()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Runs between two bytecodes of the main thread: no locks, no waits (module notes).
        if self._watching:
            self._signals.put(signum)
            return
        previous = self._previous.get(signum)
        if callable(previous):
            previous(signum, frame)

    def _watch(self) -> None:
        stop_requested = False
        while True:
            signum = self._signals.get()
            if signum == _STOP_WATCHING:
                return
            name = signal.Signals(signum).name
            if not stop_requested:
                stop_requested = True
                log.signal_received(name)
                self._app.request_stop(f"signal {name}")
            elif signum in _FORCE_ON_REPEAT:
                self._force_exit(name)

    def _force_exit(self, signame: str) -> None:
        me = threading.current_thread()
        stacks = [(t.name, capture_stack(t)) for t in threading.enumerate()
                  if t.name.startswith("threadhost:") and t is not me]
        log.forced_exit(signame, stacks)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(FORCED_EXIT_CODE)
