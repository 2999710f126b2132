"""The chat pages: sidebar, new, rename, delete, history, model picker."""

import pytest
from django.urls import reverse

from chat.models import Conversation, Message
from pipo import llm

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_model_list():
    llm._model_names_cache.clear()
    yield
    llm._model_names_cache.clear()


@pytest.fixture
def ada(django_user_model):
    return django_user_model.objects.create_user(
        username="ada@example.test", email="ada@example.test", password="pw-123456789"
    )


@pytest.fixture
def ada_client(client, ada):
    client.force_login(ada)
    return client


def test_index_without_conversations_offers_to_start_one(ada_client):
    page = ada_client.get("/")
    assert page.status_code == 200
    assert b"Start a conversation" in page.content


def test_new_conversation_opens_its_room(ada_client, ada):
    response = ada_client.post(reverse("chat:new"))
    conversation = Conversation.objects.get(user=ada)
    assert response.url == conversation.get_absolute_url()
    page = ada_client.get(response.url)
    assert page.status_code == 200
    assert f'ws-connect="/ws/chat/{conversation.pk}/"'.encode() in page.content
    assert ada_client.get("/").url == conversation.get_absolute_url()


def test_room_shows_history_and_its_partial_only_the_messages(ada_client, ada):
    conversation = Conversation.objects.create(user=ada, title="Cats")
    Message.objects.create(conversation=conversation, role="user", content="<b>Miso</b>")
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        content="A **fine** cat",
        reply_tokens=4,
        duration_ms=400,
        first_token_ms=100,
    )
    page = ada_client.get(conversation.get_absolute_url())
    assert b"&lt;b&gt;Miso&lt;/b&gt;" in page.content
    assert b"<strong>fine</strong>" in page.content
    assert b"4 tokens" in page.content
    partial = ada_client.get(conversation.get_absolute_url(), headers={"HX-Request": "true"})
    body = partial.content.decode().strip()
    assert body.startswith('<div id="messages"') and "<html" not in body


def test_an_empty_rooms_partial_still_names_the_model(ada_client, ada, settings):
    # The page reloads #messages when its socket opens; the hint must survive that.
    settings.OLLAMA_MODEL = "mistral"
    conversation = Conversation.objects.create(user=ada)
    partial = ada_client.get(conversation.get_absolute_url(), headers={"HX-Request": "true"})
    assert "PIPO answers with mistral on your own machine" in partial.content.decode()


def test_someone_elses_conversation_is_404(ada_client, django_user_model):
    eve = django_user_model.objects.create_user(username="eve", email="eve@example.test")
    theirs = Conversation.objects.create(user=eve, title="Secret")
    for response in (
        ada_client.get(theirs.get_absolute_url()),
        ada_client.post(reverse("chat:rename", args=[theirs.pk]), {"title": "Mine now"}),
        ada_client.post(reverse("chat:delete", args=[theirs.pk])),
    ):
        assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.title == "Secret"


def test_rename_with_htmx_returns_the_sidebar_item(ada_client, ada):
    conversation = Conversation.objects.create(user=ada, title="Old")
    url = reverse("chat:rename", args=[conversation.pk])
    form = ada_client.get(url, headers={"HX-Request": "true"})
    assert b'name="title"' in form.content
    response = ada_client.post(
        url, {"title": "  Trip   to Lisbon "}, headers={"HX-Request": "true"}
    )
    assert b"Trip to Lisbon" in response.content
    assert response.content.decode().lstrip().startswith(f'<li id="conversation-{conversation.pk}"')
    conversation.refresh_from_db()
    assert conversation.title == "Trip to Lisbon"


@pytest.mark.parametrize(
    ("title", "says"), [("   ", b"can&#x27;t be empty"), ("x" * 121, b"at most 120")]
)
def test_bad_titles_are_refused_inline(ada_client, ada, title, says):
    conversation = Conversation.objects.create(user=ada, title="Keep")
    response = ada_client.post(reverse("chat:rename", args=[conversation.pk]), {"title": title})
    assert response.status_code == 200
    assert says in response.content
    conversation.refresh_from_db()
    assert conversation.title == "Keep"


def test_delete_removes_the_conversation_and_its_messages(ada_client, ada):
    conversation = Conversation.objects.create(user=ada, title="Gone")
    Message.objects.create(conversation=conversation, role="user", content="bye")
    response = ada_client.post(
        reverse("chat:delete", args=[conversation.pk]), headers={"HX-Request": "true"}
    )
    assert response["HX-Redirect"] == "/"
    assert not Conversation.objects.exists() and not Message.objects.exists()
    page = ada_client.get(reverse("chat:index"))
    assert b"hx-confirm" not in page.content or b"Gone" not in page.content


def test_delete_asks_for_confirmation(ada_client, ada):
    conversation = Conversation.objects.create(user=ada, title="Cats")
    page = ada_client.get(conversation.get_absolute_url())
    assert 'hx-confirm="Delete “Cats” and all its messages?'.encode() in page.content


def test_model_picker_lists_ollama_models(ada_client, ada, ollama):
    ollama.models = ("mistral:latest", "llama3.2:3b")
    conversation = Conversation.objects.create(user=ada)
    page = ada_client.get(conversation.get_absolute_url()).content.decode()
    assert '<option value="llama3.2:3b"' in page
    assert '<option value="mistral" selected>' in page


def test_model_picker_falls_back_to_the_setting_when_ollama_is_down(ada_client, ada):
    conversation = Conversation.objects.create(user=ada)
    page = ada_client.get(conversation.get_absolute_url()).content.decode()
    assert '<option value="mistral" selected>mistral</option>' in page


def test_admin_lists_conversations_and_messages(admin_client, ada):
    conversation = Conversation.objects.create(user=ada, title="Cats")
    Message.objects.create(conversation=conversation, role="user", content="Miso")
    assert b"Cats" in admin_client.get(reverse("admin:chat_conversation_changelist")).content
    assert (
        b"Miso"
        in admin_client.get(
            reverse("admin:chat_conversation_change", args=[conversation.pk])
        ).content
    )
    assert admin_client.get(reverse("admin:chat_message_changelist")).status_code == 200


def test_a_message_that_became_a_memory_is_marked_noted(ada_client, ada):
    from chat.tasks import message_consolidate

    conversation = Conversation.objects.create(user=ada, title="Me")
    kept = Message.objects.create(
        conversation=conversation, role="user", content="I am allergic to peanuts"
    )
    small = Message.objects.create(conversation=conversation, role="user", content="thanks!")
    assert message_consolidate(kept.pk) == "kept"
    assert message_consolidate(small.pk) == "skipped"
    page = ada_client.get(conversation.get_absolute_url()).content.decode()
    assert page.count("✓ noted") == 1


def test_recalled_memories_with_html_render_as_text(ada_client, ada):
    conversation = Conversation.objects.create(user=ada)
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        content="ok",
        recalled=[{"id": 1, "text": "<script>alert(1)</script>", "score": 0.9, "parts": {}}],
    )
    page = ada_client.get(conversation.get_absolute_url()).content.decode()
    assert "recalled 1 memory" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
