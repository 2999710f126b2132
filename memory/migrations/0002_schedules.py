from django.db import migrations


def schedules_create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="memory-vectors-resync",
        defaults={
            "func": "memory.tasks.memory_vectors_resync_task",
            "schedule_type": "I",
            "minutes": 1,
            "repeats": -1,
        },
    )


def schedules_delete(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="memory-vectors-resync").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("memory", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(schedules_create, schedules_delete)]
