"""``GuardedLogger``: threadhost's log calls, which never raise and can be relayed.

Every log call of threadhost goes through one (``_log_messages`` holds them, one per logger).
A handler or filter that raises is reported the way ``logging`` reports one, and the caller
goes on; while a stop is carried out on a thread, that thread's calls are handed to the stop's
``LogRelay`` (``_hosting.log_relay``: a handler that blocks cannot hold the stop).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from typing import Any, Protocol

from threadhost import _interrupt as interrupts


class GuardedLogger:
    """A logger whose calls never raise: a handler or filter that raises (any exception, a
    ``BaseException`` too) is reported the way ``logging`` reports a failing handler
    (``logging.lastResort`` semantics: a line on stderr when ``logging.raiseExceptions``), and
    the code that logged goes on. Every threadhost log call goes through one, so no handler of
    the application can keep a stop from publishing its report or a thread from ending.

    Rejected: a guard at each call site of the stop (easy to forget one); swallowing silently
    (the broken handler would go unnoticed).
    """

    __slots__ = ("logger",)

    def __init__(self, name: str) -> None:
        self.logger = logging.getLogger(name)

    def _log(self, level: int, msg: str, args: tuple[object, ...],
             kwargs: dict[str, object]) -> None:
        logger = self.logger
        if not logger.isEnabledFor(level):
            return
        try:
            relay = getattr(_relays, "relay", None)
            if relay is not None:  # a stop is carried out on this thread: see LogRelay
                relay.emit(logger, _record(logger, level, msg, args, kwargs))
                return
            kwargs.setdefault("stacklevel", 3)  # the record names the event's function
            logger.log(level, msg, *args, **kwargs)  # type: ignore[arg-type]
        except KeyboardInterrupt as exc:  # Ctrl+C landed in the log call: the process's
            if not interrupts.defer(exc):
                _handler_failed(logger.name, msg, exc)
        except BaseException as exc:  # a handler or filter failed: reported, never raised
            _handler_failed(logger.name, msg, exc)

    def debug(self, msg: str, *args: object, **kwargs: object) -> None:
        self._log(logging.DEBUG, msg, args, kwargs)

    def info(self, msg: str, *args: object, **kwargs: object) -> None:
        self._log(logging.INFO, msg, args, kwargs)

    def warning(self, msg: str, *args: object, **kwargs: object) -> None:
        self._log(logging.WARNING, msg, args, kwargs)

    def error(self, msg: str, *args: object, **kwargs: object) -> None:
        self._log(logging.ERROR, msg, args, kwargs)

    def critical(self, msg: str, *args: object, **kwargs: object) -> None:
        self._log(logging.CRITICAL, msg, args, kwargs)

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802  (logging's name)
        return self.logger.isEnabledFor(level)


class _Emitter(Protocol):
    def emit(self, logger: logging.Logger, record: logging.LogRecord) -> None: ...

    def close(self) -> None: ...


_relays = threading.local()  # .relay: the _Emitter of this thread's log calls, if any


class Relaying:
    """A ``with`` block during which this thread's threadhost log calls go to ``relay``
    (``_hosting.log_relay``); nested blocks keep the outer relay."""

    def __init__(self, relay: _Emitter) -> None:
        self._relay = relay
        self._outer: _Emitter | None = None

    def __enter__(self) -> _Emitter:
        self._outer = getattr(_relays, "relay", None)
        if self._outer is None:
            _relays.relay = self._relay
        return self._relay

    def __exit__(self, *exc: object) -> None:
        if self._outer is None:
            _relays.relay = None
            self._relay.close()


def _record(logger: logging.Logger, level: int, msg: str, args: tuple[object, ...],
            kwargs: dict[str, Any]) -> logging.LogRecord:
    """The record ``logger.log`` would make here (``Logger._log``'s steps), naming the event's
    function as the direct call does."""
    exc_info = kwargs.get("exc_info")
    if isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    elif exc_info and not isinstance(exc_info, tuple):
        exc_info = sys.exc_info()
    where, line, function, stack = logger.findCaller(bool(kwargs.get("stack_info")), 4)
    return logger.makeRecord(logger.name, level, where, line, msg, args, exc_info, function,
                             kwargs.get("extra"), stack)


def handler_failed(name: str, msg: object, exc: BaseException) -> None:
    """Report a handler or filter that raised, as ``logging`` does (a line on stderr)."""
    _handler_failed(name, str(msg), exc)


def _handler_failed(name: str, msg: str, exc: BaseException) -> None:
    if not logging.raiseExceptions:
        return
    with contextlib.suppress(BaseException):
        sys.stderr.write(f"--- Logging error ---\nA handler or filter of logger {name!r} raised "
                         f"{exc!r} while logging {msg[:80]!r}; the record was dropped.\n")
