"""The Chroma mirror on both backends: embedded PersistentClient and a `chroma run` server."""

import pytest

from memory.models import MemorySpace
from memory.selectors import memory_space_exists
from memory.services import memory_space_allocate
from memory.vectors import VectorStoreUnavailable, chroma_client, vector_store_heartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["embedded", "server"])
def chroma_backend(request, settings, tmp_path):
    if request.param == "server":
        settings.CHROMA_URL = request.getfixturevalue("chroma_server")
    else:
        settings.CHROMA_URL = ""
        settings.CHROMA_PATH = tmp_path / "chroma"
    return request.param


def test_memory_space_is_allocated_once(chroma_backend, django_user_model):
    owner = django_user_model.objects.create_user(username="ada", email="ada@example.test")
    memory_space_allocate(user=owner, name="pipo-test-space-once")
    memory_space_allocate(user=owner, name="pipo-test-space-once")

    collections = chroma_client().list_collections()
    matching = [c for c in collections if c.name == "pipo-test-space-once"]
    assert len(matching) == 1
    assert matching[0].metadata["owner_id"] == str(owner.pk)
    assert matching[0].metadata["embedding_model"] == "all-MiniLM-L6-v2"
    assert MemorySpace.objects.get(user=owner).collection == "pipo-test-space-once"
    assert memory_space_exists(name="pipo-test-space-once")
    assert not memory_space_exists(name="pipo-test-space-missing")


def test_unreachable_server_names_where_pipo_looked(settings, django_user_model):
    owner = django_user_model.objects.create_user(username="ada", email="ada@example.test")
    settings.CHROMA_URL = "http://127.0.0.1:9"
    with pytest.raises(VectorStoreUnavailable, match=r"Chroma server at http://127.0.0.1:9"):
        vector_store_heartbeat()
    with pytest.raises(VectorStoreUnavailable):
        memory_space_allocate(user=owner, name="pipo-never-made")
