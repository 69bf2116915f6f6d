from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

import threadhost as th
from tests._services import make_builder


@dataclass
class OrderingBackgroundSettings:
    check_update_time: int = 30
    grace_period_time: int = 60


class UsesSettings(th.HostedService):
    def __init__(self, settings: th.Options[OrderingBackgroundSettings],
                 environment: th.HostEnvironment) -> None:
        self.settings = settings.value
        self.environment = environment

    def start(self, cancellation_token: th.CancellationToken) -> None:
        pass

    def stop(self, cancellation_token: th.CancellationToken) -> None:
        pass


def write(path: Path, document: object) -> None:
    path.write_text(json.dumps(document))


def test_precedence_json_then_environment_file_then_variables_then_command_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "appsettings.json", {"K": {"A": "json", "B": "json", "C": "json",
                                                "D": "json"}})
    write(tmp_path / "appsettings.Development.json", {"K": {"B": "dev", "C": "dev", "D": "dev"}})
    write(tmp_path / "appsettings.Production.json", {"K": {"B": "prod"}})
    monkeypatch.setenv("THREADHOST_ENVIRONMENT", "Development")
    monkeypatch.setenv("K__C", "env")
    monkeypatch.setenv("K__D", "env")
    builder = th.Host.create_application_builder([f"--contentRoot={tmp_path}", "K:D=cli"])
    config = builder.configuration
    assert [config[f"K:{k}"] for k in "ABCD"] == ["json", "dev", "env", "cli"]
    assert builder.environment.is_development()
    assert builder.environment.content_root_path == str(tmp_path)


def test_command_line_host_setting_beats_environment_variable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "appsettings.Staging.json", {"Which": "staging"})
    monkeypatch.setenv("THREADHOST_ENVIRONMENT", "Development")
    builder = th.Host.create_application_builder(
        ["--environment", "Staging", "--contentRoot", str(tmp_path)])
    assert builder.environment.environment_name == "Staging"
    assert builder.configuration["Which"] == "staging"


def test_environment_defaults_to_production_and_compares_ignoring_case() -> None:
    environment = th.Host.create_application_builder([]).environment
    assert environment.environment_name == "Production" and environment.is_production()
    assert environment.is_environment("PRODUCTION")
    assert not environment.is_development() and not environment.is_staging()


def test_configure_binds_a_section_then_applies_overrides_in_order() -> None:
    builder = make_builder(UsesSettings, args=["--Ordering:CheckUpdateTime=5",
                                               "--Ordering:GracePeriodTime=7"])
    builder.services.configure(OrderingBackgroundSettings, section="Ordering")
    builder.services.configure(OrderingBackgroundSettings, grace_period_time=99)
    host = builder.build()
    settings = host.services.get(th.Options[OrderingBackgroundSettings]).value
    assert settings == OrderingBackgroundSettings(check_update_time=5, grace_period_time=99)


def test_options_and_environment_are_injected_into_hosted_services() -> None:
    made: list[UsesSettings] = []

    def factory(settings: th.Options[OrderingBackgroundSettings],
                environment: th.HostEnvironment) -> UsesSettings:
        made.append(UsesSettings(settings, environment))
        return made[-1]

    builder = make_builder(args=["--environment=Testing"])
    builder.services.add_hosted_service(factory)
    builder.services.configure(OrderingBackgroundSettings, check_update_time=1)
    with builder.build():
        pass
    [service] = made
    assert service.settings == OrderingBackgroundSettings(check_update_time=1)
    assert service.environment.environment_name == "Testing"


def test_host_options_bind_from_the_section_and_the_host_setting() -> None:
    host = make_builder(args=["--shutdownTimeoutSeconds=12",
                              "--HostOptions:ServicesStopConcurrently=true",
                              "--HostOptions:BackgroundServiceExceptionBehavior=Ignore"]).build()
    options = host.services.get(th.HostOptions)
    assert options.shutdown_timeout == 12
    assert options.services_stop_concurrently
    assert (options.background_service_exception_behavior
            is th.BackgroundServiceExceptionBehavior.IGNORE)


def test_section_beats_host_setting_and_code_beats_both() -> None:
    builder = make_builder(args=["--shutdownTimeoutSeconds=12",
                                 "--HostOptions:ShutdownTimeout=20"])
    assert builder.build().services.get(th.HostOptions).shutdown_timeout == 20
    builder = make_builder(args=["--HostOptions:ShutdownTimeout=20"], shutdown_timeout=3)
    assert builder.build().services.get(th.HostOptions).shutdown_timeout == 3


# The shutdown timeout's precedence, lowest first: add_defaults, the host setting
# shutdownTimeoutSeconds, the HostOptions section (files, environment, command line), code.
@pytest.mark.parametrize(("defaults", "env", "args", "expected"), [
    ({"HostOptions:ShutdownTimeout": 10}, {}, [], 10),
    ({"HostOptions:ShutdownTimeout": 10}, {"THREADHOST_SHUTDOWNTIMEOUTSECONDS": "4"}, [], 4),
    ({"HostOptions:ShutdownTimeout": 10}, {}, ["--shutdownTimeoutSeconds=4"], 4),
    ({"shutdownTimeoutSeconds": 10}, {}, [], 10),
    ({"shutdownTimeoutSeconds": 10, "HostOptions:ShutdownTimeout": 11}, {}, [], 11),
    ({"shutdownTimeoutSeconds": 10}, {"HOSTOPTIONS__SHUTDOWNTIMEOUT": "6"}, [], 6),
    ({"HostOptions:ShutdownTimeout": 10},
     {"THREADHOST_SHUTDOWNTIMEOUTSECONDS": "4", "HOSTOPTIONS__SHUTDOWNTIMEOUT": "6"}, [], 6),
    ({}, {"THREADHOST_SHUTDOWNTIMEOUTSECONDS": "4"}, ["--HostOptions:ShutdownTimeout=7"], 7),
    ({"HostOptions:ShutdownTimeout": 10}, {"HOSTOPTIONS__SHUTDOWNTIMEOUT": "6"},
     ["--shutdownTimeoutSeconds=4"], 6),
])
def test_shutdown_timeout_precedence_is_defaults_then_host_setting_then_section(
        defaults: dict[str, object], env: dict[str, str], args: list[str], expected: float,
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    builder = make_builder(args=args)
    builder.configuration.add_defaults(defaults)
    host = builder.build()
    assert host.services.get(th.HostOptions).shutdown_timeout == expected
    host.close()


@pytest.mark.parametrize(("args", "message"), [
    (["--HostOptions:ShutdownTimeout=-5"],
     r"^HostOptions:ShutdownTimeout='-5' is invalid: expected seconds >= 0 \(set in command "
     r"line HostOptions:ShutdownTimeout\)$"),
    (["--HostOptions:ShutdownTimeout=abc"],
     r"^HostOptions:ShutdownTimeout='abc' is invalid: expected a number \(float\) \(set in "
     r"command line HostOptions:ShutdownTimeout\)$"),
    (["--shutdownTimeoutSeconds=abc"],
     r"^shutdownTimeoutSeconds='abc' is invalid: expected a number of seconds >= 0 \(set in "
     r"command line shutdownTimeoutSeconds\)$"),
    (["--HostOptions:BackgroundServiceExceptionBehavior=Explode"],
     r"^HostOptions:BackgroundServiceExceptionBehavior='Explode' is invalid: expected one of "
     r"StopHost, Ignore \(set in command line HostOptions:BackgroundServiceExceptionBehavior\)$"),
])
def test_invalid_host_options_fail_build_naming_key_and_value(
        args: list[str], message: str) -> None:
    with pytest.raises(th.ConfigurationError, match=message):
        make_builder(args=args).build()


def test_malformed_appsettings_fails_build_naming_file_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "appsettings.json").write_text('{"A": 1,,}')
    builder = th.Host.create_application_builder([f"--contentRoot={tmp_path}"])
    with pytest.raises(th.ConfigurationError, match=r"appsettings\.json:1:9: "):
        builder.build()


def test_configure_rejects_unknown_fields_now() -> None:
    with pytest.raises(TypeError, match=r"^configure\(HostOptions\): no field named "
                                        r"shutdown_timout; the fields are "):
        th.Host.create_application_builder([]).services.configure(
            th.HostOptions, shutdown_timout=3)


def test_second_build_raises() -> None:
    builder = make_builder()
    builder.build()
    with pytest.raises(RuntimeError, match=r"^build\(\) can only be called once"):
        builder.build()


def test_registered_clock_is_the_one_the_host_uses() -> None:
    clock = th.SystemClock()
    builder = make_builder()
    builder.services.add_instance(th.Clock, clock)
    host = builder.build()
    assert host.services.get(th.Clock) is clock  # type: ignore[type-abstract]
    lifetime = host.services.get(th.HostApplicationLifetime)
    assert lifetime.application_started.clock is clock


class Repository:
    def __init__(self, config: th.Configuration) -> None:
        self.dsn = config.get("Db:Dsn")


class NeedsRepository(th.HostedService):
    def __init__(self, repository: Repository, retries: int = 3) -> None:
        self.repository = repository
        self.retries = retries

    def start(self, cancellation_token: th.CancellationToken) -> None:
        pass

    def stop(self, cancellation_token: th.CancellationToken) -> None:
        pass


def test_hosted_services_are_autowired_from_type_hints_without_inject() -> None:
    instances: list[NeedsRepository] = []

    def factory(repository: Repository) -> NeedsRepository:
        instances.append(NeedsRepository(repository))
        return instances[-1]

    builder = make_builder(args=["--Db:Dsn=sqlite://"])
    builder.services.add_singleton(Repository)
    builder.services.add_hosted_service(NeedsRepository).add_hosted_service(factory)
    with builder.build() as host:
        shared = host.services.get(Repository)
    assert instances[0].repository is shared and shared.dsn == "sqlite://"


def test_unresolvable_service_fails_start_naming_it_and_the_parameter() -> None:
    class NeedsNumber(th.HostedService):
        def __init__(self, count) -> None:  # type: ignore[no-untyped-def]
            self.count = count

        def start(self, cancellation_token: th.CancellationToken) -> None:
            pass

        def stop(self, cancellation_token: th.CancellationToken) -> None:
            pass

    host = make_builder(NeedsNumber).build()
    with pytest.raises(th.HostStartupError, match=r"parameter 'count' has no type hint") as info:
        host.start()
    assert info.value.service == "NeedsNumber"
    host.close()


def test_failing_factory_is_named_by_its_qualname() -> None:
    def make_mailer() -> th.HostedService:
        raise LookupError("no smtp host")

    host = make_builder(make_mailer).build()
    with pytest.raises(th.HostStartupError, match=r"failed in construction: no smtp host") as info:
        host.start()
    assert info.value.service == ("test_failing_factory_is_named_by_its_qualname.<locals>."
                                  "make_mailer")
    host.close()


def test_add_hosted_service_refuses_what_is_not_a_service() -> None:
    with pytest.raises(TypeError, match=r"must subclass threadhost.HostedService"):
        th.Host.create_application_builder([]).services.add_hosted_service(int)  # type: ignore[arg-type]
