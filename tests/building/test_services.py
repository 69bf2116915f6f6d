"""ServiceCollection: configure() overrides, registrations, scopes, dependency validation."""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field

import pytest

import threadhost as th
from tests._services import make_builder
from threadhost.testing import FakeClock, run_host


class Color(enum.Enum):
    RED = "Red"
    DARK_BLUE = "DarkBlue"


@dataclass(frozen=True)
class Retry:
    attempts: int = 3
    delay: float = 1.0


@dataclass
class AppSettings:
    count: int = 1
    ratio: float = 0.5
    enabled: bool = False
    color: Color = Color.RED
    retry: Retry = field(default_factory=Retry)
    tags: list[str] = field(default_factory=list)


def built_options(builder: th.HostApplicationBuilder, options_type: type) -> object:
    host = builder.build()
    try:
        return host.services.get(th.Options[options_type]).value  # type: ignore[valid-type]
    finally:
        host.stop()


def test_overrides_are_converted_like_configuration_values() -> None:
    builder = make_builder(background_service_exception_behavior="Ignore",
                           services_start_concurrently="false", shutdown_timeout="10")
    options = builder.build().services.get(th.HostOptions)
    assert options.background_service_exception_behavior is (
        th.BackgroundServiceExceptionBehavior.IGNORE)
    assert options.services_start_concurrently is False and options.shutdown_timeout == 10.0


def test_ignore_given_in_code_keeps_the_host_running_after_a_crash(fake_clock: FakeClock) -> None:
    class Crashes(th.BackgroundService):
        def execute(self, stopping_token: th.CancellationToken) -> None:
            raise RuntimeError("boom")

    crashes = Crashes()
    builder = make_builder(crashes, clock=fake_clock,
                           background_service_exception_behavior="Ignore")
    host = builder.build()
    host.start()
    assert crashes.thread is not None
    crashes.thread.join(10)
    assert not host.services.get(th.HostApplicationLifetime).application_stopping \
        .is_cancellation_requested
    host.stop()


def test_user_dataclass_overrides_get_their_field_types() -> None:
    builder = make_builder()
    builder.services.configure(AppSettings, count="7", ratio=2, enabled="TRUE",
                               color="dark_blue", retry={"Attempts": "5"}, tags=("a", "b"))
    value = built_options(builder, AppSettings)
    assert value == AppSettings(count=7, ratio=2.0, enabled=True, color=Color.DARK_BLUE,
                                retry=Retry(attempts=5), tags=["a", "b"])
    assert isinstance(value.ratio, float)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("overrides", "message"), [
    ({"shutdown_timeout": "abc"},
     r"^HostOptions\.shutdown_timeout='abc' is invalid: expected a number \(float\) \(set in "
     r"services\.configure\(HostOptions\)\)$"),
    ({"shutdown_timeout": -1},
     r"^HostOptions\.shutdown_timeout=-1 is invalid: expected seconds >= 0"),
    ({"services_stop_concurrently": 1},
     r"^HostOptions\.services_stop_concurrently=1 is invalid: expected bool"),
    ({"background_service_exception_behavior": "Explode"},
     r"^HostOptions\.background_service_exception_behavior='Explode' is invalid: expected one "
     r"of StopHost, Ignore"),
])
def test_bad_overrides_fail_build_naming_the_field(overrides: dict[str, object],
                                                   message: str) -> None:
    builder = make_builder(**overrides)
    with pytest.raises(th.ConfigurationError, match=message):
        builder.build()


def test_a_failed_build_leaves_the_builder_usable() -> None:
    builder = make_builder(args=["--HostOptions:ShutdownTimeout=abc"])
    with pytest.raises(th.ConfigurationError):
        builder.build()
    builder.configuration.add_in_memory({"HostOptions": {"ShutdownTimeout": "4"}})
    host = builder.build()
    assert host.services.get(th.HostOptions).shutdown_timeout == 4
    with pytest.raises(RuntimeError, match="build\\(\\) can only be called once"):
        builder.build()


class Greeting:
    def __init__(self, text: str) -> None:
        self.text = text


def make_greeting(text: str, suffix: str = "!") -> Greeting:
    return Greeting(text + suffix)


def test_a_partial_is_a_factory_and_a_callable_object_is_an_instance() -> None:
    class CallableThing:
        def __call__(self) -> str:
            return "called"

    thing = CallableThing()
    builder = make_builder()
    builder.services.add_singleton(Greeting, to=functools.partial(make_greeting, "hi"))
    builder.services.add_singleton(CallableThing, to=thing)
    host = builder.build()
    assert host.services.get(Greeting).text == "hi!"
    assert host.services.get(CallableThing) is thing


@dataclass
class Unconfigured:
    level: int = 0


class Calls(th.HostedService):
    """Records its start and stop calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def start(self, cancellation_token: th.CancellationToken) -> None:
        self.calls.append("start")

    def stop(self, cancellation_token: th.CancellationToken) -> None:
        self.calls.append("stop")


class NeedsOptions(Calls):
    def __init__(self, options: th.Options[Unconfigured]) -> None:
        super().__init__()
        self.options = options


def test_injecting_options_of_an_unconfigured_type_says_to_configure_it() -> None:
    host = make_builder(NeedsOptions).build()
    with pytest.raises(th.HostStartupError) as caught:
        host.start()
    assert str(caught.value.__cause__).endswith(
        "Unconfigured is not configured; call builder.services.configure(Unconfigured, "
        "section=...) first.")


def test_services_get_of_a_hosted_class_is_the_running_instance(fake_clock: FakeClock) -> None:
    builder = make_builder(clock=fake_clock)
    builder.services.add_hosted_service(Calls)
    with run_host(builder) as host:
        calls = host.services.get(Calls)
        assert calls.calls == ["start"]  # the very instance the host started
    assert calls.calls == ["start", "stop"]


class Repository:
    pass


class UnitOfWork:
    def __init__(self, repository: Repository) -> None:
        self.repository = repository
        self.exited = False

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.exited = True


class Handler:
    def __init__(self, work: UnitOfWork) -> None:
        self.work = work


def test_scoped_services_are_shared_within_a_scope_and_exited_at_its_end() -> None:
    builder = make_builder()
    builder.services.add_singleton(Repository).add_scoped(UnitOfWork).add_transient(Handler)
    host = builder.build()
    with host.create_scope() as scope:
        first, second = scope.get(Handler), scope.get(Handler)
        assert first is not second and first.work is second.work
        assert first.work.repository is host.services.get(Repository)
    with host.create_scope() as other:
        assert other.get(UnitOfWork) is not first.work
    assert first.work.exited


def test_a_scoped_service_outside_a_scope_is_an_error_that_says_so() -> None:
    builder = make_builder()
    builder.services.add_scoped(UnitOfWork).add_singleton(Handler)
    host = builder.build()
    with pytest.raises(RuntimeError, match=r"^Cannot resolve UnitOfWork outside a scope: it is "
                                           r"registered with add_scoped"):
        host.services.get(UnitOfWork)
    with host.create_scope() as scope, pytest.raises(RuntimeError, match="outside a scope"):
        scope.get(Handler)  # a singleton would keep the scoped instance past its scope


class Missing:
    def __init__(self, value: int) -> None:
        self.value = value


class NeedsMissing(Calls):
    def __init__(self, missing: Missing) -> None:
        super().__init__()
        self.missing = missing


def test_development_build_names_the_service_and_the_missing_dependency() -> None:
    builder = make_builder(NeedsMissing, args=["--environment=Development"])
    with pytest.raises(TypeError, match=r"^Hosted service 'NeedsMissing' cannot be constructed: "
                                        r"Cannot construct Missing: nothing is registered for "
                                        r"parameter 'value' \(<class 'int'>\)"):
        builder.build()


def test_elsewhere_the_missing_dependency_fails_start_before_any_service_starts() -> None:
    first = Calls()
    host = make_builder(first, NeedsMissing).build()
    with pytest.raises(th.HostStartupError, match="NeedsMissing") as caught:
        host.start()
    assert first.calls == []
    assert "nothing is registered for parameter 'value'" in str(caught.value.__cause__)


class ChickenService(Calls):
    def __init__(self, egg: Egg) -> None:
        super().__init__()


class Egg:
    def __init__(self, chicken: ChickenService) -> None:
        self.chicken = chicken


def test_development_build_names_a_dependency_cycle() -> None:
    builder = make_builder(ChickenService, args=["--environment=Development"])
    with pytest.raises(TypeError, match=r"its dependencies form a cycle: ChickenService -> Egg "
                                        r"-> ChickenService"):
        builder.build()


def test_add_scoped_refuses_an_existing_instance() -> None:
    with pytest.raises(TypeError, match=r"needs a class or a factory .*; register an existing "
                                        r"object with add_instance\.$"):
        make_builder().services.add_scoped(Repository, to=Repository())


class PerIteration(th.PeriodicBackgroundService):
    interval = 10.0

    def __init__(self, host: th.Host) -> None:
        self.host = host
        self.works: list[UnitOfWork] = []

    def run_once(self, stopping_token: th.CancellationToken) -> None:
        with self.host.create_scope() as scope:
            handler, again = scope.get(Handler), scope.get(Handler)
            assert handler.work is again.work
            self.works.append(handler.work)


def test_a_service_takes_the_host_and_opens_a_scope_per_iteration(
        fake_clock: FakeClock) -> None:
    builder = make_builder(clock=fake_clock)
    builder.services.add_singleton(Repository).add_scoped(UnitOfWork).add_transient(Handler)
    builder.services.add_hosted_service(PerIteration)
    with run_host(builder) as host:
        fake_clock.advance(20)
        works = host.services.get(PerIteration).works
        assert len(works) == 3 and len({id(w) for w in works}) == 3
        assert all(w.exited for w in works)
