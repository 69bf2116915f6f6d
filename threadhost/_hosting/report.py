"""What a stop did: ``ShutdownReport`` and its parts."""

from __future__ import annotations

import gc
import sys
import threading
import traceback
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import final

_frames_lock = threading.Lock()


def _current_frames() -> dict[int, types.FrameType]:
    """``sys._current_frames()`` with the cyclic garbage collector off.

    CPython before 3.11.9 can deadlock (the GIL held, every thread frozen, no timeout fires)
    when the collector frees a ``threading.local`` while ``_current_frames`` walks the
    threads' states; every host owns such a local, and stacks are captured at each straggler
    report, FakeClock stall and second-signal exit. The lock keeps two captures from
    re-enabling the collector under each other; it guards nothing else and no user code runs
    under it.
    """
    with _frames_lock:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return sys._current_frames()
        finally:
            if enabled:
                gc.enable()


def capture_stack(thread: threading.Thread | None) -> str:
    """The formatted stack ``thread`` is executing right now (empty once it has ended).

    Any thread; never blocks on another thread; the collector is off while the frames are
    taken (see ``_current_frames``)."""
    if thread is None or thread.ident is None:
        return ""
    frame = _current_frames().get(thread.ident)
    if frame is None:
        return ""
    frames = traceback.extract_stack(frame)
    # Drop threading's bootstrap frames: they are the same for every thread and say nothing.
    while len(frames) > 1 and frames[0].filename == threading.__file__:
        del frames[0]
    return "".join(traceback.format_list(frames))


@final
@dataclass(frozen=True)
class Straggler:
    """A service that had not stopped by the shutdown deadline and was abandoned.

    ``name`` is the service, ``thread_name`` the thread left running, ``stack`` where that
    thread was stuck when it was abandoned, ``phase`` what it was doing (``execute`` for a
    BackgroundService thread, else the hook: ``stop``, ``stopping`` ...).
    """

    name: str
    stack: str
    thread_name: str = ""
    phase: str = "execute"

    def __str__(self) -> str:
        return (f"{self.name} ({self.phase}) did not stop by the shutdown deadline; "
                f"thread {self.thread_name!r} was abandoned, stuck in:\n{self.stack}")


@final
@dataclass(frozen=True)
class ServiceError:
    """An exception a service raised while the host started or stopped it, or that ended its
    ``execute`` (``phase`` says which: ``start``, ``stop``, ``execute`` ...)."""

    name: str
    exception: BaseException
    phase: str = "stop"

    def __str__(self) -> str:
        formatted = "".join(traceback.format_exception(self.exception)).rstrip()
        return f"{self.name} ({self.phase}) raised:\n{formatted}"


@final
@dataclass(frozen=True)
class UnfinishedWork:
    """A queued work item that was never started because the shutdown deadline passed."""

    service: str
    item: object

    def __str__(self) -> str:
        return f"{self.service}: {self.item!r}"


@final
@dataclass(frozen=True)
class ShutdownReport:
    """The account of one stop of a host; every caller of ``Host.stop()`` gets the same one.

    Immutable, so safe to share between threads. ``clean`` is True when nothing failed, nothing
    was abandoned and no queued work was left. ``restarts`` (name → restarts made) and
    ``failures`` (name → errors the service survived: restarted crashes, ``run_once`` errors,
    work items that raised) list only services with a count; they never make a report unclean.
    ``exit_code`` is what ``Host.run()`` returns for it: 1 if any service failed (start
    error, crash under STOP_HOST, stop error), else 3 if a service was abandoned or work was
    left unrun, else 0.
    """

    reason: str
    stopped: tuple[str, ...] = ()
    stragglers: tuple[Straggler, ...] = ()
    errors: tuple[ServiceError, ...] = ()
    unfinished_work: tuple[UnfinishedWork, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    elapsed: float = 0.0
    restarts: Mapping[str, int] = field(default_factory=dict)
    failures: Mapping[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        """True when no service failed or was abandoned and no queued work was left."""
        return not (self.stragglers or self.errors or self.unfinished_work)

    @property
    def exit_code(self) -> int:
        """0 clean, 1 a service failed, 3 stragglers or unfinished work and nothing failed."""
        if self.errors:
            return 1
        if self.stragglers or self.unfinished_work:
            return 3
        return 0

    def __str__(self) -> str:
        lines = [f"Shutdown ({self.reason}) took {self.elapsed:.3f}s: "
                 f"{'clean' if self.clean else 'NOT clean'}; stopped {list(self.stopped)}"]
        lines += [str(s) for s in self.stragglers]
        lines += [str(e) for e in self.errors]
        if self.restarts:
            lines.append("restarts: " + ", ".join(f"{n} {c}" for n, c in self.restarts.items()))
        if self.failures:
            lines.append("errors survived: " + ", ".join(
                f"{n} {c}" for n, c in self.failures.items()))
        if self.unfinished_work:
            lines.append(f"{len(self.unfinished_work)} queued work item(s) never ran:")
            lines += [f"  {w}" for w in self.unfinished_work]
        return "\n".join(lines)
