"""``HostApplicationBuilder``: configuration, environment, logging, services; then ``build()``."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import final

import injector

from ._clock import SYSTEM_CLOCK, Clock
from ._configuration import Configuration
from ._console_lifetime import ConsoleLifetime
from ._environment import PRODUCTION, HostEnvironment
from ._errors import ConfigurationError
from ._health import HealthMonitor
from ._health_endpoint import parse_host, parse_port, register_endpoint
from ._host import Host
from ._lease import bind_leases
from ._lifetime import HostApplicationLifetime, HostLifetime
from ._logging import LoggingBuilder
from ._options import ConsoleLifetimeOptions, HostOptions, _seconds
from ._registry import ThreadExitHook
from ._services import ServiceCollection, _Autowired
from ._systemd import SystemdNotifier, SystemdWatchdog, _SystemdLifecycle, watchdog_interval

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
        self.environment = HostEnvironment(
            environment_name=host_settings.get("environment") or PRODUCTION,
            application_name=host_settings.get("applicationName") or _application_name(),
            content_root_path=host_settings.get("contentRoot") or os.getcwd(),
        )
        root = self.environment.content_root_path
        # The host settings' own sources come first; the command line comes again last.
        host_environment, command_line = host_settings._sources
        self.configuration = Configuration()
        (self.configuration
         ._add(host_environment)
         ._add(command_line)
         .add_json_file(os.path.join(root, "appsettings.json"), optional=True)
         .add_json_file(os.path.join(
             root, f"appsettings.{self.environment.environment_name}.json"), optional=True)
         .add_environment_variables()
         ._add(command_line))
        self.services = ServiceCollection()
        self.logging = LoggingBuilder(self.configuration)
        self._thread_exit_hooks: list[ThreadExitHook] = []
        self._health_endpoint: tuple[str, int] | None = None  # use_health_endpoint's
        self._built = False
        # Lowest first: the host setting, the HostOptions section, then code.
        self.services.configure(HostOptions)
        self.services._options[HostOptions].append(self._host_setting_timeout)
        self.services.configure(HostOptions, section="HostOptions")
        self.services.configure(ConsoleLifetimeOptions, section="ConsoleLifetime")

    def _host_setting_timeout(self, config: Configuration, value: HostOptions | None
                              ) -> HostOptions:
        value = value or HostOptions()
        raw = config.get("shutdownTimeoutSeconds")
        if raw is None:
            return value
        try:
            seconds = float(raw)
        except ValueError:
            seconds = float("nan")
        problem = _seconds(seconds)
        if problem:
            raise ConfigurationError(f"shutdownTimeoutSeconds={raw!r} is invalid: {problem}")
        value.shutdown_timeout = seconds
        return value

    def use_systemd(self) -> HostApplicationBuilder:
        """Integrate with systemd when run as a ``Type=notify`` service; else change nothing.

        With ``NOTIFY_SOCKET`` set: ``READY=1`` once started, ``STOPPING=1`` when the stop
        begins, ``WATCHDOG=1`` every half ``WATCHDOG_USEC`` while healthy, and ``STATUS=``
        lines. With ``JOURNAL_STREAM`` set: the ``systemd`` console log format. Reads the
        environment now; call it on the builder thread. Returns the builder.
        """
        environ = os.environ
        if environ.get("JOURNAL_STREAM"):
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
        stopped (SPEC §10).

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

    def build(self) -> Host:
        """Build the host: check the configuration, set up logging, make the injector.

        Raises ConfigurationError for a source that failed to load (a malformed JSON file,
        with file, line and column) or an options value that does not convert or is invalid
        (naming the key and value), and RuntimeError on a second call.
        """
        if self._built:
            raise RuntimeError("build() can only be called once: this builder already built "
                               "a host; create a new builder for another host.")
        self._built = True
        self.configuration.check()
        self.logging.apply()
        config, environment, services = self.configuration, self.environment, self.services
        options = services._build_options(config)
        bind_leases((r.service_name, r.singleton) for r in services._hosted
                    if r.singleton is not None)
        register_endpoint(services, config, self._health_endpoint)

        def configure(binder: injector.Binder) -> None:
            binder.bind(Configuration, to=injector.InstanceProvider(config))
            binder.bind(HostEnvironment, to=injector.InstanceProvider(environment))
            binder.bind(Clock, to=injector.InstanceProvider(SYSTEM_CLOCK))  # type: ignore[type-abstract]
            binder.bind(HostApplicationLifetime, to=injector.CallableProvider(
                lambda: HostApplicationLifetime(inj.get(Clock))),  # type: ignore[type-abstract]
                scope=injector.singleton)
            binder.bind(HostLifetime, to=_Autowired(ConsoleLifetime),  # type: ignore[type-abstract]
                        scope=injector.singleton)
            for options_type in (HostOptions, ConsoleLifetimeOptions):
                binder.bind(options_type, to=injector.InstanceProvider(options[options_type]))
            services._install(binder, options)

        inj = injector.Injector([configure], auto_bind=True)
        return Host(inj, services._hosted, self._thread_exit_hooks)

    def __repr__(self) -> str:
        return f"<HostApplicationBuilder {self.environment.environment_name}>"
