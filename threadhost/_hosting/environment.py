"""``HostEnvironment``: which environment the application runs in, and where."""

from __future__ import annotations

import os
from typing import final

PRODUCTION = "Production"
STAGING = "Staging"
DEVELOPMENT = "Development"


@final
class HostEnvironment:
    """The hosting environment: its name, the application's name, the content root.

    Set once by the builder from the host settings (``environment``, ``applicationName``,
    ``contentRoot``) and then read-only in practice; thread-safe to read. Names compare
    case-insensitively, as in .NET.
    """

    def __init__(self, environment_name: str = PRODUCTION, application_name: str = "",
                 content_root_path: str | None = None) -> None:
        self.environment_name = environment_name
        self.application_name = application_name
        self.content_root_path = os.path.abspath(content_root_path or os.getcwd())

    def is_environment(self, name: str) -> bool:
        """True if the environment is ``name``, ignoring case."""
        return self.environment_name.casefold() == name.casefold()

    def is_development(self) -> bool:
        """True in ``Development``."""
        return self.is_environment(DEVELOPMENT)

    def is_staging(self) -> bool:
        """True in ``Staging``."""
        return self.is_environment(STAGING)

    def is_production(self) -> bool:
        """True in ``Production`` (the default)."""
        return self.is_environment(PRODUCTION)

    def __repr__(self) -> str:
        return (f"<HostEnvironment {self.environment_name} app={self.application_name!r} "
                f"root={self.content_root_path!r}>")
