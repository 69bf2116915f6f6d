"""A host with NullLifetime (no signal handling of threadhost's) stopped on the main thread;
the test sends SIGINT while the stop waits for a service that takes its time, then SIGUSR1,
whose handler lets the service end (so the stop cannot be over before the SIGINT lands)."""

from __future__ import annotations

import signal
import sys
import threading

import threadhost as th

release = threading.Event()


class SlowToStop(th.BackgroundService):
    def execute(self, stopping_token: th.CancellationToken) -> None:
        stopping_token.wait()
        print("asked to stop", flush=True)  # the main thread now waits for this thread
        release.wait(60)  # until the test's SIGUSR1


if __name__ == "__main__":
    signal.signal(signal.SIGUSR1, lambda signum, frame: release.set())
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
