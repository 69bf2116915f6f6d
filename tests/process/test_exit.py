"""``Host.run()`` ends the process on time: a non-daemon thread left behind is reported and
does not keep the process alive (real subprocesses)."""

from __future__ import annotations

from tests._subprocess import App


def test_run_exits_with_the_host_code_when_a_non_daemon_thread_would_keep_the_process_alive(
        ) -> None:
    # The worker's task waits 60 s: without the exit, the process would outlive this wait.
    with App("-m", "tests.apps.lingering_app", merge_stderr=True) as app:
        assert app.wait(timeout=30) == 0
    output = app.output()
    assert "report-writer_0" in output and "is still running after the stop" in output
    assert "exiting with code 0" in output
    assert "run() returned" not in output  # ended inside run(), once logging was flushed


def test_run_simply_returns_when_exit_on_stop_is_off() -> None:
    with App("-m", "tests.apps.lingering_app", "--HostOptions:ExitOnStop=false",
             merge_stderr=True) as app:
        app.expect("run() returned 0", timeout=30)
        assert app.wait(timeout=30) == 0
    assert "is still running after the stop" not in app.output()


def test_ctrl_c_during_a_stop_without_console_lifetime_is_no_service_error() -> None:
    import signal

    with App("-m", "tests.apps.interrupt_app") as app:
        app.expect("asked to stop")
        app.send(signal.SIGINT)  # lands in the stop's wait for the service, on the main thread
        app.expect("KeyboardInterrupt after the stop")  # raised once the report is out
        assert app.wait() == 0
    assert "errors=[]" in app.stdout and "stragglers=[]" in app.stdout
