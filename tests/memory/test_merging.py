"""Long-term consolidation: near-duplicates fold into one memory, every source kept."""

import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from memory.merging import memories_merge
from memory.models import Memory
from memory.selectors import memory_list
from memory.services import memory_create, memory_recall, memory_space_for
from memory.vectors import vectors_ids

pytestmark = pytest.mark.django_db

NOW = timezone.now()
REWRITTEN = "I work as a nurse at the city hospital, on the night shift."


@pytest.fixture
def ada(django_user_model):
    return django_user_model.objects.create_user(username="ada", email="ada@example.test")


def remembered(user, text, *, importance, days_ago, **fields):
    memory = memory_create(
        user=user,
        text=text,
        said_at=NOW - timedelta(days=days_ago),
        importance=importance,
        source_message_id=fields.pop("source_message_id", None),
    )
    if fields:
        Memory.objects.filter(pk=memory.pk).update(**fields)
    memory.refresh_from_db()
    return memory


@pytest.fixture
def nurse(ada):
    """Three ways of saying one thing, an unrelated pair and a look-alike pair that differs."""
    return {
        "first": remembered(
            ada,
            "I work as a nurse at the city hospital",
            importance=0.6,
            days_ago=90,
            source_message_id=11,
            access_count=2,
            strength=20.0,
            last_accessed_at=NOW - timedelta(days=3),
        ),
        "main": remembered(
            ada,
            "I'm a nurse at the city hospital",
            importance=0.9,
            days_ago=40,
            source_message_id=12,
            access_count=3,
            strength=12.0,
            last_accessed_at=NOW - timedelta(days=30),
        ),
        "third": remembered(
            ada,
            "I am a nurse at the city hospital",
            importance=0.5,
            days_ago=5,
            source_message_ids=[4, 5],
            pinned=True,
        ),
        "monday": remembered(ada, "I go swimming every Monday", importance=0.5, days_ago=9),
        "tuesday": remembered(ada, "I go swimming every Tuesday", importance=0.5, days_ago=2),
        "dog": remembered(ada, "My dog Rex loves the beach", importance=0.5, days_ago=9),
        "summary": remembered(
            ada, "I'm a nurse at the city hospital", importance=0.6, days_ago=1, kind="summary"
        ),
    }


def live_ids(user):
    return set(memory_list(user=user).values_list("pk", flat=True))


def test_a_cluster_merges_into_its_most_important_member_rewritten_by_the_model(
    ada, nurse, ollama, admin_client, django_capture_on_commit_callbacks
):
    ollama.reply = json.dumps({"text": REWRITTEN})
    with django_capture_on_commit_callbacks(execute=True):
        report = memories_merge(user=ada)

    main, first, third = (Memory.objects.get(pk=nurse[k].pk) for k in ("main", "first", "third"))
    assert [(c.survivor_id, sorted(c.merged_ids), c.by) for c in report.clusters] == [
        (main.pk, sorted([first.pk, third.pk]), "model")
    ]
    assert main.text == REWRITTEN and REWRITTEN in main.key_text
    assert main.access_count == 5
    assert main.importance == 0.9
    assert main.strength == 20.0
    assert main.last_accessed_at == NOW - timedelta(days=3)
    assert main.source_message_ids == [4, 5, 11, 12]
    assert main.pinned is True
    assert first.merged_into_id == main.pk and third.merged_into_id == main.pk
    # the look-alike pair names different days, the summary is never merged
    assert Memory.objects.filter(merged_into__isnull=False).count() == 2
    asked = ollama.requests_for("/api/chat")[-1]
    assert asked["format"] == "json"
    assert '"I work as a nurse at the city hospital"' in asked["messages"][1]["content"]
    assert "Tuesday" not in asked["messages"][1]["content"]

    collection = memory_space_for(user=ada).collection
    vectors = vectors_ids(collection=collection)
    assert main.pk in vectors and first.pk not in vectors and third.pk not in vectors
    assert main.vector_status == Memory.VectorStatus.SYNCED

    recalled = {m.id for m in memory_recall(user=ada, query="nurse at the city hospital", k=10)}
    assert main.pk in recalled and not recalled & {first.pk, third.pk}
    assert live_ids(ada) == {main.pk} | {
        nurse[k].pk for k in ("monday", "tuesday", "dog", "summary")
    }
    page = admin_client.get(reverse("admin:memory_memory_changelist") + "?merged=merged")
    assert f'<s title="merged into memory {main.pk}">I work as a nurse' in page.content.decode()

    calls = len(ollama.requests_for("/api/chat"))
    with django_capture_on_commit_callbacks(execute=True):
        again = memories_merge(user=ada)
    assert again.clusters == [] and len(ollama.requests_for("/api/chat")) == calls


def test_without_ollama_the_most_important_text_is_kept(
    ada, nurse, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        report = memories_merge(user=ada)
    main = Memory.objects.get(pk=nurse["main"].pk)
    assert main.text == "I'm a nurse at the city hospital"
    assert [c.by for c in report.clusters] == ["rule"]
    assert "can't reach the language model" in report.llm_note
    assert main.access_count == 5 and main.source_message_ids == [4, 5, 11, 12]
    assert memories_merge(user=ada).clusters == []


@pytest.mark.parametrize("answer", ["Sure, they are the same.", '{"text": 3}', "[1]"])
def test_an_answer_that_is_not_the_json_asked_for_falls_back_to_the_rule(
    ada, nurse, ollama, answer
):
    ollama.reply = answer
    report = memories_merge(user=ada)
    assert [c.by for c in report.clusters] == ["rule"]
    assert Memory.objects.get(pk=nurse["main"].pk).text == "I'm a nurse at the city hospital"


def test_the_model_can_keep_look_alikes_apart(ada, nurse, ollama):
    ollama.reply = json.dumps({"text": ""})
    report = memories_merge(user=ada)
    assert report.clusters == [] and report.kept_apart == 1
    assert not Memory.objects.filter(merged_into__isnull=False).exists()


def test_a_dry_run_writes_nothing_and_asks_no_model(ada, nurse, ollama, capsys):
    before = list(Memory.objects.order_by("pk").values())
    report = memories_merge(user=ada, dry_run=True)
    assert [c.survivor_id for c in report.clusters] == [nurse["main"].pk]
    call_command("consolidate_memories", "--dry-run", "--user", str(ada.pk))
    out = capsys.readouterr().out
    assert "2 memories would be merged (dry run: nothing changed)" in out
    assert list(Memory.objects.order_by("pk").values()) == before
    assert ollama.requests_for("/api/chat") == []


def test_the_command_merges_everyone_and_names_unknown_people(ada, nurse, capsys):
    call_command("consolidate_memories", "--all")
    out = capsys.readouterr().out
    assert "2 memories merged" in out and "Merged by rule" in out
    assert Memory.objects.filter(merged_into=nurse["main"]).count() == 2
    call_command("consolidate_memories")
    assert "0 memories merged" in capsys.readouterr().out
    with pytest.raises(CommandError, match="No user with id 999999"):
        call_command("consolidate_memories", "--user", "999999")


def test_the_weekly_schedule_exists():
    schedule = Schedule.objects.get(name="memory-merge")
    assert schedule.func == "memory.tasks.memories_merge_task"
    assert schedule.schedule_type == Schedule.WEEKLY and schedule.repeats == -1
