"""``ServiceCollection``: what the builder registers in the injector.

Classes registered here (and the hosted services) are constructed by autowiring (``_autowire``).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar, cast

import injector

from threadhost import _log_messages as log
from threadhost._building.autowire import Autowired, RegistrationRequired, autowire
from threadhost._building.scopes import ScopedProvider
from threadhost._config.binding import apply_overrides
from threadhost._config.configuration import Configuration
from threadhost._errors import ConfigurationError
from threadhost._hosting.hosted_service import (
    BuildChecked,
    HostedRegistration,
    HostedService,
    HostedServiceFactory,
)
from threadhost._hosting.options import Options, OptionsMonitor
from threadhost._hosting.restart import RestartPolicy
from threadhost._leases.lease import Lease
from threadhost._leases.leased import lease_adapter
from threadhost._ops.health import HealthCheck, HealthMonitor
from threadhost._schedules.cron import CronEngine
from threadhost._schedules.service import FunctionSchedule
from threadhost._schedules.state import ScheduleState
from threadhost._time.cancellation import CancellationToken

T = TypeVar("T")

OptionsAction = Callable[[Configuration, Any], Any]


def _provider_for(interface: Any, to: Any) -> injector.Provider[Any]:
    """A class, function, method or ``functools.partial`` is called (autowired); anything
    else, a callable object included, is the instance itself."""
    if to is None:
        to = interface
    if (isinstance(to, type | functools.partial) or inspect.isfunction(to)
            or inspect.ismethod(to) or inspect.isbuiltin(to)):
        return Autowired(to)
    return injector.InstanceProvider(to)


class ServiceCollection:
    """The registrations a ``HostApplicationBuilder`` turns into an injector at ``build()``.

    Builder thread only (not thread-safe); every method returns the collection, for chaining.
    Registrations made later win over earlier ones for the same interface.
    """

    def __init__(self) -> None:
        self._bindings: list[Callable[[injector.Binder], None]] = []
        self._hosted: list[HostedRegistration] = []
        self._leases: list[tuple[str, Lease]] = []  # (service name, its lease), in order
        self._options: dict[type, list[OptionsAction]] = {}
        self._sections: dict[type, list[str]] = {}  # the sections each options type binds
        self._checks: list[Callable[[], object]] = []  # run at build(); raise ConfigurationError
        self._registration_required = False
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
        registered and stop in reverse. The first registration of a class also makes it a
        singleton, so ``host.services.get(cls)`` returns the very instance the host runs;
        registering the class again adds another, separate instance.

        ``restart`` overrides ``HostOptions.restart`` for this service (a BackgroundService);
        ``liveness_timeout`` overrides the class attribute of that name; ``singleton`` runs the
        service only while this replica holds the lease. Raises TypeError for anything else
        than a hosted service, or an argument of the wrong kind; ValueError for a
        non-positive ``liveness_timeout``.
        """
        factory: HostedServiceFactory
        target: Any
        if isinstance(service, type):
            if not issubclass(service, HostedService):
                raise TypeError(
                    f"add_hosted_service({service.__qualname__}): the class must subclass "
                    "threadhost.HostedService (or BackgroundService).")
            cls = target = service
            if any(r.target is cls for r in self._hosted):
                factory = lambda inj: autowire(inj, cls)  # noqa: E731
            else:
                self._bindings.append(
                    lambda b: b.bind(cls, to=Autowired(cls), scope=injector.singleton))
                factory = lambda inj: inj.get(cls)  # noqa: E731
            name = cls.__name__
        elif isinstance(service, HostedService):
            instance, target = service, None
            factory = lambda inj: instance  # noqa: E731
            name = type(instance).__name__
        elif callable(service):
            make = target = service

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
        if liveness_timeout is not None and (
                isinstance(liveness_timeout, bool) or not isinstance(liveness_timeout, int | float)
                or not liveness_timeout > 0):
            raise ValueError(f"add_hosted_service({name}, liveness_timeout={liveness_timeout!r})"
                             ": expected seconds > 0, or None")
        self._check_at_build(name, service)
        return self._register(factory, name, target=target, restart=restart,
                              liveness_timeout=liveness_timeout, singleton=singleton,
                              method="add_hosted_service")

    def add_schedule(self, fn: Callable[[CancellationToken, datetime], object], schedule: str,
                     *, timezone: str = "UTC", name: str | None = None,
                     misfire_grace: float = 60.0, jitter: float = 0.0,
                     restart: RestartPolicy | None = None, singleton: Lease | None = None,
                     state: ScheduleState | None = None,
                     engine: CronEngine | None = None) -> ServiceCollection:
        """Run ``fn(stopping_token, fire_time)`` at each fire time of the cron ``schedule``
        in ``timezone``, as a ``CronBackgroundService`` named ``name`` (default: the
        function's name) would (see there for the rules: DST, misfires, jitter, ``state``).

        ``restart`` and ``singleton`` are as for ``add_hosted_service``; ``state`` and
        ``engine`` as the attributes of ``CronBackgroundService``. A bad schedule, zone
        or value is a ConfigurationError at ``build()`` naming the service; TypeError now for
        an ``fn`` that is not callable.
        """
        if not callable(fn):
            raise TypeError(f"add_schedule({fn!r}, ...): expected a function taking "
                            "(stopping_token, fire_time)")
        label = name or getattr(fn, "__name__", None) or repr(fn)
        service = FunctionSchedule(fn, schedule, timezone=timezone, misfire_grace=misfire_grace,
                                   jitter=jitter, state=state, engine=engine)
        self._check_at_build(label, service)
        return self._register(lambda inj: service, label, target=None, restart=restart,
                              liveness_timeout=None, singleton=singleton, method="add_schedule",
                              named=True)

    def _check_at_build(self, name: str, service: object) -> None:
        """Have ``build()`` check the registration of a hosted-service class of threadhost's
        own that can be checked before anything is made (``BuildChecked``: a schedule)."""
        if isinstance(service, BuildChecked):
            self._checks.append(functools.partial(
                type(service)._check_registration, name, service))
        elif isinstance(service, type) and issubclass(service, BuildChecked):
            self._checks.append(functools.partial(service._check_registration, name, None))

    def _register(self, factory: HostedServiceFactory, name: str, *, target: Any,
                  restart: RestartPolicy | None, liveness_timeout: float | None,
                  singleton: Lease | None, method: str,
                  named: bool = False) -> ServiceCollection:
        if restart is not None and not isinstance(restart, RestartPolicy):
            raise TypeError(f"{method}({name}, restart={restart!r}): expected a "
                            "threadhost.RestartPolicy")
        if singleton is not None and not isinstance(singleton, Lease):
            raise TypeError(f"{method}({name}, singleton={singleton!r}): expected a "
                            "threadhost.Lease (e.g. threadhost.contrib.postgres.PostgresLease)")
        if singleton is not None:
            self._leases.append((name, singleton))
        self._hosted.append(HostedRegistration(
            factory, name, target, restart, liveness_timeout,
            lease_adapter(singleton) if singleton is not None else None, name if named else None))
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
        class, a factory function or a ``functools.partial`` (each autowired), or an
        instance (any other object, callable or not). ``to=None`` means the interface class
        itself. A singleton cannot depend on a scoped service."""
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

    def add_scoped(self, interface: Any, to: Any = None) -> ServiceCollection:
        """Register ``interface`` as one instance per scope (``host.create_scope()``), made
        from ``to``: a class, a factory function or a ``functools.partial`` (autowired).
        Resolving it outside a scope raises an error that says so; an instance that is a
        context manager is exited when its scope ends. Raises TypeError for an instance."""
        inner = _provider_for(interface, to)
        if isinstance(inner, injector.InstanceProvider):
            raise TypeError(
                f"add_scoped({getattr(interface, '__qualname__', interface)!r}, to=...) needs a "
                "class or a factory to make one instance per scope; register an existing "
                "object with add_instance.")
        provider = ScopedProvider(interface, inner)
        self._bindings.append(lambda b: b.bind(interface, to=provider, scope=injector.noscope))
        return self

    def add_instance(self, interface: Any, instance: Any) -> ServiceCollection:
        """Register an existing object as ``interface`` (e.g. ``add_instance(Clock, clock)``)."""
        self._bindings.append(
            lambda b: b.bind(interface, to=injector.InstanceProvider(instance)))
        return self

    def require_registration(self, required: bool = True) -> ServiceCollection:
        """Turn off autowiring of unregistered classes (as .NET's container, which constructs
        only what is registered): a constructor parameter whose class nothing registered is
        then an error, not a fresh instance, and ``build()`` checks every hosted service's
        dependencies in every environment (as .NET's ``ValidateOnBuild``), raising TypeError
        naming the service and the class to register (``builder.run()`` prints it in one
        line and returns 1). ``host.services.get`` of an unregistered class raises too.
        Off by default. Builder thread."""
        self._registration_required = bool(required)
        return self

    def add_module(self, module: injector.Module) -> ServiceCollection:
        """Install an ``injector.Module`` (its bindings win over earlier registrations)."""
        self._bindings.append(lambda b: b.install(module))
        return self

    def configure(self, options_type: type[T], section: str | None = None,
                  **overrides: Any) -> ServiceCollection:
        """Configure the dataclass ``options_type``, injectable as ``Options[options_type]``
        (the value bound at ``build()``) and ``OptionsMonitor[options_type]`` (the current
        value, renewed when a watched file changes).

        The value starts from the dataclass defaults; each call then applies, in order, the
        configuration ``section`` (if given; keys it lacks keep the current values) and the
        keyword ``overrides``, converted and checked as configuration values are (``"10"``
        for an int, ``"false"`` for a bool, ``"Ignore"`` for an enum, a dict for a nested
        dataclass). ``HostOptions`` and ``ConsoleLifetimeOptions`` are also injectable as
        themselves: ``configure(HostOptions, shutdown_timeout=10)``. The value is built at
        ``build()``: a value that does not convert fails it with ``ConfigurationError``
        naming the field. Raises TypeError now for a non-dataclass or an unknown field.
        """
        if not (dataclasses.is_dataclass(options_type) and isinstance(options_type, type)):
            raise TypeError(f"configure() needs a dataclass type, got {options_type!r}")
        names = {f.name for f in dataclasses.fields(options_type) if f.init}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(
                f"configure({options_type.__name__}): no field named {', '.join(unknown)}; "
                f"the fields are {', '.join(sorted(names))}")
        actions = self._options.setdefault(options_type, [])
        sections = self._sections.setdefault(options_type, [])
        if section is not None:
            sections.append(section)
            actions.append(lambda config, value: config.get_section(section).bind(
                options_type, value))
        if overrides:
            bound = list(sections)  # the sections these overrides come after

            def override(config: Configuration, value: Any) -> Any:
                _warn_shadowed(config, options_type, bound, overrides)
                return apply_overrides(options_type, value, overrides)

            actions.append(override)
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

    def _check(self) -> None:
        """What can be checked of the registrations before anything is made (a schedule's
        expression): ConfigurationError naming the service."""
        for check in self._checks:
            check()

    def _build_options(self, config: Configuration) -> dict[type, Any]:
        """Every configured options value, built now (so errors surface in build())."""
        return {t: self._options_value(t, config) for t in self._options}

    def _install(self, binder: injector.Binder, options: dict[type, Any],
                 monitors: dict[type, OptionsMonitor[Any]]) -> None:
        """Bind the options values and monitors, then every registration, in order."""
        if self._registration_required:
            binder.bind(RegistrationRequired, to=injector.InstanceProvider(
                RegistrationRequired()))
        for options_type, value in options.items():
            binder.bind(Options[options_type],  # type: ignore[valid-type]
                        to=injector.InstanceProvider(Options(value)))
            binder.bind(OptionsMonitor[options_type],  # type: ignore[valid-type]
                        to=injector.InstanceProvider(monitors[options_type]))
        for bind in self._bindings:
            bind(binder)


def _warn_shadowed(config: Configuration, options_type: type, sections: list[str],
                   overrides: dict[str, Any]) -> None:
    """A ``configure`` override wins over every configuration source: if the user also gave
    that key (command line, environment, a file), say so, with the way to give a default
    that they would override instead (``add_defaults``)."""
    for section in sections:
        for name, value in overrides.items():
            key = f"{section}:{''.join(p[:1].upper() + p[1:] for p in name.split('_'))}"
            if config._given(key):
                log.configure_overrides(options_type.__name__, name, value, key=key,
                                        given=config.get(key),
                                        origin=config.origin(key) or "configuration")
