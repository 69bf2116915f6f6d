"""Fixtures of the logging tests: the root logger as a plain application has it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest


def console_handlers() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if h.get_name() == "threadhost.console"]


@pytest.fixture
def bare_root() -> Iterator[Callable[[], logging.Logger]]:
    """Call it first in the test: the root logger without pytest's capture handlers (pytest
    adds them for the call phase, after fixtures), as in a plain application. Handlers the
    test adds are removed at the end; pytest removes its own."""
    root = logging.getLogger()
    stripped: list[logging.Handler] = []

    def strip() -> logging.Logger:
        stripped.extend(root.handlers)
        for handler in stripped:
            root.removeHandler(handler)
        return root

    yield strip
    for handler in list(root.handlers):
        if handler not in stripped:
            root.removeHandler(handler)
