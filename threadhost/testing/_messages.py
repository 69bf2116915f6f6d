"""The log events of FakeClock, one named function each (as .NET's LoggerExtensions classes: each
area keeps its own beside its code; the host's are in ``_log_messages``).

Templates use lazy ``%s`` arguments; the logger is ``threadhost.testing``. Every call goes
through a ``GuardedLogger``, so a failing handler never raises here.
"""

from __future__ import annotations

from threadhost._guarded_log import GuardedLogger

testing_log = GuardedLogger("threadhost.testing")


def clock_stalled(thread_name: str, stall_timeout: float, stack: str) -> None:
    testing_log.warning(
        "FakeClock: thread %r stayed outside a clock wait for %ss of real time; it no longer "
        "holds the clock back. It is in:\n%s", thread_name, stall_timeout, stack)


def clock_callback_failed(callback: object, exc: BaseException) -> None:
    testing_log.error("FakeClock: the timer callback %r raised.", callback, exc_info=exc)


def clock_outsider_released(thread_name: str, stall_timeout: float) -> None:
    testing_log.debug(
        "FakeClock: thread %r, woken by the clock, has not waited on it again for %ss of real "
        "time; it no longer holds the clock back.", thread_name, stall_timeout)
