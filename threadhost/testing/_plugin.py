"""The pytest plugin, registered through the ``pytest11`` entry point as ``threadhost``.

Fixtures:

* ``fake_clock``: a manual ``FakeClock`` (virtual time frozen at 2000-01-01 UTC until the test
  advances it);
* ``host_builder``: a ``HostApplicationBuilder`` for tests: environment ``Testing``,
  ``NullLifetime`` (no signal handlers, no status messages), ``fake_clock`` as the host's
  clock, and no console handler, so logs reach pytest's ``caplog`` (and its report) only.
  It is hermetic: it reads no ``appsettings*.json``, no environment variable and no command
  line; add what a test needs (``host_builder.configuration.add_in_memory({...})``).
"""

from __future__ import annotations

import pytest

from threadhost._building.builder import HostApplicationBuilder
from threadhost._hosting.lifetime import HostLifetime, NullLifetime
from threadhost._time.clock import Clock

from ._fake_clock import FakeClock


@pytest.fixture
def fake_clock() -> FakeClock:
    """A manual FakeClock; move it with ``advance(seconds)`` or ``set(datetime)``."""
    return FakeClock()


@pytest.fixture
def host_builder(fake_clock: FakeClock) -> HostApplicationBuilder:
    """A builder preset for tests: Testing environment, NullLifetime, the fake clock, and no
    configuration source (no appsettings*.json, environment variable or command line)."""
    builder = HostApplicationBuilder._empty("Testing")
    builder.services.add_singleton(HostLifetime, NullLifetime)
    builder.services.add_instance(Clock, fake_clock)
    builder.logging.clear_providers()
    return builder
