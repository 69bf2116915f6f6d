"""What the FakeClock's engine (``_stepping.Stepper``) hands out: the entries of its heap of
deadlines (a thread blocked in a clock wait, a pending callback) and the error of a stall.

Each entry is guarded by its engine's lock; the engine alone moves it from pending to done.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, final

from threadhost._time.cancellation import Latch

if TYPE_CHECKING:
    from ._stepping import Stepper


class FakeClockStallError(RuntimeError):
    """A participant stayed outside a clock wait for ``stall_timeout`` real seconds while
    ``on_stall="raise"``. ``thread_name`` and ``stack`` say which and where."""

    def __init__(self, thread_name: str, stack: str, stall_timeout: float) -> None:
        super().__init__(
            f"FakeClock: thread {thread_name!r} stayed outside a clock wait for "
            f"{stall_timeout}s of real time (blocked on something the clock cannot see, or "
            f"busy). It is in:\n{stack}")
        self.thread_name = thread_name
        self.stack = stack


@final
class Waiter:
    """One thread blocked in ``FakeClock.wait``; in the heap too if the wait has a timeout."""

    __slots__ = ("done", "engine", "latch", "thread", "timed")

    def __init__(self, engine: Stepper, thread: threading.Thread) -> None:
        self.engine = engine
        self.thread = thread
        self.timed = False  # guarded by the engine's lock: it has a deadline in the heap
        self.latch = Latch()
        self.done = False  # guarded by the engine's lock: woken (by time or by the token)

    def cancelled(self) -> None:
        """The token's callback (on the cancelling thread)."""
        self.engine._wake_by_token(self)


@final
class Callback:
    """A pending ``call_later`` callback; its own handle."""

    __slots__ = ("callback", "done", "engine")

    def __init__(self, engine: Stepper, callback: Callable[[], object]) -> None:
        self.engine = engine
        self.callback = callback
        self.done = False  # guarded by the engine's lock: started or cancelled

    def cancel(self) -> None:
        """Unschedule it; does nothing once it has started. Thread-safe, idempotent."""
        with self.engine._lock:
            self.engine._retire(self)
