"""The log events of health checks and the probe endpoint, one named function each (as .NET's
LoggerExtensions classes: each area keeps its own beside its code; the host's are in
``_log_messages``).

Templates use lazy ``%s`` arguments; the logger is ``threadhost.hosting.health``. Every call
goes through a ``GuardedLogger``, so a failing handler never raises here.
"""

from __future__ import annotations

from threadhost._guarded_log import GuardedLogger

health_log = GuardedLogger("threadhost.hosting.health")


def health_check_failing(name: str, error: str) -> None:
    health_log.warning("Health check %r is failing: %s", name, error)


def health_check_recovered(name: str) -> None:
    health_log.info("Health check %r is passing again.", name)


def health_endpoint_listening(host: str, port: int) -> None:
    health_log.info("Health endpoint listening on http://%s:%s", host, port)


def health_endpoint_stopped(host: str, port: int) -> None:
    health_log.debug("Health endpoint on http://%s:%s stopped", host, port)


def health_request(client: str, line: str, status: int) -> None:
    health_log.debug("%s %r %s", client, line, status)


def health_request_failed(client: str, exc: BaseException) -> None:
    health_log.warning("Health endpoint: a request from %s failed.", client, exc_info=exc)
