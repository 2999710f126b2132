"""The memory admin: list, filters, search, actions, HTML shown as text."""

import pytest
from django.urls import reverse
from django.utils import timezone

from memory.models import Memory
from memory.services import memory_consolidate

pytestmark = pytest.mark.django_db


@pytest.fixture
def memory(admin_user):
    return memory_consolidate(
        user=admin_user,
        text="<b>I love</b> <script>alert(1)</script> hiking with my dog",
        said_at=timezone.now(),
        source_message_id=42,
    )


def test_list_shows_memories_with_retention_and_escapes_html(admin_client, memory):
    page = admin_client.get(reverse("admin:memory_memory_changelist")).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    assert "1.00" in page  # retention of a memory said just now
    assert "synced" in page.lower()
    found = admin_client.get(reverse("admin:memory_memory_changelist"), {"q": "hiking"})
    assert "hiking" in found.content.decode()
    filtered = admin_client.get(reverse("admin:memory_memory_changelist"), {"kind": "plan"})
    assert "hiking" not in filtered.content.decode()


def test_change_page_links_the_source_message(admin_client, memory):
    page = admin_client.get(reverse("admin:memory_memory_change", args=[memory.pk]))
    assert reverse("admin:chat_message_change", args=[42]) in page.content.decode()


@pytest.mark.parametrize(
    ("action", "check"),
    [
        ("pin", lambda m: m.pinned),
        ("reinforce", lambda m: m.access_count == 1),
    ],
)
def test_actions(admin_client, memory, action, check):
    response = admin_client.post(
        reverse("admin:memory_memory_changelist"),
        {"action": action, "_selected_action": [memory.pk]},
    )
    assert response.status_code == 302
    assert check(Memory.objects.get(pk=memory.pk))


def test_forget_action_deletes_the_memory(admin_client, memory):
    admin_client.post(
        reverse("admin:memory_memory_changelist"),
        {"action": "forget", "_selected_action": [memory.pk]},
    )
    assert not Memory.objects.exists()
