from datetime import datetime, time, timedelta

from django.db import migrations
from django.utils import timezone


def _next_half_past_midnight() -> datetime:
    # Just after the day it summarises has ended, in the project's time zone.
    tomorrow = timezone.localdate() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0, 30), tzinfo=timezone.get_current_timezone())


def schedules_create(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name="chat-daily-summaries",
        defaults={
            "func": "chat.tasks.daily_summaries_task",
            "schedule_type": "D",
            "repeats": -1,
            "next_run": _next_half_past_midnight(),
        },
    )


def schedules_delete(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="chat-daily-summaries").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0004_temporary_dailysummary"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(schedules_create, schedules_delete)]
