"""The drain (``HostOptions.shutdown_delay``) seen from a probe, in a real subprocess that gets
a real SIGTERM: not ready at once, alive and running through the delay, then the stop."""

from __future__ import annotations

import http.client
import signal
import threading

from tests._services import WAIT
from tests._subprocess import App
from threadhost._process.console_lifetime import REPEAT_WINDOW

APP = "tests/apps/health_app.py"


def probe(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def test_during_the_drain_readyz_is_503_healthz_200_and_services_still_run() -> None:
    # A 30 s drain: the probes below happen well inside it, however loaded the machine.
    with App(APP, "--HostOptions:ShutdownDelay=30", "--HostOptions:ShutdownTimeout=60",
             merge_stderr=True) as app:
        port = int(app.expect("port=").split("port=")[1])
        assert (probe(port, "/readyz"), probe(port, "/healthz")) == (200, 200)
        app.send(signal.SIGTERM)
        app.expect("Application is shutting down...")  # at once, before the delay
        app.expect("Draining: not ready")
        assert probe(port, "/readyz") == 503
        assert probe(port, "/healthz") == 200
        assert "stopping" not in app.stdout and "cleanup done" not in app.stdout
        # A second signal during the delay still ends the process at once.
        threading.Event().wait(REPEAT_WINDOW + 0.05)  # past the window: a second request
        app.send(signal.SIGTERM)
        assert app.wait() == 130, app.output()
    assert "stopping" not in app.stdout  # the stop proper never began


def test_after_the_drain_the_stop_goes_on_and_exits_0() -> None:
    with App(APP, "--HostOptions:ShutdownDelay=0.5", "--HostOptions:ShutdownTimeout=30",
             merge_stderr=True) as app:
        port = int(app.expect("port=").split("port=")[1])
        assert probe(port, "/readyz") == 200
        app.send(signal.SIGTERM)
        app.expect("Application is shutting down...")
        app.expect("stopping")
        app.expect("cleanup done")
        assert app.wait() == 0, app.output()
    lines = app.stdout
    order = [next(i for i, line in enumerate(lines) if line.endswith(text)) for text in (
        "Application is shutting down...", "before they are stopped.", "stopping",
        "cleanup done")]
    assert order == sorted(order), app.output()
