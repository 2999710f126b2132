"""Temporary chats: nothing recalled into them, nothing remembered from them."""

import json

import pytest
from channels.db import database_sync_to_async
from django.urls import reverse
from django.utils import timezone

from chat.models import Conversation, Message
from chat.services import chat_turn_start
from chat.tasks import message_consolidate, messages_consolidate_sweep
from memory.models import Consolidation, Memory, Portrait
from memory.services import memory_consolidate
from tests.support.chat_socket import chat_socket_open, chat_socket_until_finished

FACT = "My sister Anna lives in Berlin and teaches piano"


@pytest.fixture
def ada(django_user_model):
    return django_user_model.objects.create_user(username="ada", email="ada@example.test")


def known_fact(user) -> Memory:
    return memory_consolidate(user=user, text=FACT, said_at=timezone.now(), keep_all=True)


@pytest.mark.django_db
@pytest.mark.parametrize("temporary", [False, True])
def test_a_temporary_turn_neither_recalls_nor_forms_memories(
    ada, temporary, django_capture_on_commit_callbacks
):
    fact = known_fact(ada)
    Portrait.objects.create(user=ada, text="Ada's sister teaches piano in Berlin.")
    conversation = Conversation.objects.create(user=ada, temporary=temporary)
    with django_capture_on_commit_callbacks(execute=True):
        turn = chat_turn_start(
            user=ada,
            conversation_id=conversation.pk,
            text="Where does my sister Anna live? I also adopted a dog named Rex yesterday",
            model="mistral",
        )
    system = turn.prompt[0]["content"]
    fact.refresh_from_db()
    if not temporary:  # the same turn in a normal chat does both: the test can fail
        assert FACT in system and turn.assistant_message.recalled
        assert "teaches piano in Berlin." in system
        assert fact.access_count == 1
        assert Memory.objects.filter(source_message_id=turn.user_message.pk).exists()
        return
    assert FACT not in system and turn.assistant_message.recalled == []
    assert "teaches piano" not in system  # the portrait is drawn from memories too
    assert fact.access_count == 0
    assert message_consolidate(turn.user_message.pk) == "temporary"
    assert messages_consolidate_sweep() == 0
    assert list(Memory.objects.values_list("pk", flat=True)) == [fact.pk]
    assert not Consolidation.objects.filter(source_message_id=turn.user_message.pk).exists()


@pytest.mark.django_db(transaction=True)
async def test_no_memory_reaches_the_llm_from_a_temporary_chat(ollama):
    from accounts.models import User

    ada = await database_sync_to_async(User.objects.create_user)(
        username="ada", email="ada@example.test"
    )
    await database_sync_to_async(known_fact)(ada)
    conversation = await database_sync_to_async(Conversation.objects.create)(
        user=ada, temporary=True
    )
    socket = await chat_socket_open(conversation, user=ada)
    await socket.send_to(text_data=json.dumps({"message": "Where does Anna live?"}))
    await chat_socket_until_finished(socket)
    await socket.disconnect()

    sent = ollama.requests_for("/api/chat")[-1]["messages"]
    assert sent[-1]["content"] == "Where does Anna live?"
    assert all("Anna lives in Berlin" not in m["content"] for m in sent)
    assert await database_sync_to_async(Memory.objects.count)() == 1
    assert await database_sync_to_async(messages_consolidate_sweep)() == 0


@pytest.fixture
def ada_client(client, ada):
    client.force_login(ada)
    return client


@pytest.mark.django_db
def test_new_temporary_chat_is_marked_in_header_and_sidebar(ada_client, ada):
    response = ada_client.post(reverse("chat:new"), {"temporary": "1"})
    conversation = Conversation.objects.get(user=ada)
    assert conversation.temporary
    page = ada_client.get(response.url).content.decode()
    assert "Temporary chat</span> PIPO neither recalls nor remembers" in page
    assert f'<li id="conversation-{conversation.pk}" class="conversation current temporary"' in page
    ada_client.post(reverse("chat:new"))
    assert Conversation.objects.filter(user=ada, temporary=False).count() == 1


@pytest.mark.django_db
def test_the_switch_turns_temporary_on_and_off_before_any_message(ada_client, ada):
    conversation = Conversation.objects.create(user=ada, title="Plans")
    url = reverse("chat:temporary", args=[conversation.pk])
    switched = ada_client.post(url, {"temporary": "1"}, headers={"HX-Request": "true"})
    body = switched.content.decode()
    assert switched.status_code == 200
    assert body.lstrip().startswith('<header class="chat-header temporary" id="chat-header">')
    assert 'hx-swap-oob="true"' in body and "temporary-badge" in body
    conversation.refresh_from_db()
    assert conversation.temporary
    ada_client.post(url, {"temporary": "0"})
    conversation.refresh_from_db()
    assert not conversation.temporary


@pytest.mark.django_db
def test_a_temporary_chat_with_messages_stays_temporary(ada_client, ada, django_user_model):
    conversation = Conversation.objects.create(user=ada, temporary=True)
    Message.objects.create(conversation=conversation, role="user", content="off the record")
    url = reverse("chat:temporary", args=[conversation.pk])
    response = ada_client.post(url, {"temporary": "0"}, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "stays temporary" in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.temporary
    assert messages_consolidate_sweep() == 0

    eve = django_user_model.objects.create_user(username="eve", email="eve@example.test")
    theirs = Conversation.objects.create(user=eve)
    assert (
        ada_client.post(reverse("chat:temporary", args=[theirs.pk]), {"temporary": "1"}).status_code
        == 404
    )
    theirs.refresh_from_db()
    assert not theirs.temporary
