"""Authentication under attack: throttled guessing, session fixation, CSRF on every form,
the websocket's Origin check, and forged tokens against the JSON API."""

import json
import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.backends.db import SessionStore
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from accounts.models import Profile, User
from accounts.services import persona_update, profile_ensure
from chat.models import Conversation
from chat.portability import account_export_json
from memory.models import Memory
from memory.services import memory_create
from tests.accounts.test_tokens import BAD_TOKENS

pytestmark = pytest.mark.django_db

SIGNIN = "/accounts/signin/"
PASSWORD = "a-long-passphrase-42"
WRONG = "not-the-passphrase"
LOCKED = "Too many failed sign-ins for this email. Please try again in 15 minutes, at "


def sign_in(client: Client, email: str, password: str, **extra):
    return client.post(SIGNIN, {"email": email, "password": password}, **extra)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture(params=["local", "supabase"])
def mode(request):
    """Each throttling test in both auth modes: Django's users, and GoTrue's stand-in."""
    if request.param == "supabase":
        return request.getfixturevalue("supabase")
    return None


@pytest.fixture
def ada(mode) -> str:
    email = "ada@example.test"
    if mode is None:
        User.objects.create_user(username=email, email=email, password=PASSWORD)
    else:
        mode.create_user(email=email, password=PASSWORD)
    return email


def fail(client: Client, email: str, times: int, **extra) -> list:
    return [sign_in(client, email, WRONG, **extra) for _ in range(times)]


# --- throttling -------------------------------------------------------------------------


def test_the_limit_is_five_failures_in_fifteen_minutes_per_email_and_address(settings):
    assert settings.PIPO_SIGNIN_FAILURE_LIMIT == settings.AXES_FAILURE_LIMIT == 5
    assert timedelta(minutes=settings.PIPO_SIGNIN_LOCKOUT_MINUTES) == settings.AXES_COOLOFF_TIME
    assert settings.PIPO_SIGNIN_LOCKOUT_MINUTES == 15
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_the_fifth_failure_locks_and_says_when_to_retry(client, mode, ada):
    tries = fail(client, ada, 5)

    assert [r.status_code for r in tries] == [200, 200, 200, 200, 429]
    assert all("Wrong email or password." in r.content.decode() for r in tries[:4])
    page = tries[4].content.decode()
    said = re.search(re.escape(LOCKED) + r"(\d\d:\d\d) \((\w+)\)\.", page)
    assert said, page
    retry_at = timezone.localtime(timezone.now() + timedelta(minutes=15))
    possible = {f"{retry_at - timedelta(minutes=m):%H:%M}" for m in (0, 1)}
    assert said.group(1) in possible and said.group(2) == retry_at.tzname()
    assert "Wrong email or password." not in page


def test_a_locked_pair_is_refused_even_with_the_right_password(client, mode, ada):
    fail(client, ada, 5)
    asked = mode.count("POST", "/token") if mode else None

    right = sign_in(client, ada, PASSWORD)

    assert right.status_code == 429 and LOCKED in right.content.decode()
    assert not signed_in(client)
    if mode is not None:
        assert mode.count("POST", "/token") == asked  # GoTrue was not even asked


def test_the_lock_holds_one_email_from_one_address_only(client, mode, ada):
    fail(client, ada, 5)

    elsewhere = Client()
    assert sign_in(elsewhere, ada, PASSWORD, REMOTE_ADDR="10.0.0.7").status_code == 302
    other_email = sign_in(Client(), "eve@example.test", WRONG)
    assert other_email.status_code == 200 and LOCKED not in other_email.content.decode()


def test_the_lock_ends_after_the_cool_off(client, mode, ada):
    fail(client, ada, 5)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=15, seconds=5))

    assert sign_in(client, ada, PASSWORD).status_code == 302
    assert signed_in(client)
    assert not AccessAttempt.objects.exists()


def test_a_success_resets_the_count(client, mode, ada):
    fail(client, ada, 4)
    assert sign_in(client, ada, PASSWORD).status_code == 302
    client.post("/accounts/signout/")

    again = fail(client, ada, 5)

    assert [r.status_code for r in again] == [200, 200, 200, 200, 429]


def test_the_limit_follows_its_setting(client, settings, mode, ada):
    settings.AXES_FAILURE_LIMIT = 2
    assert [r.status_code for r in fail(client, ada, 2)] == [200, 429]


def test_the_htmx_form_shows_the_lock_in_place(client, ada, mode):
    fail(client, ada, 4)
    locked = sign_in(client, ada, WRONG, headers={"HX-Request": "true"})

    assert locked.status_code == 429
    page = locked.content.decode()
    assert page.lstrip().startswith("<form") and LOCKED in page


def test_the_admin_login_is_throttled_too(client):
    User.objects.create_user(username="root", email="root@x.test", password=PASSWORD, is_staff=True)
    for _ in range(5):
        client.post("/admin/login/", {"username": "root", "password": WRONG})

    locked = client.post("/admin/login/", {"username": "root", "password": PASSWORD})

    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert not signed_in(client)


# --- session fixation --------------------------------------------------------------------


def test_the_session_key_changes_at_sign_in(client, mode, ada):
    planted = client.session  # a key an attacker could have set in the victim's browser
    planted["probe"] = 1
    planted.save()
    before = client.cookies["sessionid"].value

    assert sign_in(client, ada, PASSWORD).status_code == 302

    after = client.cookies["sessionid"].value
    assert after != before and signed_in(client)
    assert not SessionStore().exists(before)


# --- CSRF on every form ------------------------------------------------------------------


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def bob(csrf_client):
    user = User.objects.create_user(username="bob@example.test", email="bob@x.test")
    profile_ensure(user=user)
    persona_update(user=user, assistant_name="Nova", tone="", traits=[], instructions="")
    csrf_client.force_login(user)
    return user


def _conversation(user):
    return Conversation.objects.create(user=user, title="Plans")


def _memory(user):
    return memory_create(user=user, text="I play the cello", said_at=timezone.now(), importance=0.5)


def _export(user) -> SimpleUploadedFile:
    """Another person's export file, with one conversation and one memory to import."""
    other = User.objects.get_or_create(username="exporter@example.test")[0]
    Conversation.objects.get_or_create(user=other, title="Exported")
    if not Memory.objects.filter(user=other).exists():
        _memory(other)
    data = account_export_json(user=other)
    return SimpleUploadedFile("export.json", data, "application/json")


# (url of the form, its fields, a look at what it changes): each form a signed-in person posts
SIGNED_IN_FORMS = {
    "signout": (
        lambda u: "/accounts/signout/",
        lambda u: {},
        lambda u, c: signed_in(c),
    ),
    "persona": (
        lambda u: "/accounts/settings/",
        lambda u: {"assistant_name": "Hijacked", "tone": "", "traits": "", "instructions": ""},
        lambda u, c: Profile.objects.get(user=u).assistant_name,
    ),
    "new_chat": (
        lambda u: "/c/new/",
        lambda u: {},
        lambda u, c: Conversation.objects.filter(user=u).count(),
    ),
    "rename": (
        lambda u: f"/c/{_conversation(u).pk}/rename/",
        lambda u: {"title": "Hijacked"},
        lambda u, c: sorted(Conversation.objects.filter(user=u).values_list("title", flat=True)),
    ),
    "delete": (
        lambda u: f"/c/{_conversation(u).pk}/delete/",
        lambda u: {},
        lambda u, c: Conversation.objects.filter(user=u).count(),
    ),
    "temporary": (
        lambda u: f"/c/{_conversation(u).pk}/temporary/",
        lambda u: {"temporary": "1"},
        lambda u, c: list(Conversation.objects.filter(user=u).values_list("temporary", flat=True)),
    ),
    "memory_edit": (
        lambda u: f"/memories/{_memory(u).pk}/edit/",
        lambda u: {"text": "I play the drums"},
        lambda u, c: list(Memory.objects.filter(user=u).values_list("text", flat=True)),
    ),
    "memory_pin": (
        lambda u: f"/memories/{_memory(u).pk}/pin/",
        lambda u: {"pinned": "1"},
        lambda u, c: list(Memory.objects.filter(user=u).values_list("pinned", flat=True)),
    ),
    "memory_forget": (
        lambda u: f"/memories/{_memory(u).pk}/forget/",
        lambda u: {},
        lambda u, c: Memory.objects.filter(user=u).count(),
    ),
    "memory_forget_all": (
        lambda u: (_memory(u), "/memories/forget-all/")[1],
        lambda u: {"confirm": "FORGET"},
        lambda u, c: Memory.objects.filter(user=u).count(),
    ),
    "import": (
        lambda u: "/data/",
        lambda u: {"file": _export(u)},
        lambda u, c: (
            Conversation.objects.filter(user=u).count(),
            Memory.objects.filter(user=u).count(),
        ),
    ),
}


def _csrf_token(client: Client, page: str) -> str:
    client.get(page)
    return client.cookies["csrftoken"].value


@pytest.mark.parametrize("form", sorted(SIGNED_IN_FORMS))
def test_every_signed_in_form_needs_its_csrf_token(csrf_client, bob, form):
    url_of, fields_of, look = SIGNED_IN_FORMS[form]
    url = url_of(bob)
    before = look(bob, csrf_client)

    refused = csrf_client.post(url, fields_of(bob))

    assert refused.status_code == 403
    assert look(bob, csrf_client) == before
    token = _csrf_token(csrf_client, "/accounts/settings/")
    accepted = csrf_client.post(url, {**fields_of(bob), "csrfmiddlewaretoken": token})
    assert accepted.status_code in (200, 302), accepted.content[:300]
    assert look(bob, csrf_client) != before


def test_sign_in_and_sign_up_need_their_csrf_token(csrf_client):
    User.objects.create_user(username="ada@example.test", email="a@x.test", password=PASSWORD)
    fields = {"email": "ada@example.test", "password": PASSWORD}
    assert csrf_client.post(SIGNIN, fields).status_code == 403
    new = {"email": "new@example.test", "password": PASSWORD}
    assert csrf_client.post("/accounts/signup/", new).status_code == 403
    assert not signed_in(csrf_client) and not User.objects.filter(username=new["email"]).exists()

    token = _csrf_token(csrf_client, SIGNIN)
    assert csrf_client.post(SIGNIN, {**fields, "csrfmiddlewaretoken": token}).status_code == 302
    assert signed_in(csrf_client)
    csrf_client.logout()
    token = _csrf_token(csrf_client, "/accounts/signup/")
    created = csrf_client.post("/accounts/signup/", {**new, "csrfmiddlewaretoken": token})
    assert created.status_code == 302 and User.objects.filter(username=new["email"]).exists()


def test_the_api_with_a_session_needs_the_csrf_header(csrf_client, bob):
    body = json.dumps({"text": "I live in Oslo"})
    refused = csrf_client.post("/api/memories", body, content_type="application/json")
    assert refused.status_code == 403 and refused.json()["error"] == "csrf_failed"
    assert not Memory.objects.exists()

    token = _csrf_token(csrf_client, "/accounts/settings/")
    made = csrf_client.post(
        "/api/memories", body, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert made.status_code == 201 and Memory.objects.count() == 1


# --- the websocket's Origin --------------------------------------------------------------


@database_sync_to_async
def _session_of_a_person_with_a_chat() -> tuple[str, int]:
    user = User.objects.create_user(username="cy@example.test", email="cy@x.test")
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value, Conversation.objects.create(user=user).pk


async def _connect(origin: bytes | None) -> bool:
    from pipo.asgi import application

    session_key, conversation_id = await _session_of_a_person_with_a_chat()
    headers = [(b"host", b"localhost"), (b"cookie", f"sessionid={session_key}".encode())]
    if origin is not None:
        headers.append((b"origin", origin))
    socket = WebsocketCommunicator(application, f"/ws/chat/{conversation_id}/", headers=headers)
    connected, _ = await socket.connect(timeout=10)
    await socket.disconnect()
    return connected


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "origin",
    [b"https://evil.example", b"http://localhost.evil.example", b"null", None],
    ids=["foreign", "look-alike", "null", "none"],
)
async def test_the_websocket_refuses_a_foreign_origin(origin):
    assert await _connect(origin) is False


@pytest.mark.django_db(transaction=True)
async def test_the_websocket_accepts_its_own_origin():
    assert await _connect(b"http://localhost") is True


# --- forged tokens against the API -------------------------------------------------------

GARBAGE_TOKENS = ["not-a-jwt", "a.b.c", "e30.e30.e30", "Bearer", "x" * 5000]
ENDPOINTS = [
    ("get", "/api/memories", None),
    ("post", "/api/memories", {"text": "I am allergic to peanuts"}),
    ("get", "/api/conversations", None),
    ("post", "/api/conversations", {"title": "Trip plans"}),
]


def _rows() -> tuple[int, int, int]:
    return User.objects.count(), Memory.objects.count(), Conversation.objects.count()


def _call(client: Client, method: str, url: str, body, token: str):
    headers = {"Authorization": f"Bearer {token}"}
    if body is None:
        return client.get(url, headers=headers)
    return client.post(url, json.dumps(body), content_type="application/json", headers=headers)


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_a_forged_token_is_refused_by_the_api(client, supabase, case, method, url, body):
    how, reason = BAD_TOKENS[case]
    supabase.create_user(email="ada@example.test", password=PASSWORD)
    token = supabase.mint_token(**how)
    before = _rows()

    response = _call(client, method, url, body, token)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token" and reason in response.json()["detail"]
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert _rows() == before


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
@pytest.mark.parametrize("garbage", GARBAGE_TOKENS)
def test_a_malformed_token_is_refused_by_the_api(client, supabase, garbage, method, url, body):
    before = _rows()

    response = _call(client, method, url, body, garbage)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert _rows() == before


def test_a_good_token_still_works_against_both(client, supabase):
    remote = supabase.create_user(email="ada@example.test", password=PASSWORD)
    token = supabase.mint_token(sub=remote["id"])
    for method, url, body in ENDPOINTS:
        assert _call(client, method, url, body, token).status_code in (200, 201)
    assert Memory.objects.count() == 1 and Conversation.objects.count() == 1
