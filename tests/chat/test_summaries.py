"""Daily summaries: a day's conversations become one summary row and one `summary` memory."""

import json
from datetime import datetime, time, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_q.models import Schedule

from chat.models import Conversation, DailySummary, Message
from chat.summaries import summary_day_write
from chat.tasks import daily_summaries_task
from memory.models import Memory, Portrait
from memory.services import memory_space_for
from memory.vectors import vectors_ids
from pipo.llm import LLMBadAnswer, LLMUnavailable
from tests.support.ollama import unused_loopback_url

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
YESTERDAY = TODAY - timedelta(days=1)
FIRST_DAY = TODAY - timedelta(days=5)


@pytest.fixture
def ada(django_user_model):
    return django_user_model.objects.create_user(username="ada", email="ada@example.test")


def said(conversation, role, text, *, day=YESTERDAY, hour=10):
    message = Message.objects.create(conversation=conversation, role=role, content=text)
    at = datetime.combine(day, time(hour, 0), tzinfo=timezone.get_default_timezone())
    Message.objects.filter(pk=message.pk).update(created_at=at + timedelta(seconds=message.pk))
    return message


@pytest.fixture
def day_of_ada(ada):
    """Two conversations yesterday, a temporary one, and messages on other days."""
    trip = Conversation.objects.create(user=ada, title="Lisbon trip")
    work = Conversation.objects.create(user=ada, title="Work")
    secret = Conversation.objects.create(user=ada, title="Secret", temporary=True)
    kept = [
        said(trip, "user", "I'm flying to Lisbon on Friday with Sam", hour=9),
        said(trip, "assistant", "Lovely! Pack for rain.", hour=9),
        said(work, "user", "My shift at the hospital moved to nights", hour=21),
    ]
    said(secret, "user", "My surprise gift for Sam is a watch", hour=12)
    said(trip, "user", "Long ago I visited Porto", day=FIRST_DAY)
    said(trip, "user", "Today I booked the hotel", day=TODAY, hour=0)
    return kept


def test_a_day_becomes_one_summary_row_and_memory(
    ada, day_of_ada, ollama, django_capture_on_commit_callbacks
):
    ollama.reply = json.dumps({"summary": "Ada is flying to Lisbon with Sam on Friday."})
    with django_capture_on_commit_callbacks(execute=True):
        summary = summary_day_write(user=ada, day=YESTERDAY)

    ids = [m.pk for m in day_of_ada]
    assert summary.day == YESTERDAY and summary.user == ada
    assert summary.text == "Ada is flying to Lisbon with Sam on Friday."
    assert summary.message_ids == ids and summary.conversation_count == 2
    memory = Memory.objects.get(pk=summary.memory_id)
    assert memory.kind == Memory.Kind.SUMMARY and memory.text == summary.text
    assert memory.source_message_ids == ids
    assert memory.vector_status == Memory.VectorStatus.SYNCED
    assert memory.pk in vectors_ids(collection=memory_space_for(user=ada).collection)
    asked = ollama.requests_for("/api/chat")[-1]
    prompt = asked["messages"][1]["content"]
    assert asked["format"] == "json"
    assert "<<<TRANSCRIPT" in prompt and "TRANSCRIPT>>>" in prompt
    assert "flying to Lisbon" in prompt and "moved to nights" in prompt
    assert "watch" not in prompt  # temporary chat
    assert "Porto" not in prompt and "booked the hotel" not in prompt  # other days

    ollama.reply = json.dumps({"summary": "Ada flies to Lisbon; her shifts moved to nights."})
    with django_capture_on_commit_callbacks(execute=True):
        again = summary_day_write(user=ada, day=YESTERDAY)
    assert again.pk == summary.pk and again.memory_id == memory.pk
    assert DailySummary.objects.count() == 1
    assert Memory.objects.filter(kind=Memory.Kind.SUMMARY).count() == 1
    memory.refresh_from_db()
    assert memory.text == again.text == "Ada flies to Lisbon; her shifts moved to nights."


def test_a_day_without_messages_writes_nothing(ada, day_of_ada, ollama):
    assert summary_day_write(user=ada, day=TODAY - timedelta(days=2)) is None
    assert ollama.requests_for("/api/chat") == []
    assert not DailySummary.objects.exists()


def test_ollama_down_is_said_plainly_and_changes_nothing(ada, day_of_ada, settings):
    settings.OLLAMA_HOST = unused_loopback_url()
    with pytest.raises(LLMUnavailable, match="can't reach the language model"):
        summary_day_write(user=ada, day=YESTERDAY)
    assert not DailySummary.objects.exists() and not Memory.objects.exists()


@pytest.mark.parametrize(
    "answer", ["Ada went to Lisbon.", '{"summary": ""}', '{"summary": 3}', "[1]", '{"x": "y"}']
)
def test_an_answer_that_is_not_the_json_asked_for_writes_nothing(ada, day_of_ada, ollama, answer):
    ollama.reply = answer
    with pytest.raises(LLMBadAnswer):
        summary_day_write(user=ada, day=YESTERDAY)
    assert not DailySummary.objects.exists() and not Memory.objects.exists()


def test_a_failed_rerun_keeps_the_earlier_summary(ada, day_of_ada, ollama):
    ollama.reply = json.dumps({"summary": "Ada is flying to Lisbon."})
    summary_day_write(user=ada, day=YESTERDAY)
    ollama.reply = "not json"
    with pytest.raises(LLMBadAnswer):
        summary_day_write(user=ada, day=YESTERDAY)
    assert DailySummary.objects.get().text == "Ada is flying to Lisbon."
    assert Memory.objects.get().text == "Ada is flying to Lisbon."


def test_the_command_summarises_yesterday_for_everyone(
    ada, day_of_ada, ollama, django_user_model, capsys
):
    eve = django_user_model.objects.create_user(username="eve", email="eve@example.test")
    said(Conversation.objects.create(user=eve), "user", "Hello", day=FIRST_DAY)
    ollama.reply = json.dumps({"summary": "Ada is flying to Lisbon."})
    call_command("summarize")
    out = capsys.readouterr().out
    assert f"{YESTERDAY}: 1 summaries written, 1 people skipped" in out
    call_command("summarize", "--date", YESTERDAY.isoformat(), "--user", str(ada.pk))
    assert "1 summaries written, 0 people skipped" in capsys.readouterr().out
    assert DailySummary.objects.get().user == ada
    assert Memory.objects.filter(kind=Memory.Kind.SUMMARY).count() == 1


@pytest.mark.parametrize("day", [FIRST_DAY - timedelta(days=1), TODAY, TODAY + timedelta(days=30)])
def test_days_out_of_range_are_refused_with_the_range(ada, day_of_ada, day):
    with pytest.raises(CommandError) as refused:
        call_command("summarize", "--date", day.isoformat())
    assert f"{day} is out of range: days from {FIRST_DAY}" in str(refused.value)
    assert f"to {YESTERDAY}" in str(refused.value)


@pytest.mark.parametrize("text", ["yesterday", "2025-02-30", "14/03/2025"])
def test_a_malformed_date_is_refused(ada, day_of_ada, text):
    with pytest.raises(CommandError, match="is not a date: write it as YYYY-MM-DD"):
        call_command("summarize", "--date", text)


def test_an_unknown_person_is_refused(ada, day_of_ada):
    with pytest.raises(CommandError, match="No user with id 999999"):
        call_command("summarize", "--user", "999999")


def test_the_command_with_ollama_down_says_so_and_writes_nothing(ada, day_of_ada, settings):
    settings.OLLAMA_HOST = unused_loopback_url()
    with pytest.raises(CommandError, match="can't reach the language model"):
        call_command("summarize")
    assert not DailySummary.objects.exists() and not Memory.objects.exists()


def test_the_command_reports_a_bad_answer(ada, day_of_ada, ollama, capsys):
    ollama.reply = "Ada went to Lisbon."
    with pytest.raises(CommandError, match=f"user {ada.pk}: the model's answer was not JSON"):
        call_command("summarize")
    assert "0 summaries written, 0 people skipped (no messages that day), 1 failed" in (
        capsys.readouterr().out
    )
    assert not DailySummary.objects.exists()


def test_the_daily_schedule_summarises_and_refreshes_portraits(ada, day_of_ada, ollama):
    schedule = Schedule.objects.get(name="chat-daily-summaries")
    assert schedule.func == "chat.tasks.daily_summaries_task"
    assert schedule.schedule_type == Schedule.DAILY and schedule.repeats == -1
    ollama.reply = json.dumps({"summary": "Ada is flying to Lisbon."})
    daily_summaries_task()
    assert DailySummary.objects.get().day == YESTERDAY
    assert Portrait.objects.filter(user=ada).exists()
