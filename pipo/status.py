"""Which backend each part of PIPO uses, and whether it answers (`pipo_status`, /status/,
/readyz).

This sits at the top of the dependency ladder, beside urls.py: it asks each part. The
checks run side by side in threads, each given PIPO_READINESS_TIMEOUT_SECONDS, so a part
that hangs is reported down instead of holding up the answer.
"""

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace

import httpx
import redis
from django.conf import settings
from django.db import connection, connections

from memory.embeddings import embedder
from memory.scoring import scorer
from memory.selectors import memory_vector_backlog
from memory.training import training_progress
from memory.vectors import VectorStoreUnavailable, vector_store_backend, vector_store_heartbeat
from pipo.heartbeat import worker_heartbeat_latest
from pipo.llm import LLMUnavailable, llm_status

OK, DOWN, NOT_CONFIGURED = "ok", "down", "not configured"


def _timeout() -> float:
    return settings.PIPO_READINESS_TIMEOUT_SECONDS


@dataclass(frozen=True)
class ComponentStatus:
    part: str
    backend: str
    ok: bool
    detail: str
    # False for a part that is optional and not set up (Redis without REDIS_URL).
    configured: bool = True
    # Filled in by status_all: the name in /readyz's JSON, whether /readyz fails without
    # the part, and how long its check took.
    key: str = ""
    required: bool = False
    latency_ms: float | None = None

    @property
    def state(self) -> str:
        if not self.configured:
            return NOT_CONFIGURED
        return OK if self.ok else DOWN

    @property
    def failing(self) -> bool:
        return self.state == DOWN


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
            configured=False,
        )
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=_timeout(), socket_timeout=_timeout()
    )
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
            "auth",
            "Django's own users",
            True,
            "local accounts (set SUPABASE_URL for Supabase)",
            configured=False,
        )
    backend = f"Supabase Auth at {settings.SUPABASE_URL}"
    try:
        response = httpx.get(
            f"{settings.SUPABASE_URL}/auth/v1/health",
            headers={"apikey": settings.SUPABASE_ANON_KEY},
            timeout=_timeout(),
        )
        response.raise_for_status()
    except httpx.HTTPError as exc:
        return ComponentStatus("auth", backend, False, f"not answering: {exc}")
    return ComponentStatus("auth", backend, True, "answering")


def status_llm() -> ComponentStatus:
    backend = f"Ollama at {settings.OLLAMA_HOST}, model {settings.OLLAMA_MODEL}"
    try:
        found = llm_status(timeout=_timeout())
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


def status_worker() -> ComponentStatus:
    broker = "Redis broker" if settings.REDIS_URL else "ORM broker"
    backend = f"django-q2 cluster on the {broker}, heartbeat every minute and each task"
    limit = settings.PIPO_WORKER_HEARTBEAT_STALE_SECONDS
    beat = worker_heartbeat_latest()
    if beat is None:
        return ComponentStatus(
            "worker",
            backend,
            False,
            "no heartbeat yet: is the worker running? (manage.py qcluster)",
        )
    age = max(0, round(beat.age_seconds))
    if beat.age_seconds > limit:
        return ComponentStatus(
            "worker",
            backend,
            False,
            f"last heartbeat {age} s ago from {beat.worker}, over the {limit} s limit: "
            "is the worker running? (manage.py qcluster)",
        )
    return ComponentStatus(
        "worker", backend, True, f"last heartbeat {age} s ago from {beat.worker}"
    )


def _redacted(url: str) -> str:
    parts = httpx.URL(url)
    return str(parts.copy_with(password="***")) if parts.password else url


@dataclass(frozen=True)
class Check:
    key: str
    part: str
    run: Callable[[], ComponentStatus]
    # /readyz answers 503 when a required part is down. Ollama is not required: without it
    # PIPO still serves pages and memories, and each reply says plainly that it can't
    # reach the language model, so /readyz says "degraded" with a 200.
    required: bool
    ready: bool  # one of /readyz's parts (the others show on the status page only)


CHECKS: tuple[Check, ...] = (
    Check("database", "database", status_database, required=True, ready=True),
    Check("redis", "short-term buffer, channel layer, task broker", status_redis, True, True),
    Check("chroma", "vector store", status_vector_store, required=True, ready=True),
    Check("memory", "memory", status_memory, required=False, ready=False),
    Check("auth", "auth", status_auth, required=False, ready=False),
    Check("ollama", "language model", status_llm, required=False, ready=True),
    Check("worker", "worker", status_worker, required=True, ready=True),
)


def _timed(check: Check) -> ComponentStatus:
    started = time.perf_counter()
    try:
        found = check.run()
    except Exception as exc:  # a broken check reports its part down, never a 500
        found = ComponentStatus(check.part, "", False, f"the check failed: {str(exc)[:200]}")
    finally:
        connections.close_all()  # this thread's connections; it ends with the check
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    return replace(found, key=check.key, required=check.required, latency_ms=elapsed)


def status_all(*, readiness_only: bool = False) -> list[ComponentStatus]:
    """Every part's status, the checks side by side; a check past the timeout is down."""
    checks = [c for c in CHECKS if c.ready or not readiness_only]
    timeout = _timeout()
    pool = ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="pipo-status")
    try:
        futures = [(check, pool.submit(_timed, check)) for check in checks]
        deadline = time.monotonic() + timeout
        found = []
        for check, future in futures:
            try:
                found.append(future.result(timeout=max(0.0, deadline - time.monotonic())))
            except FutureTimeout:
                found.append(
                    ComponentStatus(
                        check.part,
                        "",
                        False,
                        f"no answer within {timeout:g} s",
                        key=check.key,
                        required=check.required,
                        latency_ms=round(timeout * 1000, 1),
                    )
                )
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # a hung check must not hold us
    return found


@dataclass(frozen=True)
class Readiness:
    components: list[ComponentStatus]

    @property
    def status(self) -> str:
        if any(c.failing and c.required for c in self.components):
            return "down"
        return "degraded" if any(c.failing for c in self.components) else "ok"

    @property
    def http_status(self) -> int:
        return 503 if self.status == "down" else 200

    def as_dict(self) -> dict:
        return {
            "status": self.status,
            "checks": {
                c.key: {
                    "status": c.state,
                    "required": c.required,
                    "latency_ms": c.latency_ms,
                    "detail": c.detail,
                }
                for c in self.components
            },
        }


def readiness_check() -> Readiness:
    return Readiness(components=status_all(readiness_only=True))
