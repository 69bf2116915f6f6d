"""One error path for every entry point: what a failed build or start means to the user.

``HostApplicationBuilder.run()``, ``Host.run()``, ``threadhost run``, the scaffold's
``python -m NAME`` (which calls ``builder.run()``) and Django's ``HostCommand`` all ask
``failure_of(exc)`` what an exception from ``build()`` or ``start()`` means, so the same
mistake gives the same outcome everywhere:

- a ``ConfigurationError`` (a value that does not convert or is invalid, a malformed file, a
  bad command line): one line naming the key, the file or the service; exit code 2;
- a hosted service that cannot be constructed (``_MissingDependencyError``, found by
  ``build()`` in Development or with ``services.require_registration()``): one line naming
  the service and the dependency it lacks; exit code 1;
- a ``HostStartupError`` (already logged as one ERROR line by the start): 2 if a
  configuration error caused it, else the code of the stop's report (1).

Each entry point prints the message its own way (``app: error: ...``, ``threadhost run:
error: ...``, Django's ``CommandError: ...``); the traceback is logged at DEBUG by
``build()`` (``threadhost.hosting``), never printed by default. Anything else is the
application's own bug: ``failure_of`` returns None and the entry point lets it propagate with
its traceback.

Rejected: a catch in each entry point (four copies that had already drifted: only
``builder.run()`` knew the missing dependency); an exit code attribute on the exceptions
(``ConfigurationError`` is raised by code that does not know it ends a process).
"""

from __future__ import annotations

from threadhost._errors import CONFIGURATION_EXIT_CODE, ConfigurationError, HostStartupError

SERVICE_FAILED_EXIT_CODE = 1
"""The exit code of a hosted service that could not be constructed or started."""


class _MissingDependencyError(TypeError):
    """``build()`` in Development (or with ``require_registration()``): a hosted service
    cannot be constructed; every entry point prints it in one line and exits 1, as a service
    that fails to construct at start."""


def failure_of(exc: BaseException) -> tuple[str, int] | None:
    """``(one-line message, exit code)`` for an exception from ``build()`` or ``start()``
    that is the user's to fix, or None for any other (a bug to read, with its traceback).

    Pure: any thread, never blocks, never raises; prints and logs nothing.
    """
    if isinstance(exc, ConfigurationError):
        return _one_line(exc), CONFIGURATION_EXIT_CODE
    if isinstance(exc, _MissingDependencyError):
        return _one_line(exc), SERVICE_FAILED_EXIT_CODE
    if isinstance(exc, HostStartupError):
        if isinstance(exc.__cause__, ConfigurationError):
            return _one_line(exc), CONFIGURATION_EXIT_CODE
        report = exc.report
        return _one_line(exc), (
            report.exit_code if report is not None else SERVICE_FAILED_EXIT_CODE)
    return None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split("\n"))
