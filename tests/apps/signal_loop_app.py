"""Runs COUNT hosts one after another on the main thread, for signal storms from the tests.

Usage: signal_loop_app.py COUNT. For each host i it writes ``ready i`` once started; the test
signals it; the worker's cleanup takes 50 ms of real time (so a doubled signal lands during
the stop), then writes ``cleanup i``; after ``run()`` it writes ``exit i CODE``. Every line is
one ``os.write``, so lines from different threads never interleave.
"""

from __future__ import annotations

import os
import sys
import threading

import threadhost as th


def say(line: str) -> None:
    os.write(1, f"{line}\n".encode())


class Worker(th.BackgroundService):
    def __init__(self, index: int) -> None:
        self.index = index

    def execute(self, stopping_token: th.CancellationToken) -> None:
        stopping_token.wait()
        threading.Event().wait(0.05)  # a cleanup that takes a little real time
        say(f"cleanup {self.index}")


def main() -> int:
    for index in range(int(sys.argv[1])):
        builder = th.Host.create_application_builder([])
        builder.services.add_hosted_service(Worker(index))
        builder.services.configure(th.ConsoleLifetimeOptions, suppress_status_messages=True)
        builder.logging.clear_providers()
        host = builder.build()
        lifetime = host.services.get(th.HostApplicationLifetime)
        lifetime.application_started.register(lambda i=index: say(f"ready {i}"))
        code = host.run()
        say(f"exit {index} {code}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
