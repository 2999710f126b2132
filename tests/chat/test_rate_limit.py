"""The per-person message rate limit: the service, and the chat websocket's error frame."""

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.cache import cache

from accounts.models import User
from chat.models import Conversation, Message
from chat.services import MessageRateLimited, message_rate_check
from tests.support.chat_socket import chat_socket_open, chat_socket_until_finished


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db
def test_the_limit_counts_per_person(settings, django_user_model):
    settings.PIPO_MESSAGE_RATE_LIMIT = 3
    ada = django_user_model.objects.create_user(username="ada", email="ada@example.test")
    eve = django_user_model.objects.create_user(username="eve", email="eve@example.test")
    for _ in range(3):
        message_rate_check(user=ada)

    with pytest.raises(MessageRateLimited) as refused:
        message_rate_check(user=ada)

    assert 1 <= refused.value.retry_after <= 60
    assert "3 a minute" in refused.value.message
    message_rate_check(user=eve)  # someone else still has their whole allowance


@pytest.mark.django_db
def test_zero_turns_the_limit_off(settings, django_user_model):
    settings.PIPO_MESSAGE_RATE_LIMIT = 0
    ada = django_user_model.objects.create_user(username="ada", email="ada@example.test")
    for _ in range(100):
        message_rate_check(user=ada)


async def _socket_of_a_new_person() -> WebsocketCommunicator:
    """A connected chat socket for a new conversation of a new person."""
    conversation = await database_sync_to_async(
        lambda: Conversation.objects.create(user=User.objects.create(username="ada"))
    )()
    return await chat_socket_open(conversation)


@pytest.mark.django_db(transaction=True)
async def test_websocket_over_the_limit_gets_an_error_frame_and_no_row(settings, ollama):
    settings.PIPO_MESSAGE_RATE_LIMIT = 1
    ollama.reply = "fine"
    communicator = await _socket_of_a_new_person()

    await communicator.send_to(text_data=json.dumps({"message": "one"}))
    await chat_socket_until_finished(communicator)
    await communicator.send_to(text_data=json.dumps({"message": "two"}))
    frame = await communicator.receive_from(timeout=30)
    await communicator.disconnect()

    assert 'id="composer-error"' in frame
    assert "faster than PIPO allows (1 a minute)" in frame
    contents = await database_sync_to_async(
        lambda: list(Message.objects.order_by("pk").values_list("content", flat=True))
    )()
    assert contents == ["one", "fine"]


@pytest.mark.django_db(transaction=True)
async def test_refused_frames_do_not_use_up_the_allowance(settings, ollama):
    settings.PIPO_MESSAGE_RATE_LIMIT = 1
    ollama.reply = "fine"
    communicator = await _socket_of_a_new_person()

    too_long = "x" * (settings.PIPO_MAX_MESSAGE_CHARS + 1)
    await communicator.send_to(text_data=json.dumps({"message": too_long}))
    refused = await communicator.receive_from(timeout=30)
    assert "the limit is" in refused
    await communicator.send_to(text_data=json.dumps({"message": "   "}))  # blank: ignored
    await communicator.send_to(text_data=json.dumps({"message": "one"}))
    while True:  # the only allowed message of the minute still goes through
        frame = await communicator.receive_from(timeout=30)
        assert "faster than PIPO allows" not in frame
        if 'hx-swap-oob="true"' in frame and 'data-status="streaming"' not in frame:
            break
    await communicator.disconnect()
    contents = await database_sync_to_async(
        lambda: list(Message.objects.order_by("pk").values_list("content", flat=True))
    )()
    assert contents == ["one", "fine"]
