"""Autowiring: constructing a class from the injector by reading its ``__init__`` hints.

Classes registered in a ``ServiceCollection`` (and the hosted services) are constructed by
reading the type hints of their ``__init__`` and resolving each parameter from the injector,
so no ``@injector.inject`` decorator is needed. A parameter with a default is injected only if
its type is explicitly bound; an unbound concrete class in a hint is autowired in turn.

``missing_dependency`` walks the same rules without constructing anything: ``build()`` uses
it in ``Development`` (as .NET's ValidateOnBuild) to name a hosted service whose dependency
cannot be resolved before anything runs.

``RegistrationRequired`` (bound by ``services.require_registration()``) turns autowiring of
unregistered classes off: .NET's container never constructs a class nobody registered, and a
fleet may want that guarantee (a typo'd hint then fails at ``build()``, not by constructing
a fresh, unconfigured object). It is a binding, not a flag on the injector, so a scope's child
injector sees it through its parent. Rejected: off by default, which would break every example
that hints a plain class.
"""

from __future__ import annotations

import functools
import inspect
import threading
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar, Union

import injector

from threadhost._building.scopes import ScopedProvider
from threadhost._config.binding import resolve_type_hints
from threadhost._hosting.options import Options, OptionsMonitor

T = TypeVar("T")


def _explicitly_bound(inj: injector.Injector, interface: Any) -> bool:
    scope: injector.Injector | None = inj
    while scope is not None:
        if scope.binder.has_explicit_binding_for(interface):
            return True
        scope = scope.parent
    return False


def _unwrap_optional(hint: Any) -> Any:
    if typing.get_origin(hint) in (Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(inner) == 1:
            return inner[0]
    return hint


def _autowirable(wanted: Any) -> bool:
    return (isinstance(wanted, type) and not inspect.isabstract(wanted)
            and wanted.__module__ != "builtins")


class RegistrationRequired:
    """Bound (as itself) when autowiring of unregistered classes is off (see the module
    notes)."""


def _registration_required(inj: injector.Injector) -> bool:
    return _explicitly_bound(inj, RegistrationRequired)


def _unregistered_message(label: str, name: str, wanted: type) -> str:
    return (f"Cannot construct {label}: parameter {name!r} wants {wanted.__qualname__}, which "
            "is not registered (services.require_registration() is on); register it with "
            f"builder.services.add_singleton({wanted.__qualname__}) (or add_transient/"
            "add_scoped/add_instance), or give the parameter a default.")


def _unbound_message(label: str, name: str, hint: Any) -> str:
    if typing.get_origin(hint) in (Options, OptionsMonitor):
        (options_type,) = typing.get_args(hint)
        type_label = getattr(options_type, "__name__", repr(options_type))
        return (f"Cannot construct {label}: parameter {name!r} wants {hint!r}, but "
                f"{type_label} is not configured; call builder.services.configure("
                f"{type_label}, section=...) first.")
    return (f"Cannot construct {label}: nothing is registered for parameter {name!r} "
            f"({hint!r}); register it with builder.services.add_singleton/add_transient/"
            "add_scoped/add_instance, or give the parameter a default.")


def _init_of(cls: type) -> Any:
    return next(vars(c)["__init__"] for c in cls.__mro__ if "__init__" in vars(c))


def _signature_of(target: Any) -> tuple[Any, list[inspect.Parameter], str]:
    """(the function whose hints count, its injectable parameters, a label) of ``target``."""
    is_class = isinstance(target, type)
    label = getattr(target, "__qualname__", None) or repr(target)
    if is_class:
        func = _init_of(target)
        params = list(inspect.signature(func).parameters.values())[1:]
    elif isinstance(target, functools.partial):
        func = target.func
        params = list(inspect.signature(target).parameters.values())
        label = f"functools.partial({getattr(func, '__qualname__', repr(func))})"
    else:
        func = target
        params = list(inspect.signature(func).parameters.values())
    return func, [p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)], label


_building = threading.local()


def _trivial(target: Any) -> bool:
    """True for a class whose ``__init__`` is ``object.__init__`` (nothing to inject)."""
    return isinstance(target, type) and vars(object)["__init__"] is _init_of(target)


def _decide(inj: injector.Injector, label: str, param: inspect.Parameter,
            hints: dict[str, Any]) -> tuple[str, Any]:
    """How ``autowire`` fills ``param``: ("get", interface) from the injector,
    ("autowire", cls), ("skip", None) to leave the default, or ("error", message)."""
    hint = hints.get(param.name)
    has_default = param.default is not param.empty
    if hint is None:
        if has_default:
            return "skip", None
        return "error", (f"Cannot construct {label}: parameter {param.name!r} has no type "
                         "hint, so the injector cannot tell what to pass; add a hint or a "
                         "default.")
    wanted = _unwrap_optional(hint)
    if _explicitly_bound(inj, wanted):
        return "get", wanted
    if has_default:
        return "skip", None
    if _autowirable(wanted):
        if _registration_required(inj):
            return "error", _unregistered_message(label, param.name, wanted)
        return "autowire", wanted
    return "error", _unbound_message(label, param.name, hint)


def _cycle(label: str, chain: list[Any]) -> str:
    names = " -> ".join(getattr(t, "__qualname__", repr(t)) for t in chain)
    return f"Cannot construct {label}: its dependencies form a cycle: {names}"


def autowire(inj: injector.Injector, target: Callable[..., T]) -> T:
    """Call ``target`` (a class, a function or a ``functools.partial``) with its parameters
    resolved from ``inj``.

    Raises TypeError naming the class and parameter when a parameter has no type hint and
    no default, when nothing is registered for it, or when the hints cannot be resolved.
    """
    if _trivial(target):
        return target()
    func, params, label = _signature_of(target)
    stack: list[Any] = _building.__dict__.setdefault("stack", [])
    if target in stack:
        raise TypeError(_cycle(label, [*stack, target]))
    hints = resolve_type_hints(func, label)
    kwargs: dict[str, Any] = {}
    stack.append(target)
    try:
        for param in params:
            action, what = _decide(inj, label, param, hints)
            if action == "get":
                kwargs[param.name] = inj.get(what)
            elif action == "autowire":
                kwargs[param.name] = autowire(inj, what)
            elif action == "error":
                raise TypeError(what)
    except Exception as exc:
        _note_chain(exc, list(stack))  # the target is on the stack already
        raise
    finally:
        stack.pop()
    try:
        return target(**kwargs)
    except Exception as exc:
        _note_chain(exc, [*stack, target])
        raise


CHAIN_NOTE = "while constructing "
"""How the note on an exception raised while constructing a service begins: the note names
the chain of dependencies, outermost first (``Worker -> Repo -> Db``)."""


def _note_chain(exc: Exception, chain: list[Any]) -> None:
    """Note on ``exc`` which construction it interrupted (the innermost only: the outer
    levels see the note already there)."""
    if any(str(n).startswith(CHAIN_NOTE) for n in getattr(exc, "__notes__", ())):
        return
    exc.add_note(CHAIN_NOTE + " -> ".join(getattr(t, "__qualname__", repr(t)) for t in chain))


def _target_of(provider: injector.Provider[Any]) -> Any:
    """What an explicit binding will call (None for an instance or an opaque provider)."""
    if isinstance(provider, ScopedProvider):
        provider = provider.inner
    return provider._target if isinstance(provider, Autowired) else None


def missing_dependency(inj: injector.Injector, target: Any,
                       _seen: tuple[Any, ...] = ()) -> str | None:
    """Why ``autowire(inj, target)`` would fail, or None.

    Constructs nothing: it follows type hints and explicit bindings with the same decisions
    as ``autowire`` (``_decide``). Cycles and hints that cannot be resolved are reported too.
    Builder thread.
    """
    if _trivial(target):
        return None
    try:
        func, params, label = _signature_of(target)
        hints = resolve_type_hints(func, label)
    except (TypeError, ValueError) as exc:
        return str(exc)
    if target in _seen:
        return _cycle(label, [*_seen, target])
    for param in params:
        action, what = _decide(inj, label, param, hints)
        if action == "error":
            return str(what)
        inner = _target_of(inj.binder.get_binding(what)[0].provider) if action == "get" \
            else what if action == "autowire" else None
        problem = None if inner is None else missing_dependency(inj, inner, (*_seen, target))
        if problem is not None:
            return problem
    return None


class Autowired(injector.Provider[T]):
    """An injector provider that constructs ``target`` by autowiring, anew on each ``get``
    (the binding's scope decides how often that is). Thread-safe as the injector is."""

    def __init__(self, target: Callable[..., T]) -> None:
        self._target = target

    def get(self, inj: injector.Injector) -> T:
        return autowire(inj, self._target)
