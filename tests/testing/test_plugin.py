"""The pytest plugin, used the way a user would: from a test file run by pytester."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

USER_TESTS = '''
from datetime import datetime, timezone

import threadhost as th
from threadhost.testing import FakeClock, run_host


class Poller(th.PeriodicBackgroundService):
    interval = 60.0

    def __init__(self) -> None:
        self.polls = []

    def run_once(self, stopping_token):
        self.polls.append(stopping_token.clock.now())


def test_fake_clock_starts_frozen(fake_clock):
    assert isinstance(fake_clock, FakeClock)
    assert fake_clock.now() == datetime(2000, 1, 1, tzinfo=timezone.utc)
    assert fake_clock.monotonic() == 0


def test_host_builder_is_preset_for_tests(host_builder, fake_clock):
    assert host_builder.environment.environment_name == "Testing"
    poller = Poller()
    host_builder.services.add_hosted_service(poller)
    with run_host(host_builder) as host:
        assert host.services.get(th.Clock) is fake_clock
        assert isinstance(host.services.get(th.HostLifetime), th.NullLifetime)
        fake_clock.advance(600)
    assert len(poller.polls) == 11


def test_logs_reach_caplog(host_builder, caplog):
    with run_host(host_builder):
        pass
    assert any(r.name == "threadhost.hosting" for r in caplog.records)
'''


def test_fixtures_work_in_a_user_test_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--log-level=DEBUG")
    result.assert_outcomes(passed=3)


TESTING_PAGE = Path(__file__).resolve().parents[2] / "docs" / "pages" / "testing.md"


def readme_example(marker: str) -> str:
    """The fenced Python block (```python or ```py) of the testing page that begins with
    ``marker``: the page's test examples run here, as a user's test files."""
    page = TESTING_PAGE.read_text()
    for block in re.split(r"```py(?:thon)?\n", page)[1:]:
        code = block.split("```", 1)[0]
        if code.startswith(marker):
            return code
    raise AssertionError(f"{TESTING_PAGE.name} has no Python example starting with {marker!r}")


def test_readme_testing_example_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_grace_period=readme_example("# test_grace_period.py"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


HERMETIC_TESTS = '''
def test_host_builder_reads_no_file_environment_or_command_line(host_builder):
    config = host_builder.configuration
    assert config.get("FromFile") is None
    assert config.get("FromEnv") is None
    assert host_builder.environment.environment_name == "Testing"
    host_builder.configuration.add_in_memory({"Added": "by the test"})
    assert config["Added"] == "by the test"
'''


def test_host_builder_is_hermetic(pytester: pytest.Pytester,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makefile(".json", appsettings='{"FromFile": "x"}')
    pytester.makefile(".Testing.json", appsettings='{"FromFile": "x"}')
    monkeypatch.setenv("FromEnv", "x")
    monkeypatch.setenv("THREADHOST_ENVIRONMENT", "Production")
    pytester.makepyfile(test_hermetic=HERMETIC_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_clock_aware_queue_example_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mailer=readme_example("import queue\n"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_readme_register_once_example_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(worker=readme_example("# worker.py"),
                        test_worker=readme_example("# test_worker.py"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
