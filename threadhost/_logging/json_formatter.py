"""The ``json`` console log format: python-json-logger, one object per line.

Its own module so that ``import threadhost`` does not import python-json-logger (with
``json``, ``uuid``, ``platform`` and ``datetime`` behind it): ``_logging.make_formatter``
imports this module only when the ``json`` formatter is asked for.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from pythonjsonlogger.json import JsonFormatter

_PROTECTED = ("time", "level", "logger")
"""Field names an ``extra`` may not take (``logging`` itself refuses ``message``)."""


class _JsonFormatter(JsonFormatter):
    """``time`` as ISO 8601 UTC with milliseconds; an ``extra`` named like a protected field
    (``time``, ``level``, ``logger``) is kept as ``extra_<name>`` instead of replacing it."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        stamp = dt.datetime.fromtimestamp(record.created, tz=dt.UTC)
        return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord,
                   message_dict: dict[str, Any]) -> None:
        super().add_fields(log_data, record, message_dict)
        for name in _PROTECTED:
            if name in record.__dict__:
                log_data[f"extra_{name}"] = record.__dict__[name]
        log_data["time"] = self.formatTime(record)
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.getMessage()


def make_json_formatter() -> logging.Formatter:
    """python-json-logger: one object per line with time, level, logger, message, thread, any
    ``extra`` fields, and ``exc_info`` as traceback text."""
    return _JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s %(threadName)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger",
                       "threadName": "thread"},
    )
