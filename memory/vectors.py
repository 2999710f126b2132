"""The Chroma mirror: one client per process, one collection per person.

Chroma is a mirror of the database (DESIGN §2): nothing here is the source of truth.
`CHROMA_URL` points at a Chroma server (`chroma run`); without it an embedded
PersistentClient keeps its files under `CHROMA_PATH`.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import chromadb
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings
from django.conf import settings


class VectorStoreUnavailable(Exception):
    """Chroma did not answer; the message names where PIPO looked for it."""


_clients: dict[tuple[str, str], ClientAPI] = {}
_clients_lock = threading.Lock()


def vector_store_backend() -> str:
    if settings.CHROMA_URL:
        return f"Chroma server at {settings.CHROMA_URL}"
    return f"embedded Chroma in {settings.CHROMA_PATH}"


def _client_create() -> ClientAPI:
    # Telemetry off: PIPO is private by default and this machine may have no network.
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.CHROMA_URL:
        parts = urlsplit(settings.CHROMA_URL)
        return chromadb.HttpClient(
            host=parts.hostname or "localhost",
            port=parts.port or (443 if parts.scheme == "https" else 8000),
            ssl=parts.scheme == "https",
            settings=chroma_settings,
        )
    settings.CHROMA_PATH.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.CHROMA_PATH), settings=chroma_settings)


def _unavailable(exc: Exception) -> VectorStoreUnavailable:
    return VectorStoreUnavailable(
        f"PIPO can't reach its vector store ({vector_store_backend()}): {exc}"
    )


@contextmanager
def _chroma_errors() -> Iterator[None]:
    # chromadb raises bare ValueError, httpx and Rust binding errors when it can't connect.
    try:
        yield
    except VectorStoreUnavailable:
        raise
    except Exception as exc:
        raise _unavailable(exc) from exc


def chroma_client() -> ClientAPI:
    """The process-wide client for the configured Chroma; raises VectorStoreUnavailable."""
    key = (settings.CHROMA_URL, str(settings.CHROMA_PATH))
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            with _chroma_errors():
                client = _client_create()
            _clients[key] = client
    return client


def vector_store_heartbeat() -> None:
    with _chroma_errors():
        chroma_client().heartbeat()


def collection_get_or_create(*, name: str, metadata: dict) -> Collection:
    """Idempotent: two callers racing on one name both get the same collection."""
    with _chroma_errors():
        return chroma_client().get_or_create_collection(
            name=name,
            metadata=metadata,
            configuration={"hnsw": {"space": "cosine"}},
            # No default embedding function: it would try to download a model. PIPO always
            # passes its own embeddings.
            embedding_function=None,
        )


def collection_exists(*, name: str) -> bool:
    with _chroma_errors():
        return name in {c.name for c in chroma_client().list_collections()}
