"""The memory page: the person's own memories, searched, sorted, paged, edited and forgotten."""

import html
import re
from datetime import timedelta

import numpy
import pytest
from django.urls import reverse
from django.utils import timezone

from chat.models import Conversation, Message
from memory.models import Memory, Portrait
from memory.services import memory_consolidate, memory_create

pytestmark = pytest.mark.django_db

NOW = timezone.now()
HTMX = {"HX-Request": "true"}


@pytest.fixture
def ada(django_user_model):
    return django_user_model.objects.create_user(username="ada", email="ada@example.test")


@pytest.fixture
def eve(django_user_model):
    return django_user_model.objects.create_user(username="eve", email="eve@example.test")


@pytest.fixture
def ada_client(client, ada):
    client.force_login(ada)
    return client


def remember(user, text):
    return memory_consolidate(user=user, text=text, said_at=timezone.now())


def memory(user, text, *, kind="fact", importance=0.5, days_ago=0, strength=None, **extra):
    row = memory_create(
        user=user,
        text=text,
        said_at=NOW - timedelta(days=days_ago),
        importance=importance,
        kind=kind,
        vector=numpy.array([1.0] + [0.0] * 383),
    )
    if strength is not None or extra:
        Memory.objects.filter(pk=row.pk).update(
            **({"strength": strength} if strength else {}), **extra
        )
        row.refresh_from_db()
    return row


def page_texts(response) -> list[str]:
    """The memory texts shown, in order (read from the HTML: partials carry no context)."""
    found = re.findall(
        r'<p class="memory-text">(?:<s>)?(.*?)(?:</s>)?</p>', response.content.decode()
    )
    return [html.unescape(text) for text in found]


def test_lists_only_my_memories_as_text(ada_client, ada, eve):
    remember(ada, "I love <b>jazz</b> and my dog <script>x()</script> Rex")
    remember(eve, "My secret is that I love opera")
    page = ada_client.get(reverse("memory:index")).content.decode()
    assert "&lt;b&gt;jazz&lt;/b&gt;" in page and "<script>x()" not in page
    assert "opera" not in page


def test_the_old_address_redirects_permanently(ada_client):
    response = ada_client.get("/memory/?kind=fact")
    assert response.status_code == 301
    assert response.url == "/memories/?kind=fact"


def test_htmx_gets_only_the_list(ada_client, ada):
    memory(ada, "My sister Anna lives in Berlin")
    partial = ada_client.get(reverse("memory:index"), {"q": "anna"}, headers=HTMX)
    body = partial.content.decode().strip()
    assert body.startswith('<div id="memory-list"') and "<html" not in body
    assert "Anna lives in Berlin" in body


def test_search_matches_every_word_of_live_memories(ada_client, ada):
    memory(ada, "My sister Anna lives in Berlin")
    memory(ada, "Anna plays the cello")
    old = memory(ada, "Anna lived in Paris")
    new = memory(ada, "Anna moved to Berlin")
    Memory.objects.filter(pk=old.pk).update(superseded_by=new)
    response = ada_client.get(reverse("memory:index"), {"q": "anna BERLIN"})
    assert sorted(page_texts(response)) == [
        "Anna moved to Berlin",
        "My sister Anna lives in Berlin",
    ]
    response = ada_client.get(reverse("memory:index"), {"q": "paris"})
    assert page_texts(response) == []
    response = ada_client.get(reverse("memory:index"), {"q": "paris", "history": "1"})
    assert page_texts(response) == ["Anna lived in Paris"]
    assert "<s>Anna lived in Paris</s>" in response.content.decode()


def test_merged_memories_are_hidden_unless_history_is_shown(ada_client, ada):
    kept = memory(ada, "I like tea")
    folded = memory(ada, "I enjoy a cup of tea")
    Memory.objects.filter(pk=folded.pk).update(merged_into=kept)
    assert page_texts(ada_client.get(reverse("memory:index"))) == ["I like tea"]
    shown = ada_client.get(reverse("memory:index"), {"history": "1"})
    assert sorted(page_texts(shown)) == ["I enjoy a cup of tea", "I like tea"]
    assert "merged into another memory" in shown.content.decode()


def test_kind_filter(ada_client, ada):
    memory(ada, "I prefer window seats", kind="preference")
    memory(ada, "I was born in Porto", kind="fact")
    response = ada_client.get(reverse("memory:index"), {"kind": "preference"})
    assert page_texts(response) == ["I prefer window seats"]
    everything = ada_client.get(reverse("memory:index"), {"kind": "no-such-kind"})
    assert len(page_texts(everything)) == 2


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("importance", ["vital", "middling", "trivial"]),
        ("strength", ["trivial", "vital", "middling"]),
        ("recent", ["middling", "trivial", "vital"]),
        ("nonsense", ["middling", "trivial", "vital"]),
    ],
)
def test_each_sort(ada_client, ada, sort, expected):
    memory(ada, "vital", importance=0.9, days_ago=3, strength=20.0)
    memory(ada, "middling", importance=0.5, days_ago=1, strength=5.0)
    memory(ada, "trivial", importance=0.1, days_ago=2, strength=50.0)
    response = ada_client.get(reverse("memory:index"), {"sort": sort})
    assert page_texts(response) == expected


def test_paging_keeps_the_filters(ada_client, ada):
    for i in range(25):
        memory(ada, f"fact number {i}", days_ago=i)
    memory(ada, "I prefer tea", kind="preference")
    first = ada_client.get(reverse("memory:index"), {"kind": "fact"})
    assert len(page_texts(first)) == 20 and page_texts(first)[0] == "fact number 0"
    body = first.content.decode()
    assert "Page 1 of 2" in body and "?kind=fact&amp;page=2" in body
    second = ada_client.get(reverse("memory:index"), {"kind": "fact", "page": 2}, headers=HTMX)
    assert page_texts(second) == [f"fact number {i}" for i in range(20, 25)]
    beyond = ada_client.get(reverse("memory:index"), {"kind": "fact", "page": 99})
    assert page_texts(beyond) == page_texts(second)


def test_each_memory_shows_its_source_and_retention_curve(ada_client, ada):
    conversation = Conversation.objects.create(user=ada)
    said = Message.objects.create(conversation=conversation, role="user", content="I fly Friday")
    row = memory(ada, "I fly Friday", days_ago=5, source_message_id=said.pk)
    Memory.objects.filter(pk=row.pk).update(
        last_accessed_at=NOW - timedelta(days=2), access_count=1
    )
    body = ada_client.get(reverse("memory:index")).content.decode()
    assert f'href="{reverse("chat:message", args=[said.pk])}"' in body
    assert '<svg class="retention"' in body and '<title id="retention-' in body
    assert '<polyline points="' in body
    assert "<title>said</title>" in body and "<title>last recalled</title>" in body
    room = ada_client.get(reverse("chat:message", args=[said.pk]))
    assert room.url == f"{conversation.get_absolute_url()}#message-{said.pk}"


def test_portrait_shows_at_the_top(ada_client, ada):
    Portrait.objects.create(user=ada, text="Ada is a <i>nurse</i> who loves jazz.", memory_count=3)
    body = ada_client.get(reverse("memory:index")).content.decode()
    assert "Ada is a &lt;i&gt;nurse&lt;/i&gt; who loves jazz." in body
    assert body.index("How PIPO sees you") < body.index('id="memory-list"')


def test_edit_rewrites_the_text(ada_client, ada):
    row = memory(ada, "I live in Lisbon")
    form = ada_client.get(reverse("memory:edit", args=[row.pk]), headers=HTMX)
    assert form.content.decode().strip().startswith(f'<li id="memory-{row.pk}"')
    assert "<textarea" in form.content.decode()
    saved = ada_client.post(
        reverse("memory:edit", args=[row.pk]), {"text": "  I live in Porto  "}, headers=HTMX
    )
    assert saved.status_code == 200
    assert "I live in Porto" in saved.content.decode()
    row.refresh_from_db()
    assert row.text == "I live in Porto" and "I live in Porto" in row.key_text
    without_js = ada_client.post(reverse("memory:edit", args=[row.pk]), {"text": "I live in Faro"})
    assert without_js.url == reverse("memory:index")


@pytest.mark.parametrize("text", ["", "   \n "])
def test_edit_to_empty_text_is_refused(ada_client, ada, text):
    row = memory(ada, "I live in Lisbon")
    response = ada_client.post(reverse("memory:edit", args=[row.pk]), {"text": text}, headers=HTMX)
    assert response.status_code == 422
    assert "can&#x27;t be empty" in response.content.decode()
    row.refresh_from_db()
    assert row.text == "I live in Lisbon"


def test_pin_and_unpin(ada_client, ada):
    row = memory(ada, "My blood type is O negative")
    pinned = ada_client.post(reverse("memory:pin", args=[row.pk]), {"pinned": "1"}, headers=HTMX)
    assert "Unpin" in pinned.content.decode()
    row.refresh_from_db()
    assert row.pinned
    ada_client.post(reverse("memory:pin", args=[row.pk]), {"pinned": "0"})
    row.refresh_from_db()
    assert not row.pinned


def test_forget_one(ada_client, ada):
    row = memory(ada, "I am allergic to peanuts")
    response = ada_client.post(reverse("memory:forget", args=[row.pk]), headers=HTMX)
    assert response.status_code == 200 and response.content == b""
    assert not Memory.objects.filter(pk=row.pk).exists()


def test_someone_elses_memory_is_404_everywhere(ada_client, eve):
    theirs = memory(eve, "I am allergic to cats")
    conversation = Conversation.objects.create(user=eve)
    their_message = Message.objects.create(conversation=conversation, role="user", content="hi")
    for response in (
        ada_client.get(reverse("memory:edit", args=[theirs.pk])),
        ada_client.post(reverse("memory:edit", args=[theirs.pk]), {"text": "mine now"}),
        ada_client.post(reverse("memory:pin", args=[theirs.pk]), {"pinned": "1"}),
        ada_client.post(reverse("memory:forget", args=[theirs.pk])),
        ada_client.get(reverse("chat:message", args=[their_message.pk])),
    ):
        assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.text == "I am allergic to cats" and not theirs.pinned


def test_forget_all_needs_the_typed_word(ada_client, ada, eve):
    memory(ada, "I live in Lisbon")
    memory(ada, "I like tea")
    memory(eve, "I like coffee")
    Portrait.objects.create(user=ada, text="Ada lives in Lisbon.")
    confirm = ada_client.get(reverse("memory:forget_all"))
    assert "Type <strong>FORGET</strong>" in confirm.content.decode()
    for word in ("", "yes", "forge"):
        refused = ada_client.post(reverse("memory:forget_all"), {"confirm": word})
        assert refused.status_code == 422 and "Nothing was forgotten" in refused.content.decode()
    assert Memory.objects.filter(user=ada).count() == 2
    done = ada_client.post(reverse("memory:forget_all"), {"confirm": "forget"}, follow=True)
    assert "PIPO forgot 2 memories" in done.content.decode()
    assert not Memory.objects.filter(user=ada).exists()
    assert not Portrait.objects.filter(user=ada).exists()
    assert Memory.objects.filter(user=eve).count() == 1
