"""systemd integration: readiness, stopping and watchdog notifications, journal log format.

``HostApplicationBuilder.use_systemd()`` adds, when ``NOTIFY_SOCKET`` is set:

* ``READY=1`` (with ``STATUS=Running``) once the host has started;
* ``STOPPING=1`` (with ``STATUS=Stopping: <reason>``) when the stop begins;
* ``WATCHDOG=1`` every half ``WATCHDOG_USEC``, on the thread ``threadhost:SystemdWatchdog``,
  only between "started" and "stopping", so a host that hangs in start or stop is killed
  by systemd as it should be;

and, when ``JOURNAL_STREAM`` is set (systemd connected stderr to the journal), the console
``systemd`` formatter. Without those variables it changes nothing. Notifications are
datagrams on an ``AF_UNIX`` socket; an address starting with ``@`` is in the abstract
namespace. A send that fails is logged once and never stops the host.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping
from typing import final

from ._background_service import BackgroundService
from ._cancellation import CancellationToken, CancellationTokenSource
from ._hosted_service import HostedService
from ._lifetime import HostApplicationLifetime

_log = logging.getLogger("threadhost.hosting.systemd")


@final
class SystemdNotifier:
    """Sends ``sd_notify`` datagrams to ``NOTIFY_SOCKET``. Thread-safe."""

    def __init__(self, address: str) -> None:
        self.address = "\0" + address[1:] if address.startswith("@") else address
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None  # guarded by _lock
        self._failed = False  # guarded by _lock

    def notify(self, *lines: str) -> None:
        """Send one datagram of ``KEY=value`` lines; log (once) and go on if it fails."""
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

    def __init__(self, notifier: SystemdNotifier, lifetime: HostApplicationLifetime) -> None:
        self._notifier = notifier
        self._lifetime = lifetime

    def start(self, cancellation_token: CancellationToken) -> None:
        self._lifetime.application_started.register(
            lambda: self._notifier.notify("READY=1", "STATUS=Running"))
        # threadhost's own quick hook, not a user callback: the stop can fire the event inline.
        self._lifetime._when_stopping.append(
            lambda: self._notifier.notify(
                "STOPPING=1", f"STATUS=Stopping: {self._lifetime.stop_reason or 'requested'}"))

    def stop(self, cancellation_token: CancellationToken) -> None:
        self._notifier.close()


class SystemdWatchdog(BackgroundService):
    """Sends WATCHDOG=1 every ``interval`` seconds (on the host's clock) while the host is
    healthy: from ``application_started`` until ``application_stopping``."""

    def __init__(self, notifier: SystemdNotifier, lifetime: HostApplicationLifetime,
                 interval: float) -> None:
        self._notifier = notifier
        self._lifetime = lifetime
        self.interval = interval

    def execute(self, stopping_token: CancellationToken) -> None:
        with CancellationTokenSource.create_linked(
                stopping_token, self._lifetime.application_stopping) as unhealthy:
            with CancellationTokenSource.create_linked(
                    unhealthy.token, self._lifetime.application_started) as started:
                started.token.wait()
            while not unhealthy.is_cancellation_requested:
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
