from django.db import migrations


def schedules_create(apps, schema_editor):
    # On a fresh machine the worker trains the importance classifier while the rules stand
    # in; once a model exists the task returns at once.
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name="importance-train-if-missing",
        defaults={
            "func": "memory.tasks.importance_train_if_missing",
            "schedule_type": "I",
            "minutes": 10,
            "repeats": -1,
        },
    )


def schedules_delete(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(
        name="importance-train-if-missing"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("memory", "0004_decay_schedule")]

    operations = [migrations.RunPython(schedules_create, schedules_delete)]
