"""Binding configuration to dataclasses (``Configuration.bind``) and checking overrides.

One converter serves both ways values reach an options dataclass, so they agree:

* ``bind``: strings from a configuration section, matched to fields ignoring case and
  underscores, converted to the field's type hint;
* ``coerce``: Python values given to ``services.configure(T, **overrides)``; a value that
  already has the field's type is kept, a string is converted as configuration text is
  (``"Ignore"``, ``"false"``, ``"10"``), a mapping fills a nested dataclass.

Supported hints: ``str``, ``bool`` (``true``/``false`` in any case), ``int``, ``float``
(``inf`` allowed, ``nan`` not), enums (member name or string value, ignoring case and
underscores), ``Literal[...]``, ``Decimal``, ``datetime`` (ISO 8601 with an offset),
``date``, ``time``, ``timedelta`` (seconds, or .NET's ``[d.]hh:mm[:ss[.f]]``), ``Path``,
``X | None``, lists/tuples/sets, ``dict[str, X]``, nested dataclasses (frozen too), and any
class whose constructor takes the string. A field may carry ``metadata={"validate": f}``,
where ``f(value)`` returns why the value is invalid, or None.

Every error is a ``ConfigurationError`` naming the full key (or ``Type.field``), the value,
what was expected and where the value came from.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
import re
import types
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar, Union

from threadhost import _log_messages as log
from threadhost._config.closest import closest
from threadhost._config.configuration import Configuration, in_memory_source
from threadhost._errors import ConfigurationError

if TYPE_CHECKING:
    import datetime as dt

T = TypeVar("T")

_MISSING: Any = object()
_TIMESPAN = (
    r"(?P<sign>-)?(?:(?P<d>\d+)\.)?(?P<h>\d{1,2}):(?P<m>\d{1,2})(?::(?P<s>\d{1,2}(?:\.\d+)?))?")


@functools.cache
def _timespan() -> re.Pattern[str]:
    # Compiled on first use (a timedelta field), not at import.
    return re.compile(_TIMESPAN)


def _norm(name: str) -> str:
    return name.replace("_", "").casefold()


def _enum_names(cls: type[enum.Enum]) -> list[str]:
    return [str(m.value) if isinstance(m.value, str) else m.name for m in cls]


def type_name(hint: Any) -> str:
    """How an error message names the type ``hint`` stands for."""
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return f"one of {', '.join(_enum_names(hint))}"
    if typing.get_origin(hint) is Literal:
        return f"one of {', '.join(repr(a) for a in typing.get_args(hint))}"
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _invalid(key: str, value: object, expected: str, origin: str | None) -> ConfigurationError:
    where = f" (set in {origin})" if origin else ""
    return ConfigurationError(f"{key}={value!r} is invalid: expected {expected}{where}")


def _timedelta(text: str) -> dt.timedelta:
    import datetime as dt  # noqa: PLC0415  (lazy: see _parsers)
    try:
        seconds = float(text)
    except ValueError:
        match = _timespan().fullmatch(text)
        if match is None:
            raise ValueError(text) from None
        delta = dt.timedelta(days=int(match["d"] or 0), hours=int(match["h"]),
                             minutes=int(match["m"]), seconds=float(match["s"] or 0))
        return -delta if match["sign"] else delta
    if not math.isfinite(seconds):
        raise ValueError(text)
    return dt.timedelta(seconds=seconds)


def _datetime(text: str) -> dt.datetime:
    import datetime as dt  # noqa: PLC0415  (lazy: see _parsers)
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(text)
    return value


_PARSERS: dict[Any, tuple[Any, str]] = {int: (int, "an integer (int)")}
"""Hint -> (parser of the text, what an error says was expected); more in ``_parsers()``."""


@functools.cache
def _parsers() -> dict[Any, tuple[Any, str]]:
    """``_PARSERS`` for the hints of the decimal, datetime and pathlib modules.

    Built on first use, so that ``import threadhost`` imports none of those modules: only an
    options field of a type that is not str, bool, float, int, an enum or a Literal needs it.
    """
    import datetime as dt  # noqa: PLC0415  (lazy: see the docstring)
    import decimal  # noqa: PLC0415
    import pathlib  # noqa: PLC0415
    return {
        decimal.Decimal: (decimal.Decimal, "a decimal number (Decimal)"),
        dt.datetime: (_datetime, "an ISO 8601 date and time with a UTC offset "
                                 "(datetime), e.g. 2024-05-01T12:00:00Z"),
        dt.date: (dt.date.fromisoformat, "an ISO 8601 date (date), e.g. 2024-05-01"),
        dt.time: (dt.time.fromisoformat, "an ISO 8601 time of day (time), e.g. 12:30:00"),
        dt.timedelta: (_timedelta, "a duration (timedelta): seconds such as 90 or 1.5, or "
                                   "[d.]hh:mm[:ss] such as 00:01:30"),
        pathlib.Path: (pathlib.Path, "a path (Path)"),
    }


def convert_text(key: str, value: str, hint: Any, origin: str | None = None) -> Any:
    """Configuration text ``value`` as ``hint`` (a scalar type); ConfigurationError if it
    does not convert, TypeError if ``hint`` cannot be bound at all."""
    if hint is str or hint is Any or hint is object:
        return value
    text = value.strip()
    if hint is bool:
        folded = text.casefold()
        if folded in ("true", "false"):
            return folded == "true"
        raise _invalid(key, value, "true or false", origin)
    if hint is float:
        try:
            result = float(text)
        except ValueError:
            result = math.nan
        if math.isnan(result):
            raise _invalid(key, value, "a number (float)", origin)
        return result
    if typing.get_origin(hint) is Literal:
        for choice in typing.get_args(hint):
            if str(choice).casefold() == text.casefold():
                return choice
        raise _invalid(key, value, type_name(hint), origin)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        wanted = _norm(text)
        for member in hint:
            if _norm(member.name) == wanted or (
                    isinstance(member.value, str) and _norm(member.value) == wanted):
                return member
        raise _invalid(key, value, type_name(hint), origin)
    parser, expected = _PARSERS.get(hint) or _parsers().get(hint) or (hint, type_name(hint))
    if dataclasses.is_dataclass(hint) or not callable(parser):
        raise TypeError(f"{key}: cannot bind configuration text to a field of type {hint!r}")
    try:
        return parser(text)
    except (TypeError, ValueError, ArithmeticError):
        raise _invalid(key, value, expected, origin) from None


def _optional(hint: Any) -> tuple[bool, list[Any]]:
    """(``None`` allowed?, the other members) of a union hint."""
    args = typing.get_args(hint)
    return type(None) in args, [a for a in args if a is not type(None)]


def _convert(section: Configuration, hint: Any, base: Any = _MISSING) -> Any:
    """The value at ``section`` (or below it) as ``hint``; _MISSING if absent."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (Union, types.UnionType):
        nullable, inner = _optional(hint)
        raw = section._root.get(section.path)
        if raw is not None and raw.strip() == "" and nullable:
            return None
        if len(inner) == 1:
            return _convert(section, inner[0], base)
        raise TypeError(f"{section.path}: cannot bind to the union {hint!r}")
    if origin in (list, tuple, set, frozenset) or hint in (list, tuple, set, frozenset):
        item = args[0] if args else str
        children = section.children()
        if not children:
            return _MISSING
        try:
            ordered = sorted(children, key=int)
        except ValueError:
            raise ConfigurationError(
                f"{section.path}: expected a list (keys {section.path}:0, :1 ...), found "
                f"keys {', '.join(sorted(children))}") from None
        items = [_convert(section.get_section(c), item) for c in ordered]
        kind = origin or hint
        return kind(i for i in items if i is not _MISSING)
    if origin is dict or hint is dict:
        value_type = args[1] if len(args) == 2 else str
        result = {c: _convert(section.get_section(c), value_type) for c in section.children()}
        return {k: v for k, v in result.items() if v is not _MISSING} or _MISSING
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if not section.exists():
            return _MISSING
        return bind(section, hint, None if base is _MISSING else base)
    raw = section._root.get(section.path)
    if raw is None:
        return _MISSING
    return convert_text(section.path, raw, hint, section._root.origin(section.path))


def resolve_type_hints(target: Any, label: str) -> dict[str, Any]:
    """``typing.get_type_hints(target)``, with a TypeError that says how to fix a NameError."""
    try:
        return typing.get_type_hints(target)
    except NameError as exc:
        raise TypeError(
            f"Cannot resolve the type hints of {label}: {exc}. Hinted classes must be "
            "importable names; a class defined inside a function cannot be resolved under "
            "`from __future__ import annotations`.") from exc


def _check(field: dataclasses.Field[Any], key: str, value: Any, shown: object,
           origin: str | None) -> None:
    validate = field.metadata.get("validate")
    problem = validate(value) if validate is not None else None
    if problem:
        where = f" (set in {origin})" if origin else ""
        raise ConfigurationError(f"{key}={shown!r} is invalid: {problem}{where}")


def _construct(options_type: type[T], kwargs: dict[str, Any], where: str,
               given: Mapping[str, tuple[str, object, str | None]] | None = None) -> T:
    """``options_type(**kwargs)``; a ValueError or failed ``assert`` its ``__post_init__``
    raises is a ConfigurationError naming the key it is about (a field named in the message,
    from ``given``: field name -> key, value as written, origin), else the section."""
    try:
        return options_type(**kwargs)
    except TypeError as exc:
        missing = [f.name for f in dataclasses.fields(options_type)  # type: ignore[arg-type]
                   if f.init and f.name not in kwargs
                   and f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]
        if missing:
            raise ConfigurationError(
                f"{where}: no value for required field(s) {', '.join(missing)} of "
                f"{options_type.__name__}; set them in the configuration or give them "
                "defaults") from exc
        raise
    except (ValueError, AssertionError) as exc:
        if isinstance(exc, ConfigurationError):
            raise
        message = str(exc).casefold()
        said = str(exc) or (f"a check of {options_type.__name__}.__post_init__ failed (an "
                            "assert with no message; raise ValueError naming the field instead)")
        for name, (key, shown, origin) in (given or {}).items():
            if any(word.casefold() in message for word in (name, _config_name(name), key)):
                set_in = f" (set in {origin})" if origin else ""
                raise ConfigurationError(
                    f"{key}={shown!r} is invalid: {said}{set_in}") from exc
        raise ConfigurationError(f"{where}: {said}") from exc


def _require_dataclass(options_type: Any, what: str) -> None:
    if not (dataclasses.is_dataclass(options_type) and isinstance(options_type, type)):
        raise TypeError(f"{what} needs a dataclass type, got {options_type!r}")


def bind(section: Configuration, options_type: type[T], base: T | None = None) -> T:
    """Fill a new ``options_type`` from ``section``; see ``Configuration.bind``."""
    _require_dataclass(options_type, "bind()")
    hints = resolve_type_hints(options_type, options_type.__qualname__)
    present = {_norm(c): c for c in section.children()}
    prefix = f"{section.path}{':' if section.path else ''}"
    section._root._known.update(f"{prefix}{_config_name(f.name)}"
                                for f in dataclasses.fields(options_type))  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    given: dict[str, tuple[str, object, str | None]] = {}  # for _construct's errors
    for field in dataclasses.fields(options_type):  # type: ignore[arg-type]
        if not field.init:
            continue
        previous = getattr(base, field.name) if base is not None else _MISSING
        child = present.get(_norm(field.name))
        value = _MISSING
        if child is not None:
            sub = section.get_section(child)
            value = _convert(sub, hints[field.name], previous)
            if value is not _MISSING:
                shown = section._root.get(sub.path) or value
                origin = section._root.origin(sub.path)
                _check(field, sub.path, value, shown, origin)
                given[field.name] = (sub.path, shown, origin)
        if value is _MISSING:
            value = previous
        if value is not _MISSING:
            kwargs[field.name] = value
    _warn_unknown(section, present, options_type)
    return _construct(options_type, kwargs, section.path or options_type.__name__, given)


def _warn_unknown(section: Configuration, present: dict[str, str], options_type: type) -> None:
    """A key in a bound section that matches no field is most likely a typo: a WARNING names
    the key, where it came from, and the closest field (``did you mean PollInterval?``). The
    value is not lost silently, but it is not an error either, as .NET binds, unless the user
    opted in (``Configuration.error_on_unknown_keys``): then it is a ``ConfigurationError``
    saying the same."""
    fields = {_norm(f.name): f.name for f in dataclasses.fields(options_type)}
    for norm, child in present.items():
        if norm in fields:
            continue
        sub = section.get_section(child)
        field = closest(norm, fields, cutoff=0.7)
        hint = _config_name(field) if field is not None else None
        origin = _origin_below(section, sub.path)
        if section.error_on_unknown_keys:
            raise ConfigurationError(
                f"Configuration key {sub.path!r} (from {origin}) matches no field of "
                f"{options_type.__name__}" + (f"; did you mean {hint}?" if hint else "")
                + " (configuration.error_on_unknown_keys is set)")
        log.unknown_option_key(sub.path, origin, options_type.__name__, hint)


def _config_name(field_name: str) -> str:
    """``poll_interval`` as configuration spells it: ``PollInterval``."""
    return "".join(part[:1].upper() + part[1:] for part in field_name.split("_"))


def _origin_below(section: Configuration, path: str) -> str:
    """Where the value at ``path`` (or the first value below it) comes from."""
    root = section._root
    origin = root.origin(path)
    if origin is not None:
        return origin
    sub = root.get_section(path)
    for child in sub.children():
        found = _origin_below(section, sub.get_section(child).path)
        if found != "configuration":
            return found
    return "configuration"


def coerce(value: Any, hint: Any, key: str, origin: str) -> Any:
    """``value`` (given in code) as ``hint``: kept if it already is one, converted as
    configuration text if it is a string, bound if it is a mapping for a dataclass.
    ConfigurationError naming ``key`` and ``origin`` otherwise."""
    origin_type = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any or hint is object:
        return value
    if origin_type in (Union, types.UnionType):
        nullable, inner = _optional(hint)
        if value is None and nullable:
            return None
        if len(inner) == 1:
            return coerce(value, inner[0], key, origin)
        if any(_is_instance(value, a) for a in inner):
            return value
        raise _invalid(key, value, type_name(hint), origin)
    if _is_instance(value, hint):
        return float(value) if hint is float else value
    if isinstance(value, str):
        if dataclasses.is_dataclass(hint) or origin_type in (list, tuple, set, frozenset,
                                                              dict):
            raise _invalid(key, value, type_name(hint), origin)
        return convert_text(key, value, hint, origin)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type) and isinstance(value, Mapping):
        config = Configuration()._add(in_memory_source(origin, value))
        return bind(config, hint)
    if origin_type in (list, tuple, set, frozenset) and isinstance(value, list | tuple | set
                                                                   | frozenset):
        item = args[0] if args and args[-1] is not Ellipsis else (args[0] if args else Any)
        return origin_type(coerce(v, item, f"{key}[{i}]", origin)
                           for i, v in enumerate(value))
    if origin_type is dict and isinstance(value, Mapping):
        value_type = args[1] if len(args) == 2 else Any
        return {k: coerce(v, value_type, f"{key}[{k!r}]", origin) for k, v in value.items()}
    raise _invalid(key, value, type_name(hint), origin)


def _is_instance(value: Any, hint: Any) -> bool:
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and not (
            isinstance(value, float) and math.isnan(value))
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if typing.get_origin(hint) is Literal:
        return value in typing.get_args(hint)
    return isinstance(hint, type) and isinstance(value, hint)


def apply_overrides(options_type: type[T], value: T | None, overrides: Mapping[str, Any]) -> T:
    """``value`` (or a default ``options_type``) with ``overrides`` converted to the field
    types and checked, as ``services.configure(options_type, **overrides)`` does."""
    _require_dataclass(options_type, "configure()")
    hints = resolve_type_hints(options_type, options_type.__qualname__)
    fields = {f.name: f for f in dataclasses.fields(options_type)}  # type: ignore[arg-type]
    converted: dict[str, Any] = {}
    origin = f"services.configure({options_type.__name__})"
    for name, raw in overrides.items():
        key = f"{options_type.__name__}.{name}"
        converted[name] = coerce(raw, hints[name], key, origin)
        _check(fields[name], key, converted[name], raw, origin)
    if value is None:
        return _construct(options_type, converted, origin)
    try:
        return dataclasses.replace(value, **converted)  # type: ignore[type-var]
    except ValueError as exc:
        raise ConfigurationError(f"{origin}: {exc}") from exc
