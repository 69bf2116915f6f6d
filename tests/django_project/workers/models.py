from django.db import models


class Event(models.Model):
    """Something a worker did, written through the ORM from the worker's own thread."""

    name = models.CharField(max_length=50)
    value = models.CharField(max_length=200)
    thread = models.CharField(max_length=100)
