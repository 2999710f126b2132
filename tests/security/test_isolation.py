"""Isolation: two people with identical data; everything anyone reaches is their own.

Ada and Bob have the same persona, conversation, messages, memories, daily summary and
portrait, each built through the services. Every page, partial, websocket path, API
endpoint, the export, recall, Chroma and the admin are asked as Ada: only Ada's objects
come back, and a guessed id of Bob's answers 404 (never 403 or 500) and changes nothing.
The URL patterns are enumerated from the resolver, so a new URL without a check here (or
a place on the list of URLs that hold no one's data) fails the first test.
"""

import json
import re
from dataclasses import dataclass

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.models import User
from accounts.services import persona_update, profile_ensure
from chat.models import Conversation, DailySummary, Message
from chat.services import chat_turn_finish, chat_turn_start, conversation_create
from chat.summaries import summary_day_write
from memory.models import Memory, MemorySpace, Portrait
from memory.portraits import portrait_refresh
from memory.services import memory_create, memory_recall
from memory.vectors import chroma_client
from pipo.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db

# URLs that hold no per-person objects: signing in and out, health, redirects, the API's 404.
NO_PERSON_DATA = {
    "accounts/signin/",
    "accounts/signup/",
    "accounts/signout/",
    "status/",
    "healthz",
    "readyz",
    "^memory/(?P<rest>.*)$",  # a redirect to /memories/...
    "api/^(?P<path>.*)$",  # unknown API paths: a JSON 404
}
# Each URL holding a person's objects, and the test that checks it keeps people apart.
COVERED = {
    "": "test_pages_show_only_the_owners_data",
    "c/new/": "test_writes_land_on_the_owner_only",
    "c/<int:conversation_id>/": "test_a_guessed_id_answers_404_and_changes_nothing",
    "c/<int:conversation_id>/rename/": "test_a_guessed_id_answers_404_and_changes_nothing",
    "c/<int:conversation_id>/delete/": "test_a_guessed_id_answers_404_and_changes_nothing",
    "c/<int:conversation_id>/temporary/": "test_a_guessed_id_answers_404_and_changes_nothing",
    "messages/<int:message_id>/": "test_a_guessed_id_answers_404_and_changes_nothing",
    "data/": "test_writes_land_on_the_owner_only",
    "data/export/": "test_the_export_holds_only_the_owners_data",
    "accounts/settings/": "test_pages_show_only_the_owners_data",
    "memories/": "test_pages_show_only_the_owners_data",
    "memories/forget-all/": "test_writes_land_on_the_owner_only",
    "memories/<int:memory_id>/edit/": "test_a_guessed_id_answers_404_and_changes_nothing",
    "memories/<int:memory_id>/pin/": "test_a_guessed_id_answers_404_and_changes_nothing",
    "memories/<int:memory_id>/forget/": "test_a_guessed_id_answers_404_and_changes_nothing",
    "api/me": "test_the_api_lists_only_the_owners_data",
    "api/memories": "test_the_api_lists_only_the_owners_data",
    "api/memories/<row_id:memory_id>": "test_a_guessed_id_answers_404_and_changes_nothing",
    "api/conversations": "test_the_api_lists_only_the_owners_data",
    "api/conversations/<row_id:conversation_id>": (
        "test_a_guessed_id_answers_404_and_changes_nothing"
    ),
    "api/conversations/<row_id:conversation_id>/messages": (
        "test_a_guessed_id_answers_404_and_changes_nothing"
    ),
}
ADMIN_PREFIX = "admin/"  # every admin URL: test_the_admin_shows_nothing_to_a_non_staff_person
WEBSOCKETS = {"ws/chat/<int:conversation_id>/": "test_a_socket_opens_only_on_ones_own_chat"}


@dataclass
class Person:
    user: User
    client: Client
    conversation: Conversation
    messages: list[Message]
    memories: list[Memory]
    summary: DailySummary

    @property
    def memory_ids(self) -> set[int]:
        return set(Memory.objects.filter(user=self.user).values_list("pk", flat=True))


def scripted(messages: list[dict]) -> str:
    system = messages[0]["content"]
    if "diary" in system:
        return json.dumps({"summary": "The person was born in Lyon and loves jazz."})
    if "portrait" in system:
        return json.dumps({"portrait": "A jazz lover born in Lyon."})
    return json.dumps({"superseded": [], "text": ""})


def populate(email: str, capture) -> Person:
    """One person's account, every part of it made by the services people's actions call."""
    user = User.objects.create_user(username=email, email=email)
    profile_ensure(user=user)
    persona_update(
        user=user, assistant_name="Nova", tone="warm", traits=["curious"], instructions="Be brief."
    )
    conversation = conversation_create(user=user, title="Trip plans")
    turn = chat_turn_start(
        user=user, conversation_id=conversation.pk, text="I was born in Lyon", model="mistral"
    )
    reply = chat_turn_finish(
        message_id=turn.assistant_message.pk, content="Lyon is lovely.", status="complete"
    )
    now = timezone.now()
    memories = [
        memory_create(
            user=user,
            text="I was born in Lyon",
            kind=Memory.Kind.FACT,
            said_at=now,
            importance=0.8,
            source_message_id=turn.user_message.pk,
        ),
        memory_create(
            user=user, text="I love jazz", kind=Memory.Kind.PREFERENCE, said_at=now, importance=0.6
        ),
    ]
    with capture(execute=True):
        summary = summary_day_write(user=user, day=timezone.localdate())
    portrait_refresh(user=user)
    client = Client()
    client.force_login(user)
    return Person(user, client, conversation, [turn.user_message, reply], memories, summary)


@pytest.fixture
def twins(ollama, django_capture_on_commit_callbacks) -> tuple[Person, Person]:
    ollama.reply = scripted
    ada = populate("ada@example.test", django_capture_on_commit_callbacks)
    bob = populate("bob@example.test", django_capture_on_commit_callbacks)
    assert Portrait.objects.get(user=ada.user).text == Portrait.objects.get(user=bob.user).text
    assert sorted(Memory.objects.filter(user=ada.user).values_list("text", flat=True)) == sorted(
        Memory.objects.filter(user=bob.user).values_list("text", flat=True)
    )
    return ada, bob


def traces(person: Person) -> list[str]:
    """Patterns that mark one of this person's objects in a page: links, element ids."""
    found = [rf"/c/{person.conversation.pk}/"]
    found += [rf"(/memories/|memory-){pk}\b" for pk in person.memory_ids]
    found += [rf"(/messages/|message-){m.pk}\b" for m in person.messages]
    return found


def assert_none_of(body: str, person: Person) -> None:
    for pattern in traces(person):
        assert not re.search(pattern, body), f"{pattern} of {person.user} leaked"


def state() -> dict:
    """Every row and vector that a refused request must leave as it was."""
    spaces = MemorySpace.objects.values_list("collection", flat=True)
    return {
        "memories": list(Memory.objects.order_by("pk").values()),
        "conversations": list(Conversation.objects.order_by("pk").values()),
        "messages": list(Message.objects.order_by("pk").values()),
        "summaries": list(DailySummary.objects.order_by("pk").values()),
        "portraits": list(Portrait.objects.order_by("pk").values("user_id", "text")),
        "vectors": {
            name: sorted(chroma_client().get_collection(name).get()["ids"]) for name in spaces
        },
    }


# --- the URL map ---------------------------------------------------------------------------


def _routes(patterns, prefix: str = "") -> list[str]:
    found = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found += _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            found.append(prefix + str(pattern.pattern))
    return found


def test_every_url_has_an_isolation_check():
    routes = set(_routes(get_resolver().url_patterns))
    unchecked = {
        r for r in routes - NO_PERSON_DATA - set(COVERED) if not r.startswith(ADMIN_PREFIX)
    }
    assert not unchecked, (
        f"URLs without an isolation test (add one, or to NO_PERSON_DATA): {unchecked}"
    )
    assert not (set(COVERED) | NO_PERSON_DATA) - routes, "stale entries in the URL map"
    sockets = set(_routes(websocket_urlpatterns))
    assert sockets == set(WEBSOCKETS)
    for test in {
        *COVERED.values(),
        *WEBSOCKETS.values(),
        "test_the_admin_shows_nothing_to_a_non_staff_person",
    }:
        assert callable(globals().get(test)), test


# --- pages ---------------------------------------------------------------------------------

HX = {"HX-Request": "true"}


def test_pages_show_only_the_owners_data(twins):
    ada, bob = twins
    index = ada.client.get("/")
    assert index.status_code == 302 and index.url == f"/c/{ada.conversation.pk}/"
    room = f"/c/{ada.conversation.pk}/"
    memories = [("/memories/", params) for params in (
        {}, {"q": "jazz"}, {"q": "Lyon"}, {"sort": "importance"}, {"sort": "strength"},
        {"kind": "preference"}, {"history": "1"}, {"page": "2"},
    )]  # fmt: skip
    pages = [
        (room, {}, {}),
        (room, {}, HX),
        *((url, params, headers) for url, params in memories for headers in ({}, HX)),
        ("/accounts/settings/", {}, {}),
        ("/accounts/settings/", {}, HX),
        ("/data/", {}, {}),
        ("/memories/forget-all/", {}, {}),
        (f"/memories/{ada.memories[0].pk}/edit/", {}, {}),
        (f"/memories/{ada.memories[0].pk}/edit/", {}, HX),
        (f"/c/{ada.conversation.pk}/rename/", {}, HX),
    ]
    for url, params, headers in pages:
        response = ada.client.get(url, params, headers=headers)
        assert response.status_code == 200, (url, params, headers)
        assert_none_of(response.content.decode(), bob)
    page = ada.client.get(room).content.decode()
    assert all(re.search(rf"message-{m.pk}\b", page) for m in ada.messages)
    listed = ada.client.get("/memories/").content.decode()
    assert all(re.search(rf"memory-{pk}\b", listed) for pk in ada.memory_ids)
    assert (
        f"{len(ada.memory_ids)} memor" in ada.client.get("/memories/forget-all/").content.decode()
    )
    jump = ada.client.get(f"/messages/{ada.messages[0].pk}/")
    assert jump.status_code == 302 and jump.url.startswith(f"/c/{ada.conversation.pk}/")


def _guesses(bob: Person) -> list[tuple[str, str, dict, dict]]:
    conversation, message, memory = bob.conversation.pk, bob.messages[0].pk, bob.memories[0].pk
    json_body = {"content_type": "application/json"}
    return [
        ("get", f"/c/{conversation}/", {}, {}),
        ("get", f"/c/{conversation}/", {}, {"headers": HX}),
        ("get", f"/c/{conversation}/rename/", {}, {"headers": HX}),
        ("post", f"/c/{conversation}/rename/", {"title": "Taken"}, {}),
        ("post", f"/c/{conversation}/delete/", {}, {}),
        ("post", f"/c/{conversation}/temporary/", {"temporary": "1"}, {}),
        ("get", f"/messages/{message}/", {}, {}),
        ("get", f"/messages/{bob.messages[1].pk}/", {}, {}),
        ("get", f"/memories/{memory}/edit/", {}, {}),
        ("get", f"/memories/{memory}/edit/", {}, {"headers": HX}),
        ("post", f"/memories/{memory}/edit/", {"text": "Taken"}, {}),
        ("post", f"/memories/{memory}/pin/", {"pinned": "1"}, {}),
        ("post", f"/memories/{memory}/forget/", {}, {}),
        ("post", f"/memories/{memory}/forget/", {}, {"headers": HX}),
        ("get", f"/api/memories/{memory}", {}, {}),
        ("get", f"/api/memories/{bob.summary.memory_id}", {}, {}),
        ("patch", f"/api/memories/{memory}", json.dumps({"pinned": True}), json_body),
        ("delete", f"/api/memories/{memory}", {}, {}),
        ("get", f"/api/conversations/{conversation}", {}, {}),
        ("post", f"/api/conversations/{conversation}/messages", json.dumps({"content": "Hi"}),
         json_body),
    ]  # fmt: skip


def test_a_guessed_id_answers_404_and_changes_nothing(twins):
    ada, bob = twins
    before = state()
    for method, url, data, extra in _guesses(bob):
        response = getattr(ada.client, method)(url, data, **extra)
        assert response.status_code == 404, (method, url, response.status_code)
        assert_none_of(response.content.decode(), bob)
        if url.startswith("/api/"):
            assert response.json()["error"] == "not_found"
    assert state() == before


def test_writes_land_on_the_owner_only(twins):
    ada, bob = twins
    collection = MemorySpace.objects.get(user=bob.user).collection
    bobs_rows = list(Memory.objects.filter(user=bob.user).order_by("pk").values())
    bobs_vectors = state()["vectors"][collection]

    new = ada.client.post("/c/new/")
    assert Conversation.objects.get(pk=int(new.url.split("/")[2])).user == ada.user
    export = ada.client.get("/data/export/").content
    upload = SimpleUploadedFile("export.json", export, "application/json")
    assert ada.client.post("/data/", {"file": upload}).status_code == 200
    assert ada.client.post("/memories/forget-all/", {"confirm": "FORGET"}).status_code == 302

    assert not Memory.objects.filter(user=ada.user).exists()
    assert list(Memory.objects.filter(user=bob.user).order_by("pk").values()) == bobs_rows
    assert state()["vectors"][collection] == bobs_vectors
    assert Conversation.objects.filter(user=bob.user).count() == 1
    assert Portrait.objects.filter(user=bob.user).exclude(text="").exists()


def _ids(value) -> set[int]:
    """Every "id" anywhere in an exported structure."""
    if isinstance(value, dict):
        found = {value["id"]} if isinstance(value.get("id"), int) else set()
        return found.union(*(_ids(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_ids(v) for v in value)) if value else set()
    return set()


def test_the_export_holds_only_the_owners_data(twins):
    ada, bob = twins
    response = ada.client.get("/data/export/")
    assert response.status_code == 200
    exported = json.loads(response.content)

    chats = exported["conversations"]
    assert [c["id"] for c in chats] == [ada.conversation.pk]
    assert [m["id"] for c in chats for m in c["messages"]] == [m.pk for m in ada.messages]
    assert _ids(exported["memories"]) == ada.memory_ids
    assert not _ids(exported["memories"]) & bob.memory_ids
    assert exported["portrait"]["text"] == Portrait.objects.get(user=ada.user).text


# --- the API -------------------------------------------------------------------------------


def test_the_api_lists_only_the_owners_data(twins):
    ada, _ = twins
    me = ada.client.get("/api/me").json()
    assert me["id"] == ada.user.pk and me["email"] == ada.user.email
    for params in (
        {},
        {"q": "jazz"},
        {"kind": "fact"},
        {"sort": "importance"},
        {"sort": "strength"},
    ):
        listed = ada.client.get("/api/memories", params).json()["results"]
        assert listed and {m["id"] for m in listed} <= ada.memory_ids, params
    conversations = ada.client.get("/api/conversations").json()["results"]
    assert [c["id"] for c in conversations] == [ada.conversation.pk]
    own = ada.client.get(f"/api/conversations/{ada.conversation.pk}").json()
    assert [m["id"] for m in own["messages"]] == [m.pk for m in ada.messages]


# --- recall and Chroma ---------------------------------------------------------------------


def test_each_person_has_their_own_collection_and_recall(twins):
    ada, bob = twins
    spaces = {p.user.pk: MemorySpace.objects.get(user=p.user).collection for p in twins}
    assert spaces[ada.user.pk] != spaces[bob.user.pk]
    for person in twins:
        collection = chroma_client().get_collection(spaces[person.user.pk])
        assert {int(i) for i in collection.get()["ids"]} == person.memory_ids
        embedding = collection.get(include=["embeddings"])["embeddings"][0]
        nearest = collection.query(query_embeddings=[list(embedding)], n_results=10)["ids"][0]
        assert {int(i) for i in nearest} <= person.memory_ids

    for person, other in (twins, twins[::-1]):
        recalled = {m.id for m in memory_recall(user=person.user, query="Lyon jazz", k=50)}
        assert recalled == person.memory_ids and not recalled & other.memory_ids


# --- the websocket -------------------------------------------------------------------------


@database_sync_to_async
def _two_people_with_a_failed_reply():
    ada = User.objects.create_user(username="ada@example.test", email="ada@example.test")
    bob = User.objects.create_user(username="bob@example.test", email="bob@example.test")
    chats = [Conversation.objects.create(user=u, title="Trip plans") for u in (ada, bob)]
    Message.objects.create(conversation=chats[1], role="user", content="Hi")
    failed = Message.objects.create(
        conversation=chats[1], role="assistant", status="failed", error="down"
    )
    return ada, chats, failed


async def _open(user, conversation_id: int) -> tuple[WebsocketCommunicator, bool, int | None]:
    socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/chat/{conversation_id}/")
    socket.scope["user"] = user
    connected, code = await socket.connect(timeout=10)
    return socket, connected, code


@pytest.mark.django_db(transaction=True)
async def test_a_socket_opens_only_on_ones_own_chat():
    ada, (own, bobs), failed = await _two_people_with_a_failed_reply()

    _, connected, code = await _open(ada, bobs.pk)
    assert (connected, code) == (False, 4403)
    _, connected, code = await _open(ada, 10**9)
    assert (connected, code) == (False, 4403)

    socket, connected, _ = await _open(ada, own.pk)
    assert connected
    await socket.send_to(text_data=json.dumps({"action": "retry", "message_id": failed.pk}))
    frame = await socket.receive_from(timeout=10)
    await socket.disconnect()
    assert "not yours" in frame
    rows = await database_sync_to_async(
        lambda: list(Message.objects.filter(conversation=bobs).values("pk", "status", "content"))
    )()
    assert len(rows) == 2 and rows[1]["status"] == "failed" and rows[1]["content"] == ""


# --- the admin -----------------------------------------------------------------------------


def test_the_admin_shows_nothing_to_a_non_staff_person(twins):
    ada, bob = twins
    assert not ada.user.is_staff
    objects = {
        Memory: bob.memories[0].pk,
        Conversation: bob.conversation.pk,
        Message: bob.messages[0].pk,
        DailySummary: bob.summary.pk,
        User: bob.user.pk,
    }
    before = state()
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        if model in objects:
            urls.append(reverse("admin:{}_{}_change".format(*info), args=[objects[model]]))
            urls.append(reverse("admin:{}_{}_delete".format(*info), args=[objects[model]]))
    for url in urls:
        for method in ("get", "post"):
            response = getattr(ada.client, method)(url)
            assert response.status_code == 302, (method, url)
            assert response.url.startswith("/admin/login/"), (method, url)
    assert state() == before
