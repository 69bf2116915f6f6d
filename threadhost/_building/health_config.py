"""Configuring the health endpoint at ``build()``: ``use_health_endpoint`` and ``Health:*``.

Kept apart from ``_health_endpoint`` so that building a host that serves no probes never
imports ``http.server`` (about a third of ``import threadhost`` otherwise): the endpoint's
module is imported only when an endpoint is registered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from threadhost._errors import ConfigurationError
from threadhost._hosting.channel import StopChannel
from threadhost._hosting.hosted_service import HostedLifecycleService
from threadhost._ops.health import HealthMonitor

if TYPE_CHECKING:
    from threadhost._building.collection import ServiceCollection
    from threadhost._config.configuration import Configuration


def parse_port(raw: object, key: str = "Health:Port") -> int:
    """``raw`` as a TCP port (0-65535; 0 picks a free one). Raises ConfigurationError naming
    ``key`` and the value."""
    port: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        port = raw
    elif isinstance(raw, str) and raw.strip().isdigit():
        port = int(raw.strip())
    if port is None or not 0 <= port <= 65535:
        raise ConfigurationError(f"{key}={raw!r} is invalid: expected a port number from 0 to "
                                 "65535 (0 picks a free port)")
    return port


def parse_host(raw: object, key: str = "Health:Host") -> str:
    """``raw`` as an address to listen on. Raises ConfigurationError naming ``key``."""
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigurationError(f"{key}={raw!r} is invalid: expected an address to listen on, "
                                 "such as 127.0.0.1 or 0.0.0.0")
    return raw.strip()


def endpoint_factory(host: str, port: int) -> Callable[..., HostedLifecycleService]:
    """A factory for ``add_hosted_service``-style registration (parameters injected)."""
    from threadhost._ops.endpoint import HealthEndpoint  # noqa: PLC0415  (see the module notes)
    from threadhost._ops.metrics import metrics_renderer  # noqa: PLC0415  (prometheus-client is optional)

    # Annotated with what this module can name: the injector resolves these hints here.
    def make(monitor: HealthMonitor, channel: StopChannel) -> HostedLifecycleService:
        return HealthEndpoint(monitor, channel, host, port, metrics_renderer(monitor))

    return make


def register_endpoint(services: ServiceCollection, config: Configuration,
                      code: tuple[str, int] | None) -> None:
    """Register the endpoint as the *first* hosted service when ``code`` (from
    ``use_health_endpoint``) or the configuration (``Health:Port``) asks for one.

    The configuration wins over the code's arguments, so operators can move the port without
    a release: ``Health:Port`` (0-65535) and ``Health:Host``. Builder thread, in ``build()``.
    Raises ConfigurationError naming the key and value of a bad setting.
    """
    section = config.get_section("Health")
    raw_port, raw_host = section.get("Port"), section.get("Host")
    if code is None and raw_port is None:
        return
    host, port = code or ("127.0.0.1", 8080)
    if raw_port is not None:
        port = parse_port(raw_port)
    if raw_host is not None:
        host = parse_host(raw_host)
    services.add_hosted_service(endpoint_factory(host, port))
    services._hosted.insert(0, services._hosted.pop())  # first: up before, down after all
