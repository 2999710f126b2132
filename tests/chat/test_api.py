"""The conversation endpoints of the JSON API and the NDJSON reply stream.

The stream runs through the real ollama client against the Ollama stand-in, and the
person's token through the GoTrue stand-in.
"""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from django.core.cache import cache
from django.test import AsyncClient, Client

from chat.models import Conversation, Message
from chat.services import conversation_create
from memory.models import Consolidation
from tests.support.api_people import api_person_signed_in
from tests.support.ollama import tokens_of


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def ada(supabase):
    return api_person_signed_in(supabase, "ada@example.test")


@pytest.fixture
def eve(supabase):
    return api_person_signed_in(supabase, "eve@example.test")


def post_json(client, url: str, headers: dict, body):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(url, data=data, content_type="application/json", headers=headers)


# --- Conversations: list, get, create.


@pytest.mark.django_db
def test_list_is_mine_only_newest_first_and_paged(client, ada, eve):
    user, auth = ada
    for title in ("first", "second", "third"):
        conversation_create(user=user, title=title)
    conversation_create(user=eve[0], title="eve's")

    page = client.get("/api/conversations", {"page_size": 2}, headers=auth).json()

    assert page["count"] == 3
    assert [c["title"] for c in page["results"]] == ["third", "second"]
    rest = client.get(page["next"], headers=auth).json()
    assert [c["title"] for c in rest["results"]] == ["first"]
    assert rest["next"] is None and rest["previous"]


@pytest.mark.django_db
def test_get_one_with_its_messages_in_order(client, ada):
    user, auth = ada
    conversation = conversation_create(user=user, title="Lyon")
    Message.objects.create(conversation=conversation, role="user", content="Hi <b>PIPO</b>")
    Message.objects.create(conversation=conversation, role="assistant", content="Hello!")

    body = client.get(f"/api/conversations/{conversation.pk}", headers=auth).json()

    assert body["title"] == "Lyon"
    assert [(m["role"], m["content"]) for m in body["messages"]] == [
        ("user", "Hi <b>PIPO</b>"),
        ("assistant", "Hello!"),
    ]
    assert body["messages"][1]["status"] == "complete"


@pytest.mark.django_db
def test_create_with_title_and_temporary(client, ada):
    user, auth = ada
    response = post_json(
        client, "/api/conversations", auth, {"title": "  Trip   plans ", "temporary": True}
    )
    assert response.status_code == 201
    conversation = Conversation.objects.get(pk=response.json()["id"])
    assert (conversation.user, conversation.title, conversation.temporary) == (
        user,
        "Trip plans",
        True,
    )


@pytest.mark.django_db
def test_create_with_no_body_fields_makes_an_untitled_conversation(client, ada):
    _, auth = ada
    body = post_json(client, "/api/conversations", auth, {}).json()
    assert (body["title"], body["temporary"]) == ("", False)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("nope", "not valid JSON"),
        ({"title": 5}, "'title' must be a string"),
        ({"title": "x" * 121}, "at most 120"),
        ({"temporary": "yes"}, "true or false"),
        ({"topic": "x"}, "Unknown field(s): topic"),
    ],
)
def test_create_refuses_bad_input(client, ada, body, says):
    _, auth = ada
    response = post_json(client, "/api/conversations", auth, body)
    assert response.status_code == 400
    assert says in response.json()["detail"]
    assert not Conversation.objects.exists()


@pytest.mark.django_db
def test_someone_elses_conversation_is_404(client, ada, eve):
    theirs = conversation_create(user=eve[0], title="secret")
    _, auth = ada
    response = client.get(f"/api/conversations/{theirs.pk}", headers=auth)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.django_db
def test_wrong_method_is_405(client, ada):
    user, auth = ada
    conversation = conversation_create(user=user)
    response = client.delete(f"/api/conversations/{conversation.pk}", headers=auth)
    assert response.status_code == 405
    assert response["Allow"] == "GET"
    messages = client.get(f"/api/conversations/{conversation.pk}/messages", headers=auth)
    assert messages.status_code == 405
    assert messages["Allow"] == "POST"


@pytest.mark.django_db
def test_session_lists_my_conversations(client, django_user_model):
    ada = django_user_model.objects.create_user(username="ada", email="ada@example.test")
    conversation_create(user=ada, title="from the browser")
    client.force_login(ada)
    body = client.get("/api/conversations").json()
    assert [c["title"] for c in body["results"]] == ["from the browser"]


@pytest.mark.django_db
def test_session_post_without_csrf_is_403_and_sends_nothing(django_user_model):
    ada = django_user_model.objects.create_user(username="ada", email="ada@example.test")
    conversation = conversation_create(user=ada)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(ada)
    response = post_json(
        strict, f"/api/conversations/{conversation.pk}/messages", {}, {"content": "Hi"}
    )
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_failed"
    assert not Message.objects.exists()


# --- Sending a message: refusals before any streaming.


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ("{", 400, "not valid JSON"),
        ({}, 400, "'content' is required"),
        ({"content": "   "}, 400, "can't be empty"),
        ({"content": ["hi"]}, 400, "'content' must be a string"),
        ({"content": "hi", "model": 7}, 400, "'model' must be a string"),
        ({"content": "hi", "model": "m" * 101}, 400, "at most 100"),
        ({"content": "x" * 51}, 413, "the limit is 50"),
    ],
)
def test_bad_messages_are_refused_and_nothing_is_written(client, ada, settings, body, status, says):
    settings.PIPO_MAX_MESSAGE_CHARS = 50
    user, auth = ada
    conversation = conversation_create(user=user)
    response = post_json(client, f"/api/conversations/{conversation.pk}/messages", auth, body)
    assert response.status_code == status
    assert says in response.json()["detail"]
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_body_far_over_the_limit_is_413(client, ada, settings):
    settings.PIPO_MAX_MESSAGE_CHARS = 50
    user, auth = ada
    conversation = conversation_create(user=user)
    body = {"content": "x" * 1_000_000}
    response = post_json(client, f"/api/conversations/{conversation.pk}/messages", auth, body)
    assert response.status_code == 413
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_message_to_someone_elses_conversation_is_404_and_writes_nothing(client, ada, eve):
    theirs = conversation_create(user=eve[0])
    _, auth = ada
    response = post_json(
        client, f"/api/conversations/{theirs.pk}/messages", auth, {"content": "hi"}
    )
    assert response.status_code == 404
    assert not Message.objects.exists()


# --- Sending a message: the NDJSON stream.


async def stream_lines(client: AsyncClient, url: str, headers: dict, body: dict):
    response = await client.post(
        url, data=json.dumps(body), content_type="application/json", headers=headers
    )
    if not response.streaming:
        return response, []
    raw = b"".join([chunk async for chunk in response.streaming_content])
    return response, [json.loads(line) for line in raw.decode().splitlines()]


@database_sync_to_async
def person_and_conversation(supabase, email: str = "ada@example.test"):
    user, auth = api_person_signed_in(supabase, email)
    return user, auth, conversation_create(user=user)


@database_sync_to_async
def rows(conversation: Conversation) -> list[Message]:
    return list(conversation.messages.order_by("pk"))


@pytest.mark.django_db(transaction=True)
async def test_reply_streams_as_ndjson_in_order_and_is_saved(supabase, ollama):
    ollama.reply = "Hello Ada! Lyon is lovely in spring, token by token."
    user, auth, conversation = await person_and_conversation(supabase)

    response, lines = await stream_lines(
        AsyncClient(),
        f"/api/conversations/{conversation.pk}/messages",
        auth,
        {"content": "I was born in Lyon and I love it", "model": "mistral"},
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    start, *tokens, done = lines
    question, reply = await rows(conversation)
    assert start == {
        "type": "start",
        "conversation_id": conversation.pk,
        "user_message_id": question.pk,
        "message_id": reply.pk,
        "model": "mistral",
    }
    assert [t["type"] for t in tokens] == ["token"] * len(tokens)
    assert [t["text"] for t in tokens] == tokens_of(ollama.reply)
    assert done["type"] == "done" and done["message_id"] == reply.pk
    assert done["content"] == ollama.reply
    assert (question.role, question.content) == ("user", "I was born in Lyon and I love it")
    assert (reply.content, reply.status) == (ollama.reply, Message.Status.COMPLETE)
    assert reply.reply_tokens == len(tokens)
    sent = ollama.requests_for("/api/chat")[-1]["messages"][-1]["content"]
    assert sent == "I was born in Lyon and I love it"
    # Consolidated as in the browser (the test cluster runs tasks at once).
    consolidated = database_sync_to_async(
        Consolidation.objects.filter(user=user, source_message_id=question.pk).exists
    )
    assert await consolidated()


@pytest.mark.django_db(transaction=True)
async def test_ollama_outage_keeps_my_message_and_ends_with_an_error_line(supabase, settings):
    settings.OLLAMA_HOST = "http://127.0.0.1:9"  # nothing listens there
    _, auth, conversation = await person_and_conversation(supabase)

    response, lines = await stream_lines(
        AsyncClient(), f"/api/conversations/{conversation.pk}/messages", auth, {"content": "Hi"}
    )

    assert response.status_code == 200
    assert [line["type"] for line in lines] == ["start", "error"]
    assert "can't reach the language model" in lines[-1]["message"]
    question, reply = await rows(conversation)
    assert question.content == "Hi"
    assert reply.status == Message.Status.FAILED
    assert "can't reach" in reply.error


@pytest.mark.django_db(transaction=True)
async def test_broken_stream_keeps_the_partial_reply(supabase, ollama):
    ollama.reply = "one two three four five six"
    ollama.fault = "drop_mid_stream"
    ollama.drop_after_tokens = 3
    _, auth, conversation = await person_and_conversation(supabase)

    _, lines = await stream_lines(
        AsyncClient(), f"/api/conversations/{conversation.pk}/messages", auth, {"content": "Go"}
    )

    assert [line["type"] for line in lines] == ["start", "token", "token", "token", "error"]
    _, reply = await rows(conversation)
    assert reply.status == Message.Status.FAILED
    assert reply.content == "one two three " == lines[-1]["content"]


@pytest.mark.django_db(transaction=True)
async def test_over_the_rate_limit_is_429_with_retry_after(supabase, ollama, settings):
    settings.PIPO_MESSAGE_RATE_LIMIT = 1
    ollama.reply = "fine"
    _, auth, conversation = await person_and_conversation(supabase)
    url = f"/api/conversations/{conversation.pk}/messages"
    client = AsyncClient()

    first, _ = await stream_lines(client, url, auth, {"content": "one"})
    second, _ = await stream_lines(client, url, auth, {"content": "two"})

    assert first.status_code == 200
    assert second.status_code == 429
    assert 1 <= int(second["Retry-After"]) <= 60
    body = json.loads(second.content)
    assert body["error"] == "rate_limited"
    assert f"wait {second['Retry-After']} s" in body["detail"]
    assert [m.content for m in await rows(conversation)] == ["one", "fine"]


@pytest.mark.django_db(transaction=True)
async def test_client_going_away_stops_the_reply_and_keeps_what_was_said(supabase, ollama):
    """Through Django's real ASGI handler (as under Daphne): a disconnect mid-stream."""
    from pipo.asgi import application

    ollama.reply = " ".join(f"w{i}" for i in range(300))
    ollama.token_delay = 0.02
    _, auth, conversation = await person_and_conversation(supabase)
    body = json.dumps({"content": "Tell me a long story"}).encode()
    path = f"/api/conversations/{conversation.pk}/messages"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"localhost"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", auth["Authorization"].encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
    }
    inbox: asyncio.Queue = asyncio.Queue()
    await inbox.put({"type": "http.request", "body": body, "more_body": False})
    lines: list[dict] = []
    three_tokens = asyncio.Event()

    async def send(event: dict) -> None:
        if event["type"] == "http.response.start":
            assert event["status"] == 200
        elif event.get("body"):
            lines.extend(json.loads(line) for line in event["body"].decode().splitlines())
            if len(lines) >= 4:
                three_tokens.set()

    handling = asyncio.create_task(application(scope, inbox.get, send))
    await asyncio.wait_for(three_tokens.wait(), timeout=30)
    await inbox.put({"type": "http.disconnect"})
    await asyncio.wait_for(handling, timeout=30)

    _, reply = await rows(conversation)
    streamed = "".join(line["text"] for line in lines if line["type"] == "token")
    assert reply.status == Message.Status.STOPPED
    assert reply.content.startswith(streamed) and ollama.reply.startswith(reply.content)
    assert len(reply.content) < len(ollama.reply)
    for _ in range(100):  # the stand-in notices the closed connection a moment later
        if ollama.stream_closed_early:
            break
        await asyncio.sleep(0.05)
    assert ollama.stream_closed_early
