"""The chat websocket, end to end through the real ollama client and the Ollama stand-in."""

import asyncio
import html
import json
import re

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from chat.models import Conversation, Message
from memory.models import Memory
from pipo.asgi import application
from pipo.routing import websocket_urlpatterns
from tests.support.chat_socket import chat_socket_open, chat_socket_until_finished
from tests.support.ollama import tokens_of, unused_loopback_url

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = re.compile(r'<span hx-swap-oob="beforeend:#message-(\d+)-text">(.*?)</span>', re.S)


@database_sync_to_async
def make_conversation(email: str = "ada@example.test") -> Conversation:
    from accounts.models import User

    user, _ = User.objects.get_or_create(username=email, defaults={"email": email})
    return Conversation.objects.create(user=user)


@database_sync_to_async
def rows(conversation: Conversation) -> list[Message]:
    return list(conversation.messages.order_by("pk"))


def streamed_text(frames: list[str]) -> str:
    return "".join(html.unescape(m.group(2)) for f in frames for m in TOKEN.finditer(f))


async def test_reply_streams_token_by_token_in_order_and_is_saved_once(ollama):
    ollama.reply = "Hello Ada! Here is **bold** and `code`, token by token."
    conversation = await make_conversation()
    socket = await chat_socket_open(conversation)

    await socket.send_to(text_data=json.dumps({"message": "Hi there", "model": "mistral"}))
    frames = await chat_socket_until_finished(socket)
    await socket.disconnect()

    assert 'hx-swap-oob="beforeend:#messages"' in frames[0]
    token_frames = [f for f in frames if TOKEN.fullmatch(f)]
    assert [html.unescape(TOKEN.fullmatch(f).group(2)) for f in token_frames] == tokens_of(
        ollama.reply
    )
    assert "<strong>bold</strong>" in frames[-1]
    user_row, reply = await rows(conversation)
    assert (user_row.role, user_row.content) == ("user", "Hi there")
    assert reply.content == ollama.reply
    assert reply.status == Message.Status.COMPLETE
    assert reply.reply_tokens == len(tokens_of(ollama.reply))
    assert reply.prompt_tokens and reply.first_token_ms is not None and reply.duration_ms
    assert "tokens/s" in frames[-1]
    sent = ollama.requests_for("/api/chat")[-1]
    assert sent["stream"] is True
    assert sent["messages"][0]["role"] == "system"
    assert sent["messages"][-1] == {"role": "user", "content": "Hi there"}


async def test_html_in_messages_and_replies_is_text(ollama):
    ollama.reply = "<img src=x onerror=alert(1)> <script>alert(2)</script>"
    conversation = await make_conversation()
    socket = await chat_socket_open(conversation)
    await socket.send_to(text_data=json.dumps({"message": "<b>bold?</b><script>x()</script>"}))
    frames = await chat_socket_until_finished(socket)
    await socket.disconnect()

    everything = "".join(frames)
    assert "<script>" not in everything and "<img" not in everything
    assert "&lt;script&gt;" in everything
    assert streamed_text(frames) == ollama.reply


async def test_the_first_message_titles_the_conversation(ollama):
    conversation = await make_conversation()
    socket = await chat_socket_open(conversation)
    await socket.send_to(text_data=json.dumps({"message": "Plan my trip to Lisbon in May"}))
    await chat_socket_until_finished(socket)
    await socket.disconnect()
    await database_sync_to_async(conversation.refresh_from_db)()
    assert conversation.title == "Plan my trip to Lisbon in May"


async def test_stop_closes_the_ollama_stream_and_keeps_the_partial_reply(ollama):
    ollama.reply = " ".join(f"word{i}" for i in range(200))
    ollama.token_delay = 0.02
    conversation = await make_conversation()
    socket = await chat_socket_open(conversation)
    await socket.send_to(text_data=json.dumps({"message": "Tell me a long story"}))
    frames = [await socket.receive_from(timeout=30)]
    while len([f for f in frames if TOKEN.fullmatch(f)]) < 3:
        frames.append(await socket.receive_from(timeout=30))

    await socket.send_to(text_data=json.dumps({"action": "stop"}))
    frames += await chat_socket_until_finished(socket)
    await socket.disconnect()

    _, reply = await rows(conversation)
    assert reply.status == Message.Status.STOPPED
    assert 3 <= len(tokens_of(reply.content)) < 200
    assert reply.content == streamed_text(frames)
    assert "Retry" in frames[-1]
    for _ in range(100):
        if ollama.stream_closed_early:
            break
        await asyncio.sleep(0.02)
    assert ollama.stream_closed_early == 1


async def test_ollama_unreachable_says_so_and_keeps_the_message(settings):
    settings.OLLAMA_HOST = unused_loopback_url()
    conversation = await make_conversation()
    socket = await chat_socket_open(conversation)
    await socket.send_to(text_data=json.dumps({"message": "Are you there?"}))
    frames = await chat_socket_until_finished(socket)
    await socket.disconnect()

    assert f"PIPO can&#x27;t reach the language model at {settings.OLLAMA_HOST}" in frames[-1]
    assert "ollama serve; ollama pull mistral" in frames[-1]
    assert "Retry" in frames[-1]
    user_row, reply = await rows(conversation)
    assert user_row.content == "Are you there?"
    assert reply.status == Message.Status.FAILED


async def test_model_not_pulled_names_the_pull_command(ollama):
    conversation = await make_conversation()
    socket = await chat_socket_open(conversation)
    await socket.send_to(text_data=json.dumps({"message": "Hi", "model": "llama3.2"}))
    frames = await chat_socket_until_finished(socket)
    await socket.disconnect()
    assert "ollama pull llama3.2" in frames[-1]
    _, reply = await rows(conversation)
    assert reply.status == Message.Status.FAILED


async def test_broken_stream_keeps_the_partial_text_and_retry_completes_it(ollama):
    ollama.reply = "one two three four five six"
    ollama.fault = "drop_mid_stream"
    ollama.drop_after_tokens = 3
    conversation = await make_conversation()
    socket = await chat_socket_open(conversation)
    await socket.send_to(text_data=json.dumps({"message": "Count"}))
    frames = await chat_socket_until_finished(socket)

    _, reply = await rows(conversation)
    assert reply.status == Message.Status.FAILED
    assert reply.content == "one two three "
    assert "broke off" in frames[-1] or "without finishing" in frames[-1]

    ollama.fault = None
    await socket.send_to(text_data=json.dumps({"action": "retry", "message_id": reply.pk}))
    frames = await chat_socket_until_finished(socket)
    await socket.disconnect()
    assert f'id="message-{reply.pk}"' in frames[0]  # the same bubble, replaced
    _, again = await rows(conversation)
    assert again.pk == reply.pk
    assert again.status == Message.Status.COMPLETE
    assert again.content == ollama.reply
    assert ollama.requests_for("/api/chat")[-1]["messages"][-1]["content"] == "Count"


async def test_recent_turns_reach_the_prompt(ollama):
    conversation = await make_conversation()
    socket = await chat_socket_open(conversation)
    for text in ("My cat is called Miso", "What is my cat called?"):
        await socket.send_to(text_data=json.dumps({"message": text}))
        await chat_socket_until_finished(socket)
    await socket.disconnect()
    prompt = ollama.requests_for("/api/chat")[-1]["messages"]
    assert [m["role"] for m in prompt] == ["system", "user", "assistant", "user"]
    assert prompt[1]["content"] == "My cat is called Miso"
    assert prompt[2]["content"] == "You said: My cat is called Miso"


@pytest.mark.parametrize("text", ["", "   \n\t "])
async def test_blank_message_sends_nothing_and_writes_nothing(ollama, text):
    conversation = await make_conversation()
    socket = await chat_socket_open(conversation)
    await socket.send_to(text_data=json.dumps({"message": text}))
    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()
    assert await rows(conversation) == []


async def test_overlong_message_is_refused_with_the_limit(settings, ollama):
    settings.PIPO_MAX_MESSAGE_CHARS = 100
    conversation = await make_conversation()
    socket = await chat_socket_open(conversation)
    await socket.send_to(text_data=json.dumps({"message": "x" * 101}))
    frame = await socket.receive_from(timeout=30)
    await socket.disconnect()
    assert 'id="composer-error"' in frame
    assert "101 characters long; the limit is 100" in frame
    assert await rows(conversation) == []


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not JSON"),
        ('{"action": "dance"}', "Unknown action"),
        ('{"action": "retry", "message_id": "x"}', "Retry needs"),
        ('{"action": "retry", "message_id": 999999}', "can&#x27;t be retried"),
    ],
)
async def test_unreadable_frames_get_an_error_frame_and_no_row(ollama, frame, says):
    conversation = await make_conversation()
    socket = await chat_socket_open(conversation)
    await socket.send_to(text_data=frame)
    reply = await socket.receive_from(timeout=30)
    await socket.disconnect()
    assert 'id="composer-error"' in reply and says in reply
    assert await rows(conversation) == []


async def test_binary_frame_gets_an_error_frame(ollama):
    conversation = await make_conversation()
    socket = await chat_socket_open(conversation)
    await socket.send_to(bytes_data=b"\x00\x01")
    assert "text frames" in await socket.receive_from(timeout=30)
    await socket.disconnect()


async def test_oversized_frame_closes_the_socket(settings, ollama):
    settings.PIPO_MAX_MESSAGE_CHARS = 100
    conversation = await make_conversation()
    socket = await chat_socket_open(conversation)
    await socket.send_to(text_data=json.dumps({"message": "x" * 10_000}))
    assert "too large" in await socket.receive_from(timeout=30)
    closed = await socket.receive_output()
    assert closed == {"type": "websocket.close", "code": 1009}
    assert await rows(conversation) == []


async def test_anonymous_person_is_refused_with_4403():
    conversation = await make_conversation()
    communicator = WebsocketCommunicator(
        application, f"/ws/chat/{conversation.pk}/", headers=[(b"origin", b"http://127.0.0.1")]
    )
    connected, code = await communicator.connect()
    assert (connected, code) == (False, 4403)


async def test_someone_elses_conversation_is_refused_with_4403():
    mine = await make_conversation("ada@example.test")
    theirs = await make_conversation("eve@example.test")
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/chat/{theirs.pk}/")
    communicator.scope["user"] = await database_sync_to_async(lambda: mine.user)()
    connected, code = await communicator.connect()
    assert (connected, code) == (False, 4403)


async def test_reply_finishes_and_is_saved_after_the_socket_drops(ollama):
    ollama.reply = " ".join(f"w{i}" for i in range(30))
    ollama.token_delay = 0.01
    conversation = await make_conversation()
    socket = await chat_socket_open(conversation)
    await socket.send_to(text_data=json.dumps({"message": "Go on"}))
    await socket.receive_from(timeout=30)
    await socket.disconnect()  # the page's connection drops mid-reply

    again = await chat_socket_open(conversation)
    frames = await chat_socket_until_finished(again)
    await again.disconnect()
    _, reply = await rows(conversation)
    assert reply.status == Message.Status.COMPLETE
    assert reply.content == ollama.reply
    assert 'data-status="complete"' in frames[-1]


async def test_slow_first_token_is_measured(ollama):
    ollama.first_token_delay = 0.3
    conversation = await make_conversation()
    socket = await chat_socket_open(conversation)
    await socket.send_to(text_data=json.dumps({"message": "Take your time"}))
    frames = await chat_socket_until_finished(socket)
    await socket.disconnect()
    _, reply = await rows(conversation)
    assert reply.status == Message.Status.COMPLETE
    assert reply.first_token_ms >= 300
    assert f"first token {reply.first_token_ms} ms" in frames[-1]


async def test_facts_from_one_conversation_come_back_in_the_next(ollama):
    first = await make_conversation()
    socket = await chat_socket_open(first)
    await socket.send_to(text_data=json.dumps({"message": "My cat is called Miso, a tabby"}))
    await chat_socket_until_finished(socket)
    await socket.disconnect()

    later = await database_sync_to_async(Conversation.objects.create)(
        user=await database_sync_to_async(lambda: first.user)()
    )
    socket = await chat_socket_open(later)
    await socket.send_to(text_data=json.dumps({"message": "What is my cat called?"}))
    frames = await chat_socket_until_finished(socket)
    await socket.disconnect()

    system = ollama.requests_for("/api/chat")[-1]["messages"][0]["content"]
    assert '"My cat is called Miso, a tabby"' in system
    assert "recalled 1 memory" in frames[-1]
    _, reply = await rows(later)
    assert reply.recalled[0]["text"] == "My cat is called Miso, a tabby"
    assert {"dense", "lexical", "prior"} <= set(reply.recalled[0]["parts"])


async def test_chat_answers_while_chroma_is_down(settings, ollama):
    settings.CHROMA_URL = "http://127.0.0.1:9"
    conversation = await make_conversation()
    socket = await chat_socket_open(conversation)
    await socket.send_to(text_data=json.dumps({"message": "I am allergic to peanuts"}))
    frames = await chat_socket_until_finished(socket)
    await socket.disconnect()
    assert 'data-status="complete"' in frames[-1]
    _, reply = await rows(conversation)
    assert reply.content == "You said: I am allergic to peanuts"
    pending = await database_sync_to_async(
        lambda: list(Memory.objects.values_list("vector_status", flat=True))
    )()
    assert pending == ["pending"]  # kept, waiting for its vector


async def test_an_idle_socket_on_the_redis_channel_layer_stays_open(redis_url, ollama):
    from channels.layers import get_channel_layer

    assert type(get_channel_layer()).__name__ == "RedisChannelLayer"
    conversation = await make_conversation()
    socket = await chat_socket_open(conversation)
    await asyncio.sleep(6.5)  # longer than channels-redis's 5 s BZPOPMIN
    await socket.send_to(text_data=json.dumps({"message": "Still there?"}))
    frames = await chat_socket_until_finished(socket)
    await socket.disconnect()
    assert 'data-status="complete"' in frames[-1]


async def test_a_second_tab_sees_the_reply_stream_and_can_stop_it(ollama):
    ollama.reply = " ".join(f"word{i}" for i in range(200))
    ollama.token_delay = 0.02
    conversation = await make_conversation()
    sender, watcher = await chat_socket_open(conversation), await chat_socket_open(conversation)
    await asyncio.sleep(0.5)  # on Redis, the new tab's hello reaches the other socket
    await sender.send_to(text_data=json.dumps({"message": "Tell me a long story"}))
    seen = [await watcher.receive_from(timeout=30)]
    assert 'hx-swap-oob="beforeend:#messages"' in seen[0]  # the turn opens in both tabs
    while len([f for f in seen if TOKEN.fullmatch(f)]) < 3:
        seen.append(await watcher.receive_from(timeout=30))

    await watcher.send_to(text_data=json.dumps({"action": "stop"}))  # Stop in the other tab
    seen += await chat_socket_until_finished(watcher)
    sent = await chat_socket_until_finished(sender)
    await sender.disconnect()
    await watcher.disconnect()

    _, reply = await rows(conversation)
    assert reply.status == Message.Status.STOPPED
    assert streamed_text(seen) == streamed_text(sent) == reply.content
    assert 'data-status="stopped"' in seen[-1] and 'data-status="stopped"' in sent[-1]
