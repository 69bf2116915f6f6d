"""Logging: per-logger minimum levels from configuration and the host's one console handler.

threadhost uses the standard ``logging`` module and owns at most one handler, a console
handler on the root logger shared by every host in the process (so building many hosts, as a
test suite does, never stacks up handlers). Rules, chosen so a host never fights the
application's own logging set-up:

* If the root logger already has a handler that is not ours when the host is built (the
  application's, Django's ``LOGGING``, ``basicConfig``), the host adds no console handler and
  sets no level the configuration or code did not ask for (no default INFO on the root).
* Levels from ``Logging:LogLevel`` are set on the named loggers (``Default`` on the root), so
  Python's hierarchy gives "longest prefix wins" at dot boundaries. Names match
  case-insensitively: ``MYAPP`` also sets the existing loggers ``myapp`` and ``MyApp`` (a
  logger first created after ``build()`` in another spelling is not covered: Python's logger
  names are case-sensitive and ``logging`` has no creation hook).
* Everything a host changed (levels, the handler, its formatter) is recorded and undone when
  the host stops (``application_stopped``) or is garbage-collected, so hosts built one after
  another in one process do not affect each other.
* While the handler is attached, Python's own stderr output (warnings, a plain thread's
  exception, a logging call that does not format) goes through it too (``stray_output``).

Rejected: ``logging.basicConfig`` (a no-op once the root has handlers, and it never undoes),
``dictConfig`` (replaces the application's configuration wholesale), a filter on our handler
for the case-insensitive match (it cannot lower a logger's effective level, and there is no
handler of ours when the application owns logging).
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import TextIO, final

from threadhost import _log_messages as log
from threadhost._config.configuration import Configuration
from threadhost._config.json_source import fold_key
from threadhost._errors import ConfigurationError
from threadhost._logging import stray_output
from threadhost._logging.stray_output import logging_error_record

TRACE = 5
logging.addLevelName(TRACE, "TRACE")  # so a TRACE record says TRACE, not "Level 5"

_LEVELS = {
    "trace": TRACE, "debug": logging.DEBUG, "information": logging.INFO, "info": logging.INFO,
    "warning": logging.WARNING, "warn": logging.WARNING, "error": logging.ERROR,
    "critical": logging.CRITICAL, "none": logging.CRITICAL + 10, "notset": logging.NOTSET,
}
FORMATTERS = ("simple", "json", "systemd")
FORMAT_KEY = "Logging:Console:FormatterName"
_SYSLOG_PRIORITY = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4),
                    (logging.INFO, 6))


def parse_level(value: str | int, key: str = "level", origin: str | None = None) -> int:
    """A ``logging`` level from a .NET or Python level name (any case) or a number."""
    if isinstance(value, int):
        return value
    level = _LEVELS.get(value.strip().casefold())
    if level is None:
        where = f" (set in {origin})" if origin else ""
        raise ConfigurationError(
            f"{key}={value!r} is invalid: expected one of Trace, Debug, Information, "
            f"Warning, Error, Critical, None (or a Python level name){where}")
    return level


class SimpleFormatter(logging.Formatter):
    """One line: time, level, logger, message; continuation lines and tracebacks indented."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-8s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", "\n    ")


class SystemdFormatter(logging.Formatter):
    """Each line starts with its syslog priority (``<3>`` error ... ``<7>`` debug), as
    journald reads a service's stdout; no time (the journal stamps it)."""

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        priority = next((p for lvl, p in _SYSLOG_PRIORITY if record.levelno >= lvl), 7)
        prefix = f"<{priority}>"
        return "\n".join(prefix + line for line in super().format(record).split("\n"))


def make_formatter(name: str, key: str = "formatter", origin: str | None = None
                   ) -> logging.Formatter:
    """The console formatter called ``name``; ConfigurationError listing the known ones."""
    folded = name.strip().casefold()
    if folded == "simple":
        return SimpleFormatter()
    if folded == "json":
        from threadhost._logging.json_formatter import make_json_formatter  # noqa: PLC0415  (lazy: see its notes)
        return make_json_formatter()
    if folded == "systemd":
        return SystemdFormatter()
    where = f" (set in {origin})" if origin else ""
    raise ConfigurationError(
        f"{key}={name!r} is invalid: expected one of {', '.join(FORMATTERS)}{where}")


class _ConsoleHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time of each record (pytest swaps it)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802  (logging's name)
        """A record whose message and arguments do not format is written as one ERROR record
        saying so (``stray_output.logging_error_record``), in the handler's format, instead
        of ``logging``'s ``--- Logging error ---`` block; any other failure (the stream
        closed) is reported as ``logging`` does. Runs on the logging thread, handler lock
        held; never raises."""
        try:
            record.getMessage()
        except Exception as exc:
            substitute = logging_error_record(record, exc)
            try:
                self.stream.write(self.format(substitute) + self.terminator)
                self.flush()
                return
            except Exception:  # the stream itself failed: reported below, as logging does
                record = substitute
        super().handleError(record)


_CONSOLE = _ConsoleHandler()
_CONSOLE.set_name("threadhost.console")
_console_lock = threading.Lock()
_console_holders = 0  # guarded by _console_lock: applied hosts that attached _CONSOLE


def application_owns_logging() -> bool:
    """True if the root logger has a handler that is not threadhost's."""
    return any(h is not _CONSOLE for h in logging.getLogger().handlers)


def _writers_below_root(name: str) -> tuple[str, list[logging.Handler]] | None:
    """The first logger on the way up from ``name``, below the root, whose handlers write
    what it logs (its name and those handlers), or None: the application put handlers on
    named loggers (Django's ``LOGGING`` often does). A ``NullHandler`` does not count."""
    logger: logging.Logger | None = logging.getLogger(name)
    root = logging.getLogger()
    while logger is not None and logger is not root:
        # A NullHandler writes nothing: libraries put one on their loggers (urllib3 does),
        # and logging on ``py.warnings``.
        writers = [h for h in logger.handlers if not isinstance(h, logging.NullHandler)]
        if writers:
            return logger.name, writers
        if not logger.propagate:
            return None
        logger = logger.parent
    return None


def _handled_below_root(record: logging.LogRecord) -> bool:
    """True if a handler on the record's way up, below the root, already wrote it: the
    root's console must not write the line a second time."""
    return _writers_below_root(record.name) is not None


_CONSOLE.addFilter(lambda record: not _handled_below_root(record))


def _matching_loggers(name: str) -> set[str]:
    """Every existing logger (or placeholder) name equal to ``name`` ignoring case; if there
    is none, ``name`` as written (so ``MYAPP`` never creates a twin of ``myapp``)."""
    if not name:
        return {""}
    folded = fold_key(name)
    names = {n for n in list(logging.root.manager.loggerDict) if fold_key(n) == folded}
    return names or {name}


@final
class AppliedLogging:
    """What one host changed in ``logging``: re-applied on reload, undone at the end.

    ``apply_levels`` and ``undo`` may run on any thread (the builder's, the configuration
    watcher's, the host's when it stops); a lock serialises them. Idempotent ``undo``.
    """

    def __init__(self, builder: LoggingBuilder, with_default: bool) -> None:
        self._builder = builder
        self._with_default = with_default  # False when the application owns logging
        self._lock = threading.Lock()
        self._original: dict[str, int] = {}  # guarded by _lock: logger -> level before us
        self._set: set[str] = set()  # guarded by _lock: loggers whose level we set now
        self._attached = False  # guarded by _lock
        self._previous_formatter: logging.Formatter | None = None
        self._undone = False
        self.console_format: str | None = None  # the console's format, if this attached it

    def attach_console(self, formatter: logging.Formatter) -> None:
        """Attach threadhost's one console handler to the root logger. It writes no record
        that a handler of a named logger already wrote (``_handled_below_root``)."""
        global _console_holders
        with self._lock, _console_lock:
            self._previous_formatter = _CONSOLE.formatter
            _CONSOLE.setFormatter(formatter)
            _console_holders += 1
            self._attached = True
            if _console_holders == 1:
                stray_output.install()
            root = logging.getLogger()
            if _CONSOLE not in root.handlers:
                root.addHandler(_CONSOLE)

    def apply_levels(self, levels: dict[str, int]) -> None:
        """Set ``levels`` (logger name, '' for the root -> level); put back the loggers that
        an earlier call set and this one does not."""
        targets: dict[str, int] = {}
        for name, level in levels.items():
            for target in _matching_loggers(name):
                targets[target] = level
        with self._lock:
            if self._undone:
                return
            for name in self._set - set(targets):
                logging.getLogger(name or None).setLevel(self._original[name])
            for name, level in targets.items():
                logger = logging.getLogger(name or None)
                self._original.setdefault(name, logger.level)
                logger.setLevel(level)
            self._set = set(targets)

    def undo(self) -> None:
        """Put back every level, the formatter and the handler as they were before."""
        global _console_holders
        # Also the finalizer of a dropped host, which the garbage collector may run on any
        # thread at any allocation: once undone (at the stop, as a rule) it takes no lock.
        if self._undone:
            return
        with self._lock:
            first = not self._undone  # (another thread may have undone it since)
            self._undone = True
            if not first:
                return
            for name in self._set:
                logging.getLogger(name or None).setLevel(self._original[name])
            self._set = set()
            if not self._attached:
                return
            with _console_lock:
                _console_holders -= 1
                if _console_holders == 0:
                    logging.getLogger().removeHandler(_CONSOLE)
                    stray_output.uninstall()
                if self._previous_formatter is not None:
                    _CONSOLE.setFormatter(self._previous_formatter)

    def reload(self) -> None:
        """Re-read ``Logging:LogLevel`` and apply it (after a watched file changed).
        ConfigurationError for a level that is not one (nothing is changed then)."""
        self.apply_levels(self._builder.levels(self._with_default))


@final
class LoggingBuilder:
    """Logging settings collected by the builder and applied by ``build()``.

    Builder thread only. Calls made in code win over the configuration (``Logging`` section).
    Every method returns the builder, for chaining.
    """

    def __init__(self, configuration: Configuration) -> None:
        self._configuration = configuration
        self._formatter: str | None = None
        self._console = True
        self._levels: dict[str, int] = {}

    def add_console(self, formatter: str | None = None) -> LoggingBuilder:
        """Use the host's console handler (on by default, unless the application already
        put a handler on the root logger), with ``formatter`` (``simple``, ``json`` or
        ``systemd``) if given. Never adds a second handler. Raises ConfigurationError for an
        unknown formatter name."""
        if formatter is not None:
            make_formatter(formatter)
            self._formatter = formatter
        self._console = True
        return self

    def clear_providers(self) -> LoggingBuilder:
        """Do not attach the console handler (for an application that logs its own way)."""
        self._console = False
        return self

    def set_minimum_level(self, level: int | str) -> LoggingBuilder:
        """The level of the root logger (as ``Logging:LogLevel:Default``)."""
        self._levels[""] = parse_level(level)
        return self

    def add_filter(self, logger: str, level: int | str) -> LoggingBuilder:
        """The minimum level of ``logger`` and the loggers below it (name in any case)."""
        self._levels[logger] = parse_level(level)
        return self

    def levels(self, with_default: bool) -> dict[str, int]:
        """The levels asked for: ``Logging:LogLevel``, then code; the root at INFO first if
        ``with_default``. ConfigurationError naming the key, value and source of a bad one."""
        levels: dict[str, int] = {"": logging.INFO} if with_default else {}
        folded: dict[str, str] = {}
        section = self._configuration.get_section("Logging:LogLevel")
        for name, value in section.as_dict().items():
            key = f"Logging:LogLevel:{name}"
            target = "" if name.casefold() == "default" else name
            levels[folded.setdefault(fold_key(target), target)] = parse_level(
                value, key, self._configuration.origin(key))
        for name, level in self._levels.items():
            levels[folded.setdefault(fold_key(name), name)] = level
        return levels

    def apply(self) -> AppliedLogging:
        """Set the levels and attach the console handler; called by ``build()``.

        Returns what was changed, for ``undo()``. Raises ConfigurationError (changing
        nothing) for an unknown level or formatter name.
        """
        owned = application_owns_logging()
        key = FORMAT_KEY
        name = self._formatter or self._configuration.get(key) or "simple"
        formatter = make_formatter(
            name, key, None if self._formatter else self._configuration.origin(key))
        levels = self.levels(with_default=not owned)
        applied = AppliedLogging(self, with_default=not owned)
        if self._console and not owned:
            applied.attach_console(formatter)
            applied.console_format = name.strip().casefold()
        applied.apply_levels(levels)
        given = self._configuration.get(key)
        if self._console and given is not None:
            # Through the application's handlers: the one place the user will see it.
            if owned:
                log.formatter_ignored(key, given, self._configuration.origin(key), [
                    type(h).__name__ for h in logging.getLogger().handlers])
            elif (mine := _writers_below_root("threadhost")) is not None:
                log.formatter_ignored_for_threadhost(
                    key, given, self._configuration.origin(key), mine[0],
                    [type(h).__name__ for h in mine[1]])
        return applied
