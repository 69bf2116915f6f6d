"""A host whose service leaves a non-daemon thread behind (a ThreadPoolExecutor worker stuck
in its task), then stops at once. Argument: ``--HostOptions:ExitOnStop=false`` or nothing."""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import threadhost as th

forever = threading.Event()


class LeavesAWorker(th.HostedService):
    def __init__(self, lifetime: th.HostApplicationLifetime) -> None:
        self.lifetime = lifetime
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="report-writer")

    def start(self, cancellation_token: th.CancellationToken) -> None:
        self.pool.submit(forever.wait, 60)  # a task that outlives the stop
        self.lifetime.application_started.register(self.lifetime.stop_application)

    def stop(self, cancellation_token: th.CancellationToken) -> None:
        pass


if __name__ == "__main__":
    builder = th.Host.create_application_builder(sys.argv[1:])
    builder.services.add_hosted_service(LeavesAWorker)
    code = builder.build().run()
    print(f"run() returned {code}", flush=True)
    forever.set()  # only reached with ExitOnStop=false
    sys.exit(code)
