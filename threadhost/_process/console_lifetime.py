"""``ConsoleLifetime``: stop on Ctrl+C, SIGTERM or SIGQUIT; the default lifetime.

Signals reach it through the process-wide bridge (``_signals``): the handler takes no lock and
waits for nothing, the C-level wakeup fd carries the signal to the watcher thread
``threadhost:signals`` whichever thread the kernel picked, and the watcher calls this lifetime,
which only hands a request over (``StopChannel.request``, lock-free). The
rules, measured in real time because they are about what the operating system and supervisors
do:

* the first SIGINT, SIGTERM or SIGQUIT requests a graceful stop;
* a repeat within ``REPEAT_WINDOW`` (0.5 s) of the first is the same request: ``timeout`` and
  other supervisors signal the process and then its process group, two signals microseconds
  apart, and the stop must stay graceful;
* a SIGINT or SIGTERM after that, while the stop is under way, logs the service threads still
  running with their stacks and ends the process at once with exit code 130.

The watcher stops listening when the stop is over (whichever thread stopped the host); the
handlers go back on the main thread, by the end of ``run()``, or by ``stop()``/``close()``.

Rejected: doing the stop inside the handler (it joins threads and takes locks); raising
KeyboardInterrupt as the default SIGINT handler does (it lands at an arbitrary bytecode,
possibly inside a ``finally`` of ours); counting every repeat as a second signal (a doubled
SIGTERM from ``timeout`` aborted half the graceful stops).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import final

from threadhost import _log_messages as log
from threadhost._hosting.channel import StopChannel
from threadhost._hosting.deadline import Deadline
from threadhost._hosting.environment import HostEnvironment
from threadhost._hosting.lifetime import _INLINE, HostApplicationLifetime, HostLifetime
from threadhost._hosting.options import ConsoleLifetimeOptions
from threadhost._hosting.registry import live_service_threads
from threadhost._hosting.report import capture_stack
from threadhost._process.signals import BRIDGE
from threadhost._time.cancellation import CancellationToken
from threadhost._time.clock import SYSTEM_CLOCK

REPEAT_WINDOW = 0.5
"""Real seconds after the first stop signal during which a repeat is the same request."""
_FORCE_ON_REPEAT = (signal.SIGINT, signal.SIGTERM)
FORCED_EXIT_CODE = 130


@final
class ConsoleLifetime(HostLifetime):
    """Stops the host on SIGINT, SIGTERM or SIGQUIT, and logs the status messages.

    ``wait_for_start`` (on the thread calling ``Host.start()``) starts listening for signals
    if that is the main thread (see the module notes for the rules); elsewhere it installs
    nothing and the host still works. Logs on ``threadhost.hosting.lifetime`` at INFO unless
    ``ConsoleLifetimeOptions.suppress_status_messages``. Thread-safe.
    """

    def __init__(self, application_lifetime: HostApplicationLifetime,
                 environment: HostEnvironment, options: ConsoleLifetimeOptions,
                 channel: StopChannel) -> None:
        self._app = application_lifetime
        self._channel = channel
        self._environment = environment
        self._options = options
        self._first: float | None = None  # real time of the first signal; watcher thread only
        self._listening = False  # main thread writes; any thread reads

    def wait_for_start(self, cancellation_token: CancellationToken) -> None:
        """Start the status messages and, on the main thread, signal handling."""
        if not self._options.suppress_status_messages:
            self._app.application_started.register(
                lambda: log.application_started(self._environment.environment_name,
                                                self._environment.content_root_path))
            self._channel.on_stopping(log.application_stopping)
        if BRIDGE.subscribe(self._on_signal):
            self._listening = True
            self._channel.on_stopped(self._stop_listening)

    def stop(self, cancellation_token: CancellationToken) -> None:
        """Nothing to do here: the watcher listens until the stop is over (a second signal
        during the stop must still end the process), and handlers go back on the main thread
        (``restore_signal_handlers``)."""

    def restore_signal_handlers(self) -> None:
        """Stop listening and put back the handlers that were there before (once the last
        lifetime in the process lets go). Main thread only (a no-op elsewhere); idempotent."""
        if threading.current_thread() is not threading.main_thread() or not self._listening:
            return
        self._listening = False
        BRIDGE.unlisten(self._on_signal)
        BRIDGE.uninstall()

    def _stop_listening(self, budget: Deadline) -> None:
        # Within the stop's budget: a listener stuck in a user's log handler on the watcher
        # must not hold the stop (the watcher, a daemon, ends when the handler returns).
        BRIDGE.unlisten(self._on_signal, timeout=budget.grace_left())

    def _on_signal(self, signum: int) -> None:
        # On threadhost:signals: hand over, never wait.
        name = signal.Signals(signum).name
        now = SYSTEM_CLOCK.monotonic()
        if self._first is None:
            self._first = now
            self._channel.request(f"signal {name}")  # first: a log handler may block
            log.signal_received(name)
        elif now - self._first < REPEAT_WINDOW:
            log.signal_repeated(name, REPEAT_WINDOW)
        elif signum in _FORCE_ON_REPEAT:
            self._force_exit(name)

    def _force_exit(self, signame: str) -> None:
        stacks = [(t.name, capture_stack(t)) for t in live_service_threads()]
        log.forced_exit(signame, stacks)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(FORCED_EXIT_CODE)


_INLINE.add(ConsoleLifetime)
