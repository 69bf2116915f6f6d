"""A host whose hosted service cannot be made: the error-path tests of every entry point.

``--Broken=dependency``: ``Worker`` needs ``Repo``, which needs the abstract ``Db`` that nothing
provides (``build()`` finds it in Development; elsewhere the start fails). ``--Broken=
constructor``: ``Db`` is registered, but its constructor raises at start. Run as a script it
is an application's ``main()`` (``builder.run()``); ``host`` as first argument runs
``builder.build().run()`` instead (``Host.run()``).
"""

from __future__ import annotations

import abc
import sys
from collections.abc import Sequence

import threadhost as th


class Db(abc.ABC):
    @abc.abstractmethod
    def query(self) -> None: ...


class UnreachableDb(Db):
    def __init__(self) -> None:
        raise ConnectionError("database 'orders' is unreachable")

    def query(self) -> None: ...


class Repo:
    def __init__(self, db: Db) -> None:
        self.db = db


class Worker(th.BackgroundService):
    def __init__(self, repo: Repo) -> None:
        self.repo = repo

    def execute(self, stopping_token: th.CancellationToken) -> None:
        stopping_token.wait()


def add_broken_worker(builder: th.HostApplicationBuilder) -> th.HostApplicationBuilder:
    """Register Worker -> Repo -> Db, broken as the configuration's ``Broken`` says."""
    if builder.configuration.get("Broken") == "constructor":
        builder.services.add_singleton(Db, UnreachableDb)
    builder.services.add_singleton(Repo)
    builder.services.add_hosted_service(Worker)
    return builder


def make_builder(args: Sequence[str] = ()) -> th.HostApplicationBuilder:
    return add_broken_worker(th.Host.create_application_builder(args))


if __name__ == "__main__":
    if sys.argv[1:2] == ["host"]:
        raise SystemExit(make_builder(sys.argv[2:]).build().run())
    raise SystemExit(make_builder(sys.argv[1:]).run())
