"""An application whose logging (as Django's LOGGING often does) puts handlers on its own
named loggers only, on threadhost's own, or on the root (the first argument: ``named``,
``threadhost`` or ``root``; the others are the host's command line). It logs one line of its
own and stops at once."""

from __future__ import annotations

import logging
import logging.config
import sys

import threadhost as th

SHAPES = {
    "named": {"version": 1, "disable_existing_loggers": False,
              "formatters": {"app": {"format": "APP %(levelname)s %(name)s %(message)s"}},
              "handlers": {"out": {"class": "logging.StreamHandler", "formatter": "app",
                                   "stream": "ext://sys.stdout"}},
              "loggers": {"myapp": {"handlers": ["out"], "level": "INFO"}}},
    "threadhost": {"version": 1, "disable_existing_loggers": False,
                   "formatters": {"app": {"format": "APP %(levelname)s %(name)s %(message)s"}},
                   "handlers": {"out": {"class": "logging.StreamHandler", "formatter": "app",
                                        "stream": "ext://sys.stdout"}},
                   "loggers": {"threadhost": {"handlers": ["out"], "level": "INFO"}}},
    "root": {"version": 1, "disable_existing_loggers": False,
             "formatters": {"app": {"format": "APP %(levelname)s %(name)s %(message)s"}},
             "handlers": {"out": {"class": "logging.StreamHandler", "formatter": "app",
                                  "stream": "ext://sys.stdout"}},
             "root": {"handlers": ["out"], "level": "INFO"}},
}


class Works(th.BackgroundService):
    def __init__(self, lifetime: th.HostApplicationLifetime) -> None:
        self.lifetime = lifetime

    def execute(self, stopping_token: th.CancellationToken) -> None:
        logging.getLogger("myapp.worker").info("did some work")
        self.lifetime.application_started.register(self.lifetime.stop_application)
        stopping_token.wait()


if __name__ == "__main__":
    logging.config.dictConfig(SHAPES[sys.argv[1]])
    builder = th.Host.create_application_builder(sys.argv[2:])
    builder.services.add_hosted_service(Works)
    sys.exit(builder.build().run())
