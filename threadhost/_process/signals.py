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
the process) does not happen. No thread blocks any signal for longer than a ``fork``, so
children inherit the default mask. Nothing in the handler or the C path takes a lock.

The wakeup fd is one per process and the application may own it (asyncio sets one): the bridge
keeps the previous one, forwards every byte it reads to it, and puts it back when the last
user is gone. Handlers are shared the same way: the first user installs them, the last puts the
previous ones back, so two hosts on one main thread, stopped in any order, leave the process
as it was. After a listener is gone, a signal goes to the previous handler.

Signals have an owner:

* the watcher's own messages (its end) go through a pipe of its own, never through the signal
  pipe, so no watcher can take another's (two hosts one after another on the main thread);
* the pipe is the account of which signals are still to be handled: the watcher consumes
  what it hands to a listener, and the Python handler, when no host listens, consumes what is
  still there and hands it to the previous handler. A signal is therefore acted on once: a late
  Python handler (the main thread was asleep while the watcher handled its signal) finds its
  byte gone and does nothing, and no byte is left over to stop the next host. (Counting the
  signals on both sides drifted: CPython runs the Python handler once for several signals of
  one number that arrive together, while the pipe carries a byte each, and the drift
  swallowed a later signal.) A byte the watcher reads as the last listener leaves is put
  back for the Python handler;
* a forked child: the stop signals are blocked in the forking thread around ``fork``
  (``os.register_at_fork``); the child puts back the handlers and wakeup fd it had before
  threadhost, *then* unblocks them, so a signal sent to the child in any window after the fork
  is the child's alone (its C handler could otherwise write it into the parent's pipe) and
  ends it as it would without threadhost.

Rejected: blocking the stop signals in every thread threadhost starts, so the kernel must pick
the main thread (children inherited the blocked mask: ``terminate()`` did nothing; and a signal
arriving just before the main thread entered an untimed wait was still never acted on); waking
the main thread every few milliseconds (a poll, and latency); giving up when the application
owns the wakeup fd (chain to it instead).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, final

from threadhost import _log_messages as log

STOP_SIGNALS: tuple[int, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGQUIT") if hasattr(signal, name))

Listener = Callable[[int], None]


@final
class _Watcher:
    """One watcher thread, ``threadhost:signals``, and the private pipe that ends it."""

    def __init__(self, bridge: SignalBridge, signal_fd: int) -> None:
        self._bridge = bridge
        self._signal_fd = signal_fd
        self._stop_r, self._stop_w = os.pipe()
        self.thread = threading.Thread(target=self._run, name="threadhost:signals", daemon=True)

    def end(self) -> None:
        """Ask this watcher (and no other) to end. Once; any thread; never blocks."""
        with contextlib.suppress(OSError):  # (a watcher that already ended closed its end)
            os.write(self._stop_w, b"x")
        with contextlib.suppress(OSError):
            os.close(self._stop_w)

    def _run(self) -> None:
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self._signal_fd, selectors.EVENT_READ, "signal")
                selector.register(self._stop_r, selectors.EVENT_READ, "stop")
                while True:
                    ready = {key.data for key, _ in selector.select()}
                    if "stop" in ready:
                        return
                    try:
                        data = os.read(self._signal_fd, 512)
                    except BlockingIOError:
                        continue  # another reader (a starting host's drain) took it
                    except OSError:
                        return
                    if not data:
                        return
                    for signum in data:
                        self._bridge._deliver(signum)
        finally:
            with contextlib.suppress(OSError):
                os.close(self._stop_r)


@final
class SignalBridge:
    """See the module notes. One per process (``BRIDGE``). Thread-safe; the handler takes no
    lock (it only reads ``_listeners``, a tuple replaced whole, and one flag per signal)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # never taken by the signal handler
        self._installs = 0  # guarded by _lock: users that need the handlers installed
        self._previous: dict[int, Any] = {}  # guarded by _lock
        self._previous_fd = -1  # guarded by _lock
        self._pipe: tuple[int, int] | None = None  # guarded by _lock
        self._listeners: tuple[Listener, ...] = ()  # replaced whole under _lock
        self._watcher: _Watcher | None = None  # guarded by _lock
        self._fork = threading.local()  # .mask: the forking thread's mask around a fork

    def subscribe(self, listener: Listener) -> bool:
        """Install the handlers (if first) and start delivering stop signals to ``listener``
        on ``threadhost:signals``. Main thread only: returns False elsewhere (nothing done)."""
        if threading.current_thread() is not threading.main_thread():
            return False
        with self._lock:
            if self._installs == 0:
                read, write = os.pipe()
                os.set_blocking(read, False)
                os.set_blocking(write, False)
                self._pipe = (read, write)
                self._previous_fd = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
                for signum in STOP_SIGNALS:
                    self._previous[signum] = signal.signal(signum, self._on_signal)
            self._installs += 1
            assert self._pipe is not None
            self._listeners = (*self._listeners, listener)
            if self._watcher is None:
                self._watcher = _Watcher(self, self._pipe[0])
                self._watcher.thread.start()
        return True

    def unlisten(self, listener: Listener, timeout: float | None = None) -> None:
        """Stop delivering to ``listener``; the watcher ends with the last one. Any thread;
        idempotent. Waits for the watcher to end, at most ``timeout`` real seconds (None: no
        limit; a listener blocked in a user's log handler would hold it), unless called on
        it."""
        with self._lock:
            if listener not in self._listeners:
                return
            self._listeners = tuple(x for x in self._listeners if x != listener)
            watcher = self._watcher if not self._listeners else None
            if watcher is not None:
                self._watcher = None
                watcher.end()
        if watcher is not None and watcher.thread is not threading.current_thread():
            watcher.thread.join(timeout)

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
        # handler wrote the signal to the pipe before this runs. While a host listens, the
        # watcher hands it over. Otherwise what is still in the pipe is no host's: taken here
        # and given to the previous handler, once per signal number (as CPython runs a handler
        # once for signals of one number that came together). Nothing left: the watcher
        # already handed this one over (this handler ran late).
        if self._listeners:
            return
        pipe = self._pipe
        if pipe is None:
            return
        waiting: set[int] = set()
        with contextlib.suppress(OSError):  # BlockingIOError: the pipe is empty
            while data := os.read(pipe[0], 512):
                waiting.update(data)
        for number in sorted(waiting):
            self._to_previous(number, frame)

    def _to_previous(self, signum: int, frame: FrameType | None) -> None:
        fd = self._previous_fd
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.write(fd, bytes([signum]))
        previous = self._previous.get(signum)
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL or previous is None:
            if signum == signal.SIGINT:
                signal.default_int_handler(signum, frame)
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    def _deliver(self, signum: int) -> None:
        """On the watcher: hand one signal to the listeners, forwarding it to the previous
        wakeup fd first (the application's, if it had one). With no listener left (the last
        one is leaving), the byte goes back into the pipe for the Python handler."""
        listeners = self._listeners
        if not listeners:
            pipe = self._pipe
            if pipe is not None:
                with contextlib.suppress(OSError):
                    os.write(pipe[1], bytes([signum]))
            return
        fd = self._previous_fd
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.write(fd, bytes([signum]))
        for listener in listeners:
            try:
                listener(signum)
            except Exception as exc:
                log.callback_failed("a signal listener", exc)

    # -- fork ------------------------------------------------------------------------------

    def _before_fork(self) -> None:
        # In the forking thread: the child inherits this mask, so a stop signal sent to it
        # stays pending until it has put back its own handlers (_after_fork_in_child).
        self._fork.mask = None
        if self._installs:
            self._fork.mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)

    def _after_fork_in_parent(self) -> None:
        mask = getattr(self._fork, "mask", None)
        if mask is not None:
            self._fork.mask = None
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    def _after_fork_in_child(self) -> None:
        # The child has one thread and no watcher: give it the process as it was before us,
        # then let the signals sent to it meanwhile arrive (to those handlers).
        self._lock = threading.Lock()
        self._listeners = ()
        self._watcher = None
        if self._installs:
            self._installs = 0
            self._restore()
        mask = getattr(self._fork, "mask", None)
        if mask is not None:
            self._fork.mask = None
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)


BRIDGE = SignalBridge()

if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=BRIDGE._before_fork,
                        after_in_parent=BRIDGE._after_fork_in_parent,
                        after_in_child=BRIDGE._after_fork_in_child)
