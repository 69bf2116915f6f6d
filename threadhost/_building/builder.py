"""``HostApplicationBuilder``: configuration, environment, logging, services; then ``build()``."""

from __future__ import annotations

import os
import sys
import weakref
from collections.abc import Sequence
from typing import Any, final

import injector

from threadhost import _log_messages as log
from threadhost._building.autowire import Autowired, missing_dependency
from threadhost._building.collection import ServiceCollection
from threadhost._building.failure import _MissingDependencyError, failure_of
from threadhost._building.health_config import parse_host, parse_port, register_endpoint
from threadhost._building.host import Host
from threadhost._config.command_line import HOST_SETTINGS
from threadhost._config.configuration import Configuration
from threadhost._config.unread import unread_command_line_keys
from threadhost._errors import ConfigurationError
from threadhost._hosting.channel import StopChannel
from threadhost._hosting.environment import DEVELOPMENT, PRODUCTION, HostEnvironment
from threadhost._hosting.hosted_service import HostedServiceFactory
from threadhost._hosting.lifetime import HostApplicationLifetime, HostLifetime
from threadhost._hosting.options import (
    ConsoleLifetimeOptions,
    HostOptions,
    OptionsMonitor,
    _seconds,
)
from threadhost._hosting.registry import ThreadExitHook
from threadhost._leases.lease import bind_leases
from threadhost._logging.build_failure import report_build_failure
from threadhost._logging.console import AppliedLogging, LoggingBuilder
from threadhost._ops.health import HealthMonitor
from threadhost._process.console_lifetime import ConsoleLifetime
from threadhost._process.systemd import (
    SystemdNotifier,
    SystemdWatchdog,
    _SystemdLifecycle,
    watchdog_interval,
)
from threadhost._time.clock import SYSTEM_CLOCK, Clock

HOST_PREFIX = "THREADHOST_"


def _application_name() -> str:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name:
        return str(spec.name).removesuffix(".__main__")
    path = getattr(main, "__file__", None)
    return os.path.splitext(os.path.basename(path))[0] if path else "python"


@final
class HostApplicationBuilder:
    """Collects configuration, environment, logging and services; ``build()`` makes the Host.

    Created by ``Host.create_application_builder(args)``, which loads the default sources at
    once (so ``configuration`` can be read before ``build()``), later wins:

    1. host settings: ``THREADHOST_``-prefixed environment variables, then ``args``
       (``environment``, ``applicationName``, ``contentRoot``, ``shutdownTimeoutSeconds``);
    2. ``appsettings.json`` and ``appsettings.<Environment>.json`` in the content root
       (optional);
    3. all environment variables (``__`` stands for ``:``);
    4. ``args`` as command-line configuration.

    Builder thread only, not thread-safe. ``build()`` works once.
    """

    def __init__(self, args: Sequence[str] | None = None) -> None:
        args = list(args or ())
        host_settings = Configuration()
        host_settings.add_environment_variables(HOST_PREFIX).add_command_line(args)
        self._setup(host_settings)
        root = self.environment.content_root_path
        # The host settings' own sources come first; the command line comes again last.
        host_environment, command_line = host_settings._sources
        (self.configuration
         ._add(host_environment)
         ._add(command_line)
         .add_json_file(os.path.join(root, "appsettings.json"), optional=True)
         .add_json_file(os.path.join(
             root, f"appsettings.{self.environment.environment_name}.json"), optional=True)
         .add_environment_variables()
         ._add(command_line))

    @classmethod
    def _empty(cls, environment_name: str, content_root_path: str | None = None
               ) -> HostApplicationBuilder:
        """A builder with no configuration source at all (no appsettings*.json, no
        environment variable, no command line): the pytest ``host_builder`` fixture."""
        builder = cls.__new__(cls)
        host_settings = Configuration().add_in_memory(
            {"environment": environment_name, "applicationName": "tests",
             "contentRoot": content_root_path or os.getcwd()}, name="host settings")
        builder._setup(host_settings)
        return builder

    def _setup(self, host_settings: Configuration) -> None:
        def setting(key: str) -> str | None:
            # A bad command line is the configuration's error too: build() raises it.
            try:
                return host_settings.get(key)
            except ConfigurationError:
                return None

        self.environment = HostEnvironment(
            environment_name=setting("environment") or PRODUCTION,
            application_name=setting("applicationName") or _application_name(),
            content_root_path=setting("contentRoot") or os.getcwd(),
        )
        self.configuration = Configuration().set_base_path(
            self.environment.content_root_path)
        for key in HOST_SETTINGS:  # read above, from the host settings: never "unread" keys
            self.configuration._lookup(key)
        self.services = ServiceCollection()
        self.logging = LoggingBuilder(self.configuration)
        self._thread_exit_hooks: list[ThreadExitHook] = []
        self._health_endpoint: tuple[str, int] | None = None  # use_health_endpoint's
        self._built = False
        # Lowest first: add_defaults, the host setting, the HostOptions section, then code
        # (the host setting is applied after the section, where _host_setting_timeout says).
        self.services.configure(HostOptions)
        self.services.configure(HostOptions, section="HostOptions")
        self.services._options[HostOptions].append(self._host_setting_timeout)
        self.services.configure(ConsoleLifetimeOptions, section="ConsoleLifetime")

    def _host_setting_timeout(self, config: Configuration, value: HostOptions | None
                              ) -> HostOptions:
        """The host setting ``shutdownTimeoutSeconds``, applied after the section: it wins
        over a ``HostOptions:ShutdownTimeout`` from ``add_defaults`` only, and a default
        ``shutdownTimeoutSeconds`` wins over nothing but HostOptions' own default."""
        value = value or HostOptions()
        raw = config.get("shutdownTimeoutSeconds")
        section_key = "HostOptions:ShutdownTimeout"
        if raw is None or config._given(section_key) or (
                not config._given("shutdownTimeoutSeconds") and config.get(section_key)):
            return value
        try:
            seconds = float(raw)
        except ValueError:
            seconds = float("nan")
        problem = _seconds(seconds)
        if problem:
            raise ConfigurationError(
                f"shutdownTimeoutSeconds={raw!r} is invalid: {problem} (set in "
                f"{config.origin('shutdownTimeoutSeconds')})")
        value.shutdown_timeout = seconds
        return value

    def use_systemd(self) -> HostApplicationBuilder:
        """Integrate with systemd when run as a ``Type=notify`` service; else change nothing.

        With ``NOTIFY_SOCKET`` set: ``READY=1`` once started, ``STOPPING=1`` when the stop
        begins, ``WATCHDOG=1`` every half ``WATCHDOG_USEC`` while healthy, and ``STATUS=``
        lines. With ``JOURNAL_STREAM`` naming the device and inode of this process's stderr
        (so not when stderr was redirected elsewhere): the ``systemd`` console log format. Reads the
        environment now; call it on the builder thread. Returns the builder.
        """
        environ = os.environ
        if _stderr_is_journal(environ.get("JOURNAL_STREAM", "")):
            self.logging.add_console(formatter="systemd")
        address = environ.get("NOTIFY_SOCKET")
        if not address:
            return self
        notifier = SystemdNotifier(address)
        self.services.add_instance(SystemdNotifier, notifier)
        self.services.add_hosted_service(_SystemdLifecycle)
        interval = watchdog_interval(environ)
        if interval is not None:
            def watchdog(lifetime: HostApplicationLifetime, health: HealthMonitor
                         ) -> SystemdWatchdog:
                return SystemdWatchdog(notifier, lifetime, interval, health)
            self.services.add_hosted_service(watchdog)
        return self

    def use_health_endpoint(self, port: int = 8080, host: str = "127.0.0.1"
                            ) -> HostApplicationBuilder:
        """Serve ``/healthz``, ``/readyz``, ``/health`` (and ``/metrics`` with the ``metrics``
        extra) over HTTP on ``host:port``, from before the services start until after they
        stopped.

        ``port=0`` picks a free port (``Host.health_endpoint_address`` tells which). The
        configuration keys ``Health:Port`` and ``Health:Host`` win over these arguments (and
        ``Health:Port`` alone turns the endpoint on). Builder thread. Raises ValueError for a
        port outside 0-65535 or an empty host; a port in use fails ``Host.start()`` with
        ``HostStartupError`` naming the address. Returns the builder.
        """
        self._health_endpoint = (parse_host(host, "use_health_endpoint(host)"),
                                 parse_port(port, "use_health_endpoint(port)"))
        return self

    def add_thread_exit_hook(self, hook: ThreadExitHook) -> HostApplicationBuilder:
        """Run ``hook()`` on every BackgroundService thread as it ends (after ``execute``).

        For per-thread resources such as database connections; an exception is logged.
        """
        self._thread_exit_hooks.append(hook)
        return self

    def run(self) -> int:
        """Build the host and ``run()`` it: an application's ``main()`` in one call, with one
        error path. A configuration error at ``build()`` (a value that does not convert, a
        malformed settings file, a bad schedule) prints one line naming the key, the file or
        the service on stderr and returns 2; one at a service's start is logged in one line
        and returns 2 too. A hosted service that cannot be constructed (a dependency nothing
        provides, found by ``build()`` in Development or with ``require_registration()``, or a
        constructor that raises, at start) is one line naming the service and the chain of
        dependencies, and returns 1; anything else is as ``Host.run()`` says (0, 1, 3, or
        130). Main thread; blocks until the host has stopped."""
        try:
            host = self.build()
        except Exception as exc:
            failure = failure_of(exc)
            if failure is None:
                raise
            log.build_failed(self.environment.application_name or "threadhost", exc)
            return failure[1]
        return host.run()

    def build(self) -> Host:
        """Build the host: check the configuration, make the injector, set up logging.

        Order: the configuration sources; every options value; the injector; in
        ``Development`` (or with ``services.require_registration()``), every hosted service's
        dependencies (constructing nothing, as .NET's ValidateOnBuild); then logging (undone
        when the host stops). Raises
        ConfigurationError for a source that failed to load (a malformed JSON file, with
        file, line and column) or an options value that does not convert or is invalid
        (naming the key, the value and its source), TypeError naming a hosted service and
        the dependency it lacks (Development or require_registration() only; elsewhere
        ``start()`` fails before any service starts), and RuntimeError on a second call after
        a successful one. A call that raised leaves the builder usable: fix the cause and call
        it again. With threadhost's console in the ``json`` or ``systemd`` format, such a
        ConfigurationError or TypeError is also written as one ERROR record before logging is
        put back (so ``run()`` and ``threadhost run`` print no plain line for it).
        """
        if self._built:
            raise RuntimeError("build() can only be called once: this builder already built "
                               "a host; create a new builder for another host.")
        # Logging first, so that what building says (a typo'd key, a bad option) has the
        # configured format; undone if the build fails after all. A failure is one record
        # in a json (or systemd) console log, not a plain line (``report_build_failure``).
        applied: AppliedLogging | None = None
        try:
            self.configuration.check()
            applied = self.logging.apply()
            return self._build(applied)
        except BaseException as exc:
            if failure_of(exc) is not None:  # the entry point prints one line: details here
                log.build_failure_traceback(exc)
                report_build_failure(self.logging, applied, exc,
                                     self.environment.application_name or "threadhost")
            if applied is not None:
                applied.undo()
            raise

    def _build(self, applied: AppliedLogging) -> Host:
        config, environment, services = self.configuration, self.environment, self.services
        services._check()
        options = services._build_options(config)
        bind_leases(services._leases)
        register_endpoint(services, config, self._health_endpoint)
        monitors: dict[type, OptionsMonitor[Any]] = {
            t: OptionsMonitor(v) for t, v in options.items()}

        def configure(binder: injector.Binder) -> None:
            binder.bind(Configuration, to=injector.InstanceProvider(config))
            binder.bind(HostEnvironment, to=injector.InstanceProvider(environment))
            binder.bind(Clock, to=injector.InstanceProvider(SYSTEM_CLOCK))  # type: ignore[type-abstract]
            binder.bind(StopChannel, to=injector.InstanceProvider(StopChannel()))
            binder.bind(HostApplicationLifetime, to=injector.CallableProvider(
                lambda: HostApplicationLifetime(
                    inj.get(Clock), inj.get(StopChannel))),  # type: ignore[type-abstract]
                scope=injector.singleton)
            binder.bind(HostLifetime, to=Autowired(ConsoleLifetime),  # type: ignore[type-abstract]
                        scope=injector.singleton)
            for options_type in (HostOptions, ConsoleLifetimeOptions):
                binder.bind(options_type, to=injector.InstanceProvider(options[options_type]))
            services._install(binder, options, monitors)

        strict = services._registration_required
        inj = injector.Injector([configure], auto_bind=not strict)
        if strict:
            self._validate(inj, "services.require_registration() is on")
        elif environment.is_environment(DEVELOPMENT):
            self._validate(inj, f"the environment is {DEVELOPMENT}")
        hosted: list[HostedServiceFactory] = list(services._hosted)
        if config._watched():
            from threadhost._building.reload import (  # noqa: PLC0415  (lazy: only watched files need it)
                ConfigurationWatcher,
                Reloader,
            )
            watcher = ConfigurationWatcher(Reloader(
                config, lambda t: services._options_value(t, config), monitors, applied))
            hosted.insert(0, lambda _: watcher)
        host = Host(inj, hosted, self._thread_exit_hooks)
        # As .NET registers IHost: a service may take `host: Host` (e.g. for create_scope()).
        inj.binder.bind(Host, to=injector.InstanceProvider(host))
        # threadhost's own quick hook (not a user callback): it runs when the stop is over, or
        # when a host that never started is closed.
        inj.get(StopChannel).on_stopped(lambda _budget: applied.undo())
        inj.get(HostApplicationLifetime).application_started.register(
            lambda: _warn_unread(config))
        weakref.finalize(host, applied.undo)
        self._built = True
        return host

    def _validate(self, inj: injector.Injector, because: str) -> None:
        """TypeError naming the first hosted service that cannot be constructed, and why."""
        for registration in self.services._hosted:
            if registration.target is None:
                continue
            problem = missing_dependency(inj, registration.target)
            if problem is not None:
                raise _MissingDependencyError(
                    f"Hosted service {registration.service_name!r} cannot be constructed: "
                    f"{problem} (checked at build() because {because})")

    def __repr__(self) -> str:
        return f"<HostApplicationBuilder {self.environment.environment_name}>"


def _warn_unread(config: Configuration) -> None:
    """Once the host has started: each command-line key nothing read (``_config.unread``)."""
    for key, value, close in unread_command_line_keys(config):
        log.unread_command_line_key(key, value, close)


def _stderr_is_journal(journal_stream: str) -> bool:
    """True if ``JOURNAL_STREAM`` (``DEVICE:INODE``) is this process's stderr, as systemd's
    documentation asks: a child whose stderr was redirected inherits the variable."""
    device, _, inode = journal_stream.partition(":")
    try:
        stat = os.fstat(sys.stderr.fileno())
        return (stat.st_dev, stat.st_ino) == (int(device), int(inode))
    except (AttributeError, OSError, ValueError):
        return False
