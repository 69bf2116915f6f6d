from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies: list[tuple[str, str]] = []
    operations = [
        migrations.CreateModel(
            name="TaskRun",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True,
                                           serialize=False, verbose_name="ID")),
                ("task_id", models.CharField(db_index=True, max_length=64)),
                ("attempt", models.IntegerField()),
                ("worker_id", models.CharField(max_length=64)),
                ("thread", models.CharField(max_length=200)),
            ],
        ),
    ]
