"""The log events of leased singleton services (acquired, lost, unreachable), one named function
each (as .NET's LoggerExtensions classes: each area keeps its own beside its code; the host's
are in ``_log_messages``).

Templates use lazy ``%s`` arguments; the logger is ``threadhost.lease``. Every call goes through
a ``GuardedLogger``, so a failing handler never raises here.
"""

from __future__ import annotations

from threadhost._guarded_log import GuardedLogger

lease_log = GuardedLogger("threadhost.lease")


def lease_acquired(lease: str, service: str, holder: str, fencing: int) -> None:
    lease_log.info("Lease %r acquired by %s (fencing %d); starting service %r.",
                   lease, holder, fencing, service)


def lease_standby(lease: str, service: str, interval: float) -> None:
    lease_log.info("Lease %r is held by another replica; service %r is on standby (trying "
                   "again every %ss).", lease, service, interval)


def lease_unreachable(lease: str, service: str, interval: float, error: BaseException) -> None:
    lease_log.warning("Lease %r cannot be reached; service %r stays on standby and the lease "
                      "is tried again every %ss: %s", lease, service, interval, error)


def lease_lost(lease: str, service: str, reason: str) -> None:
    lease_log.warning("Lease %r was lost (%s); stopping service %r and going back to standby.",
                      lease, reason, service)


def lease_released(lease: str, service: str) -> None:
    lease_log.info("Lease %r released (service %r).", lease, service)


def lease_release_failed(lease: str, service: str, exc: BaseException) -> None:
    lease_log.warning("Lease %r (service %r): release() raised; the backend frees the lease "
                      "when its connection ends.", lease, service, exc_info=exc)


def lease_check_failed(lease: str, error: BaseException) -> None:
    lease_log.debug("PostgresLease %r: the check query failed: %s", lease, error)


def lease_release_connection_gone(lease: str, error: BaseException) -> None:
    lease_log.debug("PostgresLease %r: release found the connection gone: %s", lease, error)
