"""``Configuration``: layered, case-insensitive key/value settings, as .NET's IConfiguration.

Keys are paths joined by ``:`` (``Logging:LogLevel:Default``) and compare as .NET's
OrdinalIgnoreCase (``_json.fold_key``). Values are strings until bound. Each source is a flat
snapshot taken when the source is added (a watched JSON file is re-read by the host's
``ConfigurationWatcher``, see ``_reload``); the last source added that has a key wins. Every
value remembers where it came from (``appsettings.json:3:25``, ``environment variable
HostOptions__ShutdownTimeout``, ``command line``), so an error about it can say so.

A source that fails to load (a malformed or missing JSON file, a bad command line) does not
raise where it is added: the error is kept and raised by the next read of the configuration
or by ``HostApplicationBuilder.build()``, so the builder can be created first and the error
still surfaces before any service runs.

Thread-safety: sources are added on one thread (the builder's). A reload replaces a source's
``data`` dict in one assignment, so a reader on another thread sees the old or the new file,
never a mix within one lookup.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

from threadhost._config.command_line import parse_command_line
from threadhost._config.json_source import (
    SEPARATOR,
    Data,
    Entry,
    decode,
    fold_key,
    parse_settings,
    put,
)
from threadhost._errors import ConfigurationError

T = TypeVar("T")


class _Source:
    """One layer. ``path`` is set for a JSON file (so it can be read again on a change)."""

    def __init__(self, name: str, data: Data | None = None,
                 error: ConfigurationError | None = None, *, path: str | None = None,
                 optional: bool = False, reload_on_change: bool = False) -> None:
        self.name = name
        self.data: Data = data or {}
        self.error = error
        self.path = path
        self.optional = optional
        self.reload_on_change = reload_on_change
        self.fingerprint: bytes | None = None  # the file's bytes as last read (None: absent)
        self.lowest = False  # added under every other source (defaults)

    def read(self) -> tuple[bytes | None, Data]:
        """Read the file again: its bytes and content. ConfigurationError if it is bad."""
        assert self.path is not None
        try:
            with open(self.path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            if self.optional:
                return None, {}
            raise ConfigurationError(
                f"{self.path}: the configuration file was not found; create it, or add it "
                "with optional=True") from None
        except OSError as exc:
            raise ConfigurationError(f"{self.path}: cannot be read: {exc}") from None
        return raw, self.parse(raw)

    def parse(self, raw: bytes) -> Data:
        """The content of the file's bytes ``raw``; ConfigurationError if they are bad."""
        assert self.path is not None
        return parse_settings(decode(raw, self.path), self.path)


def flatten(node: Any, prefix: str, data: Data, origin: str) -> None:
    """Put ``node`` (nested mappings, lists, scalars) into ``data`` as ``A:B``/``L:0`` keys.

    None leaves the key absent; bools become ``true``/``false``; anything else ``str()``.
    """
    if isinstance(node, Mapping):
        for key, value in node.items():
            flatten(value, f"{prefix}{SEPARATOR}{key}" if prefix else str(key), data, origin)
    elif isinstance(node, list | tuple):
        for index, value in enumerate(node):
            flatten(value, f"{prefix}{SEPARATOR}{index}" if prefix else str(index), data,
                    origin)
    elif node is None:
        return
    elif isinstance(node, bool):
        put(data, prefix, "true" if node else "false", origin)
    else:
        put(data, prefix, str(node), origin)


def in_memory_source(name: str, mapping: Mapping[str, object]) -> _Source:
    """A source of ``mapping``, nested mappings and lists flattened as in a JSON file."""
    data: Data = {}
    flatten(mapping, "", data, name)
    return _Source(name, data)


def load_json_file(path: str, optional: bool, reload_on_change: bool = False) -> _Source:
    """Read one JSON settings file into a source (errors kept in the source)."""
    source = _Source(path, path=path, optional=optional, reload_on_change=reload_on_change)
    try:
        source.fingerprint, source.data = source.read()
    except ConfigurationError as exc:
        source.error = exc
    return source


class Configuration:
    """Layered settings: ``config["A:B"]``, ``get``, ``get_section``, ``bind``.

    The root collects sources (``add_json_file``, ``add_environment_variables``,
    ``add_command_line``, ``add_in_memory``, ``add_defaults``); ``get_section`` returns a live
    view below a key. Add sources on one thread (the builder's, before ``build()``); reading
    is thread-safe, also while a watched file reloads. Reads raise the
    ``ConfigurationError`` of any source that failed to load.
    """

    def __init__(self) -> None:
        self._sources: list[_Source] = []
        self._root: Configuration = self
        self._path = ""
        self._base_path: str | None = None
        self._error_on_unknown_keys = False
        # What was read (for the unread command-line keys: _config.unread): folded full keys
        # looked up, folded section prefixes listed or bound, and keys as the readers wrote
        # them (candidates for "did you mean"). Set adds are atomic: readers on any thread.
        self._read: set[str] = set()
        self._read_below: set[str] = set()
        self._known: set[str] = set()

    @property
    def error_on_unknown_keys(self) -> bool:
        """Whether a key that matches no field of the options bound from its section is an
        error (``ConfigurationError`` naming the key, its source and the closest field)
        rather than a WARNING. Off by default, as .NET's binder
        (``BinderOptions.ErrorOnUnknownConfiguration``); a setting of the root, read and
        written through any section. Set it before ``build()``, on the builder's thread."""
        return self._root._error_on_unknown_keys

    @error_on_unknown_keys.setter
    def error_on_unknown_keys(self, strict: bool) -> None:
        self._root._error_on_unknown_keys = bool(strict)

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
        entry = self._root._lookup(self._full(key))
        return default if entry is None else entry.value

    def origin(self, key: str) -> str | None:
        """Where the effective value at ``key`` comes from (``appsettings.json:3:25``,
        ``environment variable A__B``, ``command line``...), or None if there is none."""
        entry = self._root._lookup(self._full(key))
        return None if entry is None else entry.origin

    def _given(self, key: str) -> bool:
        """True if a source other than the defaults (``add_defaults``) has ``key``: a value
        the user gave on the command line, in the environment or in a file."""
        folded = fold_key(self._full(key))
        for source in reversed(self._root._checked_sources()):
            if source.data.get(folded) is not None:
                return not source.lowest
        return False

    def _lookup(self, full: str) -> Entry | None:
        folded = fold_key(full)
        self._read.add(folded)
        self._known.add(full)
        for source in reversed(self._checked_sources()):
            hit = source.data.get(folded)
            if hit is not None:
                return hit
        return None

    def get_section(self, key: str) -> Configuration:
        """A view of the keys below ``key``; empty (not an error) if there are none."""
        section = Configuration.__new__(Configuration)
        section._sources = []
        section._root = self._root
        section._path = self._full(key)
        section._base_path = None
        return section

    def _below(self) -> Iterator[tuple[str, Entry]]:
        """(folded key relative to this section, entry) of every source, lowest first."""
        prefix = fold_key(self._path) + SEPARATOR if self._path else ""
        self._root._read_below.add(prefix)
        for source in self._root._checked_sources():
            for folded, entry in source.data.items():
                if folded.startswith(prefix) and len(folded) > len(prefix):
                    yield folded[len(prefix):], entry

    def children(self) -> list[str]:
        """The distinct next key segments below this section, as first written."""
        skip = len(self._path) + 1 if self._path else 0
        found: dict[str, str] = {}
        for relative, entry in self._below():
            segment = entry.key[skip:].split(SEPARATOR, 1)[0]
            found.setdefault(relative.split(SEPARATOR, 1)[0], segment)
        return list(found.values())

    def exists(self) -> bool:
        """True if this section has a value or any key below it."""
        return (self._path != "" and self._root.get(self._path) is not None) or bool(
            self.children())

    def as_dict(self) -> dict[str, str]:
        """Every effective key below this section (relative, as first written) and its value
        (from the source that wins)."""
        skip = len(self._path) + 1 if self._path else 0
        merged: dict[str, tuple[str, str]] = {}
        for relative, entry in self._below():
            written = merged[relative][0] if relative in merged else entry.key[skip:]
            merged[relative] = (written, entry.value)
        return dict(merged.values())

    def __iter__(self) -> Iterator[str]:
        return iter(self.children())

    def bind(self, options_type: type[T], base: T | None = None) -> T:
        """A new ``options_type`` dataclass filled from this section.

        Keys match fields ignoring case and underscores (``MaxConnections`` fills
        ``max_connections``); fields without a key keep ``base``'s value, else their default.
        Raises ``ConfigurationError`` naming the full key, the value, its source and the
        expected type when a value does not convert, and TypeError if ``options_type`` is
        not a dataclass.
        """
        from threadhost._config.binding import bind  # noqa: PLC0415  (_binding imports this module)
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

    def set_base_path(self, path: str | os.PathLike[str]) -> Configuration:
        """Resolve relative paths of files added later against ``path`` (the builder sets
        the content root); without it they are taken from the working directory."""
        self._base_path = os.path.abspath(os.fspath(path))
        return self

    def _add_lowest(self, source: _Source) -> Configuration:
        """Put a source *under* all others (defaults: ``add_defaults``, the demo's own
        settings file, Django's ``settings.THREADHOST``)."""
        source.lowest = True
        self._sources.insert(0, source)
        return self

    def _add(self, source: _Source) -> Configuration:
        if self._root is not self:
            raise TypeError("Add sources to the root configuration, not to a section.")
        self._sources.append(source)
        return self

    def add_json_file(self, path: str | os.PathLike[str], optional: bool = False,
                      reload_on_change: bool = False) -> Configuration:
        """Add a JSON file: nested objects become ``:`` sections, arrays ``:0``, ``:1``...

        ``//`` and ``/* */`` comments and trailing commas are allowed. A relative path is
        taken from the base path (the content root, under a builder). A missing file is an
        error unless ``optional``; a malformed one (bad syntax, bytes that are not UTF-8,
        nesting deeper than 64, a key twice in any case) is an error naming the file, line
        and column. With ``reload_on_change`` a host built from this configuration watches
        the file and reloads it when it changes (see ``OptionsMonitor``).
        """
        full = os.path.join(self._base_path or os.getcwd(), os.fspath(path))
        return self._add(load_json_file(full, optional, reload_on_change))

    def add_environment_variables(self, prefix: str = "") -> Configuration:
        """Add the environment variables (read now) whose names start with ``prefix``.

        The prefix is removed, and ``__`` stands for ``:`` (``Logging__LogLevel__Default``).
        """
        data: Data = {}
        folded_prefix = fold_key(prefix)
        for name, value in os.environ.items():
            if fold_key(name).startswith(folded_prefix):
                key = name[len(prefix):].replace("__", SEPARATOR)
                if key:
                    put(data, key, value, f"environment variable {name}")
        return self._add(_Source(f"environment variables {prefix!r}", data))

    def add_command_line(self, args: Sequence[str]) -> Configuration:
        """Add command-line arguments: ``--Key=value``, ``--Key value``, ``/Key value``,
        ``Key=value`` (see ``parse_command_line``); a malformed one is an error."""
        try:
            pairs = parse_command_line(args)
        except ConfigurationError as exc:
            return self._add(_Source("command line", error=exc))
        data: Data = {}
        for key, value in pairs:
            put(data, key, value, f"command line {key}")
        return self._add(_Source("command line", data))

    def add_in_memory(self, mapping: Mapping[str, object],
                      name: str = "in-memory") -> Configuration:
        """Add key/value pairs; values are turned into strings (bools as ``true``/``false``),
        and nested mappings or lists become sections as in a JSON file. ``name`` is how an
        error about one of its values names the source."""
        return self._add(in_memory_source(name, mapping))

    def add_defaults(self, mapping: Mapping[str, object],
                     name: str = "defaults") -> Configuration:
        """Add key/value pairs (as ``add_in_memory``) under every other source: any other
        source that has a key wins, whenever it was added."""
        if self._root is not self:
            raise TypeError("Add sources to the root configuration, not to a section.")
        return self._add_lowest(in_memory_source(name, mapping))

    def _watched(self) -> list[_Source]:
        """The JSON sources added with ``reload_on_change``."""
        return [s for s in self._sources if s.reload_on_change]

    def __repr__(self) -> str:
        where = f"section {self._path!r}" if self._path else f"{len(self._sources)} source(s)"
        return f"<Configuration {where}>"
