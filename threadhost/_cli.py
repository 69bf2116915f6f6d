"""The ``threadhost`` command line: ``run MODULE:ATTR`` and ``demo``.

Exit codes are the host's (0 clean, 1 a service failed, 3 stragglers, 130 forced), and 2 for a
misused command line, as argparse does: an unknown option, or a target that cannot be found or
is not a host.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

from ._builder import HOST_PREFIX, HostApplicationBuilder
from ._host import Host

USAGE_ERROR = 2


class TargetError(Exception):
    """``MODULE:ATTR`` cannot be used; the message says why and how to fix it."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="threadhost",
        description="Run a threadhost application until Ctrl+C or SIGTERM stops it.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run", help="run the host that MODULE:ATTR names",
        description="Import MODULE, take ATTR (a Host, a HostApplicationBuilder, or a function "
                    "returning either, called with the app args) and run it.")
    run.add_argument("target", metavar="MODULE:ATTR", help="e.g. myapp.worker:build_host")
    run.add_argument("--environment", metavar="NAME",
                     help="hosting environment (host setting 'environment'), e.g. Development")
    run.add_argument("--shutdown-timeout", metavar="S", type=float,
                     help="seconds the whole stop may take (host setting "
                          "'shutdownTimeoutSeconds')")
    run.add_argument("--systemd", action="store_true",
                     help="notify systemd (READY, STOPPING, WATCHDOG) and log for the journal")
    run.add_argument("app_args", nargs=argparse.REMAINDER, metavar="...",
                     help="arguments for the application (its command-line configuration)")
    demo = commands.add_parser(
        "demo", help="run the bundled example: a grace-period manager for orders",
        description="Orders arrive, are confirmed once past their grace period, and each "
                    "confirmation is published to an outbox table; Ctrl+C stops it cleanly.")
    demo.add_argument("--json-logs", action="store_true", help="log one JSON object per line")
    demo.add_argument("--postgres", metavar="CONNINFO",
                      help="run the grace-period job as a singleton leased on this PostgreSQL "
                           "database, so several replicas can run side by side")
    demo.add_argument("--duration", metavar="S", type=float,
                      help="stop by itself after S seconds")
    demo.add_argument("app_args", nargs=argparse.REMAINDER, metavar="...",
                      help="configuration, e.g. --Demo:GracePeriodTime=5")
    return parser


def resolve(target: str, app_args: Sequence[str]) -> Host | HostApplicationBuilder:
    """Import ``MODULE:ATTR`` and turn it into a Host or builder; TargetError if it cannot."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise TargetError(f"{target!r} is not MODULE:ATTR; write e.g. myapp.worker:build_host")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` does, so local modules import
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise TargetError(f"cannot import module {module_name!r} ({exc}); check the name "
                              "and that it is on sys.path") from exc
        raise
    try:
        value = getattr(module, attr)
    except AttributeError:
        raise TargetError(f"module {module_name!r} has no attribute {attr!r}") from None
    if callable(value) and not isinstance(value, Host | HostApplicationBuilder):
        value = value(list(app_args))
    if not isinstance(value, Host | HostApplicationBuilder):
        raise TargetError(
            f"{target!r} is a {type(value).__name__}, not a Host, a HostApplicationBuilder or "
            "a function returning one of them")
    return value


def _run(args: argparse.Namespace) -> int:
    # Host settings go through the environment so they reach a builder made at import time.
    if args.environment:
        os.environ[f"{HOST_PREFIX}ENVIRONMENT"] = args.environment
    if args.shutdown_timeout is not None:
        os.environ[f"{HOST_PREFIX}SHUTDOWNTIMEOUTSECONDS"] = str(args.shutdown_timeout)
    try:
        target = resolve(args.target, args.app_args)
        if isinstance(target, Host):
            if args.systemd:
                raise TargetError(f"--systemd needs a builder, but {args.target!r} is an "
                                  "already built Host; return the builder instead")
            host = target
        else:
            target.configuration.add_command_line(args.app_args)
            if args.systemd:
                target.use_systemd()
            host = target.build()
    except TargetError as exc:
        print(f"threadhost run: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    return host.run()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m threadhost`` and the ``threadhost`` script; the exit code."""
    # Options argparse does not know (--Key=value) are the application's configuration.
    args, unknown = _parser().parse_known_args(argv)
    args.app_args = [*unknown, *args.app_args]
    try:
        if args.command == "run":
            return _run(args)
        from ._demo import run_demo  # noqa: PLC0415  (the demo is not needed to run apps)
        app_args = list(args.app_args)
        if args.postgres:
            app_args.append(f"--Demo:Postgres={args.postgres}")
        return run_demo(app_args, json_logs=args.json_logs, duration=args.duration)
    except Exception:
        traceback.print_exc()
        return 1
