from django.db import migrations


def schedules_create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="chat-consolidation-sweep",
        defaults={
            "func": "chat.tasks.messages_consolidate_sweep",
            "schedule_type": "I",
            "minutes": 10,
            "repeats": -1,
        },
    )


def schedules_delete(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="chat-consolidation-sweep").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0002_message_recalled"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(schedules_create, schedules_delete)]
