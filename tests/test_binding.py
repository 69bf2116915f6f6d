from __future__ import annotations

import enum
from dataclasses import dataclass, field

import pytest

import threadhost as th


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
