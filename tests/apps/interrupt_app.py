"""A host with NullLifetime (no signal handling of threadhost's) stopped on the main thread;
the test sends SIGINT while the stop waits for a service that takes five seconds to end once
asked (well within the shutdown timeout, so it is no straggler)."""

from __future__ import annotations

import signal
import sys
import threading

import threadhost as th


class SlowToStop(th.BackgroundService):
    def execute(self, stopping_token: th.CancellationToken) -> None:
        stopping_token.wait()
        print("asked to stop", flush=True)  # the main thread now waits for this thread
        threading.Event().wait(5)  # the SIGINT lands while the stop waits for this


if __name__ == "__main__":
    # As in a terminal: a background job (the suite run by `cmd &`) inherits SIGINT ignored,
    # and Python then installs no KeyboardInterrupt handler.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    builder = th.Host.create_application_builder([])
    builder.services.add_singleton(th.HostLifetime, th.NullLifetime)
    builder.services.configure(th.HostOptions, shutdown_timeout=30)
    builder.services.add_hosted_service(SlowToStop)
    host = builder.build()
    host.start()
    try:
        host.stop()
    except KeyboardInterrupt:
        print("KeyboardInterrupt after the stop", flush=True)
    report = host.report
    assert report is not None
    print(f"errors={[e.name for e in report.errors]}", flush=True)
    print(f"stragglers={[s.name for s in report.stragglers]}", flush=True)
    sys.exit(0)
