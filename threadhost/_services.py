"""``ServiceCollection``: what the builder registers in the injector.

Autowiring: classes registered here (and the hosted services) are constructed by reading the
type hints of their ``__init__`` and resolving each parameter from the injector, so no
``@injector.inject`` decorator is needed. A parameter with a default is injected only if its
type is explicitly bound; an unbound concrete class in a hint is autowired in turn.
"""

from __future__ import annotations

import dataclasses
import inspect
import threading
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar, Union, cast

import injector

from ._binding import resolve_type_hints
from ._configuration import Configuration
from ._errors import ConfigurationError
from ._health import HealthCheck, HealthMonitor
from ._hosted_service import HostedRegistration, HostedService, HostedServiceFactory
from ._lease import Lease
from ._options import Options
from ._restart import RestartPolicy

T = TypeVar("T")

OptionsAction = Callable[[Configuration, Any], Any]


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


_building = threading.local()


def autowire(inj: injector.Injector, target: Callable[..., T]) -> T:
    """Call ``target`` (a class or a function) with its parameters resolved from ``inj``.

    Raises TypeError naming the class and parameter when a parameter has no type hint and
    no default, or when the hints cannot be resolved.
    """
    is_class = isinstance(target, type)
    func: Any = target.__init__ if is_class else target
    label = getattr(target, "__qualname__", repr(target))
    if is_class and func is object.__init__:
        return target()
    stack: list[Any] = _building.__dict__.setdefault("stack", [])
    if target in stack:
        chain = " -> ".join(getattr(t, "__qualname__", repr(t)) for t in [*stack, target])
        raise TypeError(f"Cannot construct {label}: its dependencies form a cycle: {chain}")
    hints = resolve_type_hints(func, label)
    params = list(inspect.signature(func).parameters.values())
    if is_class:
        params = params[1:]
    kwargs: dict[str, Any] = {}
    stack.append(target)
    try:
        for param in params:
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            hint = hints.get(param.name)
            has_default = param.default is not param.empty
            if hint is None:
                if has_default:
                    continue
                raise TypeError(
                    f"Cannot construct {label}: parameter {param.name!r} has no type hint, so "
                    "the injector cannot tell what to pass; add a hint or a default.")
            wanted = _unwrap_optional(hint)
            if _explicitly_bound(inj, wanted):
                kwargs[param.name] = inj.get(wanted)
            elif has_default:
                continue
            elif (isinstance(wanted, type) and not inspect.isabstract(wanted)
                  and wanted.__module__ != "builtins"):
                kwargs[param.name] = autowire(inj, wanted)
            else:
                raise TypeError(
                    f"Cannot construct {label}: nothing is registered for parameter "
                    f"{param.name!r} ({hint!r}); register it with builder.services.add_singleton"
                    "/add_instance, or give the parameter a default.")
    finally:
        stack.pop()
    return target(**kwargs)


class _Autowired(injector.Provider[T]):
    def __init__(self, target: Callable[..., T]) -> None:
        self._target = target

    def get(self, inj: injector.Injector) -> T:
        return autowire(inj, self._target)


def _provider_for(interface: Any, to: Any) -> injector.Provider[Any]:
    if to is None:
        to = interface
    if isinstance(to, type) or inspect.isfunction(to) or inspect.ismethod(to):
        return _Autowired(to)
    return injector.InstanceProvider(to)


class ServiceCollection:
    """The registrations a ``HostApplicationBuilder`` turns into an injector at ``build()``.

    Builder thread only (not thread-safe); every method returns the collection, for chaining.
    Registrations made later win over earlier ones for the same interface.
    """

    def __init__(self) -> None:
        self._bindings: list[Callable[[injector.Binder], None]] = []
        self._hosted: list[HostedRegistration] = []
        self._options: dict[type, list[OptionsAction]] = {}
        self._health = HealthMonitor()  # the host's; its checks are added below
        self.add_instance(HealthMonitor, self._health)

    def add_hosted_service(self, service: type[HostedService] | HostedService
                           | Callable[..., HostedService], *,
                           restart: RestartPolicy | None = None,
                           liveness_timeout: float | None = None,
                           singleton: Lease | None = None) -> ServiceCollection:
        """Register a hosted service: a class (constructed by the injector at start, its
        ``__init__`` parameters injected from type hints), an instance, or a factory (called
        at start with its parameters injected the same way). Services start in the order
        registered and stop in reverse.

        ``restart`` overrides ``HostOptions.restart`` for this service (a BackgroundService);
        ``liveness_timeout`` overrides the class attribute of that name; ``singleton`` runs the
        service only while this replica holds the lease. Raises TypeError for anything else
        than a hosted service, or an argument of the wrong kind; ValueError for a
        non-positive ``liveness_timeout``.
        """
        factory: HostedServiceFactory
        if isinstance(service, type):
            if not issubclass(service, HostedService):
                raise TypeError(
                    f"add_hosted_service({service.__qualname__}): the class must subclass "
                    "threadhost.HostedService (or BackgroundService).")
            cls = service
            factory = lambda inj: autowire(inj, cls)  # noqa: E731
            name = cls.__name__
        elif isinstance(service, HostedService):
            instance = service
            factory = lambda inj: instance  # noqa: E731
            name = type(instance).__name__
        elif callable(service):
            make = service

            def factory(inj: injector.Injector) -> HostedService:
                made = autowire(inj, make)
                if not isinstance(made, HostedService):
                    raise TypeError(
                        f"The hosted-service factory {make!r} returned {made!r}, which is not "
                        "a threadhost.HostedService.")
                return made

            name = getattr(make, "__qualname__", repr(make))
        else:
            raise TypeError(
                f"add_hosted_service() takes a HostedService class, instance or factory, got "
                f"{service!r}")
        if restart is not None and not isinstance(restart, RestartPolicy):
            raise TypeError(f"add_hosted_service({name}, restart={restart!r}): expected a "
                            "threadhost.RestartPolicy")
        if liveness_timeout is not None and (
                isinstance(liveness_timeout, bool) or not isinstance(liveness_timeout, int | float)
                or not liveness_timeout > 0):
            raise ValueError(f"add_hosted_service({name}, liveness_timeout={liveness_timeout!r})"
                             ": expected seconds > 0, or None")
        if singleton is not None and not isinstance(singleton, Lease):
            raise TypeError(f"add_hosted_service({name}, singleton={singleton!r}): expected a "
                            "threadhost.Lease (e.g. threadhost.contrib.postgres.PostgresLease)")
        self._hosted.append(HostedRegistration(factory, name, restart, liveness_timeout,
                                               singleton))
        return self

    def add_health_check(self, name: str, check: HealthCheck) -> ServiceCollection:
        """Add a custom health check: ``check()`` returns a ``HealthStatus`` or a bool (False
        means UNHEALTHY); see ``Host.health()``.

        ``check`` runs on a thread of its own each time the health is asked for, never on the
        asking thread; an answer later than 1 s of real time, or an exception, makes it
        UNHEALTHY for that call, with the error in the report. Raises TypeError for a
        non-callable check or a non-string name, ValueError for an empty or repeated name.
        """
        self._health.add_check(name, check)
        return self

    def add_singleton(self, interface: Any, to: Any = None) -> ServiceCollection:
        """Register ``interface`` as one shared instance, made on first use from ``to``: a
        class (autowired), a factory function (autowired), or an instance. ``to=None`` means
        the interface class itself."""
        provider = _provider_for(interface, to)
        self._bindings.append(
            lambda b: b.bind(interface, to=provider, scope=injector.singleton))
        return self

    def add_transient(self, interface: Any, to: Any = None) -> ServiceCollection:
        """Register ``interface`` as a new instance on every resolution, made from ``to``
        as for ``add_singleton``."""
        provider = _provider_for(interface, to)
        self._bindings.append(lambda b: b.bind(interface, to=provider, scope=injector.noscope))
        return self

    def add_instance(self, interface: Any, instance: Any) -> ServiceCollection:
        """Register an existing object as ``interface`` (e.g. ``add_instance(Clock, clock)``)."""
        self._bindings.append(
            lambda b: b.bind(interface, to=injector.InstanceProvider(instance)))
        return self

    def add_module(self, module: injector.Module) -> ServiceCollection:
        """Install an ``injector.Module`` (its bindings win over earlier registrations)."""
        self._bindings.append(lambda b: b.install(module))
        return self

    def configure(self, options_type: type[T], section: str | None = None,
                  **overrides: Any) -> ServiceCollection:
        """Configure the dataclass ``options_type``, injectable as ``Options[options_type]``.

        The value starts from the dataclass defaults; each call then applies, in order, the
        configuration ``section`` (if given; keys it lacks keep the current values) and the
        keyword ``overrides``. ``HostOptions`` and ``ConsoleLifetimeOptions`` are also
        injectable as themselves: ``configure(HostOptions, shutdown_timeout=10)``. The value is
        built and checked at ``build()``: a value that does not convert fails it with
        ``ConfigurationError``. Raises TypeError now for a non-dataclass or an unknown field.
        """
        if not (dataclasses.is_dataclass(options_type) and isinstance(options_type, type)):
            raise TypeError(f"configure() needs a dataclass type, got {options_type!r}")
        names = {f.name for f in dataclasses.fields(options_type)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(
                f"configure({options_type.__name__}): no field named {', '.join(unknown)}; "
                f"the fields are {', '.join(sorted(names))}")
        actions = self._options.setdefault(options_type, [])
        if section is not None:
            actions.append(lambda config, value: config.get_section(section).bind(
                options_type, value))
        if overrides:
            actions.append(lambda config, value: (
                options_type(**overrides) if value is None
                else dataclasses.replace(value, **overrides)))
        return self

    def _options_value(self, options_type: type[T], config: Configuration) -> T:
        """Build the configured value; ConfigurationError if it cannot be built."""
        value: Any = None
        for action in self._options.get(options_type, []):
            try:
                value = action(config, value)
            except (TypeError, ValueError) as exc:
                if isinstance(exc, ConfigurationError):
                    raise
                raise ConfigurationError(f"{options_type.__name__}: {exc}") from exc
        if value is None:
            try:
                value = options_type()
            except TypeError as exc:
                raise ConfigurationError(
                    f"{options_type.__name__} has required fields and no configuration "
                    f"filled them: {exc}") from exc
        return cast(T, value)

    def _build_options(self, config: Configuration) -> dict[type, Any]:
        """Every configured options value, built now (so errors surface in build())."""
        return {t: self._options_value(t, config) for t in self._options}

    def _install(self, binder: injector.Binder, options: dict[type, Any]) -> None:
        """Bind the options values, then every registration, in order."""
        for options_type, value in options.items():
            binder.bind(Options[options_type],  # type: ignore[valid-type]
                        to=injector.InstanceProvider(Options(value)))
        for bind in self._bindings:
            bind(binder)
