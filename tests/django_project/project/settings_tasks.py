"""Settings of the task-worker tests: the test project plus Django tasks on the database.

SQLite by default (the file THREADHOST_TEST_DB, in WAL mode so readers never wait for the
claims); PostgreSQL when THREADHOST_TEST_PG holds a conninfo (``host=... port=... user=...
dbname=...``, the throwaway server of tests/contrib/_pg_server.py).
"""

import os

from project.settings import *  # noqa: F403

INSTALLED_APPS = ["workers", "jobs", "django_tasks", "django_tasks_db",
                  "threadhost.contrib.django_tasks"]
TASKS = {
    "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "other"]},
    "immediate": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"},
}
DATABASES["default"]["OPTIONS"] = {  # noqa: F405
    "timeout": 30, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"}
if os.environ.get("THREADHOST_TEST_PG"):
    _pg = dict(part.split("=", 1) for part in os.environ["THREADHOST_TEST_PG"].split())
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.postgresql", "NAME": _pg["dbname"],
        "HOST": _pg["host"], "PORT": _pg["port"], "USER": _pg["user"]}}
if os.environ.get("THREADHOST_TEST_CONN_MAX_AGE"):  # seconds a connection is kept for
    DATABASES["default"]["CONN_MAX_AGE"] = float(os.environ["THREADHOST_TEST_CONN_MAX_AGE"])
THREADHOST = {"HostOptions": {"ShutdownTimeout": 10}}
LOGGING["loggers"] = {"django_tasks": {"level": "WARNING"}}  # noqa: F405  (a line a task)
