"""XSS, server side: every payload of the corpus, placed wherever a person's or a model's
words go, renders as inert text in the chat, the memory page, settings, the data page and
the admin. (tests/e2e/test_xss_in_browser.py runs the same corpus in Chromium.)"""

import html
import json
import re

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from accounts.models import Profile, User
from chat.models import Conversation, DailySummary, Message
from chat.rendering import markdown_render
from memory.models import Memory, Portrait
from memory.services import memory_create
from pipo.routing import websocket_urlpatterns
from tests.security.xss_corpus import PAYLOADS, export_with, injected, shown

pytestmark = pytest.mark.django_db

IDS = [name for name, _ in PAYLOADS]
TOKEN = re.compile(r'<span hx-swap-oob="beforeend:#message-\d+-text">(.*?)</span>', re.S)
TEXTS = [payload for _, payload in PAYLOADS]


def assert_inert(page: str, *, where: str) -> None:
    assert injected(page) == [], f"{where}: {injected(page)}"


@pytest.fixture
def ada(django_user_model) -> User:
    return django_user_model.objects.create_user(
        username="ada@example.test", email="ada@example.test", password="pw-123456789"
    )


@pytest.fixture
def ada_client(ada) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(ada)
    return client


@pytest.fixture
def admin_client_(django_user_model) -> Client:
    root = django_user_model.objects.create_superuser(
        username="root@example.test", email="root@example.test", password="pw-123456789"
    )
    client = Client(raise_request_exception=False)
    client.force_login(root)
    return client


@pytest.fixture
def ada_imported(ada, ada_client) -> User:
    """Ada's account filled from an export file carrying the whole corpus."""
    upload = SimpleUploadedFile("export.json", export_with(TEXTS), "application/json")
    response = ada_client.post("/data/", {"file": upload})
    assert response.status_code == 200, response.content.decode()[:3000]
    assert_inert(response.content.decode(), where="the import report")
    assert Memory.objects.filter(user=ada).count() == len(TEXTS)
    assert DailySummary.objects.filter(user=ada).count() == len(TEXTS)
    return ada


def get(client: Client, path: str, data: dict | None = None, **headers) -> str:
    response = client.get(path, data, **headers)
    assert response.status_code == 200, (path, response.status_code)
    return response.content.decode()


def test_every_payload_shows_escaped_on_the_persons_pages(ada_imported, ada_client):
    first = Conversation.objects.filter(user=ada_imported).order_by("pk").first()
    memory = Memory.objects.filter(user=ada_imported).order_by("pk").first()
    pages = {
        "chat": get(ada_client, f"/c/{first.pk}/"),
        "chat partial": get(ada_client, f"/c/{first.pk}/", HTTP_HX_REQUEST="true"),
        "rename form": get(ada_client, f"/c/{first.pk}/rename/", HTTP_HX_REQUEST="true"),
        "memories": get(ada_client, "/memories/?page=1")
        + get(ada_client, "/memories/?page=2")
        + get(ada_client, "/memories/?history=1", HTTP_HX_REQUEST="true"),
        "memory edit": get(ada_client, f"/memories/{memory.pk}/edit/"),
        "settings": get(ada_client, "/accounts/settings/"),
        "data": get(ada_client, "/data/"),
    }
    for where, page in pages.items():
        assert_inert(page, where=where)
    for payload in TEXTS:
        assert payload in shown(pages["chat"]), payload  # the person's own message, as text
        assert payload[:60] in shown(pages["chat"])  # its conversation's title, in the sidebar
        assert payload in shown(pages["memories"]), payload
    assert TEXTS[0] in shown(pages["memory edit"])
    assert html.escape(TEXTS[0]) in pages["memory edit"]  # in the textarea, escaped
    profile = Profile.objects.get(user=ada_imported)
    assert profile.instructions in shown(pages["settings"])
    assert Portrait.objects.get(user=ada_imported).text in shown(pages["settings"])
    assert first.title in shown(pages["rename form"])


def persona_form(payload: str) -> dict:
    return {
        "assistant_name": payload[:60],
        "tone": payload[:60],
        "traits": payload[:40],
        "instructions": payload,
    }


@pytest.mark.parametrize("payload", TEXTS, ids=IDS)
def test_each_payload_shows_escaped_as_a_title_a_memory_and_in_the_persona_forms(
    ada, ada_client, payload
):
    conversation = Conversation.objects.create(user=ada, title="Before")
    memory = memory_create(
        user=ada, text="Before", said_at=timezone.now(), importance=0.5, kind="fact"
    )
    # Through the forms a person uses, each answered as the htmx partial it swaps in.
    hx = {"HTTP_HX_REQUEST": "true"}
    answers = {
        "rename": ada_client.post(f"/c/{conversation.pk}/rename/", {"title": payload}, **hx),
        "memory edit": ada_client.post(f"/memories/{memory.pk}/edit/", {"text": payload}, **hx),
        "settings": ada_client.post("/accounts/settings/", persona_form(payload), **hx),
    }
    for where, response in answers.items():
        assert response.status_code < 400, (where, response.content[:2000])
        assert_inert(response.content.decode(), where=where)
    conversation.refresh_from_db()
    memory.refresh_from_db()
    assert conversation.title == " ".join(payload.split())
    assert memory.text == payload.strip()
    room = get(ada_client, f"/c/{conversation.pk}/")
    memories = get(ada_client, "/memories/")
    settings_page = get(ada_client, "/accounts/settings/")
    for where, page in (("chat", room), ("memories", memories), ("settings", settings_page)):
        assert_inert(page, where=where)
    assert conversation.title in shown(room) and payload.strip() in shown(memories)
    assert payload in shown(settings_page)


ADMIN_PAGES = [
    "/admin/chat/conversation/",
    "/admin/chat/message/",
    "/admin/chat/message/?model__exact={model}",
    "/admin/chat/dailysummary/",
    "/admin/memory/memory/",
    "/admin/memory/portrait/",
    "/admin/accounts/profile/",
    "/admin/chat/conversation/{conversation}/change/",
    "/admin/chat/message/{message}/change/",
    "/admin/chat/message/{failed}/change/",
    "/admin/chat/dailysummary/{summary}/change/",
    "/admin/memory/memory/{memory}/change/",
    "/admin/memory/portrait/{portrait}/change/",
    "/admin/accounts/profile/{profile}/change/",
    "/admin/accounts/user/{user}/change/",
]


def test_every_payload_shows_escaped_in_the_admin(ada_imported, admin_client_):
    rows = {
        "conversation": Conversation.objects.filter(user=ada_imported).order_by("pk").first().pk,
        "message": Message.objects.filter(role="assistant", status="complete").first().pk,
        "failed": Message.objects.filter(status="failed").first().pk,
        "model": TEXTS[1],
        "summary": DailySummary.objects.filter(user=ada_imported).first().pk,
        "memory": Memory.objects.filter(user=ada_imported).first().pk,
        "portrait": Portrait.objects.get(user=ada_imported).pk,
        "profile": Profile.objects.get(user=ada_imported).pk,
        "user": ada_imported.pk,
    }
    seen = ""
    for template in ADMIN_PAGES:
        path = template.format(**rows)
        page = get(admin_client_, path)
        assert_inert(page, where=path)
        seen += shown(page)
    search = get(admin_client_, "/admin/memory/memory/", {"q": TEXTS[2]})
    assert_inert(search, where="the admin's search")
    for payload in TEXTS:
        assert payload in seen, payload


def finished_bubble(frame: str) -> bool:
    return (
        'hx-swap-oob="true"' in frame
        and 'data-status="streaming"' not in frame
        and "<article" in frame
    )


async def test_a_streamed_reply_and_its_recalled_memories_stay_text(ollama, transactional_db):
    reply = "\n\n".join(TEXTS)
    ollama.reply = reply
    user = await database_sync_to_async(
        lambda: User.objects.create_user(username="eve@example.test", email="eve@example.test")
    )()
    for payload in TEXTS[:5]:
        await database_sync_to_async(memory_create)(
            user=user, text=f"alert pwned {payload}", said_at=timezone.now(), importance=0.9,
            kind="fact",
        )  # fmt: skip
    conversation = await database_sync_to_async(Conversation.objects.create)(user=user)
    socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/chat/{conversation.pk}/")
    socket.scope["user"] = user
    assert (await socket.connect())[0]

    await socket.send_to(text_data=json.dumps({"message": "alert pwned " + " ".join(TEXTS[:3])}))
    frames = [await socket.receive_from(timeout=30)]
    while not finished_bubble(frames[-1]):
        frames.append(await socket.receive_from(timeout=30))
    await socket.disconnect()

    for frame in frames:
        assert_inert(frame, where="a websocket frame")
    streamed = "".join(html.unescape(m.group(1)) for f in frames for m in TOKEN.finditer(f))
    assert streamed == reply  # token by token, each escaped
    finished = await database_sync_to_async(
        lambda: Message.objects.get(conversation=conversation, role="assistant")
    )()
    assert finished.status == "complete" and finished.recalled
    assert "recalled-text" in frames[-1]
    assert finished.recalled[0]["text"] in shown(frames[-1])


@pytest.mark.parametrize("payload", TEXTS, ids=IDS)
def test_markdown_keeps_no_script_handler_or_javascript_url(payload):
    assert injected(markdown_render(payload)) == []


# Payloads that are only dangerous through Markdown or as plain text; the rest are HTML.
NOT_HTML = {
    "attr-break-unquoted", "markdown-js-link", "markdown-js-autolink", "markdown-entity-scheme",
    "markdown-img", "entities", "template", "nested-script",
}  # fmt: skip


@pytest.mark.parametrize(
    "payload", [p for name, p in PAYLOADS if name not in NOT_HTML], ids=lambda p: p[:20]
)
def test_the_check_catches_each_html_payload_left_raw(payload):
    # The inert check is only worth something if an unescaped payload fails it.
    assert injected(f"<p>{payload}</p>")


def test_the_check_catches_an_unquoted_attribute_and_a_javascript_link():
    assert injected("<input value=x onmouseover=alert(6) id=pwned-6>")
    assert injected('<a href=" JaVaScRiPt:alert(8)">x</a>')
