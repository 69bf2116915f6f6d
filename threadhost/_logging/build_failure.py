"""A failed ``build()`` in the log's own format, when that format is for machines.

``build()`` sets up logging before it builds the options, and puts it back when the build
fails; ``builder.run()`` and the entry points then print the error as one plain line
(``app: error: ...``). With threadhost's console handler in a structured format (``json``, or
``systemd``'s priority prefixes) that plain line is the one line a log parser cannot read, so
``report_build_failure`` writes the failure as one ERROR record through the console handler,
before logging is put back, and marks the exception so nothing prints it again.

The format is the one the build would have used: from code (``add_console``) or from the
configuration. When the configuration itself did not load (a malformed ``appsettings.json``),
the sources that did load (the environment, the command line, ``add_defaults``) still say
which format was asked for, and the console handler is attached just for that record.

Left as a plain line: the ``simple`` format (a person reads it; the line is what the docs
show), an application that owns logging (its root handler; threadhost adds none), and a
``Logging:Console:FormatterName`` that is itself invalid.

Rejected: logging the failure through whatever handlers exist in every case (with no handler
the record would go to ``logging.lastResort``, unformatted, which is the plain line again).
"""

from __future__ import annotations

import logging

from threadhost import _log_messages as log
from threadhost._config.configuration import Configuration
from threadhost._config.json_source import fold_key
from threadhost._errors import ConfigurationError
from threadhost._logging.console import (
    FORMAT_KEY,
    AppliedLogging,
    LoggingBuilder,
    application_owns_logging,
    make_formatter,
)

STRUCTURED = ("json", "systemd")
"""Console formats a machine reads: a failed build is a record in them, not a plain line."""


def _format_despite_errors(configuration: Configuration) -> str | None:
    """``Logging:Console:FormatterName`` from the sources that loaded (the last one that has
    it wins, as in a lookup); None if none has it."""
    folded = fold_key(FORMAT_KEY)
    for source in reversed(configuration._sources):
        if source.error is not None:
            continue
        entry = source.data.get(folded)
        if entry is not None:
            return entry.value
    return None


def report_build_failure(builder: LoggingBuilder, applied: AppliedLogging | None,
                         exc: BaseException, application: str) -> None:
    """If the console handler is (or would have been) attached in a structured format,
    write ``exc`` as one ERROR record through it and mark ``exc`` as logged. ``applied`` is
    what ``build()`` set up, None if it failed before. Builder thread; never raises."""
    if not logging.getLogger("threadhost.hosting").isEnabledFor(logging.ERROR):
        return  # (levels of the configuration that did load) the plain line, then
    if applied is not None:
        if applied.console_format in STRUCTURED:
            log.build_failed_logged(application, exc)
        return
    if not builder._console or application_owns_logging():
        return
    name = builder._formatter or _format_despite_errors(builder._configuration)
    if name is None or name.strip().casefold() not in STRUCTURED:
        return
    try:
        formatter = make_formatter(name)
    except ConfigurationError:
        return
    temporary = AppliedLogging(builder, with_default=False)
    temporary.attach_console(formatter)
    try:
        log.build_failed_logged(application, exc)
    finally:
        temporary.undo()
