"""Decay and forgetting on MemoryBank's curve: faded trivia goes, what matters stays."""

import math
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from memory.decay import memory_decay, memory_decay_preview
from memory.models import ForgetLog, Memory
from memory.services import memory_create, memory_recall, memory_space_for
from memory.vectors import vectors_ids

NOW = timezone.now()


@pytest.fixture
def ada(django_user_model):
    return django_user_model.objects.create_user(username="ada", email="ada@example.test")


def said(user, text, *, importance, days_ago, pinned=False):
    memory = memory_create(
        user=user, text=text, said_at=NOW - timedelta(days=days_ago), importance=importance
    )
    if pinned:
        Memory.objects.filter(pk=memory.pk).update(pinned=True)
    return memory


@pytest.mark.django_db
def test_strength_grows_with_importance_and_retention_follows_the_curve(ada):
    trivia = said(ada, "I had toast", importance=0.2, days_ago=3)
    vital = said(ada, "I am allergic to penicillin", importance=0.95, days_ago=3)
    assert vital.strength > trivia.strength
    assert trivia.strength == pytest.approx(2.0 + 0.2 * 28.0)  # base + importance x days
    assert trivia.retention(now=NOW) == pytest.approx(math.exp(-3 / 7.6))
    assert vital.retention(now=NOW) > trivia.retention(now=NOW)


@pytest.mark.django_db
def test_faded_trivia_goes_and_the_rest_stays(ada, settings, django_capture_on_commit_callbacks):
    settings.PIPO_FORGET_KEEP_TEXT = False
    faded = said(ada, "I had toast this morning", importance=0.2, days_ago=60)
    pinned = said(ada, "I had toast at my wedding", importance=0.2, days_ago=60, pinned=True)
    important = said(ada, "My daughter Mia was born in May", importance=0.9, days_ago=400)
    fresh = said(ada, "I had a sandwich", importance=0.2, days_ago=1)
    recalled = said(ada, "I tried the new ramen place", importance=0.3, days_ago=60)
    memory_recall(user=ada, query="ramen place", k=1, now=NOW - timedelta(days=1))

    with django_capture_on_commit_callbacks(execute=True):
        gone = memory_decay(now=NOW)

    assert [d.memory_id for d in gone] == [faded.pk]
    assert set(Memory.objects.values_list("pk", flat=True)) == {
        pinned.pk,
        important.pk,
        fresh.pk,
        recalled.pk,
    }
    assert faded.pk not in vectors_ids(collection=memory_space_for(user=ada).collection)
    entry = ForgetLog.objects.get()
    assert entry.memory_id == faded.pk and entry.user == ada
    assert "retention" in entry.reason and "importance 0.20" in entry.reason
    assert entry.text == ""
    assert memory_decay(now=NOW) == []  # idempotent
    assert ForgetLog.objects.count() == 1


@pytest.mark.django_db
def test_audit_keeps_the_text_only_when_asked(ada, settings):
    settings.PIPO_FORGET_KEEP_TEXT = True
    said(ada, "I had toast this morning", importance=0.2, days_ago=60)
    memory_decay(now=NOW)
    assert ForgetLog.objects.get().text == "I had toast this morning"


@pytest.mark.django_db
def test_dry_run_prints_what_would_go_and_changes_nothing(ada, capsys):
    said(ada, "I had toast this morning", importance=0.2, days_ago=60)
    assert len(memory_decay_preview()) == 1
    call_command("decay", "--dry-run", "--user", str(ada.pk))
    out = capsys.readouterr().out
    assert "1 memories would be forgotten" in out and "I had toast this morning" in out
    assert Memory.objects.count() == 1 and not ForgetLog.objects.exists()
    call_command("decay")
    assert "1 memories forgotten" in capsys.readouterr().out
    assert not Memory.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_forget_each_memory_once(ada):
    for n in range(40):
        said(ada, f"Passing remark number {n}", importance=0.1, days_ago=90)
    said(ada, "My son Leo turns 5 on June 3", importance=0.9, days_ago=90)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(len(memory_decay(now=NOW)))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(results) == 40
    assert ForgetLog.objects.count() == 40
    assert list(Memory.objects.values_list("text", flat=True)) == ["My son Leo turns 5 on June 3"]
