from django.db import models


class TaskRun(models.Model):
    """One run of a test task (a task run twice has two rows): written by the task itself."""

    task_id = models.CharField(max_length=64, db_index=True)
    attempt = models.IntegerField()  # len(worker_ids) when it ran: 1 for the first claim
    worker_id = models.CharField(max_length=64)
    thread = models.CharField(max_length=200)
