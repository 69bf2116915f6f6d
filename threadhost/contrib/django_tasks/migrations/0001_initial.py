"""The heartbeat table of task workers (see ``threadhost.contrib.django_tasks.models``)."""

from django.db import migrations, models


class Migration(migrations.Migration):  # type: ignore[misc]  # Django ships no hints
    initial = True
    dependencies: list[tuple[str, str]] = []

    operations = [
        migrations.CreateModel(
            name="WorkerHeartbeat",
            fields=[
                ("worker_id", models.CharField(max_length=64, primary_key=True,
                                               serialize=False)),
                ("hostname", models.CharField(max_length=255)),
                ("pid", models.IntegerField()),
                ("backend_name", models.CharField(max_length=32)),
                ("queues", models.TextField()),
                ("started_at", models.DateTimeField()),
                ("beat_at", models.DateTimeField(db_index=True)),
                ("stopping", models.BooleanField(default=False)),
            ],
            options={"db_table": "threadhost_tasks_worker", "verbose_name": "task worker"},
        ),
    ]
