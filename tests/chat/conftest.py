import pytest

from memory.embeddings import embed_texts


@pytest.fixture(scope="session", autouse=True)
def _embedder_loaded():
    # Recall runs before every reply; loading MiniLM the first time takes seconds on a busy
    # machine, which would eat a websocket test's receive timeout. Load it once up front.
    embed_texts(["warm up"])
