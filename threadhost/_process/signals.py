"""The process-wide signal bridge: stop signals to a watcher thread, none ever lost.

Design note
-----------
CPython runs Python signal handlers only on the main thread, and only when that thread
executes bytecode. The kernel may deliver a process-directed signal to *any* thread; CPython's
C-level handler then only records it, and if the main thread is asleep in a wait with no
timeout (``Host.run()`` waiting for the stop), the Python handler does not run until something
else wakes it: the signal is, in effect, lost. (Seen: 12 lost in 200 tries.)

What does run at once, on whichever thread the signal lands, is the C handler, and it writes the
signal number to the *wakeup fd* (``signal.set_wakeup_fd``). So the bridge sets a pipe as the
wakeup fd and a watcher thread, ``threadhost:signals``, reads signal numbers from it and hands
them to the listeners (each ``ConsoleLifetime`` that is running). The Python handler itself
does nothing while a listener is there; it exists so that the signal's default action (ending
the process) does not happen. No thread blocks any signal, so children inherit the default
mask. Nothing in the handler or the C path takes a lock.

The wakeup fd is one per process and the application may own it (asyncio sets one): the bridge
keeps the previous one, forwards every byte it reads to it, and puts it back when the last
user is gone. Handlers are shared the same way: the first user installs them, the last puts the
previous ones back, so two hosts on one main thread, stopped in any order, leave the process
as it was. After a listener is gone, a signal goes to the previous handler.

A forked child must not inherit any of this (its watcher thread does not exist there): an
``os.register_at_fork`` hook puts the previous handlers and wakeup fd back in the child.

Rejected: blocking the stop signals in every thread threadhost starts, so the kernel must pick
the main thread (children inherited the blocked mask: ``terminate()`` did nothing; and a signal
arriving just before the main thread entered an untimed wait was still never acted on); waking
the main thread every few milliseconds (a poll, and latency); giving up when the application
owns the wakeup fd (chain to it instead).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, final

from threadhost import _log_messages as log

STOP_SIGNALS: tuple[int, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGQUIT") if hasattr(signal, name))
_END = 0  # the byte that tells the watcher to look whether it should end (no signal is 0)

Listener = Callable[[int], None]


@final
class SignalBridge:
    """See the module notes. One per process (``BRIDGE``). Thread-safe; the handler takes no
    lock (it only reads ``_listeners``, a tuple replaced whole)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # never taken by the signal handler
        self._installs = 0  # guarded by _lock: users that need the handlers installed
        self._previous: dict[int, Any] = {}  # guarded by _lock
        self._previous_fd = -1  # guarded by _lock
        self._pipe: tuple[int, int] | None = None  # guarded by _lock
        self._listeners: tuple[Listener, ...] = ()  # replaced whole under _lock
        self._watcher: threading.Thread | None = None  # guarded by _lock
        # Per signal number: how many the watcher handed to listeners (watcher writes), and how
        # many the Python handler let pass as already handled (handler writes). See _on_signal.
        self._dispatched = [0] * signal.NSIG
        self._absorbed = [0] * signal.NSIG

    def subscribe(self, listener: Listener) -> bool:
        """Install the handlers (if first) and start delivering stop signals to ``listener``
        on ``threadhost:signals``. Main thread only: returns False elsewhere (nothing done)."""
        if threading.current_thread() is not threading.main_thread():
            return False
        with self._lock:
            if self._installs == 0:
                read, write = os.pipe()
                os.set_blocking(write, False)
                self._pipe = (read, write)
                self._previous_fd = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
                for signum in STOP_SIGNALS:
                    self._previous[signum] = signal.signal(signum, self._on_signal)
            self._installs += 1
            self._listeners = (*self._listeners, listener)
            if self._watcher is None:
                assert self._pipe is not None
                self._watcher = threading.Thread(target=self._watch, args=(self._pipe[0],),
                                                 name="threadhost:signals", daemon=True)
                self._watcher.start()
        return True

    def unlisten(self, listener: Listener) -> None:
        """Stop delivering to ``listener``; the watcher ends with the last one. Any thread;
        idempotent. Waits for the watcher to end unless called on it."""
        with self._lock:
            if listener not in self._listeners:
                return
            self._listeners = tuple(x for x in self._listeners if x != listener)
            watcher = self._watcher if not self._listeners else None
            if watcher is not None:
                self._watcher = None
                assert self._pipe is not None
                with contextlib.suppress(OSError):
                    os.write(self._pipe[1], bytes([_END]))
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join()

    def uninstall(self) -> None:
        """Release one installation (main thread only; elsewhere nothing is done). The last one
        puts the previous handlers and wakeup fd back and closes the pipe."""
        if threading.current_thread() is not threading.main_thread():
            return
        with self._lock:
            if self._installs == 0:
                return
            self._installs -= 1
            if self._installs:
                return
            self._restore()

    def _restore(self) -> None:
        # Under _lock, or in a forked child (one thread).
        self._dispatched = [0] * signal.NSIG
        self._absorbed = [0] * signal.NSIG
        for signum, previous in self._previous.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(signum, previous)
        self._previous.clear()
        with contextlib.suppress(ValueError, OSError):
            signal.set_wakeup_fd(self._previous_fd)
        self._previous_fd = -1
        pipe, self._pipe = self._pipe, None
        if pipe is not None and self._watcher is None:  # else the watcher still reads it
            for fd in pipe:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # On the main thread between two bytecodes: no lock, no wait (module notes). The C
        # handler has already written the signal to the pipe. The main thread may run this
        # late (it may have slept in a wait until the stop the signal caused was over and the
        # listener gone): a signal the watcher handed to a listener is not passed on again.
        if self._listeners or self._dispatched[signum] > self._absorbed[signum]:
            self._absorbed[signum] += 1
            return
        previous = self._previous.get(signum)
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL or previous is None:
            if signum == signal.SIGINT:
                signal.default_int_handler(signum, frame)
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    def _watch(self, read_fd: int) -> None:
        while True:
            try:
                data = os.read(read_fd, 512)
            except OSError:
                return
            if not data:
                return
            for signum in data:
                if signum == _END:
                    with self._lock:
                        if self._watcher is not threading.current_thread():
                            return
                    continue
                self._forward(signum)
                listeners = self._listeners
                if listeners:
                    self._dispatched[signum] += 1
                for listener in listeners:
                    try:
                        listener(signum)
                    except Exception as exc:
                        log.callback_failed("a signal listener", exc)

    def _forward(self, signum: int) -> None:
        fd = self._previous_fd
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.write(fd, bytes([signum]))

    def _after_fork_in_child(self) -> None:
        # The child has one thread and no watcher: give it the process as it was before us.
        self._lock = threading.Lock()
        self._listeners = ()
        self._watcher = None
        if self._installs:
            self._installs = 0
            self._restore()


BRIDGE = SignalBridge()

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=BRIDGE._after_fork_in_child)
