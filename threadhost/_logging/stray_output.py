"""Python's own stray stderr output, through threadhost's console handler while it is attached.

With threadhost's console handler on the root logger (``json``, ``simple`` or ``systemd``),
three things Python writes to stderr by itself would otherwise break the log's format (a raw
line in a JSON log is a parser's crash):

* ``warnings.warn(...)``: ``logging.captureWarnings(True)`` makes each warning a WARNING
  record of the ``py.warnings`` logger;
* an exception that ends a plain ``threading.Thread`` (one the application started itself):
  ``threading.excepthook`` becomes ``log_thread_exception``, an ERROR record of the
  ``threading`` logger with the traceback as the record's ``exc_info``. Service threads never
  reach it: the host catches what ``execute`` raises and logs it once, with the service's name;
* an exception Python cannot raise and only reports (in a ``__del__``, a weakref callback):
  ``sys.unraisablehook`` becomes ``log_unraisable``, an ERROR record of the ``py.unraisable``
  logger, in place of the ``Exception ignored in: ...`` block;
* a logging call whose message and arguments do not format (``log.info("%s %s", "x")``):
  ``logging_error_record`` is what the console handler writes instead of ``logging``'s
  ``--- Logging error ---`` block (``console._ConsoleHandler.handleError``).

The hooks are installed when the first host attaches the console handler and put back when
the last one lets go (``install`` / ``uninstall``, under ``console._console_lock``), and only
if the application has not set its own: a ``threading.excepthook``, ``sys.unraisablehook`` or
``warnings.showwarning`` that is not Python's default, or warnings captured already, are left
as they are.

Rejected: a ``sys.stderr`` wrapper turning every write into a record (it would also wrap what
the application prints on purpose, and a traceback arrives as many writes with no boundary);
``sys.excepthook`` for the main thread (an exception there ends ``run()`` itself, after the
host's logging was put back).
"""

from __future__ import annotations

import logging
import sys
import threading
import warnings
from typing import Any

from threadhost import _log_messages as log

_previous_excepthook: Any = None  # guarded by console._console_lock: what we replaced
_previous_unraisablehook: Any = None  # guarded by console._console_lock: ditto
_captured_warnings = False  # guarded by console._console_lock: we turned capture on


def log_thread_exception(args: threading.ExceptHookArgs) -> None:
    """``threading.excepthook`` while threadhost's console is attached: the exception that
    ended a thread as one ERROR record (logger ``threading``, the traceback in ``exc_info``).
    Runs on the thread that failed; never raises. ``SystemExit`` is silent, as by default."""
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    value = args.exc_value if args.exc_value is not None else args.exc_type()
    log.plain_thread_failed(name, (args.exc_type, value, args.exc_traceback))


def log_unraisable(args: Any) -> None:
    """``sys.unraisablehook`` while threadhost's console is attached: an exception Python
    could not raise, as one ERROR record (logger ``py.unraisable``, the traceback in
    ``exc_info``). Runs on whichever thread met it; never raises."""
    what = args.err_msg or "Exception ignored in"
    if args.object is not None:
        what = f"{what}: {_safe_repr(args.object)}"
    value = args.exc_value if args.exc_value is not None else args.exc_type()
    log.unraisable(what, (args.exc_type, value, args.exc_traceback))


def install() -> None:
    """Route warnings and plain threads' exceptions through logging (see the module notes).
    Caller holds ``console._console_lock``; the first host to attach the console calls it."""
    global _previous_excepthook, _previous_unraisablehook, _captured_warnings
    if threading.excepthook is threading.__excepthook__:
        _previous_excepthook = threading.excepthook
        threading.excepthook = log_thread_exception
    if sys.unraisablehook is sys.__unraisablehook__:
        _previous_unraisablehook = sys.unraisablehook
        sys.unraisablehook = log_unraisable
    default_showwarning = getattr(warnings, "_showwarning_orig", warnings.showwarning)
    already = getattr(logging, "_warnings_showwarning", None) is not None
    if not already and warnings.showwarning is default_showwarning:
        logging.captureWarnings(True)
        _captured_warnings = True


def uninstall() -> None:
    """Put back what ``install`` changed (a hook someone set since is left alone). Caller
    holds ``console._console_lock``; the last host to let go of the console calls it."""
    global _previous_excepthook, _previous_unraisablehook, _captured_warnings
    if _previous_excepthook is not None:
        if threading.excepthook is log_thread_exception:
            threading.excepthook = _previous_excepthook
        _previous_excepthook = None
    if _previous_unraisablehook is not None:
        if sys.unraisablehook is log_unraisable:
            sys.unraisablehook = _previous_unraisablehook
        _previous_unraisablehook = None
    if _captured_warnings:
        logging.captureWarnings(False)
        _captured_warnings = False


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception as exc:  # a user object whose __repr__ raises
        return f"<unrepresentable {type(value).__name__}: {exc!r}>"


def logging_error_record(record: logging.LogRecord, exc: BaseException) -> logging.LogRecord:
    """The record written instead of ``record``, whose message and arguments did not format
    (``exc``): ERROR, same logger, time, thread and place (``pathname``, ``lineno``,
    ``funcName``), the message saying what failed and where, and the original ``msg`` and
    ``args`` (as ``repr``) in the fields ``logging_msg`` and ``logging_args``. Never raises."""
    msg, args = _safe_repr(record.msg), _safe_repr(record.args)
    text = (f"A logging call's message and arguments did not format "
            f"({type(exc).__name__}: {exc}): msg={msg}, args={args}, logged at "
            f"{record.pathname}:{record.lineno} in {record.funcName}()")
    substitute = logging.LogRecord(record.name, logging.ERROR, record.pathname, record.lineno,
                                   text, None, None, record.funcName)
    for name in ("created", "msecs", "relativeCreated", "thread", "threadName", "process",
                 "processName"):
        setattr(substitute, name, getattr(record, name))
    substitute.logging_msg = msg
    substitute.logging_args = args
    return substitute
