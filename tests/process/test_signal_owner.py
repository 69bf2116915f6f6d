"""Signals have an owner (real processes; see tests/apps/signal_owner_app.py): a signal meant
for no running host, or for a forked child, never stops a host."""

from __future__ import annotations

from tests._subprocess import App


def run_mode(*args: str) -> list[str]:
    with App("-m", "tests.apps.signal_owner_app", *args) as app:
        code = app.wait(timeout=60)
    assert code == 0, app.output()
    return [line for line in app.stdout if line.startswith("OK ")]


def test_a_signal_handled_while_no_host_listened_never_stops_the_next_host() -> None:
    assert run_mode("leftover") == ["OK second stopped for: signal SIGINT"]


def test_a_sigterm_to_a_child_right_after_os_fork_kills_the_child_and_spares_the_parent(
        ) -> None:
    assert run_mode("fork", "200") == ["OK children killed by SIGTERM: 200/200",
                                       "OK host stopped for: signal SIGINT"]


def test_terminate_right_after_a_multiprocessing_fork_kills_the_child_and_spares_the_parent(
        ) -> None:
    assert run_mode("mpfork", "40") == ["OK children killed by SIGTERM: 40/40",
                                        "OK host stopped for: signal SIGINT"]


def test_two_signals_together_stop_once_and_a_later_one_reaches_the_previous_handler() -> None:
    assert run_mode("together") == ["OK stopped for: signal SIGTERM",
                                    "OK later SIGTERM reached the previous handler: True"]


def test_hosts_one_after_another_on_the_main_thread_each_stop_on_a_signal() -> None:
    assert run_mode("sequence", "150") == ["OK 150 hosts in sequence"]
