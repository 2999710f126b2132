"""Chat's tasks hand messages to memory; the sweep catches what the worker missed."""

import pytest

from chat.models import Conversation, Message
from chat.tasks import message_consolidate, messages_consolidate_sweep
from memory.models import Consolidation, Memory

pytestmark = pytest.mark.django_db


def test_sweep_consolidates_missed_messages_once(django_user_model):
    ada = django_user_model.objects.create_user(username="ada", email="ada@example.test")
    conversation = Conversation.objects.create(user=ada)
    for text in ("I live in Lisbon with my partner Sam", "ok"):
        Message.objects.create(conversation=conversation, role="user", content=text)
    Message.objects.create(conversation=conversation, role="assistant", content="Noted!")

    assert messages_consolidate_sweep() == 2
    assert messages_consolidate_sweep() == 0
    assert Consolidation.objects.count() == 2
    assert list(Memory.objects.values_list("text", flat=True)) == [
        "I live in Lisbon with my partner Sam"
    ]


def test_consolidation_uses_the_previous_turn_as_context(django_user_model):
    ada = django_user_model.objects.create_user(username="ada", email="ada@example.test")
    conversation = Conversation.objects.create(user=ada)
    Message.objects.create(
        conversation=conversation, role="assistant", content="Where do you work?"
    )
    answer = Message.objects.create(
        conversation=conversation, role="user", content="I work at the city hospital as a nurse"
    )
    assert message_consolidate(answer.pk) == "kept"
    memory = Memory.objects.get()
    assert "(in reply to assistant: Where do you work?)" in memory.key_text
    assert message_consolidate(10**9) == "gone"


def test_a_long_reply_gives_its_start_and_its_closing_question_as_context(django_user_model):
    ada = django_user_model.objects.create_user(username="ada", email="ada@example.test")
    conversation = Conversation.objects.create(user=ada)
    middle = "Moving is a big step and it is normal to feel unsure.\n\n" * 20
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        content=f"Congratulations on the move! {middle}So, where are you working now?",
    )
    answer = Message.objects.create(
        conversation=conversation, role="user", content="I work at the city hospital as a nurse"
    )
    assert message_consolidate(answer.pk) == "kept"
    key = Memory.objects.get().key_text
    context = key.partition("(in reply to ")[2]
    assert context.startswith("assistant: Congratulations on the move! Moving is a big")
    assert " … " in context
    assert context.endswith("So, where are you working now?)")
    assert "\n" not in context and len(context) < 220
