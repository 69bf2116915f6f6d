"""Reading a JSON settings file straight into flat configuration keys, as .NET's JSON provider.

What was chosen, and why:

* Our own small recursive-descent reader instead of ``json.loads``. The standard library
  cannot report duplicate keys with their position (``object_pairs_hook`` has no line and
  column), rejects comments and trailing commas (which .NET's provider accepts), turns big
  integers into ``int`` (raising ValueError past 4300 digits, naming no file) and raises
  RecursionError for deep nesting. Settings files are small, so speed does not matter here.
* Values stay as written: a number keeps its text (``1e999`` is not turned into ``inf``, a
  5000-digit integer is not an ``int``), as .NET keeps a value's raw text; binding converts.
* Keys fold with ``fold_key`` (.NET's OrdinalIgnoreCase), so ``{"Port":1,"port":2}`` is a
  duplicate, while ``{"A":{"x":1},"a":{"y":2}}`` merges into one section, as in .NET.
* Nesting is limited to 64 levels (System.Text.Json's default), so a hostile file cannot
  exhaust the stack.
* ``null`` leaves the key absent (a binder keeps the field's default); an empty file (only
  whitespace and comments) is an empty object, where .NET would fail: an empty
  ``appsettings.json`` is a common first step, not a mistake.

Rejected: ``json5`` and ``commentjson`` (a new runtime dependency for 200 lines), stripping
comments with a regular expression before ``json.loads`` (breaks ``"http://x"`` strings and
still loses positions of duplicates).
"""

from __future__ import annotations

import bisect
import codecs
import re
from typing import NamedTuple

from threadhost._errors import ConfigurationError

MAX_DEPTH = 64
MAX_NUMBER_DIGITS = 4300  # sys.int_info.default_max_str_digits: what int() accepts
SEPARATOR = ":"

_GAP = re.compile(r"(?:[ \t\r\n]+|//[^\n]*|/\*.*?\*/)*", re.DOTALL)  # space, comments
_CHUNK = re.compile(r'[^"\\\x00-\x1f]*')  # string characters that need no attention
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r",
            "t": "\t"}
_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
         (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))


def fold_key(key: str) -> str:
    """A configuration key folded for comparison, as .NET's OrdinalIgnoreCase.

    Each character is upper-cased on its own (simple case mapping), so ``STRASSE`` and
    ``straße`` stay apart (``str.casefold`` would join them). Pure; any thread.
    """
    if key.isascii():
        return key.upper()
    return "".join(c if len(u := c.upper()) != 1 else u for c in key)


class Entry(NamedTuple):
    """One configuration value: the key as written, the value, and where it came from."""

    key: str
    value: str
    origin: str


Data = dict[str, Entry]
"""Folded key -> entry: the flat content of one configuration source."""


def put(data: Data, key: str, value: str, origin: str) -> None:
    """Set ``key`` in ``data`` (a later write of the same folded key replaces the earlier)."""
    data[fold_key(key)] = Entry(key, value, origin)


def decode(raw: bytes, name: str) -> str:
    """``raw`` as text: UTF-8, with or without a BOM. ConfigurationError naming ``name``,
    the line and column of the first bad byte, and the fix."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            raise ConfigurationError(
                f"{name}:1:1: the file is {encoding}-encoded; save it as UTF-8")
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigurationError(
            f"{name}:{line}:{column}: byte 0x{raw[exc.start]:02x} is not valid UTF-8; save "
            "the file as UTF-8") from None


def parse_settings(text: str, name: str) -> Data:
    """Flatten the JSON object in ``text`` into configuration keys (``A:B``, ``List:0``).

    ``//`` and ``/* */`` comments and trailing commas are allowed. Raises ConfigurationError
    as ``name:LINE:COLUMN: what is wrong`` for a syntax error, a duplicate key (in any case),
    nesting deeper than 64 levels, a number of more than 4300 digits, or a top level that is
    not an object. Pure; any thread.
    """
    return _Reader(text, name).document()


class _Reader:
    def __init__(self, text: str, name: str) -> None:
        self.text = text
        self.name = name
        self.pos = 0
        self.data: Data = {}
        self._lines = [m.end() for m in re.finditer("\n", text)]

    # -- positions and errors --------------------------------------------------------------

    def where(self, pos: int) -> str:
        line = bisect.bisect_right(self._lines, pos)
        start = self._lines[line - 1] if line else 0
        return f"{self.name}:{line + 1}:{pos - start + 1}"

    def fail(self, message: str, pos: int | None = None) -> ConfigurationError:
        return ConfigurationError(f"{self.where(self.pos if pos is None else pos)}: {message}")

    def found(self) -> str:
        if self.pos >= len(self.text):
            return "the end of the file"
        return repr(self.text[self.pos])

    # -- lexing ----------------------------------------------------------------------------

    def skip(self) -> None:
        """Skip whitespace and comments."""
        self.pos = _GAP.match(self.text, self.pos).end()  # type: ignore[union-attr]
        if self.text.startswith("/*", self.pos):
            raise self.fail("comment opened here is never closed (missing */)")

    def string(self) -> str:
        text, start = self.text, self.pos
        self.pos += 1  # the opening quote
        parts: list[str] = []
        while True:
            end = _CHUNK.match(text, self.pos).end()  # type: ignore[union-attr]
            parts.append(text[self.pos:end])
            self.pos = end
            if end >= len(text):
                raise self.fail("string opened here is never closed (missing \")", start)
            c = text[end]
            if c == '"':
                self.pos += 1
                return "".join(parts)
            if c != "\\":
                raise self.fail(f"control character {c!r} in a string; write it as an escape "
                                "such as \\n or \\t")
            parts.append(self.escape())

    def escape(self) -> str:
        text = self.text
        kind = text[self.pos + 1:self.pos + 2]
        if kind in _ESCAPES:
            self.pos += 2
            return _ESCAPES[kind]
        if kind != "u":
            raise self.fail(f"invalid escape \\{kind} in a string")
        code = self.hex4(self.pos + 2)
        self.pos += 6
        if 0xD800 <= code < 0xDC00 and text.startswith("\\u", self.pos):
            low = self.hex4(self.pos + 2)
            if 0xDC00 <= low < 0xE000:
                self.pos += 6
                return chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00))
        if 0xD800 <= code < 0xE000:
            raise self.fail("\\u escape is half of a surrogate pair; write the whole "
                            "character", self.pos - 6)
        return chr(code)

    def hex4(self, at: int) -> int:
        digits = self.text[at:at + 4]
        if len(digits) != 4 or not all(d in "0123456789abcdefABCDEF" for d in digits):
            raise self.fail("\\u must be followed by four hexadecimal digits", at - 2)
        return int(digits, 16)

    # -- grammar ---------------------------------------------------------------------------

    def document(self) -> Data:
        self.skip()
        if self.pos >= len(self.text):
            return self.data  # an empty file is an empty object (see the module notes)
        if self.text[self.pos] != "{":
            raise self.fail(f"expected a JSON object ('{{') at the top level, found "
                            f"{self.found()}")
        self.value("", 0)
        self.skip()
        if self.pos < len(self.text):
            raise self.fail(f"unexpected {self.found()} after the top-level object")
        return self.data

    def value(self, path: str, depth: int) -> None:
        self.skip()
        text, start = self.text, self.pos
        c = text[start:start + 1]
        if c in ("{", "["):
            if depth >= MAX_DEPTH:
                raise self.fail(f"nesting deeper than {MAX_DEPTH} levels")
            if c == "{":
                self.members(path, depth + 1)
            else:
                self.items(path, depth + 1)
            return
        if c == '"':
            self.leaf(path, self.string(), start)
            return
        for word, value in (("true", "true"), ("false", "false"), ("null", None)):
            if text.startswith(word, start):
                self.pos += len(word)
                if value is not None:
                    self.leaf(path, value, start)
                return
        match = _NUMBER.match(text, start)
        if match is None:
            raise self.fail(f"expected a value, found {self.found()}")
        number = match.group()
        if sum(ch.isdigit() for ch in number) > MAX_NUMBER_DIGITS:
            raise self.fail(f"number has more than {MAX_NUMBER_DIGITS} digits; write it as "
                            "a string if it is meant to be text")
        self.pos = match.end()
        self.leaf(path, number, start)

    def leaf(self, path: str, value: str, start: int) -> None:
        if not path:
            raise self.fail("expected a JSON object at the top level", start)
        folded = fold_key(path)
        first = self.data.get(folded)
        if first is not None:
            raise self.fail(
                f"duplicate key {path!r} (first set at "
                f"{first.origin[len(self.name) + 1:]}); keys are case-insensitive, keep one "
                "of them", start)
        self.data[folded] = Entry(path, value, self.where(start))

    def members(self, path: str, depth: int) -> None:
        self.pos += 1  # {
        while True:
            self.skip()
            c = self.text[self.pos:self.pos + 1]
            if c == "}":
                self.pos += 1
                return
            if c != '"':
                raise self.fail(f"expected a key in double quotes or '}}', found "
                                f"{self.found()}")
            key = self.string()
            self.skip()
            if self.text[self.pos:self.pos + 1] != ":":
                raise self.fail(f"expected ':' after the key {key!r}, found {self.found()}")
            self.pos += 1
            self.value(f"{path}{SEPARATOR}{key}" if path else key, depth)
            if not self.after_item("}"):
                return

    def items(self, path: str, depth: int) -> None:
        self.pos += 1  # [
        index = 0
        while True:
            self.skip()
            if self.text[self.pos:self.pos + 1] == "]":
                self.pos += 1
                return
            self.value(f"{path}{SEPARATOR}{index}" if path else str(index), depth)
            index += 1
            if not self.after_item("]"):
                return

    def after_item(self, close: str) -> bool:
        """After a member or an item: True to read another (a comma), False at the end."""
        self.skip()
        c = self.text[self.pos:self.pos + 1]
        if c == ",":
            self.pos += 1
            return True  # a trailing comma is fine: the loop then finds the closing bracket
        if c == close:
            self.pos += 1
            return False
        raise self.fail(f"expected ',' or '{close}', found {self.found()}")
