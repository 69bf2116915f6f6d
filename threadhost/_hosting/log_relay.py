"""``LogRelay``: the stop's own log lines are handled on a thread of their own, with a bound.

A handler or filter of the application that *blocks* (a socket handler whose peer stopped
reading, a lock held elsewhere) would hold the thread that logs. The stop logs as it goes (the
reason, each error, each straggler, the closing line), so such a handler would keep the report
from ever being published and every caller of ``stop()``, ``run()`` and ``close()`` waiting.

Chosen: while a stop is carried out, threadhost's log calls on that thread make their record
there (so it names the thread and the function that logged, as usual) and hand it to the
relay's thread (``threadhost:log``, started at the first record), which runs the logger's
filters and handlers; the stop's thread waits for each record to be handled, so lines keep
their order with the lines of other threads, as if logged directly. The waits of one stop
share ``LOG_WAIT`` real seconds in all: once they are spent the relay is stuck, the stop stops
waiting for it (later records are queued and handled if the handler ever returns) and goes
on. A stuck relay thread is a daemon and ends when its handler returns.

Rejected: handing every threadhost record to one process-wide logging thread (user code, the
handlers, on shared infrastructure; and lines reordered against the application's own, which
are logged directly); publishing the report before logging it (the closing line would come
after ``stop()`` returned); a thread per record (a thread start per line of every stop).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import final

from threadhost._guarded_log import Relaying, handler_failed
from threadhost._time.cancellation import Latch

LOG_WAIT = 0.5
"""Real seconds a stop waits, all together, for its log records to be handled."""

_Item = tuple[logging.Logger, logging.LogRecord, Latch] | None


@final
class LogRelay:
    """Handles the records of threadhost's log calls made on one thread (see the module
    notes). ``emit`` is called on that thread only; ``close`` once, on the same thread."""

    def __init__(self) -> None:
        self._items: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._left = LOG_WAIT  # real seconds of waiting left to this stop
        self.stuck = False

    def emit(self, logger: logging.Logger, record: logging.LogRecord) -> None:
        """Have ``record`` handled by ``logger``; return once it was, or at once if the relay
        is stuck. Never raises what a handler raises."""
        done = Latch()
        self._items.put((logger, record, done))
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="threadhost:log",
                                            daemon=True)
            self._thread.start()
        if self.stuck:
            return
        began = time.monotonic()
        if not done.wait(self._left):
            self.stuck = True
        self._left -= time.monotonic() - began

    def close(self) -> None:
        """No more records: the relay's thread ends once it has handled those it holds (at
        once if it is not stuck; never waited for if it is)."""
        thread = self._thread
        if thread is None:
            return
        self._items.put(None)
        if not self.stuck:
            thread.join(max(self._left, 0.0))

    def _run(self) -> None:
        while True:
            item = self._items.get()
            if item is None:
                return
            logger, record, done = item
            try:
                logger.handle(record)
            except BaseException as exc:  # a handler or filter failed: reported, never raised
                handler_failed(logger.name, record.msg, exc)
            finally:
                done.set()


def relaying() -> Relaying:
    """Relay threadhost's log calls made on this thread until the block ends (see
    ``LogRelay``); the block's end closes the relay."""
    return Relaying(LogRelay())
