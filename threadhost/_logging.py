"""Logging: per-logger minimum levels from configuration and the host's one console handler.

threadhost uses the standard ``logging`` module and owns exactly one handler, a console
handler on the root logger shared by every host in the process (so building many hosts, as a
test suite does, never stacks up handlers). It never calls ``logging.basicConfig`` and never
touches handlers the application installed. Levels from ``Logging:LogLevel`` are set on the
named loggers (``Default`` on the root logger), so Python's logger hierarchy gives "longest
prefix wins" at dot boundaries: ``myapp.noisy=Warning`` covers ``myapp.noisy.x``.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO, final

from pythonjsonlogger.json import JsonFormatter

from ._configuration import Configuration
from ._errors import ConfigurationError

_LEVELS = {
    "trace": 5, "debug": logging.DEBUG, "information": logging.INFO, "info": logging.INFO,
    "warning": logging.WARNING, "warn": logging.WARNING, "error": logging.ERROR,
    "critical": logging.CRITICAL, "none": logging.CRITICAL + 10, "notset": logging.NOTSET,
}
FORMATTERS = ("simple", "json", "systemd")
_SYSLOG_PRIORITY = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4),
                    (logging.INFO, 6))


def parse_level(value: str | int, key: str = "level") -> int:
    """A ``logging`` level from a .NET or Python level name (any case) or a number."""
    if isinstance(value, int):
        return value
    level = _LEVELS.get(value.strip().casefold())
    if level is None:
        raise ConfigurationError(
            f"{key}={value!r} is invalid: expected one of Trace, Debug, Information, Warning, "
            "Error, Critical, None (or a Python level name)")
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


def make_json_formatter() -> logging.Formatter:
    """python-json-logger: one object per line with time, level, logger, message, thread, any
    ``extra`` fields, and ``exc_info`` as traceback text."""
    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s %(threadName)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger",
                       "threadName": "thread"},
    )


def make_formatter(name: str, key: str = "formatter") -> logging.Formatter:
    """The console formatter called ``name``; ConfigurationError listing the known ones."""
    folded = name.strip().casefold()
    if folded == "simple":
        return SimpleFormatter()
    if folded == "json":
        return make_json_formatter()
    if folded == "systemd":
        return SystemdFormatter()
    raise ConfigurationError(
        f"{key}={name!r} is invalid: expected one of {', '.join(FORMATTERS)}")


class _ConsoleHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time of each record (pytest swaps it)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


_CONSOLE = _ConsoleHandler()
_CONSOLE.set_name("threadhost.console")


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
        """Use the host's console handler (on by default), with ``formatter`` (``simple``,
        ``json`` or ``systemd``) if given. Never adds a second handler. Raises
        ConfigurationError for an unknown formatter name."""
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
        """The minimum level of ``logger`` and the loggers below it."""
        self._levels[logger] = parse_level(level)
        return self

    def apply(self) -> None:
        """Set the levels and attach the console handler; called by ``build()``."""
        levels: dict[str, int] = {"": logging.INFO}
        section = self._configuration.get_section("Logging:LogLevel")
        for name, value in section.as_dict().items():
            key = f"Logging:LogLevel:{name}"
            levels["" if name.casefold() == "default" else name] = parse_level(value, key)
        levels.update(self._levels)
        key = "Logging:Console:FormatterName"
        formatter = self._formatter or self._configuration.get(key) or "simple"
        handler_formatter = make_formatter(formatter, key)
        for name, level in levels.items():
            logging.getLogger(name or None).setLevel(level)
        root = logging.getLogger()
        if self._console:
            _CONSOLE.setFormatter(handler_formatter)
            if _CONSOLE not in root.handlers:
                root.addHandler(_CONSOLE)
        elif _CONSOLE in root.handlers:
            root.removeHandler(_CONSOLE)
