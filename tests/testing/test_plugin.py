"""The pytest plugin, used the way a user would: from a test file run by pytester. (The
testing page's own test files run the same way, in tests/test_docs.py.)"""

from __future__ import annotations

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
