from django.db import migrations


def schedules_create(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name="memory-decay",
        defaults={
            "func": "memory.tasks.memory_decay_task",
            "schedule_type": "H",
            "repeats": -1,
        },
    )


def schedules_delete(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="memory-decay").delete()


class Migration(migrations.Migration):
    dependencies = [("memory", "0003_forgetlog")]

    operations = [migrations.RunPython(schedules_create, schedules_delete)]
