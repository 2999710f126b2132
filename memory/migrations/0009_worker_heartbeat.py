from django.db import migrations
from django.utils import timezone


def schedules_create(apps, schema_editor):
    # The worker's heartbeat for /readyz (pipo/heartbeat.py); in memory only because the
    # pipo package has no migrations.
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name="worker-heartbeat",
        defaults={
            "func": "memory.tasks.worker_heartbeat_task",
            "schedule_type": "I",
            "minutes": 1,
            # Successes unsaved: 1,440 rows a day would push every other result out of
            # django-q2's save_limit. A failed beat is still recorded.
            "kwargs": "q_options={'save': False}",
            "repeats": -1,
            "next_run": timezone.now(),
        },
    )


def schedules_delete(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="worker-heartbeat").delete()


class Migration(migrations.Migration):
    dependencies = [("memory", "0008_merge_schedule")]

    operations = [migrations.RunPython(schedules_create, schedules_delete)]
