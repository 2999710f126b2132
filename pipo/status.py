"""Which backend each part of PIPO uses, and whether it answers (`pipo_status`, /status/).

This sits at the top of the dependency ladder, beside urls.py: it asks each part.
"""

from collections.abc import Callable
from dataclasses import dataclass

import httpx
import redis
from django.conf import settings
from django.db import connection

from memory.embeddings import embedder
from memory.scoring import scorer
from memory.selectors import memory_vector_backlog
from memory.training import training_progress
from memory.vectors import VectorStoreUnavailable, vector_store_backend, vector_store_heartbeat
from pipo.llm import LLMUnavailable, llm_status

TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class ComponentStatus:
    part: str
    backend: str
    ok: bool
    detail: str


def status_database() -> ComponentStatus:
    db = settings.DATABASES["default"]
    if connection.vendor == "sqlite":
        backend = f"SQLite file {db['NAME']}"
    else:
        where = f"{db.get('HOST') or 'local socket'}:{db.get('PORT') or 5432}"
        backend = f"{connection.display_name} at {where}/{db['NAME']}"
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return ComponentStatus("database", backend, False, f"not answering: {exc}")
    return ComponentStatus("database", backend, True, "answering")


def status_redis() -> ComponentStatus:
    part = "short-term buffer, channel layer, task broker"
    if not settings.REDIS_URL:
        return ComponentStatus(
            part,
            "embedded: database buffer, in-memory channel layer, django-q2 ORM broker",
            True,
            "in-process (set REDIS_URL for Redis)",
        )
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=TIMEOUT_SECONDS)
    backend = f"Redis at {_redacted(settings.REDIS_URL)}"
    try:
        client.ping()
    except redis.RedisError as exc:
        return ComponentStatus(part, backend, False, f"not answering: {exc}")
    finally:
        client.close()
    return ComponentStatus(part, backend, True, "answering")


def status_vector_store() -> ComponentStatus:
    backend = vector_store_backend()
    try:
        vector_store_heartbeat()
    except VectorStoreUnavailable as exc:
        return ComponentStatus("vector store", backend, False, str(exc))
    return ComponentStatus("vector store", backend, True, "answering")


def status_auth() -> ComponentStatus:
    if not settings.SUPABASE_URL:
        return ComponentStatus(
            "auth", "Django's own users", True, "local accounts (set SUPABASE_URL for Supabase)"
        )
    backend = f"Supabase Auth at {settings.SUPABASE_URL}"
    try:
        response = httpx.get(
            f"{settings.SUPABASE_URL}/auth/v1/health",
            headers={"apikey": settings.SUPABASE_ANON_KEY},
            timeout=TIMEOUT_SECONDS,
        )
        response.raise_for_status()
    except httpx.HTTPError as exc:
        return ComponentStatus("auth", backend, False, f"not answering: {exc}")
    return ComponentStatus("auth", backend, True, "answering")


def status_llm() -> ComponentStatus:
    backend = f"Ollama at {settings.OLLAMA_HOST}, model {settings.OLLAMA_MODEL}"
    try:
        found = llm_status(timeout=TIMEOUT_SECONDS)
    except LLMUnavailable as exc:
        return ComponentStatus("language model", backend, False, str(exc))
    if not found.model_available:
        return ComponentStatus(
            "language model",
            backend,
            False,
            f"answering, but the model is not pulled: ollama pull {settings.OLLAMA_MODEL}",
        )
    return ComponentStatus("language model", backend, True, "answering, model available")


def status_memory() -> ComponentStatus:
    importance = scorer().name
    if importance == "rules":
        progress = training_progress()
        if progress is not None:
            importance += f" while training ({progress['percent']}%)"
        else:
            importance += " (run manage.py train_importance)"
    backend = f"embeddings: {embedder().name}; importance: {importance}"
    backlog = memory_vector_backlog()
    if backlog:
        return ComponentStatus(
            "memory", backend, False, f"{backlog} memories wait for their vectors (resync)"
        )
    return ComponentStatus("memory", backend, True, "every memory has its vector")


def _redacted(url: str) -> str:
    parts = httpx.URL(url)
    return str(parts.copy_with(password="***")) if parts.password else url


CHECKS: tuple[Callable[[], ComponentStatus], ...] = (
    status_database,
    status_redis,
    status_vector_store,
    status_memory,
    status_auth,
    status_llm,
)


def status_all() -> list[ComponentStatus]:
    return [check() for check in CHECKS]
