from datetime import datetime, time, timedelta

from django.db import migrations
from django.utils import timezone


def _next_sunday_night() -> datetime:
    # A quiet hour: the first run embeds every memory of every person.
    today = timezone.localdate()
    day = today + timedelta(days=(6 - today.weekday()) % 7 or 7)
    return datetime.combine(day, time(3, 0), tzinfo=timezone.get_current_timezone())


def schedules_create(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name="memory-merge",
        defaults={
            "func": "memory.tasks.memories_merge_task",
            "schedule_type": "W",
            "repeats": -1,
            "next_run": _next_sunday_night(),
        },
    )


def schedules_delete(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="memory-merge").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("memory", "0007_merged_sources_portrait"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(schedules_create, schedules_delete)]
