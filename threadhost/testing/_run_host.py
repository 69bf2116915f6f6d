"""``run_host``: start a host for the length of a ``with`` block, and insist on a clean stop."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from threadhost._builder import HostApplicationBuilder
from threadhost._clock import Clock
from threadhost._host import Host

from ._fake_clock import FakeClock


@contextlib.contextmanager
def run_host(builder_or_host: HostApplicationBuilder | Host, *,
             clock: Clock | None = None) -> Iterator[Host]:
    """Start the host, yield it, then stop it; fail the test if the stop was not clean.

    Given a builder, ``clock`` (if any) is registered as the host's clock before building;
    given a built host, ``clock`` must be None (register it on the builder instead). On exit
    the host is stopped on the calling thread; if the report is not clean an AssertionError
    lists the stragglers, errors and unfinished work. If the host's clock is a ``FakeClock``
    that recorded stalls (``on_stall="raise"``), the first is raised. An exception from the
    ``with`` body wins over both.
    """
    if isinstance(builder_or_host, HostApplicationBuilder):
        if clock is not None:
            builder_or_host.services.add_instance(Clock, clock)
        host = builder_or_host.build()
    else:
        if clock is not None:
            raise TypeError("run_host(host, clock=...): the host is already built; register "
                            "the clock on the builder, or pass the builder instead.")
        host = builder_or_host
    host.start()
    try:
        yield host
    finally:
        report = host.stop()
        host.close()
    if not report.clean:
        raise AssertionError(f"the host did not stop cleanly:\n{report}")
    host_clock = host.services.get(Clock)  # type: ignore[type-abstract]
    if isinstance(host_clock, FakeClock) and host_clock.on_stall == "raise" and (
            host_clock.stall_errors):
        raise host_clock.stall_errors[0]
