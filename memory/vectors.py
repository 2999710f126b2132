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


_clients: dict[tuple[str, ...], ClientAPI] = {}
_clients_lock = threading.Lock()


def vector_store_backend() -> str:
    if settings.CHROMA_URL:
        return f"Chroma server at {settings.CHROMA_URL}"
    return f"embedded Chroma in {settings.CHROMA_PATH}"


def _client_create() -> ClientAPI:
    # Telemetry off: PIPO is private by default and this machine may have no network.
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.CHROMA_URL and settings.CHROMA_AUTH_TOKEN:
        chroma_settings = ChromaSettings(
            anonymized_telemetry=False,
            allow_reset=False,
            chroma_client_auth_provider="chromadb.auth.token_authn.TokenAuthClientProvider",
            chroma_client_auth_credentials=settings.CHROMA_AUTH_TOKEN,
            chroma_auth_token_transport_header=settings.CHROMA_AUTH_TOKEN_HEADER,
        )
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
        f"PIPO can't reach its vector store ({vector_store_backend()}): {str(exc)[:300]}"
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


def _store_key() -> tuple[str, ...]:
    return (
        settings.CHROMA_URL,
        str(settings.CHROMA_PATH),
        settings.CHROMA_AUTH_TOKEN,
        settings.CHROMA_AUTH_TOKEN_HEADER,
    )


def chroma_client() -> ClientAPI:
    """The process-wide client for the configured Chroma; raises VectorStoreUnavailable."""
    key = _store_key()
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


_collections: dict[tuple[str, ...], Collection] = {}


def _collection(name: str) -> Collection:
    key = (*_store_key(), name)
    collection = _collections.get(key)
    if collection is None:
        with _chroma_errors():
            collection = chroma_client().get_or_create_collection(
                name=name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
            )
        _collections[key] = collection
    return collection


def vectors_upsert(*, collection: str, ids: list[int], vectors: list[list[float]]) -> None:
    if not ids:
        return
    with _chroma_errors():
        _collection(collection).upsert(ids=[str(i) for i in ids], embeddings=vectors)


def vectors_delete(*, collection: str, ids: list[int]) -> None:
    if not ids:
        return
    with _chroma_errors():
        _collection(collection).delete(ids=[str(i) for i in ids])


def vectors_nearest(*, collection: str, vector: list[float], n: int) -> list[tuple[int, float]]:
    """Up to n (memory id, cosine similarity) pairs, nearest first."""
    with _chroma_errors():
        # No count() first: Chroma returns fewer (or no) results by itself, and the extra
        # call cost 12 ms at 100k vectors (a second round trip on the server).
        found = _collection(collection).query(
            query_embeddings=[vector], n_results=n, include=["distances"]
        )
    return [(int(i), 1.0 - d) for i, d in zip(found["ids"][0], found["distances"][0], strict=True)]


def vectors_ids(*, collection: str) -> set[int]:
    with _chroma_errors():
        return {int(i) for i in _collection(collection).get(include=[])["ids"]}


def collection_reset(*, name: str, metadata: dict) -> None:
    """Drop and recreate a collection (reindex): no vector of an old model survives."""
    with _chroma_errors():
        client = chroma_client()
        if name in {c.name for c in client.list_collections()}:
            client.delete_collection(name)
    for key in [k for k in _collections if k[-1] == name]:
        del _collections[key]
    collection_get_or_create(name=name, metadata=metadata)


def collection_delete(*, name: str) -> None:
    with _chroma_errors():
        client = chroma_client()
        if name in {c.name for c in client.list_collections()}:
            client.delete_collection(name)
    for key in [k for k in _collections if k[-1] == name]:
        del _collections[key]
