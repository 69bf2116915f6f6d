"""services.require_registration(): no autowiring of classes nobody registered."""

from __future__ import annotations

import injector
import pytest

import threadhost as th
from tests._services import make_builder


class Mailbox:
    pass


class Mailer(th.HostedService):
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox
        self.started = False

    def start(self, cancellation_token: th.CancellationToken) -> None:
        self.started = True

    def stop(self, cancellation_token: th.CancellationToken) -> None:
        pass


UNREGISTERED = (r"^Hosted service 'Mailer' cannot be constructed: Cannot construct Mailer: "
                r"parameter 'mailbox' wants Mailbox, which is not registered "
                r"\(services.require_registration\(\) is on\); register it with "
                r"builder.services.add_singleton\(Mailbox\) .*\(checked at build\(\) because "
                r"services.require_registration\(\) is on\)$")


def test_by_default_an_unregistered_class_is_autowired() -> None:
    host = make_builder(Mailer).build()
    host.start()
    try:
        assert isinstance(host.services.get(Mailer).mailbox, Mailbox)
    finally:
        assert host.stop().clean


def test_require_registration_fails_build_naming_the_service_and_the_class_to_register(
        ) -> None:
    builder = make_builder(Mailer)  # Production: no ValidateOnBuild without the opt-in
    builder.services.require_registration()
    with pytest.raises(TypeError, match=UNREGISTERED):
        builder.build()


def test_require_registration_builds_what_is_registered() -> None:
    builder = make_builder(Mailer)
    builder.services.require_registration().add_singleton(Mailbox)
    host = builder.build()
    host.start()
    try:
        mailer = host.services.get(Mailer)
        assert mailer.started and mailer.mailbox is host.services.get(Mailbox)
    finally:
        assert host.stop().clean


def test_require_registration_refuses_to_resolve_an_unregistered_class() -> None:
    builder = make_builder()
    builder.services.require_registration()
    host = builder.build()
    try:
        with pytest.raises(injector.UnsatisfiedRequirement, match="Mailbox"):
            host.services.get(Mailbox)
    finally:
        host.close()


def test_run_prints_the_unregistered_class_in_one_line_and_returns_1(
        capsys: pytest.CaptureFixture[str]) -> None:
    builder = make_builder(Mailer)
    builder.services.require_registration()
    assert builder.run() == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "add_singleton(Mailbox)" in lines[0], lines
