"""Chroma goes down and comes back: nothing is lost, and vectors end up equal to rows."""

import pytest
from django.utils import timezone

from memory.models import Memory
from memory.services import (
    memory_consolidate,
    memory_recall,
    memory_space_for,
    memory_vectors_resync,
)
from memory.vectors import vectors_ids
from pipo.status import status_vector_store
from tests.conftest import chroma_start, free_port, stop_process

pytestmark = pytest.mark.django_db


@pytest.fixture
def restartable_chroma(settings, tmp_path):
    port = free_port()
    servers = {"process": chroma_start(tmp_path, port)}
    settings.CHROMA_URL = f"http://127.0.0.1:{port}"

    def stop():
        stop_process(servers["process"])

    def start():
        servers["process"] = chroma_start(tmp_path, port)

    yield stop, start
    stop()


def test_writes_wait_while_chroma_is_down_and_resync_after(restartable_chroma, django_user_model):
    stop, start = restartable_chroma
    ada = django_user_model.objects.create_user(username="ada", email="ada@example.test")
    said = timezone.now()
    before = memory_consolidate(user=ada, text="My brother Tom is a chef in Porto", said_at=said)

    stop()
    during = memory_consolidate(
        user=ada, text="I am allergic to peanuts and shellfish", said_at=said
    )
    assert during is not None
    during.refresh_from_db()
    assert during.vector_status == Memory.VectorStatus.PENDING
    assert not status_vector_store().ok
    recalled = memory_recall(user=ada, query="peanuts allergy", k=3)  # lexical only, no error
    assert recalled[0].id == during.pk
    assert memory_vectors_resync() == 0

    start()
    assert memory_vectors_resync() == 1
    during.refresh_from_db()
    assert during.vector_status == Memory.VectorStatus.SYNCED
    collection = memory_space_for(user=ada).collection
    assert vectors_ids(collection=collection) == {before.pk, during.pk}
    assert set(Memory.objects.values_list("pk", flat=True)) == {before.pk, during.pk}
