"""The Django app of ``threadhost.contrib.django_tasks``: its heartbeat table and its command.

Add ``"threadhost.contrib.django_tasks"`` to ``INSTALLED_APPS`` (after ``django_tasks_db``)
and run ``migrate``: the app brings the ``threadhost_tasks_worker`` table (see ``models``) and
the ``threadhost_tasks`` management command.
"""

from __future__ import annotations

from django.apps import AppConfig


class ThreadhostTasksConfig(AppConfig):  # type: ignore[misc]  # Django ships no type hints
    """The app: label ``threadhost_tasks``."""

    name = "threadhost.contrib.django_tasks"
    label = "threadhost_tasks"
    verbose_name = "threadhost task workers"
    default_auto_field = "django.db.models.BigAutoField"
