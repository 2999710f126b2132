"""Superseding: the language model (the Ollama stand-in, scripted) retires outdated facts."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from memory.models import Memory
from memory.services import memory_consolidate, memory_recall
from tests.support.ollama import unused_loopback_url

pytestmark = pytest.mark.django_db

NOW = timezone.now()


@pytest.fixture
def ada(django_user_model):
    return django_user_model.objects.create_user(username="ada", email="ada@example.test")


def say(user, text, days_ago):
    return memory_consolidate(user=user, text=text, said_at=NOW - timedelta(days=days_ago))


def test_the_model_retires_the_outdated_fact(ada, ollama, admin_client):
    paris = say(ada, "I live in Paris near the river", days_ago=30)
    sister = say(ada, "My sister Anna lives in Berlin", days_ago=20)
    ollama.reply = json.dumps({"superseded": [paris.pk]})

    berlin = say(ada, "I moved to Berlin last month", days_ago=1)

    paris.refresh_from_db()
    sister.refresh_from_db()
    assert paris.superseded_by_id == berlin.pk
    assert sister.superseded_by_id is None
    asked = ollama.requests_for("/api/chat")[-1]
    assert asked["format"] == "json" and asked["stream"] is False
    assert "I moved to Berlin last month" in asked["messages"][1]["content"]
    assert f'{paris.pk}: "I live in Paris near the river"' in asked["messages"][1]["content"]
    recalled = [m.id for m in memory_recall(user=ada, query="where do I live", k=5)]
    assert paris.pk not in recalled and berlin.pk in recalled
    page = admin_client.get(reverse("admin:memory_memory_changelist")).content.decode()
    assert f'<s title="superseded by memory {berlin.pk}">I live in Paris' in page


@pytest.mark.parametrize(
    "answer",
    ["Sure! The Paris one is outdated.", '{"superseded": "yes"}', "[1, 2]", '{"other": []}'],
)
def test_an_answer_that_is_not_the_json_asked_for_changes_nothing(ada, ollama, answer):
    paris = say(ada, "I live in Paris near the river", days_ago=30)
    ollama.reply = answer
    say(ada, "I moved to Berlin last month", days_ago=1)
    assert not Memory.objects.filter(superseded_by__isnull=False).exists()
    assert paris.pk in {m.pk for m in Memory.objects.all()}


def test_ids_the_model_invents_or_of_other_people_are_ignored(ada, ollama, django_user_model):
    eve = django_user_model.objects.create_user(username="eve", email="eve@example.test")
    theirs = say(eve, "I live in Paris near the river", days_ago=30)
    say(ada, "I live in Lyon near the station", days_ago=30)
    ollama.reply = json.dumps({"superseded": [theirs.pk, 999999]})
    say(ada, "I moved to Berlin last month", days_ago=1)
    assert not Memory.objects.filter(superseded_by__isnull=False).exists()


def test_the_model_saying_nothing_changed_keeps_both(ada, ollama):
    say(ada, "I love hiking in the Alps", days_ago=30)
    ollama.reply = json.dumps({"superseded": []})
    say(ada, "I love skiing in the Alps too", days_ago=1)
    assert not Memory.objects.filter(superseded_by__isnull=False).exists()


def test_without_ollama_the_subject_rule_stands_in(ada, settings):
    settings.OLLAMA_HOST = unused_loopback_url()
    paris = say(ada, "I live in Paris near the river", days_ago=30)
    sister = say(ada, "My sister Anna lives in Berlin", days_ago=20)
    berlin = say(ada, "I moved to Berlin last month", days_ago=1)
    paris.refresh_from_db()
    sister.refresh_from_db()
    assert paris.superseded_by_id == berlin.pk
    assert sister.superseded_by_id is None
    unrelated = say(ada, "I love hiking in the Alps with friends", days_ago=0)
    assert not Memory.objects.filter(superseded_by=unrelated).exists()
