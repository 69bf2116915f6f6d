"""``Event`` and ``Queue``: ``threading.Event`` and ``queue.Queue`` whose waits go through a clock.

Legacy code hands work between threads with ``queue.Queue`` and ``threading.Event``. Their
waits are invisible to a ``FakeClock``: a thread blocked in ``queue.get()`` looks busy, so the
clock waits ``stall_timeout`` of real time for it, and a ``get(timeout=5)`` waits 5 *real*
seconds. These two have the same shape, but every blocking wait is a ``Clock.wait`` on a
one-shot token: the timeout is measured on the clock, and a blocked thread counts as blocked
in a clock wait. Swap ``queue.Queue()`` for ``threadhost.Queue(clock)`` and the code runs
under virtual time, the same way every run.

How they wait (as ``threading.Condition`` does it, with tokens for its waiter locks): each
blocked thread parks on its own ``CancellationTokenSource``; whoever changes the state cancels
the source of the waiter(s) it frees. ``put`` frees one getter and ``get`` one putter, in
arrival order; a woken thread re-checks under the lock and parks again if another thread got
there first, so no wake-up is lost and none is spurious for the caller.

Rejected: subclassing ``queue.Queue`` and swapping its three Conditions for clock-aware ones
(it relies on ``Condition`` internals, ``_is_owned`` and the waiter deque); a wrapper that
waits in short real-time slices (polls, and still costs real time under a FakeClock).
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from typing import Generic, TypeVar, final

from threadhost._errors import OperationCanceledError
from threadhost._time.cancellation import CancellationToken, CancellationTokenSource
from threadhost._time.clock import SYSTEM_CLOCK, Clock, no_timeout

T = TypeVar("T")


@final
class Event:
    """``threading.Event`` whose ``wait`` goes through ``clock`` (default: the system clock).

    ``set``, ``clear``, ``is_set``, ``wait(timeout=None) -> bool``. Every method may be called
    from any thread and is thread-safe; ``set`` and ``clear`` never block. A thread blocked in
    ``wait`` counts as blocked in a clock wait, and ``timeout`` is measured on the clock.
    """

    __slots__ = ("_clock", "_flag", "_lock", "_signal")

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock if clock is not None else SYSTEM_CLOCK
        self._lock = threading.Lock()
        self._flag = False  # guarded by _lock
        self._signal = CancellationTokenSource(self._clock)  # guarded by _lock; cancelled on set

    def is_set(self) -> bool:
        """True while the flag is set."""
        return self._flag

    def set(self) -> None:
        """Set the flag and wake every waiting thread. Idempotent."""
        with self._lock:
            if self._flag:
                return
            self._flag = True
            signal = self._signal
        signal.cancel()  # outside our lock: it runs the waiters' wake-ups

    def clear(self) -> None:
        """Reset the flag; later ``wait`` calls block until the next ``set``."""
        with self._lock:
            if self._flag:
                self._flag = False
                self._signal = CancellationTokenSource(self._clock)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the flag is set or ``timeout`` seconds pass on the clock.

        Returns True if the flag was set (before or during the wait), False on timeout, as
        ``threading.Event.wait``. None or an infinite timeout waits without limit; zero or
        less does not block.
        """
        with self._lock:
            if self._flag:
                return True
            signal = self._signal
        return self._clock.wait(signal.token, timeout)

    def __repr__(self) -> str:
        return f"<threadhost.Event {'set' if self._flag else 'unset'}>"


class Queue(Generic[T]):
    """``queue.Queue`` whose blocking ``put`` and ``get`` wait through ``clock``.

    FIFO, at most ``maxsize`` items (0 or less: unbounded). ``put(item, block=True,
    timeout=None)``, ``get(block=True, timeout=None)``, ``put_nowait``, ``get_nowait``,
    ``qsize``, ``empty``, ``full``, ``task_done``, ``join``, raising ``queue.Full`` and
    ``queue.Empty`` as the standard queue does. Thread-safe; any thread. Timeouts are seconds
    on the clock. Beyond ``queue.Queue``: ``put`` and ``get`` take an optional
    ``cancellation_token`` that ends the wait with ``OperationCanceledError``.
    """

    def __init__(self, clock: Clock | None = None, maxsize: int = 0) -> None:
        self._clock = clock if clock is not None else SYSTEM_CLOCK
        self.maxsize = maxsize
        self._lock = threading.Lock()
        self._items: deque[T] = deque()  # guarded by _lock
        self._getters: deque[CancellationTokenSource] = deque()  # guarded by _lock
        self._putters: deque[CancellationTokenSource] = deque()  # guarded by _lock
        self._unfinished = 0  # guarded by _lock: items put and not yet task_done()
        self._all_done = Event(self._clock)
        self._all_done.set()

    def qsize(self) -> int:
        """The number of items waiting (a snapshot)."""
        return len(self._items)

    def empty(self) -> bool:
        """True if no item is waiting (a snapshot)."""
        return not self._items

    def full(self) -> bool:
        """True if ``maxsize`` items are waiting (a snapshot)."""
        return 0 < self.maxsize <= len(self._items)

    def put(self, item: T, block: bool = True, timeout: float | None = None, *,
            cancellation_token: CancellationToken | None = None) -> None:
        """Add ``item``, waiting (on the clock) for room if the queue is full.

        Blocks until there is room, at most ``timeout`` seconds on the clock (None: no
        limit); with ``block=False`` it never waits. Raises ``queue.Full`` if there is no
        room in time, ValueError for a negative timeout, and ``OperationCanceledError`` if
        ``cancellation_token`` is (or gets) cancelled before the item is added.
        """
        end = self._end(block, timeout, cancellation_token)
        with self._lock:
            while 0 < self.maxsize <= len(self._items):
                self._park(self._putters, end, cancellation_token, queue.Full)
            self._items.append(item)
            self._unfinished += 1
            if self._unfinished == 1:
                self._all_done.clear()
            self._free(self._getters)

    def get(self, block: bool = True, timeout: float | None = None, *,
            cancellation_token: CancellationToken | None = None) -> T:
        """Remove and return the oldest item, waiting (on the clock) for one if none is there.

        Blocks until an item comes, at most ``timeout`` seconds on the clock (None: no
        limit); with ``block=False`` it never waits. Raises ``queue.Empty`` if none came in
        time, ValueError for a negative timeout, and ``OperationCanceledError`` if
        ``cancellation_token`` is (or gets) cancelled before an item is taken.
        """
        end = self._end(block, timeout, cancellation_token)
        with self._lock:
            while not self._items:
                self._park(self._getters, end, cancellation_token, queue.Empty)
            item = self._items.popleft()
            self._free(self._putters)
            return item

    def put_nowait(self, item: T) -> None:
        """``put(item, block=False)``: raises ``queue.Full`` at once if there is no room."""
        self.put(item, block=False)

    def get_nowait(self) -> T:
        """``get(block=False)``: raises ``queue.Empty`` at once if no item is waiting."""
        return self.get(block=False)

    def task_done(self) -> None:
        """Mark one item taken with ``get`` as processed (for ``join``).

        Raises ValueError if called more times than there were items put.
        """
        with self._lock:
            if self._unfinished <= 0:
                raise ValueError("task_done() called too many times")
            self._unfinished -= 1
            if not self._unfinished:
                self._all_done.set()  # under our lock, or a put() could clear it first

    def join(self) -> None:
        """Block (a clock wait) until every item put has been marked with ``task_done``."""
        self._all_done.wait()

    def _end(self, block: bool, timeout: float | None,
             token: CancellationToken | None) -> float | None:
        """The clock time a wait must end by: None for no limit, -inf for no wait at all.

        Raises ValueError for a negative timeout, OperationCanceledError for a cancelled
        token (as .NET's channels: a cancelled token fails the call even if it need not wait).
        """
        if token is not None:
            token.raise_if_cancellation_requested()
        if not block:
            return float("-inf")
        if timeout is not None and timeout < 0:
            raise ValueError("'timeout' must be a non-negative number")
        if no_timeout(timeout):
            return None
        assert timeout is not None
        return self._clock.monotonic() + timeout

    def _park(self, line: deque[CancellationTokenSource], end: float | None,
              token: CancellationToken | None, error: type[Exception]) -> None:
        """Wait in ``line`` until freed, the end, or ``token`` (called and returns under _lock).

        Raises ``error`` when the time is up, OperationCanceledError when the token fires.
        The clock is read with our lock released: a FakeClock may make an outside reader
        wait for a step to settle, and the woken threads may need this queue to settle.
        """
        if end == float("-inf"):
            raise error
        signal = CancellationTokenSource(self._clock)
        # The caller's token cancels our signal too (a linked source costs 4x as much).
        link = token.register(signal.cancel) if token is not None else None
        line.append(signal)
        self._lock.release()
        try:
            remaining = None if end is None else end - self._clock.monotonic()
            if remaining is None or remaining > 0:
                self._clock.wait(signal.token, remaining)
        finally:
            if link is not None:
                link.unregister()
            self._lock.acquire()
        if signal.is_cancellation_requested and signal not in line:
            return  # freed by put/get (perhaps as the time ran out): the caller re-checks
        line.remove(signal)  # not freed: the time ran out or the token fired
        if token is not None and token.is_cancellation_requested:
            raise OperationCanceledError(token=token)
        raise error

    def _free(self, line: deque[CancellationTokenSource]) -> None:
        """Wake the first thread in ``line`` (under _lock; the wake-up only marks and opens)."""
        if line:
            line.popleft().cancel()

    def __repr__(self) -> str:
        return f"<threadhost.Queue {len(self._items)} item(s), maxsize={self.maxsize}>"
