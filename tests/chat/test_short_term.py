"""The short-term buffer: Redis when configured (rebuilt when lost), else the database."""

import pytest
import redis

from chat.models import Conversation, Message
from chat.short_term import Turn, short_term_push, short_term_recent

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(django_user_model):
    user = django_user_model.objects.create_user(username="ada", email="ada@example.test")
    return Conversation.objects.create(user=user)


def say(conversation, role, content, status=Message.Status.COMPLETE):
    Message.objects.create(conversation=conversation, role=role, content=content, status=status)
    short_term_push(conversation_id=conversation.pk, role=role, content=content)


def test_database_buffer_keeps_the_last_n_finished_turns(settings, conversation):
    settings.REDIS_URL = ""
    settings.PIPO_SHORT_TERM_TURNS = 3
    for n in range(5):
        say(conversation, "user", f"q{n}")
    Message.objects.create(conversation=conversation, role="assistant", status="failed")
    assert short_term_recent(conversation_id=conversation.pk) == [
        Turn("user", "q2"),
        Turn("user", "q3"),
        Turn("user", "q4"),
    ]


def test_redis_buffer_trims_expires_and_rebuilds_when_lost(settings, redis_url, conversation):
    settings.PIPO_SHORT_TERM_TURNS = 3
    client = redis.Redis.from_url(redis_url)
    key = f"pipo:short-term:{conversation.pk}"
    client.delete(key)
    for n in range(5):
        say(conversation, "user", f"q{n}")

    assert client.llen(key) == 3
    assert 0 < client.ttl(key) <= settings.PIPO_SHORT_TERM_TTL_SECONDS
    assert [t.content for t in short_term_recent(conversation_id=conversation.pk)] == [
        "q2",
        "q3",
        "q4",
    ]
    client.delete(key)  # Redis restarted, or the TTL ran out
    assert [t.content for t in short_term_recent(conversation_id=conversation.pk)] == [
        "q2",
        "q3",
        "q4",
    ]
    assert client.llen(key) == 3


def test_redis_down_falls_back_to_the_database(settings, conversation):
    settings.REDIS_URL = "redis://127.0.0.1:9/0"
    say(conversation, "user", "still here")
    assert short_term_recent(conversation_id=conversation.pk) == [Turn("user", "still here")]
