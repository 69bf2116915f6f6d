"""Binding configuration sections to dataclasses (``Configuration.bind``)."""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing
from typing import Any, TypeVar, Union

from ._configuration import Configuration
from ._errors import ConfigurationError

T = TypeVar("T")

_MISSING = object()


def _norm(name: str) -> str:
    return name.replace("_", "").casefold()


def _type_name(hint: Any) -> str:
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return f"one of {', '.join(_enum_names(hint))}"
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _enum_names(cls: type[enum.Enum]) -> list[str]:
    return [str(m.value) if isinstance(m.value, str) else m.name for m in cls]


def _invalid(key: str, value: str, expected: str) -> ConfigurationError:
    return ConfigurationError(f"{key}={value!r} is invalid: expected {expected}")


def _convert_scalar(key: str, value: str, hint: Any) -> Any:
    if hint is str or hint is Any or hint is object:
        return value
    text = value.strip()
    if hint is bool:
        folded = text.casefold()
        if folded in ("true", "false"):
            return folded == "true"
        raise _invalid(key, value, "true or false")
    if hint is int:
        try:
            return int(text)
        except ValueError:
            raise _invalid(key, value, "an integer (int)") from None
    if hint is float:
        try:
            result = float(text)
        except ValueError:
            raise _invalid(key, value, "a number (float)") from None
        if math.isnan(result):
            raise _invalid(key, value, "a number (float)")
        return result
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        wanted = _norm(text)
        for member in hint:
            if _norm(member.name) == wanted or (
                    isinstance(member.value, str) and _norm(member.value) == wanted):
                return member
        raise _invalid(key, value, _type_name(hint))
    if callable(hint):
        try:
            return hint(text)
        except (TypeError, ValueError) as exc:
            raise _invalid(key, value, f"{_type_name(hint)} ({exc})") from None
    raise TypeError(f"{key}: cannot bind configuration to a field of type {hint!r}")


def _convert(section: Configuration, hint: Any) -> Any:
    """Convert the value at ``section`` (or its children) to ``hint``; _MISSING if absent."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        raw = section._root.get(section.path)
        if raw is not None and raw.strip() == "" and len(inner) < len(args):
            return None
        if len(inner) == 1:
            return _convert(section, inner[0])
        raise TypeError(f"{section.path}: cannot bind to the union {hint!r}")
    if origin in (list, tuple, set, frozenset) or hint in (list, tuple):
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
        items = [i for i in items if i is not _MISSING]
        return (origin or hint)(items) if origin is not list else items
    if origin is dict or hint is dict:
        value_type = args[1] if len(args) == 2 else str
        result = {c: _convert(section.get_section(c), value_type) for c in section.children()}
        return {k: v for k, v in result.items() if v is not _MISSING} or _MISSING
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return bind(section, hint) if section.exists() else _MISSING
    raw = section._root.get(section.path)
    if raw is None:
        return _MISSING
    return _convert_scalar(section.path, raw, hint)


def resolve_type_hints(target: Any, label: str) -> dict[str, Any]:
    """``typing.get_type_hints(target)``, with a TypeError that says how to fix a NameError."""
    try:
        return typing.get_type_hints(target)
    except NameError as exc:
        raise TypeError(
            f"Cannot resolve the type hints of {label}: {exc}. Hinted classes must be "
            "importable names; a class defined inside a function cannot be resolved under "
            "`from __future__ import annotations`.") from exc


def bind(section: Configuration, options_type: type[T], base: T | None = None) -> T:
    """Fill a new ``options_type`` from ``section``; see ``Configuration.bind``."""
    if not (dataclasses.is_dataclass(options_type) and isinstance(options_type, type)):
        raise TypeError(f"bind() needs a dataclass type, got {options_type!r}")
    hints = resolve_type_hints(options_type, options_type.__qualname__)
    present = {_norm(c): c for c in section.children()}
    kwargs: dict[str, Any] = {}
    for field in dataclasses.fields(options_type):
        if not field.init:
            continue
        child = present.get(_norm(field.name))
        value = _MISSING
        if child is not None:
            value = _convert(section.get_section(child), hints[field.name])
            validate = field.metadata.get("validate")
            if value is not _MISSING and validate is not None:
                problem = validate(value)
                if problem:
                    full = section.get_section(child).path
                    raw = section._root.get(full) or ""
                    raise ConfigurationError(f"{full}={raw!r} is invalid: {problem}")
        if value is _MISSING and base is not None:
            value = getattr(base, field.name)
        if value is not _MISSING:
            kwargs[field.name] = value
    where = section.path or options_type.__name__
    try:
        return options_type(**kwargs)
    except TypeError as exc:
        missing = [f.name for f in dataclasses.fields(options_type)
                   if f.init and f.name not in kwargs
                   and f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]
        if missing:
            raise ConfigurationError(
                f"{where}: no value for required field(s) {', '.join(missing)} of "
                f"{options_type.__name__}; set them in the configuration or give them "
                "defaults") from exc
        raise
    except ValueError as exc:
        raise ConfigurationError(f"{where}: {exc}") from exc
