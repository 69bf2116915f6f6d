"""The version of threadhost, read by ``setup.cfg`` and ``threadhost --version``."""

__version__ = "0.2.0"
