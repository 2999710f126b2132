"""The memory endpoints of the JSON API, with a Supabase bearer token and with the session."""

import json

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from memory.models import Memory
from memory.services import MEMORY_TEXT_MAX_CHARS, memory_create
from pipo.api import PAGE_SIZE_MAX
from tests.support.api_people import api_person_signed_in

pytestmark = pytest.mark.django_db


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


def remember(user, text: str, *, kind: str = Memory.Kind.OTHER, importance: float = 0.5):
    return memory_create(
        user=user, text=text, said_at=timezone.now(), importance=importance, kind=kind
    )


def send(client, method: str, url: str, headers: dict, body=None):
    if method in ("get", "delete"):
        return getattr(client, method)(url, headers=headers)
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return getattr(client, method)(url, data=data, content_type="application/json", headers=headers)


def test_list_shows_only_my_memories_newest_first(client, ada, eve):
    user, auth = ada
    remember(user, "I play the cello")
    remember(user, "My dog is called Rex")
    remember(eve[0], "My secret is that I love opera")

    response = client.get("/api/memories", headers=auth)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [m["text"] for m in body["results"]] == ["My dog is called Rex", "I play the cello"]
    assert set(body["results"][0]) >= {"id", "kind", "importance", "pinned", "retention"}


def test_search_and_kind_filter(client, ada):
    user, auth = ada
    remember(user, "I love jazz on Sundays", kind=Memory.Kind.PREFERENCE)
    remember(user, "Jazz concert next Friday", kind=Memory.Kind.PLAN)
    remember(user, "I am allergic to peanuts", kind=Memory.Kind.FACT)

    found = client.get("/api/memories", {"q": "jazz"}, headers=auth).json()
    assert sorted(m["text"] for m in found["results"]) == [
        "I love jazz on Sundays",
        "Jazz concert next Friday",
    ]
    plans = client.get("/api/memories", {"q": "jazz", "kind": "plan"}, headers=auth).json()
    assert [m["text"] for m in plans["results"]] == ["Jazz concert next Friday"]


def test_sort_by_importance(client, ada):
    user, auth = ada
    remember(user, "trivia", importance=0.1)
    remember(user, "vital", importance=0.9)
    remember(user, "middling", importance=0.5)
    body = client.get("/api/memories", {"sort": "importance"}, headers=auth).json()
    assert [m["text"] for m in body["results"]] == ["vital", "middling", "trivia"]


def test_paging_has_total_next_and_previous(client, ada):
    user, auth = ada
    for i in range(5):
        remember(user, f"memory number {i}")

    first = client.get("/api/memories", {"page_size": 2}, headers=auth).json()
    assert (first["count"], first["page"], first["page_size"]) == (5, 1, 2)
    assert first["previous"] is None
    assert "page=2" in first["next"] and "page_size=2" in first["next"]

    second = client.get(first["next"], headers=auth).json()
    assert second["page"] == 2
    assert "page=1" in second["previous"]
    last = client.get("/api/memories", {"page_size": 2, "page": 3}, headers=auth).json()
    assert last["next"] is None and len(last["results"]) == 1
    seen = first["results"] + second["results"] + last["results"]
    assert len({m["id"] for m in seen}) == 5


def test_page_size_is_capped(client, ada):
    _, auth = ada
    body = client.get("/api/memories", {"page_size": 10_000}, headers=auth).json()
    assert body["page_size"] == PAGE_SIZE_MAX


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"page": "abc"}, 400),
        ({"page": "0"}, 400),
        ({"page_size": "-3"}, 400),
        ({"kind": "dream"}, 400),
        ({"sort": "random"}, 400),
        ({"q": "x" * 201}, 400),
        ({"q": "nul\x00"}, 400),
        ({"page": "7"}, 404),
    ],
)
def test_bad_list_parameters_are_json_errors(client, ada, params, status):
    _, auth = ada
    response = client.get("/api/memories", params, headers=auth)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"]


def test_create_a_memory_by_hand(client, ada):
    user, auth = ada
    response = send(
        client,
        "post",
        "/api/memories",
        auth,
        {"text": "  My sister is called Lin  ", "kind": "relationship", "importance": 0.8,
         "pinned": True},
    )  # fmt: skip
    assert response.status_code == 201
    body = response.json()
    memory = Memory.objects.get(pk=body["id"])
    assert memory.user == user
    assert (memory.text, memory.kind, memory.importance, memory.pinned) == (
        "My sister is called Lin",
        "relationship",
        0.8,
        True,
    )
    assert body["pinned"] is True and body["text"] == "My sister is called Lin"


def test_create_with_only_text_takes_the_defaults(client, ada):
    _, auth = ada
    body = send(client, "post", "/api/memories", auth, {"text": "I like tea"}).json()
    assert (body["kind"], body["importance"], body["pinned"]) == ("other", 0.5, False)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("{not json", "not valid JSON"),
        ([1, 2], "JSON object"),
        ({}, "'text' is required"),
        ({"text": "   "}, "can't be empty"),
        ({"text": 42}, "'text' must be a string"),
        ({"text": "x" * (MEMORY_TEXT_MAX_CHARS + 1)}, "A memory can have at most"),
        ({"text": "ok", "kind": "dream"}, "'kind' must be one of"),
        ({"text": "ok", "importance": "high"}, "between 0 and 1"),
        ({"text": "ok", "importance": 1.5}, "between 0 and 1"),
        ({"text": "ok", "importance": True}, "between 0 and 1"),
        ({"text": "ok", "pinned": "yes"}, "true or false"),
        ({"text": "ok", "colour": "red"}, "Unknown field(s): colour"),
        ({"text": "a\u0000b"}, "can't contain NUL"),
    ],
)
def test_create_refuses_bad_input_and_writes_nothing(client, ada, body, says):
    _, auth = ada
    response = send(client, "post", "/api/memories", auth, body)
    assert response.status_code == 400
    assert says in response.json()["detail"]
    assert not Memory.objects.exists()


def test_get_one_of_mine(client, ada):
    user, auth = ada
    memory = remember(user, "I was born in Lyon")
    response = client.get(f"/api/memories/{memory.pk}", headers=auth)
    assert response.status_code == 200
    assert response.json()["text"] == "I was born in Lyon"


def test_edit_text_rewrites_the_memory_and_its_key(client, ada):
    user, auth = ada
    memory = remember(user, "I live in Paris")
    response = send(
        client, "patch", f"/api/memories/{memory.pk}", auth, {"text": "I live in Berlin"}
    )
    assert response.status_code == 200
    assert response.json()["text"] == "I live in Berlin"
    memory.refresh_from_db()
    assert memory.text == "I live in Berlin"
    assert "Berlin" in memory.key_text and "Paris" not in memory.key_text


def test_pin_and_unpin(client, ada):
    user, auth = ada
    memory = remember(user, "My PIN is not this")
    assert send(client, "patch", f"/api/memories/{memory.pk}", auth, {"pinned": True}).json()[
        "pinned"
    ]
    memory.refresh_from_db()
    assert memory.pinned
    send(client, "patch", f"/api/memories/{memory.pk}", auth, {"pinned": False})
    memory.refresh_from_db()
    assert not memory.pinned


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"text": "  ", "pinned": True}, "can't be empty"),
        ({"text": None}, "'text' is required"),
        ({"pinned": None}, "true or false"),
        ({}, "Send 'text', 'pinned' or both"),
        ({"importance": 1}, "Unknown field(s): importance"),
    ],
)
def test_bad_edits_change_nothing(client, ada, body, says):
    user, auth = ada
    memory = remember(user, "I live in Paris")
    response = send(client, "patch", f"/api/memories/{memory.pk}", auth, body)
    assert response.status_code == 400
    assert says in response.json()["detail"]
    memory.refresh_from_db()
    assert (memory.text, memory.pinned) == ("I live in Paris", False)


def test_delete_forgets_the_memory(client, ada):
    user, auth = ada
    memory = remember(user, "Forget me")
    response = client.delete(f"/api/memories/{memory.pk}", headers=auth)
    assert response.status_code == 204
    assert not Memory.objects.filter(pk=memory.pk).exists()


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_someone_elses_memory_is_404_and_untouched(client, ada, eve, method):
    theirs = remember(eve[0], "My secret is that I love opera")
    _, auth = ada
    response = send(client, method, f"/api/memories/{theirs.pk}", auth, {"text": "hacked"})
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.text == "My secret is that I love opera"


def test_unknown_id_is_404(client, ada):
    _, auth = ada
    assert client.get("/api/memories/999999", headers=auth).status_code == 404


def test_wrong_method_is_a_json_405_with_allow(client, ada):
    _, auth = ada
    response = client.put("/api/memories", headers=auth)
    assert response.status_code == 405
    assert response["Allow"] == "GET, POST"
    assert response.json()["error"] == "method_not_allowed"


def test_body_over_the_limit_is_413(client, ada, settings):
    settings.PIPO_MAX_MESSAGE_CHARS = 10
    _, auth = ada
    response = send(client, "post", "/api/memories", auth, {"text": "x" * 200_000})
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert not Memory.objects.exists()


def test_bad_token_is_401(client, supabase):
    response = client.get("/api/memories", headers={"Authorization": "Bearer not-a-jwt"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_unknown_endpoint_is_a_json_404(client, ada):
    _, auth = ada
    response = client.get("/api/memories/1/nothing", headers=auth)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "docs/api.md" in response.json()["detail"]


# --- The session (local accounts): reads need only the cookie, changes need the CSRF token.


@pytest.fixture
def ada_local(django_user_model):
    return django_user_model.objects.create_user(username="ada", email="ada@example.test")


def test_session_reads_my_memories(client, ada_local):
    remember(ada_local, "I play the cello")
    client.force_login(ada_local)
    body = client.get("/api/memories").json()
    assert [m["text"] for m in body["results"]] == ["I play the cello"]


def test_anonymous_session_is_401(client):
    response = client.get("/api/memories")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_request"


def test_session_change_without_csrf_is_a_json_403(ada_local):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(ada_local)
    response = send(strict, "post", "/api/memories", {}, {"text": "I like tea"})
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_failed"
    assert not Memory.objects.exists()


def test_session_change_with_csrf_token_works(ada_local):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(ada_local)
    token = "a" * 32  # what a page's CSRF cookie holds; scripts echo it in X-CSRFToken
    strict.cookies["csrftoken"] = token
    response = send(strict, "post", "/api/memories", {"X-CSRFToken": token}, {"text": "I like tea"})
    assert response.status_code == 201
    assert Memory.objects.get().user == ada_local


def test_an_id_too_big_for_the_database_is_404_not_500(client, ada):
    _, auth = ada
    response = client.get("/api/memories/" + "9" * 40, headers=auth)
    assert response.status_code == 404
