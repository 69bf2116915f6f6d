"""Exiting on time: what ``Host.run()`` does once the stop is over.

A Python process does not end while a non-daemon thread lives: a ``ThreadPoolExecutor``
worker, a thread an application started and forgot. ``run()`` returning on time is then not
enough: the process lingers past the deadline that systemd or Kubernetes gave it, and is
killed without a word. With ``HostOptions.exit_on_stop`` (the default), ``run()`` on the main
thread looks once the stop is over: no such thread, and it simply returns; otherwise each is
logged at ERROR with its name and stack, logging is flushed, and the process exits at once
with the host's exit code (``os._exit``: no interpreter teardown, which would join them).

Rejected: joining them under the deadline (the deadline is spent: the stop is over); making
them daemon threads (not ours to change, and a daemon thread is killed mid-write anyway);
``sys.exit`` (it joins non-daemon threads, the very wait this avoids).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading

from threadhost import _log_messages as log
from threadhost._hosting.report import capture_stack


def lingering_threads() -> list[threading.Thread]:
    """Non-daemon threads other than the caller that are still alive. Any thread."""
    me = threading.current_thread()
    return [t for t in threading.enumerate()
            if t is not me and not t.daemon and t.is_alive()]


def exit_if_lingering(code: int) -> None:
    """If a non-daemon thread would keep the process alive, log each and end the process now
    with ``code``; else return. Main thread only (``Host.run()``, after its stop)."""
    lingering = lingering_threads()
    if not lingering:
        return
    for thread in lingering:
        log.lingering_thread(thread.name, code, capture_stack(thread))
    _flush()
    os._exit(code)


def _flush() -> None:
    """Flush every handler logging knows of, then the standard streams (never raises)."""
    for ref in list(getattr(logging, "_handlerList", ())):
        handler = ref() if callable(ref) else None
        if handler is None:
            continue
        try:
            handler.flush()
        except Exception:
            continue
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
