"""The log events of the ready-made services (periodic, queued), one named function each (as .NET's
LoggerExtensions classes: each area keeps its own beside its code; the host's are in
``_log_messages``).

Templates use lazy ``%s`` arguments; the logger is ``threadhost.services``. Every call goes
through a ``GuardedLogger``, so a failing handler never raises here.
"""

from __future__ import annotations

import functools
import types

from threadhost._guarded_log import GuardedLogger

services_log = GuardedLogger("threadhost.services")


def periodic_overrun(name: str, skipped: int, interval: float) -> None:
    services_log.warning(
        "PeriodicBackgroundService %r overran its interval of %ss; skipping %d missed tick(s).",
        name, interval, skipped)


def periodic_run_failed(name: str, exc: BaseException) -> None:
    services_log.error("PeriodicBackgroundService %r: run_once() raised; the next tick still "
                       "runs.", name, exc_info=exc)


def work_item_failed(name: str, item: object, exc: BaseException) -> None:
    services_log.error("%s: work item %s raised; the worker goes on.", name, describe(item),
                       exc_info=exc)


def unfinished_work(name: str, items: list[object]) -> None:
    services_log.warning(
        "%s: %d queued work item(s) were not started before the shutdown deadline: %s",
        name, len(items), ", ".join(describe(i) for i in items))


def periodic_gave_up(name: str, in_a_row: int) -> None:
    services_log.error("PeriodicBackgroundService %r: %d runs in a row raised "
                       "(max_consecutive_failures); the service fails.", name, in_a_row)


def describe(item: object) -> str:
    """A work item as a reader can find it: ``module.qualname`` for a function, a lambda or a
    ``functools.partial`` (with its arguments), else its ``repr``."""
    if isinstance(item, functools.partial):
        args = [repr(a) for a in item.args] + [f"{k}={v!r}" for k, v in item.keywords.items()]
        return f"partial({describe(item.func)}, {', '.join(args)})" if args else (
            f"partial({describe(item.func)})")
    if isinstance(item, types.FunctionType | types.BuiltinFunctionType | types.MethodType):
        module = getattr(item, "__module__", None) or "?"
        return f"{module}.{getattr(item, '__qualname__', item.__name__)}"
    return repr(item)
