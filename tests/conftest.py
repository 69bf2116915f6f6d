"""Suite-wide guards: no test may leave a thread behind."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run: a suite that fails one run in ten (a
# random draw meeting an untested corner) is worse than one that explores less; a corner
# found is given an example or a test of its own.
settings.register_profile("threadhost", derandomize=True)
settings.load_profile("threadhost")

pytest_plugins = ["pytester"]

_GRACE = 5.0  # real seconds a finishing thread gets to end before it counts as leaked


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Fail the test if it leaves a thread running (after a grace period to finish)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + _GRACE
    for thread in threading.enumerate():
        if thread not in before:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
    left = [t.name for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not left, f"threads left behind: {left}"


@pytest.fixture(autouse=True)
def restore_logger_levels() -> Iterator[None]:
    """Building a host sets logger levels process-wide; put them back after each test."""
    loggers = [logging.getLogger(), *(
        lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger))]
    levels = {lg: lg.level for lg in loggers}
    yield
    for lg in logging.root.manager.loggerDict.values():
        if isinstance(lg, logging.Logger):
            lg.setLevel(levels.get(lg, logging.NOTSET))
    logging.getLogger().setLevel(levels[logging.getLogger()])
