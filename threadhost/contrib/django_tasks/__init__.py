"""A worker for Django's Tasks framework on the database backend of ``django-tasks-db``.

Install the extra (``pip install threadhost[django-tasks]``: the ``django-tasks`` backport and
``django-tasks-db``), add the apps and a database backend to the settings, migrate::

    INSTALLED_APPS = [..., "django_tasks", "django_tasks_db", "threadhost.contrib.django_tasks"]
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

then run ``python manage.py threadhost_tasks [--queue Q]... [--threads N]`` (see
``management/commands/threadhost_tasks.py``), or register a ``TaskWorker`` in a host of your
own. What is here:

* ``TaskWorker`` (``_worker``): the hosted service: threads that claim, run and record tasks;
  a heartbeat thread; the stop;
* ``TaskStore`` (``_store``): every database statement of the worker (the backend's own claim,
  the fenced recording, heartbeats, giving back the tasks of dead workers, the counts);
* ``WorkerHeartbeat`` (``models``): the heartbeat table, and why it is a table;
* ``TaskWorkerStats`` (``_stats``): the numbers for health and metrics;
* ``Run`` (``_run``): what one run of a worker shares between its threads; and
  ``current_task_token()``: inside a task, the token cancelled at the shutdown deadline.

Importing this package touches no model (Django imports it while it loads its apps); the
models are imported when a worker starts.
"""

from __future__ import annotations

from threadhost.contrib.django_tasks._run import current_task_token
from threadhost.contrib.django_tasks._stats import TaskWorkerStats
from threadhost.contrib.django_tasks._worker import TaskWorker

__all__ = ["TaskWorker", "TaskWorkerStats", "current_task_token"]

for _name in __all__:  # tracebacks and docs say threadhost.contrib.django_tasks.TaskWorker
    globals()[_name].__module__ = __name__
del _name
