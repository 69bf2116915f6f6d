"""systemd integration: readiness, stopping and watchdog notifications, journal log format.

``HostApplicationBuilder.use_systemd()`` adds, when ``NOTIFY_SOCKET`` is set:

* ``READY=1`` (with ``STATUS=Running``) once the host has started;
* ``STOPPING=1`` (with ``STATUS=Stopping: <reason>``) when the stop begins, with
  ``EXTEND_TIMEOUT_USEC=`` the shutdown deadline plus 5 s, so systemd's own stop timeout
  never kills the host before its deadline (``HostOptions.shutdown_timeout`` is used: the
  hook runs as the deadline is set, and a longer extension than needed costs nothing);
* ``WATCHDOG=1`` every half ``WATCHDOG_USEC``, on the thread ``threadhost:SystemdWatchdog``,
  only between "started" and "stopping" and only while ``Host.health()`` is not UNHEALTHY
 , so a host that hangs in start or stop, or whose worker stopped heartbeating
  past its ``liveness_timeout``, is restarted by systemd as it should be;

and, when ``JOURNAL_STREAM`` is set (systemd connected stderr to the journal), the console
``systemd`` formatter. Without those variables it changes nothing. Notifications are
datagrams on an ``AF_UNIX`` socket; an address starting with ``@`` is in the abstract
namespace. A send that fails is logged once and never stops the host.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, final

from threadhost import _log_messages as log
from threadhost._guarded_log import GuardedLogger
from threadhost._hosting.background_service import BackgroundService
from threadhost._hosting.channel import StopChannel
from threadhost._hosting.deadline import is_unbounded
from threadhost._hosting.hosted_service import HostedService
from threadhost._hosting.lifetime import HostApplicationLifetime
from threadhost._hosting.options import HostOptions
from threadhost._ops.health import HealthMonitor, HealthStatus
from threadhost._time.cancellation import CancellationToken, CancellationTokenSource

if TYPE_CHECKING:
    import socket

_log = GuardedLogger("threadhost.hosting.systemd")


@final
class SystemdNotifier:
    """Sends ``sd_notify`` datagrams to ``NOTIFY_SOCKET``. Thread-safe."""

    def __init__(self, address: str) -> None:
        # Imported here, where a host learns it runs under systemd, not in notify(): that may
        # first run on the stop path, even during interpreter shutdown.
        import socket  # noqa: PLC0415, F401  (lazy: only a host run by systemd needs it)
        self.address = "\0" + address[1:] if address.startswith("@") else address
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None  # guarded by _lock
        self._failed = False  # guarded by _lock

    def notify(self, *lines: str) -> None:
        """Send one datagram of ``KEY=value`` lines; log (once) and go on if it fails."""
        import socket  # noqa: PLC0415  (already imported by __init__: a dict lookup)
        payload = "\n".join(lines).encode()
        with self._lock:
            try:
                if self._socket is None:
                    self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._socket.sendto(payload, self.address)
            except OSError as exc:
                if not self._failed:
                    self._failed = True
                    _log.warning("Cannot notify systemd at %r: %s", self.address, exc)

    def close(self) -> None:
        """Close the socket (a later ``notify`` opens a new one). Thread-safe, idempotent."""
        with self._lock:
            if self._socket is not None:
                self._socket.close()
                self._socket = None


class _SystemdLifecycle(HostedService):
    """Sends READY=1 when the application has started and STOPPING=1 when it stops."""

    def __init__(self, notifier: SystemdNotifier, lifetime: HostApplicationLifetime,
                 options: HostOptions, channel: StopChannel) -> None:
        self._notifier = notifier
        self._lifetime = lifetime
        self._options = options
        self._channel = channel

    def start(self, cancellation_token: CancellationToken) -> None:
        self._lifetime.application_started.register(
            lambda: self._notifier.notify("READY=1", "STATUS=Running"))
        # threadhost's own quick hook, not a user callback: the host runs it on its control
        # thread as the stop begins (before the drain).
        self._channel.on_stopping(self._stopping)

    def _stopping(self) -> None:
        lines = ["STOPPING=1", f"STATUS=Stopping: {self._lifetime.stop_reason or 'requested'}"]
        timeout = self._options.shutdown_timeout
        if not is_unbounded(timeout):
            lines.append(f"EXTEND_TIMEOUT_USEC={extend_usec(timeout)}")
        self._notifier.notify(*lines)

    def stop(self, cancellation_token: CancellationToken) -> None:
        self._notifier.close()


def extend_usec(remaining: float) -> int:
    """``EXTEND_TIMEOUT_USEC``'s value for ``remaining`` seconds of deadline: plus 5 s, in µs."""
    return int((remaining + 5.0) * 1_000_000)


class SystemdWatchdog(BackgroundService):
    """Sends WATCHDOG=1 every ``interval`` seconds (on the host's clock) while the host is
    healthy: from ``application_started`` until ``application_stopping``, and only while
    ``health`` is not UNHEALTHY (its custom checks may take up to 1 s of real time)."""

    def __init__(self, notifier: SystemdNotifier, lifetime: HostApplicationLifetime,
                 interval: float, health: HealthMonitor | None = None) -> None:
        self._notifier = notifier
        self._lifetime = lifetime
        self._health = health
        self.interval = interval

    def execute(self, stopping_token: CancellationToken) -> None:
        with CancellationTokenSource.create_linked(
                stopping_token, self._lifetime.application_stopping) as unhealthy:
            with CancellationTokenSource.create_linked(
                    unhealthy.token, self._lifetime.application_started) as started:
                started.token.wait()
            withheld = False
            while not unhealthy.is_cancellation_requested:
                sick = self._health is not None and (
                    self._health.status() is HealthStatus.UNHEALTHY)
                if sick != withheld:  # log once per change, not once per interval
                    withheld = sick
                    (log.watchdog_withheld if sick else log.watchdog_resumed)()
                if not sick:
                    self._notifier.notify("WATCHDOG=1")
                if unhealthy.token.wait(self.interval):
                    return


def watchdog_interval(environ: Mapping[str, str]) -> float | None:
    """Half of ``WATCHDOG_USEC`` in seconds, if the watchdog is on and meant for this process."""
    usec = environ.get("WATCHDOG_USEC", "")
    pid = environ.get("WATCHDOG_PID")
    if not usec.isdigit() or int(usec) <= 0 or (pid is not None and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000
