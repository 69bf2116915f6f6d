from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from threadhost import ConfigurationError
from threadhost._config.command_line import parse_command_line

segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.",
                  min_size=1, max_size=8)
keys = st.lists(segment, min_size=1, max_size=3).map(":".join)
values = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                 max_size=12)
# A value given as a separate argument may be anything but another "--" option.
separate_values = values.filter(lambda v: not v.startswith("--"))


@st.composite
def argument(draw: st.DrawFn) -> tuple[list[str], tuple[str, str]]:
    key = draw(keys)
    form = draw(st.sampled_from(["--k=v", "--k v", "/k v", "k=v"]))
    if form == "--k=v":
        value = draw(values)
        return [f"--{key}={value}"], (key, value)
    if form == "k=v":
        value = draw(values)
        return [f"{key}={value}"], (key, value)
    value = draw(separate_values)
    prefix = "--" if form == "--k v" else "/"
    return [f"{prefix}{key}", value], (key, value)


@given(st.lists(argument(), max_size=8))
def test_any_sequence_of_the_four_forms_parses_to_its_pairs(
        arguments: list[tuple[list[str], tuple[str, str]]]) -> None:
    args = [token for tokens, _ in arguments for token in tokens]
    assert parse_command_line(args) == [pair for _, pair in arguments]


def test_value_may_look_like_a_path_or_a_negative_number() -> None:
    assert parse_command_line(["--contentRoot", "/srv/app", "/Timeout", "-5"]) == [
        ("contentRoot", "/srv/app"), ("Timeout", "-5")]


def test_bare_words_are_skipped() -> None:
    assert parse_command_line(["serve", "--Port=80", "extra"]) == [("Port", "80")]


def test_dangling_key_at_the_end_is_an_error_naming_it() -> None:
    with pytest.raises(ConfigurationError,
                       match=r"^command line: '--Port' has no value; write --Port=VALUE or "
                             r"--Port VALUE \(every configuration key takes a value: "
                             r"a flag alone is none\)$"):
        parse_command_line(["--Host=x", "--Port"])


def test_key_followed_by_another_option_is_an_error_naming_it() -> None:
    with pytest.raises(ConfigurationError, match=r"^command line: '--Verbose' has no value"):
        parse_command_line(["--Verbose", "--Port=80"])


def test_empty_key_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match=r"'--=5' has an empty key"):
        parse_command_line(["--=5"])


@given(st.lists(st.text(max_size=8), max_size=8))
def test_any_arguments_give_pairs_or_a_configuration_error(args: list[str]) -> None:
    try:
        pairs = parse_command_line(args)
    except ConfigurationError as exc:
        assert str(exc).startswith("command line: ")
        return
    assert all(isinstance(k, str) and k.strip(":") and isinstance(v, str) for k, v in pairs)


def test_a_bare_flag_close_to_a_known_option_is_an_unknown_option_with_the_closest() -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse_command_line(["--enviroment"])
    assert str(raised.value) == (
        "command line: unknown option --enviroment; did you mean --environment?")
    with pytest.raises(ConfigurationError) as raised:
        parse_command_line(["--systm", "--Port=80"], known_options=["--systemd", "--environment"])
    assert str(raised.value) == "command line: unknown option --systm; did you mean --systemd?"


def test_a_known_option_with_no_value_still_asks_for_the_value() -> None:
    with pytest.raises(ConfigurationError, match=r"^command line: '--environment' has no value"):
        parse_command_line(["--environment"])
