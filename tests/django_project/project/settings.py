"""Settings of the test project; the database file comes from THREADHOST_TEST_DB."""

import os

SECRET_KEY = "tests-only"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["workers"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["THREADHOST_TEST_DB"],
        "OPTIONS": {"timeout": 30},
    }
}
THREADHOST = {
    "Workers": {"A": "settings", "B": "settings", "C": "settings"},
    "HostOptions": {"ShutdownTimeout": 10},
}

# The project's own logging: a root handler in its own format. threadhost must add no
# handler of its own (each line once) and set no level it was not asked for.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"project": {"format": "PROJECT %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "project"}},
    "root": {"handlers": ["console"], "level": "INFO"},
}
if os.environ.get("THREADHOST_TEST_LOGGING") == "named":
    # The other common shape: handlers on the project's own named loggers, none on the root.
    LOGGING = {**LOGGING, "root": {"level": "WARNING"},
               "loggers": {"workers": {"handlers": ["console"], "level": "INFO"}}}
