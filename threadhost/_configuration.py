"""``Configuration``: layered, case-insensitive key/value settings, as .NET's IConfiguration.

Keys are paths joined by ``:`` (``Logging:LogLevel:Default``) and compare case-insensitively.
Values are strings until bound. Each source is a flat snapshot taken when the source is
added; the last source added that has a key wins.

A source that fails to load (a malformed or missing JSON file, a bad command line) does not
raise where it is added: the error is kept and raised by the next read of the configuration
or by ``HostApplicationBuilder.build()``, so the builder can be created first and the error
still surfaces before any service runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

from ._command_line import parse_command_line
from ._errors import ConfigurationError

T = TypeVar("T")

SEPARATOR = ":"

_Data = dict[str, tuple[str, str]]  # casefolded key -> (key as written, value)


class _Source:
    def __init__(self, name: str, data: _Data | None = None,
                 error: ConfigurationError | None = None) -> None:
        self.name = name
        self.data: _Data = data or {}
        self.error = error


def _put(data: _Data, key: str, value: str) -> None:
    data[key.casefold()] = (key, value)


def _flatten_json(node: Any, prefix: str, data: _Data) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _flatten_json(value, f"{prefix}{SEPARATOR}{key}" if prefix else str(key), data)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _flatten_json(value, f"{prefix}{SEPARATOR}{index}" if prefix else str(index), data)
    elif node is None:
        return  # null: the key is absent, so a binder keeps the field's default
    elif isinstance(node, bool):
        _put(data, prefix, "true" if node else "false")
    else:
        _put(data, prefix, str(node))


def in_memory_source(name: str, mapping: Mapping[str, object]) -> _Source:
    """A source of ``mapping``, nested mappings and lists flattened as in a JSON file."""
    data: _Data = {}
    _flatten_json(dict(mapping), "", data)
    return _Source(name, data)


def load_json_file(path: str, optional: bool) -> _Source:
    """Read one JSON settings file into a source (errors kept in the source)."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()
    except FileNotFoundError:
        if optional:
            return _Source(path)
        return _Source(path, error=ConfigurationError(
            f"{path}: the configuration file was not found; create it, or add it with "
            "optional=True"))
    except OSError as exc:
        return _Source(path, error=ConfigurationError(f"{path}: cannot be read: {exc}"))
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return _Source(path, error=ConfigurationError(
            f"{path}:{exc.lineno}:{exc.colno}: {exc.msg}"))
    if not isinstance(document, dict):
        return _Source(path, error=ConfigurationError(
            f"{path}:1:1: expected a JSON object at the top level, found "
            f"{type(document).__name__}"))
    data: _Data = {}
    _flatten_json(document, "", data)
    return _Source(path, data)


class Configuration:
    """Layered settings: ``config["A:B"]``, ``get``, ``get_section``, ``bind``.

    The root collects sources (``add_json_file``, ``add_environment_variables``,
    ``add_command_line``, ``add_in_memory``); ``get_section`` returns a live view below a key.
    Add sources on one thread (the builder's, before ``build()``); once built, reading is
    thread-safe. Reads raise the ``ConfigurationError`` of any source that failed to load.
    """

    def __init__(self) -> None:
        self._sources: list[_Source] = []
        self._root: Configuration = self
        self._path = ""

    # -- reading ---------------------------------------------------------------------------

    @property
    def path(self) -> str:
        """The full key of this section ('' for the root)."""
        return self._path

    @property
    def key(self) -> str:
        """The last segment of ``path`` ('' for the root)."""
        return self._path.rpartition(SEPARATOR)[2]

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(f"configuration has no key {self._full(key)!r}")
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def get(self, key: str, default: str | None = None) -> str | None:
        """The value at ``key`` (relative to this section), or ``default``."""
        full = self._full(key).casefold()
        for source in reversed(self._root._checked_sources()):
            hit = source.data.get(full)
            if hit is not None:
                return hit[1]
        return default

    def get_section(self, key: str) -> Configuration:
        """A view of the keys below ``key``; empty (not an error) if there are none."""
        section = Configuration.__new__(Configuration)
        section._sources = []
        section._root = self._root
        section._path = self._full(key)
        return section

    def children(self) -> list[str]:
        """The distinct next key segments below this section, as first written."""
        prefix = self._path.casefold() + SEPARATOR if self._path else ""
        found: dict[str, str] = {}
        for source in self._root._checked_sources():
            for folded, (written, _) in source.data.items():
                if folded.startswith(prefix) and len(folded) > len(prefix):
                    segment = written[len(prefix):].split(SEPARATOR, 1)[0]
                    found.setdefault(segment.casefold(), segment)
        return list(found.values())

    def exists(self) -> bool:
        """True if this section has a value or any key below it."""
        return (self._path != "" and self._root.get(self._path) is not None) or bool(
            self.children())

    def as_dict(self) -> dict[str, str]:
        """Every effective key below this section (relative, as first written) and its value."""
        prefix = self._path.casefold() + SEPARATOR if self._path else ""
        merged: dict[str, tuple[str, str]] = {}
        for source in self._root._checked_sources():
            for folded, (written, value) in source.data.items():
                if folded.startswith(prefix) and len(folded) > len(prefix):
                    merged[folded] = (written[len(prefix):], value)
        return dict(merged.values())

    def __iter__(self) -> Iterator[str]:
        return iter(self.children())

    def bind(self, options_type: type[T], base: T | None = None) -> T:
        """A new ``options_type`` dataclass filled from this section.

        Keys match fields ignoring case and underscores (``MaxConnections`` fills
        ``max_connections``); fields without a key keep ``base``'s value, else their default.
        Raises ``ConfigurationError`` naming the full key, the value and the expected type
        when a value does not convert, and TypeError if ``options_type`` is not a dataclass.
        """
        from ._binding import bind  # noqa: PLC0415  (_binding imports this module)
        return bind(self, options_type, base)

    def _full(self, key: str) -> str:
        if not self._path:
            return key
        return f"{self._path}{SEPARATOR}{key}" if key else self._path

    def _checked_sources(self) -> list[_Source]:
        for source in self._sources:
            if source.error is not None:
                raise source.error
        return self._sources

    def check(self) -> None:
        """Raise the ``ConfigurationError`` of the first source that failed to load."""
        self._root._checked_sources()

    # -- sources ---------------------------------------------------------------------------

    def _add_lowest(self, source: _Source) -> Configuration:
        """Put a source *under* all others (used for defaults: the demo's own settings file,
        Django's ``settings.THREADHOST``)."""
        self._sources.insert(0, source)
        return self

    def _add(self, source: _Source) -> Configuration:
        if self._root is not self:
            raise TypeError("Add sources to the root configuration, not to a section.")
        self._sources.append(source)
        return self

    def add_json_file(self, path: str | os.PathLike[str], optional: bool = False
                      ) -> Configuration:
        """Add a JSON file: nested objects become ``:`` sections, arrays ``:0``, ``:1``...

        A relative path is taken from the working directory. A missing file is an error
        unless ``optional``; a malformed one is an error naming the file, line and column.
        """
        return self._add(load_json_file(os.fspath(path), optional))

    def add_environment_variables(self, prefix: str = "") -> Configuration:
        """Add the environment variables (read now) whose names start with ``prefix``.

        The prefix is removed, and ``__`` stands for ``:`` (``Logging__LogLevel__Default``).
        """
        data: _Data = {}
        folded_prefix = prefix.casefold()
        for name, value in os.environ.items():
            if name.casefold().startswith(folded_prefix):
                key = name[len(prefix):].replace("__", SEPARATOR)
                if key:
                    _put(data, key, value)
        return self._add(_Source(f"environment variables {prefix!r}", data))

    def add_command_line(self, args: Sequence[str]) -> Configuration:
        """Add command-line arguments: ``--Key=value``, ``--Key value``, ``/Key value``,
        ``Key=value`` (see ``parse_command_line``); a malformed one is an error."""
        try:
            pairs = parse_command_line(args)
        except ConfigurationError as exc:
            return self._add(_Source("command line", error=exc))
        data: _Data = {}
        for key, value in pairs:
            _put(data, key, value)
        return self._add(_Source("command line", data))

    def add_in_memory(self, mapping: Mapping[str, object]) -> Configuration:
        """Add key/value pairs; values are turned into strings (bools as ``true``/``false``),
        and nested mappings or lists become sections as in a JSON file."""
        return self._add(in_memory_source("in-memory", mapping))

    def __repr__(self) -> str:
        where = f"section {self._path!r}" if self._path else f"{len(self._sources)} source(s)"
        return f"<Configuration {where}>"

