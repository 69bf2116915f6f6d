from __future__ import annotations

import datetime
import decimal
import enum
import pathlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

import threadhost as th
from tests.config._asserting_options import Asserting


class Mode(enum.Enum):
    FAST = "fast"
    SAFE_AND_SLOW = "safe"


@dataclass
class Retry:
    attempts: int = 3
    backoff: float = 0.5


@dataclass
class Settings:
    name: str = ""
    max_connections: int = 0
    ratio: float = 0.0
    enabled: bool = False
    mode: Mode = Mode.FAST
    ports: list[int] = field(default_factory=list)
    retry: Retry = field(default_factory=Retry)
    timeout: float | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class OrderingBackgroundSettings:
    check_update_time: int
    grace_period_time: int


def test_bind_converts_every_supported_type() -> None:
    config = th.Configuration().add_in_memory({
        "S:Name": "svc", "S:MaxConnections": "12", "S:Ratio": "0.25", "S:ENABLED": "TRUE",
        "S:Mode": "safe_and_slow", "S:Ports:0": "80", "S:Ports:1": "443", "S:Ports:10": "8080",
        "S:Retry:Attempts": "5", "S:Timeout": "2.5", "S:Labels:team": "core",
    })
    assert config.get_section("S").bind(Settings) == Settings(
        name="svc", max_connections=12, ratio=0.25, enabled=True, mode=Mode.SAFE_AND_SLOW,
        ports=[80, 443, 8080], retry=Retry(attempts=5, backoff=0.5), timeout=2.5,
        labels={"team": "core"})


def test_bind_takes_lists_from_json_arrays() -> None:
    config = th.Configuration().add_in_memory({"S": {"Ports": [1, 2, 3]}})
    assert config.get_section("S").bind(Settings).ports == [1, 2, 3]


def test_missing_keys_keep_defaults_and_empty_optional_is_none() -> None:
    config = th.Configuration().add_in_memory({"S:Timeout": ""})
    assert config.get_section("S").bind(Settings) == Settings()


def test_bind_onto_a_base_keeps_its_values() -> None:
    config = th.Configuration().add_in_memory({"S:Ratio": "1.5"})
    base = Settings(name="kept")
    bound = config.get_section("S").bind(Settings, base)
    assert (bound.name, bound.ratio) == ("kept", 1.5)


def test_value_that_does_not_convert_names_full_key_value_and_type() -> None:
    config = th.Configuration().add_in_memory({"Ordering": {"CheckUpdateTime": "soon",
                                                            "GracePeriodTime": "1"}})
    with pytest.raises(th.ConfigurationError,
                       match=r"^Ordering:CheckUpdateTime='soon' is invalid: expected an integer "
                             r"\(int\) \(set in in-memory\)$"):
        config.get_section("Ordering").bind(OrderingBackgroundSettings)


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("Enabled", "yes", "true or false"),
    ("Ratio", "abc", r"a number \(float\)"),
    ("Mode", "turbo", "one of fast, safe"),
])
def test_conversion_errors_say_what_was_expected(key: str, value: str, expected: str) -> None:
    config = th.Configuration().add_in_memory({f"S:{key}": value})
    with pytest.raises(th.ConfigurationError,
                       match=rf"^S:{key}='{value}' is invalid: expected {expected} "
                             r"\(set in in-memory\)$"):
        config.get_section("S").bind(Settings)


def test_missing_required_fields_are_named() -> None:
    config = th.Configuration().add_in_memory({"Ordering:CheckUpdateTime": "5"})
    with pytest.raises(th.ConfigurationError,
                       match=r"^Ordering: no value for required field\(s\) grace_period_time"):
        config.get_section("Ordering").bind(OrderingBackgroundSettings)


def test_bind_refuses_a_non_dataclass() -> None:
    with pytest.raises(TypeError, match="bind\\(\\) needs a dataclass type"):
        th.Configuration().bind(dict)


@dataclass(frozen=True)
class Schedule:
    at: datetime.datetime = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    day: datetime.date = datetime.date(2000, 1, 1)
    every: datetime.timedelta = datetime.timedelta(0)
    price: decimal.Decimal = decimal.Decimal(0)
    level: Literal["low", "high"] = "low"
    folder: pathlib.Path = pathlib.Path()


def test_bind_converts_dates_durations_decimals_literals_and_paths() -> None:
    config = th.Configuration().add_in_memory({"S": {
        "At": "2024-05-01T12:00:00Z", "Day": "2024-05-01", "Every": "1.02:03:04.5",
        "Price": "19.99", "Level": "HIGH", "Folder": "/srv/app"}})
    assert config.get_section("S").bind(Schedule) == Schedule(
        at=datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.UTC),
        day=datetime.date(2024, 5, 1),
        every=datetime.timedelta(days=1, hours=2, minutes=3, seconds=4.5),
        price=decimal.Decimal("19.99"), level="high", folder=pathlib.Path("/srv/app"))
    seconds = th.Configuration().add_in_memory({"S:Every": "90"}).get_section("S")
    assert seconds.bind(Schedule).every == datetime.timedelta(seconds=90)


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("At", "2024-05-01T12:00:00", r"an ISO 8601 date and time with a UTC offset \(datetime\), "
                                  r"e\.g\. 2024-05-01T12:00:00Z"),
    ("Day", "May 1st", r"an ISO 8601 date \(date\), e\.g\. 2024-05-01"),
    ("Every", "soon", r"a duration \(timedelta\): seconds such as 90 or 1\.5, or "
                      r"\[d\.\]hh:mm\[:ss\] such as 00:01:30"),
    ("Price", "cheap", r"a decimal number \(Decimal\)"),
    ("Level", "medium", r"one of 'low', 'high'"),
])
def test_conversion_errors_of_richer_types_say_what_was_expected(
        key: str, value: str, expected: str) -> None:
    config = th.Configuration().add_in_memory({f"S:{key}": value})
    with pytest.raises(th.ConfigurationError,
                       match=rf"^S:{key}='{value}' is invalid: expected {expected} "
                             r"\(set in in-memory\)$"):
        config.get_section("S").bind(Schedule)


def test_a_value_error_names_the_file_line_and_column_it_came_from(tmp_path: Path) -> None:
    path = tmp_path / "appsettings.json"
    path.write_text('{\n  "S": {\n    "MaxConnections": "many"\n  }\n}')
    config = th.Configuration().add_json_file(path)
    with pytest.raises(th.ConfigurationError,
                       match=rf"^S:MaxConnections='many' is invalid: expected an integer \(int\) "
                             rf"\(set in {path}:3:23\)$"):
        config.get_section("S").bind(Settings)


@given(st.dictionaries(
    st.sampled_from(["Name", "MaxConnections", "Ratio", "Enabled", "Mode", "Ports:0",
                     "Retry:Attempts", "Timeout", "Labels:x", "Retry", "ports:1"]),
    st.text(max_size=6), max_size=6))
def test_bind_gives_a_settings_object_or_a_configuration_error(values: dict[str, str]) -> None:
    config = th.Configuration().add_in_memory({f"S:{k}": v for k, v in values.items()})
    try:
        bound = config.get_section("S").bind(Settings)
    except th.ConfigurationError as exc:
        assert str(exc).startswith("S")
        return
    assert isinstance(bound, Settings) and isinstance(bound.max_connections, int)


@dataclass
class Polling:
    """Validates itself, as an application's options do."""

    poll_interval: float = 60.0
    batch: int = 10

    def __post_init__(self) -> None:
        if self.poll_interval <= 0:
            raise ValueError(f"poll_interval must be > 0, got {self.poll_interval}")
        if self.batch > 100 and self.poll_interval < 1:
            raise ValueError("too much work per second")


def test_a_value_the_dataclass_refuses_is_an_error_naming_the_key_value_and_source() -> None:
    config = th.Configuration().add_command_line(["--Worker:PollInterval=-1"])
    with pytest.raises(th.ConfigurationError) as raised:
        config.get_section("Worker").bind(Polling)
    assert str(raised.value) == (
        "Worker:PollInterval='-1' is invalid: poll_interval must be > 0, got -1.0 (set in "
        "command line Worker:PollInterval)")


def test_a_refusal_naming_no_field_names_the_section() -> None:
    config = th.Configuration().add_in_memory({"Worker": {"PollInterval": 0.5, "Batch": 500}})
    with pytest.raises(th.ConfigurationError) as raised:
        config.get_section("Worker").bind(Polling)
    assert str(raised.value) == "Worker: too much work per second"



def test_an_assert_in_post_init_is_an_error_naming_the_key_not_a_traceback() -> None:
    config = th.Configuration().add_in_memory({"Worker": {"Batch": 500}})
    with pytest.raises(th.ConfigurationError) as raised:
        config.get_section("Worker").bind(Asserting)
    assert str(raised.value) == (
        "Worker:Batch='500' is invalid: batch must be <= 100, got 500 (set in in-memory)")


def test_an_assert_without_a_message_names_the_section_and_the_check() -> None:
    config = th.Configuration().add_in_memory({"Worker": {"Batch": 0}})
    with pytest.raises(th.ConfigurationError) as raised:
        config.get_section("Worker").bind(Asserting)
    assert str(raised.value) == (
        "Worker: a check of Asserting.__post_init__ failed (an assert with no message; "
        "raise ValueError naming the field instead)")
