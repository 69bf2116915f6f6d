"""The JSON settings reader: comments, trailing commas, duplicates, positions, hostile files."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import threadhost as th
from threadhost._config.json_source import fold_key, parse_settings


def load(tmp_path: Path, raw: bytes) -> th.Configuration:
    path = tmp_path / "appsettings.json"
    path.write_bytes(raw)
    return th.Configuration().add_json_file(path)


def flat(text: str) -> dict[str, str]:
    return {e.key: e.value for e in parse_settings(text, "f.json").values()}


def test_comments_and_trailing_commas_are_allowed() -> None:
    text = """// leading comment
    {
      /* block
         comment */ "Db": {"Hosts": ["a", "b",], "Url": "http://x//y", },  // after
      "Flag": true, "Off": false, "Gone": null,
    }
    """
    assert flat(text) == {"Db:Hosts:0": "a", "Db:Hosts:1": "b", "Db:Url": "http://x//y",
                          "Flag": "true", "Off": "false"}


def test_numbers_keep_their_text_and_an_empty_file_is_empty() -> None:
    assert flat('{"A": 1e999, "B": -0.50, "C": 10}') == {"A": "1e999", "B": "-0.50", "C": "10"}
    assert flat("  // nothing yet\n") == {}


def test_sections_written_twice_merge() -> None:
    assert flat('{"Db": {"Host": "h"}, "db": {"Port": 5}}') == {"Db:Host": "h", "db:Port": "5"}


@pytest.mark.parametrize(("text", "message"), [
    ('{"A": 1, "A": 2}', r"^f\.json:1:15: duplicate key 'A' \(first set at 1:7\); keys are "
                         r"case-insensitive, keep one of them$"),
    ('{"Port": 1,\n "port": 2}', r"^f\.json:2:10: duplicate key 'port' \(first set at 1:10\)"),
    ('{"S": {"K": 1},\n "s": {"k": 2}}', r"^f\.json:2:13: duplicate key 's:k'"),
])
def test_duplicate_keys_in_any_case_are_rejected_with_both_positions(
        text: str, message: str) -> None:
    with pytest.raises(th.ConfigurationError, match=message):
        parse_settings(text, "f.json")


@pytest.mark.parametrize(("text", "message"), [
    ('{\n  "A": 1\n  "B": 2\n}', r"^f\.json:3:3: expected ',' or '}', found '\"'$"),
    ("[1, 2]", r"^f\.json:1:1: expected a JSON object \('\{'\) at the top level, found '\['$"),
    ('{"A": 1} x', r"^f\.json:1:10: unexpected 'x' after the top-level object$"),
    ('{"A": tru}', r"^f\.json:1:7: expected a value, found 't'$"),
    ('{"A": "x\n"}', r"^f\.json:1:9: control character '\\n' in a string"),
    ('{"A": "\\ud800"}', r"^f\.json:1:8: \\u escape is half of a surrogate pair"),
    ('{"A": 1 /* open', r"^f\.json:1:9: comment opened here is never closed"),
    ('{"A": "open', r"^f\.json:1:7: string opened here is never closed"),
    ("{\"A\": 0x10}", r"^f\.json:1:8: expected ',' or '}', found 'x'$"),
])
def test_syntax_errors_name_line_and_column(text: str, message: str) -> None:
    with pytest.raises(th.ConfigurationError, match=message):
        parse_settings(text, "f.json")


def test_deep_nesting_is_an_error_not_a_recursion_error(tmp_path: Path) -> None:
    config = load(tmp_path, b'{"a":' + b"[" * 1000 + b"]" * 1000 + b"}")
    with pytest.raises(th.ConfigurationError, match=r"appsettings\.json:1:\d+: nesting deeper "
                                                    r"than 64 levels$"):
        config.check()


def test_huge_integer_is_an_error_naming_the_file(tmp_path: Path) -> None:
    config = load(tmp_path, b'{\n "A": ' + b"9" * 5000 + b"}")
    with pytest.raises(th.ConfigurationError, match=r"appsettings\.json:2:7: number has more "
                                                    r"than 4300 digits"):
        config.check()


@pytest.mark.parametrize(("raw", "message"), [
    (b'{"A": "caf\xe9"}', r"appsettings\.json:1:11: byte 0xe9 is not valid UTF-8; save the "
                          r"file as UTF-8$"),
    (b'{\n"A": 1,\n"B": "\xff"}', r"appsettings\.json:3:7: byte 0xff is not valid UTF-8"),
    (codecs.BOM_UTF16_LE + '{"A": 1}'.encode("utf-16-le"),
     r"appsettings\.json:1:1: the file is UTF-16-encoded; save it as UTF-8$"),
])
def test_bytes_that_are_not_utf8_are_an_error_naming_the_file(
        tmp_path: Path, raw: bytes, message: str) -> None:
    with pytest.raises(th.ConfigurationError, match=message):
        load(tmp_path, raw).check()


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    assert load(tmp_path, codecs.BOM_UTF8 + b'{"A": "\xc3\xa9"}')["a"] == "é"


def test_builder_fails_with_the_file_not_a_raw_exception(tmp_path: Path) -> None:
    (tmp_path / "appsettings.json").write_bytes(b'{"A":' + b"[" * 1000)
    builder = th.Host.create_application_builder([f"--contentRoot={tmp_path}"])
    with pytest.raises(th.ConfigurationError, match=r"appsettings\.json:1:\d+: nesting"):
        builder.build()


def test_keys_fold_as_ordinal_ignore_case() -> None:
    assert fold_key("Logging:LogLevel") == fold_key("LOGGING:loglevel")
    assert fold_key("STRASSE") != fold_key("straße")
    config = th.Configuration().add_in_memory({"straße": "1"})
    assert config.get("STRASSE") is None and config.get("STRASSE".lower()) is None
    assert config.get("STRAßE") == "1"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_give_a_configuration_or_a_configuration_error(raw: bytes) -> None:
    from threadhost._config.configuration import _Source

    source = _Source("f.json", path="f.json")
    try:
        data = source.parse(raw)
    except th.ConfigurationError as exc:
        assert str(exc).startswith("f.json:")
        return
    assert all(isinstance(e.value, str) for e in data.values())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.text(alphabet="abcXYZ_", min_size=1, max_size=3), inner, max_size=3),
    max_leaves=10)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(alphabet="abcXYZ_", min_size=1, max_size=3), json_values,
                       max_size=4))
def test_documents_json_dumps_writes_read_back_as_their_leaves(document: dict[str, object]
                                                                ) -> None:
    expected: dict[str, str] = {}

    def leaves(node: object, prefix: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                leaves(v, f"{prefix}:{k}" if prefix else k)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                leaves(v, f"{prefix}:{i}")
        elif node is not None:
            expected[fold_key(prefix)] = str(node).lower() if isinstance(node, bool) else str(
                node)

    leaves(document, "")
    try:
        got = {k: e.value for k, e in parse_settings(json.dumps(document), "f.json").items()}
    except th.ConfigurationError as exc:
        assert "duplicate key" in str(exc)  # keys that differ only in case
        return
    assert got == expected
