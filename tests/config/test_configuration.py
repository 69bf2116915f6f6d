from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import threadhost as th

segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_",
                  min_size=1, max_size=6)
key = st.lists(segment, min_size=1, max_size=3).map(":".join)


def swap_case(text: str) -> str:
    return text.swapcase()


@given(st.dictionaries(key, st.text(max_size=10), max_size=10).filter(
    lambda m: len({k.casefold() for k in m}) == len(m)))
def test_in_memory_values_survive_lookup_in_any_case(mapping: dict[str, str]) -> None:
    config = th.Configuration().add_in_memory(mapping)
    for k, v in mapping.items():
        assert config[k] == v
        assert config.get(swap_case(k)) == v
        head, _, tail = k.rpartition(":")
        if head:
            assert config.get_section(head.upper())[tail.lower()] == v


def test_later_sources_win_and_missing_keys_fall_back() -> None:
    config = (th.Configuration()
              .add_in_memory({"A": "1", "B": "1"})
              .add_in_memory({"a": "2"}))
    assert config["A"] == "2" and config["b"] == "1"
    assert config.get("C") is None and config.get("C", "d") == "d"
    with pytest.raises(KeyError, match="configuration has no key 'S:C'"):
        config.get_section("S")["C"]


def test_sections_list_children_and_know_their_path() -> None:
    config = th.Configuration().add_in_memory(
        {"Logging": {"LogLevel": {"Default": "Information", "myapp": "Debug"}}})
    section = config.get_section("logging:loglevel")
    assert section.path == "logging:loglevel" and section.key == "loglevel"
    assert sorted(section.children()) == ["Default", "myapp"]
    assert section.as_dict() == {"Default": "Information", "myapp": "Debug"}
    assert not config.get_section("Nope").exists()


def test_json_file_nests_sections_and_arrays(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"Db": {"Hosts": ["a", "b"], "Port": 5432, "Ssl": True,
                                       "Comment": None}}))
    config = th.Configuration().add_json_file(path)
    assert config["Db:Hosts:1"] == "b"
    assert config["db:port"] == "5432"
    assert config["Db:Ssl"] == "true"
    assert "Db:Comment" not in config


def test_malformed_json_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "appsettings.json"
    path.write_text('{\n  "A": 1,\n  "B": 2\n  "C": 3\n}\n')
    config = th.Configuration().add_json_file(path)
    with pytest.raises(th.ConfigurationError,
                       match=rf"^{path}:4:3: expected ',' or '}}', found '\"'$"):
        config.get("A")


def test_missing_required_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(th.ConfigurationError, match=rf"^{path}: the configuration file was "
                                                    r"not found; create it, or add it with "
                                                    r"optional=True$"):
        th.Configuration().add_json_file(path).check()
    th.Configuration().add_json_file(path, optional=True).check()


def test_environment_variables_map_double_underscore_to_colon(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYAPP_Ordering__CheckUpdateTime", "30")
    monkeypatch.setenv("OTHER_Ordering__CheckUpdateTime", "99")
    config = th.Configuration().add_environment_variables("MYAPP_")
    assert config["Ordering:CheckUpdateTime"] == "30"


def test_sources_cannot_be_added_to_a_section() -> None:
    with pytest.raises(TypeError, match="root configuration"):
        th.Configuration().get_section("A").add_in_memory({})


def test_defaults_sit_under_every_other_source_whenever_added() -> None:
    config = th.Configuration().add_in_memory({"A": "set"}).add_defaults({"A": "d", "B": "d"})
    assert config["A"] == "set" and config["B"] == "d"
    assert config.origin("A") == "in-memory" and config.origin("B") == "defaults"


def test_every_value_knows_its_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "app.json"
    path.write_text('{\n  "Db": {"Port": 5432}\n}')
    monkeypatch.setenv("DB__HOST", "h")
    config = (th.Configuration().add_json_file(path).add_environment_variables()
              .add_command_line(["--Db:User=u"]))
    assert config.origin("db:port") == f"{path}:2:18"
    assert config.origin("Db:Host") == "environment variable DB__HOST"
    assert config.origin("Db:User") == "command line Db:User"
    assert config.origin("Db:Nope") is None


def test_relative_json_paths_are_taken_from_the_content_root(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "extra.json").write_text('{"From": "content root"}')
    monkeypatch.chdir(Path(__file__).parent)  # somewhere else
    builder = th.Host.create_application_builder([f"--contentRoot={tmp_path}"])
    builder.configuration.add_json_file("extra.json")
    assert builder.configuration["From"] == "content root"


def test_as_dict_keeps_the_first_spelling_and_the_winning_value() -> None:
    config = th.Configuration().add_in_memory({"L:myapp": "Info"}).add_in_memory(
        {"L:MYAPP": "Debug"})
    assert config.get_section("L").as_dict() == {"myapp": "Debug"}
