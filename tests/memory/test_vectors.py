"""The Chroma mirror on both backends: embedded PersistentClient and a `chroma run` server."""

import pytest

from accounts.models import User
from memory.selectors import memory_space_exists
from memory.services import memory_space_allocate
from memory.vectors import VectorStoreUnavailable, chroma_client, vector_store_heartbeat


@pytest.fixture(params=["embedded", "server"])
def chroma_backend(request, settings, tmp_path):
    if request.param == "server":
        settings.CHROMA_URL = request.getfixturevalue("chroma_server")
    else:
        settings.CHROMA_URL = ""
        settings.CHROMA_PATH = tmp_path / "chroma"
    return request.param


def test_memory_space_is_allocated_once(chroma_backend):
    owner = User(pk=7, username="ada")
    memory_space_allocate(user=owner, name="pipo-test-space-once")
    memory_space_allocate(user=owner, name="pipo-test-space-once")

    collections = chroma_client().list_collections()
    matching = [c for c in collections if c.name == "pipo-test-space-once"]
    assert len(matching) == 1
    assert matching[0].metadata["owner_id"] == "7"
    assert memory_space_exists(name="pipo-test-space-once")
    assert not memory_space_exists(name="pipo-test-space-missing")


def test_unreachable_server_names_where_pipo_looked(settings):
    settings.CHROMA_URL = "http://127.0.0.1:9"
    with pytest.raises(VectorStoreUnavailable, match=r"Chroma server at http://127.0.0.1:9"):
        vector_store_heartbeat()
    with pytest.raises(VectorStoreUnavailable):
        memory_space_allocate(user=User(pk=1, username="x"), name="pipo-never-made")
