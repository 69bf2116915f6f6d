"""The exceptions threadhost raises.

Exception
 ├── OperationCanceledError        an operation saw its token cancelled
 ├── RuntimeError
 │    ├── HostStartupError         a service failed to start, or startup timed out
 │    └── ScopeError               a scoped service resolved outside a scope (in _scopes)
 ├── ValueError
 │    └── ConfigurationError       a configuration source or value is invalid
 └── queue.Full
      └── QueueFullError           BackgroundTaskQueue.enqueue() timed out

``FakeClockStallError`` (a ``RuntimeError``) lives in ``threadhost.testing``.
Each subclasses the builtin it refines, so existing ``except`` clauses keep working.
"""

from __future__ import annotations

import queue
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from threadhost._hosting.report import ShutdownReport
    from threadhost._time.cancellation import CancellationToken


class OperationCanceledError(Exception):
    """Raised when an operation is abandoned because its token was cancelled.

    ``token`` is the token that was cancelled. A BackgroundService whose ``execute`` raises
    this after its stopping token fired has stopped cleanly, not crashed.
    """

    def __init__(self, message: str = "The operation was canceled.", *,
                 token: CancellationToken | None = None) -> None:
        super().__init__(message)
        self.token = token


class HostStartupError(RuntimeError):
    """``Host.start()`` failed: a service's start raised, or ``startup_timeout`` passed.

    ``service`` names the service at fault (None when the timeout passed between services),
    ``__cause__`` is what it raised, and ``report`` is the ShutdownReport of stopping the
    services that had already started.
    """

    def __init__(self, message: str, *, service: str | None = None,
                 report: ShutdownReport | None = None) -> None:
        super().__init__(message)
        self.service = service
        self.report = report


CONFIGURATION_EXIT_CODE = 2
"""The exit code of a configuration error (argparse's code for a misused command line)."""


class ConfigurationError(ValueError):
    """A configuration source or value is invalid.

    The message names the thing at fault (a file with line and column, or a full key such as
    ``HostOptions:ShutdownTimeout``), the value, and what was expected.
    """


class QueueFullError(queue.Full):
    """``BackgroundTaskQueue.enqueue()`` could not add the work item before its timeout."""
