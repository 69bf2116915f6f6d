"""The host's lifecycle: order, start failures, concurrency, deadline, stragglers, races."""

from __future__ import annotations

import logging
import os
import signal
import threading

import pytest

import threadhost as th
from tests._services import (
    WAIT,
    A,
    B,
    C,
    Crashes,
    FailStartService,
    FailStopService,
    IgnoresToken,
    Recorder,
    StopsApplication,
    Waiter,
    make_builder,
    stop_within,
)


def record_lifetime(host: th.Host, record: Recorder) -> None:
    lifetime = host.services.get(th.HostApplicationLifetime)
    for name in ("application_started", "application_stopping", "application_stopped"):
        getattr(lifetime, name).register(lambda name=name: record(name))


# -- order -------------------------------------------------------------------------------


def test_lifecycle_hooks_run_in_the_documented_order() -> None:
    record = Recorder()
    host = make_builder(A(record), B(record)).build()
    record_lifetime(host, record)
    host.start()
    report = host.stop()
    assert record.snapshot() == [
        "A.starting", "B.starting", "A.start", "B.start", "A.started", "B.started",
        "application_started",
        "application_stopping", "B.stopping", "A.stopping", "B.stop", "A.stop",
        "B.stopped", "A.stopped", "application_stopped",
    ]
    assert report.clean and report.exit_code == 0
    assert report.stopped == ("B", "A")


def test_two_instances_of_one_class_get_distinct_names() -> None:
    record = Recorder()
    with make_builder(A(record), A(record)).build() as host:
        pass
    assert host.report is not None
    assert host.report.stopped == ("A#2", "A")


# -- start failures ----------------------------------------------------------------------


def test_failing_start_stops_earlier_services_in_reverse_and_names_the_failure() -> None:
    record = Recorder()
    host = make_builder(A(record), B(record), FailStartService(record), C(record)).build()
    with pytest.raises(th.HostStartupError,
                       match=r"^Service 'FailStartService' failed in start: boom at start$"
                       ) as info:
        host.start()
    error = info.value
    assert error.service == "FailStartService"
    assert isinstance(error.__cause__, ValueError)
    assert record.snapshot() == [
        "A.starting", "B.starting", "FailStartService.starting", "C.starting",
        "A.start", "B.start", "FailStartService.start",
        "B.stopping", "A.stopping", "B.stop", "A.stop", "B.stopped", "A.stopped",
    ]
    assert error.report is not None and error.report.exit_code == 1
    assert host.stop() is error.report
    host.close()


def test_run_returns_1_when_a_service_fails_to_start(
        caplog: pytest.LogCaptureFixture) -> None:
    record = Recorder()
    caplog.set_level(logging.ERROR, "threadhost.hosting")
    assert make_builder(FailStartService(record)).build().run() == 1
    # The cause is in the ERROR line itself; the traceback is attached to the record.
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert error.getMessage() == ("Service 'FailStartService' failed in start: ValueError: boom "
                                  "at start; stopping the services already started.")
    assert error.exc_info is not None


def test_startup_timeout_cancels_the_start_token_and_fails_start() -> None:
    token_seen: list[bool] = []

    class SlowStart(th.HostedService):
        def start(self, cancellation_token: th.CancellationToken) -> None:
            token_seen.append(cancellation_token.wait(WAIT))

        def stop(self, cancellation_token: th.CancellationToken) -> None:
            pass

    host = make_builder(SlowStart(), startup_timeout=0.1).build()
    with pytest.raises(th.HostStartupError, match=r"startup did not finish within 0\.1s"):
        host.start()
    assert token_seen == [True]
    host.close()


def test_stop_requested_before_start_makes_start_return_and_run_exit_cleanly() -> None:
    record = Recorder()
    host = make_builder(A(record)).build()
    host.services.get(th.HostApplicationLifetime).stop_application()
    assert host.run() == 0
    assert record.snapshot() == []


def test_stop_application_during_start_skips_the_rest_of_startup() -> None:
    record = Recorder()

    class StopsDuringStart(th.HostedService):
        def __init__(self, lifetime: th.HostApplicationLifetime) -> None:
            self.lifetime = lifetime

        def start(self, cancellation_token: th.CancellationToken) -> None:
            record("StopsDuringStart.start")
            self.lifetime.stop_application()

        def stop(self, cancellation_token: th.CancellationToken) -> None:
            record("StopsDuringStart.stop")

    builder = make_builder(A(record))
    builder.services.add_hosted_service(StopsDuringStart).add_hosted_service(B(record))
    host = builder.build()
    host.start()
    report = host.stop()
    assert "B.start" not in record.snapshot()
    assert record.snapshot()[-3:] == ["StopsDuringStart.stop", "A.stop", "A.stopped"]
    assert report.clean
    host.close()


# -- concurrency -------------------------------------------------------------------------


def test_concurrent_phases_run_side_by_side_and_keep_phase_order() -> None:
    record = Recorder()
    barrier = threading.Barrier(3, timeout=WAIT)
    host = make_builder(A(record, barrier), B(record, barrier), C(record, barrier),
                        services_start_concurrently=True,
                        services_stop_concurrently=True).build()
    host.start()
    report = host.stop()
    assert report.clean, str(report)
    events = record.snapshot()
    phases = [e.split(".")[1] for e in events]
    assert phases == ["starting"] * 3 + ["start"] * 3 + ["started"] * 3 + [
        "stopping"] * 3 + ["stop"] * 3 + ["stopped"] * 3


def test_sequential_phases_never_overlap() -> None:
    record = Recorder()
    barrier = threading.Barrier(3, timeout=0.2)
    host = make_builder(A(record, barrier), B(record, barrier), C(record, barrier)).build()
    with pytest.raises(th.HostStartupError) as info:
        host.start()
    assert isinstance(info.value.__cause__, threading.BrokenBarrierError)
    host.close()


# -- background services -----------------------------------------------------------------


def test_blocking_execute_does_not_delay_start() -> None:
    release = threading.Event()

    class Blocks(th.BackgroundService):
        def execute(self, stopping_token: th.CancellationToken) -> None:
            release.wait(10)

    blocks = Blocks()
    host = make_builder(blocks).build()
    host.start()  # returns while execute still blocks
    assert blocks.thread is not None and blocks.thread.is_alive() and not release.is_set()
    release.set()
    assert host.stop().clean
    host.close()


def test_a_start_and_stop_set_on_the_instance_are_the_ones_the_host_calls() -> None:
    record = Recorder()
    waiter = Waiter()
    start, stop = waiter.start, waiter.stop

    def start_here(token: th.CancellationToken) -> None:
        record("start")
        start(token)

    def stop_here(token: th.CancellationToken) -> None:
        record("stop")
        stop(token)

    waiter.start = start_here  # type: ignore[method-assign]
    waiter.stop = stop_here  # type: ignore[method-assign]
    host = make_builder(waiter).build()
    host.start()
    assert waiter.entered.wait(WAIT)
    assert stop_within(host).clean
    assert record.snapshot() == ["start", "stop"]


def test_a_service_whose_thread_cannot_start_fails_the_start_and_never_runs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = threading._start_new_thread  # type: ignore[attr-defined]

    def out_of_threads(function: object, args: tuple[object, ...]) -> int:
        if getattr(function, "__self__", None) is doomed.thread:
            raise RuntimeError("can't start new thread")
        return real(function, args)  # type: ignore[no-any-return]

    monkeypatch.setattr(threading, "_start_new_thread", out_of_threads)
    first, doomed = Waiter(), Waiter()
    host = make_builder(first, doomed).build()
    with pytest.raises(th.HostStartupError, match="can't start new thread") as failed:
        host.start()
    assert failed.value.service == "Waiter#2"
    states = {n: s.state for n, s in host.health().services.items()}
    assert states == {"Waiter": th.ServiceState.STOPPED, "Waiter#2": th.ServiceState.STARTING}
    assert not doomed.entered.is_set()
    host.close()


def test_background_thread_is_a_named_daemon_thread() -> None:
    waiter = Waiter()
    with make_builder(waiter).build():
        assert waiter.entered.wait(WAIT)
        assert waiter.thread is not None
        assert waiter.thread.name == "threadhost:Waiter" and waiter.thread.daemon
        assert repr(waiter) == "<BackgroundService Waiter running>"
    assert waiter.cleanups == 1
    assert repr(waiter) == "<BackgroundService Waiter stopped>"


def test_stop_abandons_straggler_after_deadline(caplog: pytest.LogCaptureFixture) -> None:
    straggler = IgnoresToken()
    host = make_builder(straggler, shutdown_timeout=1.0).build()
    host.start()
    assert straggler.entered.wait(WAIT)
    with caplog.at_level(logging.ERROR, logger="threadhost"):
        report = host.stop()
    try:
        assert [s.name for s in report.stragglers] == ["IgnoresToken"]
        assert "self.release.wait" in report.stragglers[0].stack
        assert "IgnoresToken" in str(report.stragglers[0])
        assert report.exit_code == 3
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert any("'IgnoresToken'" in m and "self.release.wait" in m for m in errors)
    finally:
        straggler.release.set()
        host.close()


def test_crash_is_logged_with_name_and_stop_host_makes_run_return_1(
        caplog: pytest.LogCaptureFixture) -> None:
    crashes = Crashes()
    crashes.go.set()
    host = make_builder(crashes).build()
    with caplog.at_level(logging.ERROR, logger="threadhost"):
        assert host.run() == 1
    assert isinstance(crashes.exception, RuntimeError)
    record = next(r for r in caplog.records if "'Crashes' failed" in r.getMessage())
    assert record.exc_info is not None and "mailer exploded" in str(record.exc_info[1])
    assert host.report is not None
    assert host.report.reason.startswith("service 'Crashes' crashed: RuntimeError(")
    assert [e.name for e in host.report.errors] == ["Crashes"]


def test_crash_under_ignore_keeps_the_host_running() -> None:
    crashes, waiter = Crashes(), Waiter()
    host = make_builder(
        crashes, waiter,
        background_service_exception_behavior=th.BackgroundServiceExceptionBehavior.IGNORE,
    ).build()
    host.start()
    crashes.go.set()
    assert crashes.thread is not None
    crashes.thread.join(WAIT)
    assert isinstance(crashes.exception, RuntimeError)
    assert not host.services.get(th.HostApplicationLifetime).application_stopping.is_set()
    report = host.stop()
    host.close()
    assert report.clean and waiter.cleanups == 1


def test_leaving_execute_by_cancellation_is_a_clean_stop() -> None:
    class RaisesOnCancel(th.BackgroundService):
        def execute(self, stopping_token: th.CancellationToken) -> None:
            stopping_token.wait()
            stopping_token.raise_if_cancellation_requested()

    service = RaisesOnCancel()
    with make_builder(service).build() as host:
        pass
    assert host.report is not None and host.report.clean
    assert service.exception is None


# -- stop from anywhere ------------------------------------------------------------------


def test_stop_from_five_threads_at_once_gives_everyone_the_same_report() -> None:
    host = make_builder(Waiter()).build()
    host.start()
    reports: list[th.ShutdownReport] = []
    barrier = threading.Barrier(5, timeout=WAIT)

    def stop() -> None:
        barrier.wait()
        reports.append(host.stop())

    threads = [threading.Thread(target=stop) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert len(reports) == 5 and all(r is reports[0] for r in reports)
    assert host.stop() is reports[0]
    host.close()


def test_stop_from_a_signal_handler_while_main_thread_waits_for_shutdown() -> None:
    host = make_builder(Waiter()).build()
    host.start()
    from_handler: list[th.ShutdownReport] = []
    previous = signal.signal(signal.SIGUSR1, lambda s, f: from_handler.append(host.stop()))
    try:
        threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGUSR1)).start()
        assert host.wait_for_shutdown(WAIT)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert from_handler == [host.stop()]
    assert from_handler[0].clean
    host.close()


def test_stop_from_inside_a_service_thread_returns_the_report() -> None:
    seen: list[th.ShutdownReport] = []
    host_box: list[th.Host] = []
    go = threading.Event()

    class StopsHost(th.BackgroundService):
        def execute(self, stopping_token: th.CancellationToken) -> None:
            go.wait(WAIT)
            seen.append(host_box[0].stop())

    service = StopsHost()
    host = make_builder(service, Waiter(), shutdown_timeout=WAIT).build()
    host_box.append(host)
    host.start()
    go.set()
    assert host.wait_for_shutdown(WAIT)
    report = host.stop()
    host.close()
    assert service.thread is not None
    service.thread.join(WAIT)
    assert seen == [report]
    assert report.clean and report.elapsed < WAIT


def test_stop_from_a_stop_hook_is_refused_with_a_clear_error() -> None:
    host_box: list[th.Host] = []

    class CallsStop(th.HostedService):
        def start(self, cancellation_token: th.CancellationToken) -> None:
            pass

        def stop(self, cancellation_token: th.CancellationToken) -> None:
            host_box[0].stop()

    host = make_builder(CallsStop()).build()
    host_box.append(host)
    host.start()
    report = host.stop()
    host.close()
    assert [str(e.exception) for e in report.errors] == [
        "Host.stop() was called from CallsStop.stop, inside the host's own stop, and would "
        "wait for itself; call HostApplicationLifetime.stop_application() there."]


# -- stop errors, reasons, timings --------------------------------------------------------


def test_failing_stop_does_not_keep_others_from_stopping_and_run_returns_1() -> None:
    record = Recorder()
    builder = make_builder(A(record), FailStopService(record), B(record))
    builder.services.add_hosted_service(StopsApplication)
    host = builder.build()
    assert host.run() == 1
    assert "A.stop" in record.snapshot() and "B.stop" in record.snapshot()
    assert host.report is not None
    [error] = host.report.errors
    assert error.name == "FailStopService" and error.phase == "stop"
    assert "boom at stop" in str(error)


def test_reason_names_the_thread_that_called_stop_application(
        caplog: pytest.LogCaptureFixture) -> None:
    host = make_builder(Waiter()).build()
    host.start()
    lifetime = host.services.get(th.HostApplicationLifetime)
    with caplog.at_level(logging.INFO, logger="threadhost"):
        caller = threading.Thread(target=lifetime.stop_application, name="x")
        caller.start()
        caller.join(WAIT)
        assert host.wait_for_shutdown(WAIT)
    report = host.stop()
    host.close()
    assert report.reason == "stop_application() called from thread 'x'"
    assert f"Hosting stopping: {report.reason}" in caplog.messages


def test_reason_for_host_stop_and_timings_per_service() -> None:
    class SlowStop(th.HostedService):
        def start(self, cancellation_token: th.CancellationToken) -> None:
            pass

        def stop(self, cancellation_token: th.CancellationToken) -> None:
            th.CancellationToken.NONE.wait(0.2)

    host = make_builder(SlowStop(), Waiter()).build()
    host.start()
    report = host.stop()
    host.close()
    assert report.reason == "Host.stop() called"
    assert set(report.timings) == {"SlowStop", "Waiter"}
    assert report.timings["SlowStop"] >= 0.2
    assert report.elapsed >= report.timings["SlowStop"]


# -- races -------------------------------------------------------------------------------


def test_stop_straight_after_start_never_hangs_nor_loses_cleanup() -> None:
    for _ in range(500):
        waiter = Waiter()
        host = make_builder(waiter, shutdown_timeout=WAIT).build()
        host.start()
        report = host.stop()
        host.close()
        assert report.clean
        assert waiter.cleanups == (1 if waiter.entered.is_set() else 0)


def test_start_twice_is_refused() -> None:
    host = make_builder().build()
    host.start()
    with pytest.raises(RuntimeError, match=r"^Cannot start the host, as it has already been "
                                           r"started\.$"):
        host.start()
    host.close()


def test_background_service_started_twice_is_refused() -> None:
    waiter = Waiter()
    cts = th.CancellationTokenSource()
    waiter.start(cts.token)
    with pytest.raises(RuntimeError, match="runs only once"):
        waiter.start(cts.token)
    waiter.stop(cts.token)


def test_two_instances_of_one_class_run_on_threads_named_after_their_service_names() -> None:
    first, second = Waiter(), Waiter()
    with make_builder(first, second).build():
        assert first.entered.wait(WAIT) and second.entered.wait(WAIT)
        assert first.thread is not None and second.thread is not None
        assert (first.thread.name, second.thread.name) == (
            "threadhost:Waiter", "threadhost:Waiter#2")
