"""The memory page: the person's own memories, as text, and forgetting."""

import pytest
from django.urls import reverse
from django.utils import timezone

from memory.models import Memory
from memory.services import memory_consolidate

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(django_user_model):
    return django_user_model.objects.create_user(username="ada", email="ada@example.test")


def remember(user, text):
    return memory_consolidate(user=user, text=text, said_at=timezone.now())


def test_lists_only_my_memories_as_text(client, ada, django_user_model):
    eve = django_user_model.objects.create_user(username="eve", email="eve@example.test")
    remember(ada, "I love <b>jazz</b> and my dog <script>x()</script> Rex")
    remember(eve, "My secret is that I love opera")
    client.force_login(ada)
    page = client.get(reverse("memory:index")).content.decode()
    assert "&lt;b&gt;jazz&lt;/b&gt;" in page and "<script>x()" not in page
    assert "opera" not in page
    partial = client.get(
        reverse("memory:index"), {"kind": "preference"}, headers={"HX-Request": "true"}
    )
    assert partial.content.decode().lstrip().startswith('<ul id="memory-list"')


def test_forget_my_memory_but_not_someone_elses(client, ada, django_user_model):
    eve = django_user_model.objects.create_user(username="eve", email="eve@example.test")
    mine = remember(ada, "I am allergic to peanuts")
    theirs = remember(eve, "I am allergic to cats")
    client.force_login(ada)
    client.post(reverse("memory:forget", args=[theirs.pk]))
    assert Memory.objects.filter(pk=theirs.pk).exists()
    response = client.post(reverse("memory:forget", args=[mine.pk]), headers={"HX-Request": "true"})
    assert response.status_code == 200 and response.content == b""
    assert not Memory.objects.filter(pk=mine.pk).exists()
