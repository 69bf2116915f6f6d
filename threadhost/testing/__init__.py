"""Test support for threadhost.

``FakeClock`` (virtual time that wakes sleeping threads), ``run_host`` (a host for the length of
a ``with`` block that fails the test on an unclean stop), and a pytest plugin with the fixtures
``fake_clock`` and ``host_builder`` (registered automatically through the ``pytest11`` entry
point).
"""

from __future__ import annotations

from ._entries import FakeClockStallError
from ._fake_clock import FakeClock
from ._run_host import run_host

__all__ = ["FakeClock", "FakeClockStallError", "run_host"]

for _name in __all__:
    globals()[_name].__module__ = "threadhost.testing"
del _name
