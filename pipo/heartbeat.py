"""The django-q2 worker's heartbeat: a timestamp the worker writes every minute.

It goes to the Django cache (shared through Redis when REDIS_URL is set, so web and
worker may run on different machines) and to a file under PIPO_VAR_DIR (shared on one
machine, where the embedded cache is per process). The reader takes the newer of the two,
so the check works on the ORM broker and on Redis alike.
"""

import json
import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger(__name__)

CACHE_KEY = "pipo:worker-heartbeat"
# Kept long after it goes stale, so an old beat reads as "stale", not as "never".
HEARTBEAT_KEEP_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class WorkerHeartbeat:
    beat_at: datetime
    worker: str

    @property
    def age_seconds(self) -> float:
        return (timezone.now() - self.beat_at).total_seconds()


def _heartbeat_file():
    return settings.VAR_DIR / "worker-heartbeat.json"


def worker_heartbeat_write() -> WorkerHeartbeat:
    beat = WorkerHeartbeat(
        beat_at=timezone.now(), worker=f"pid {os.getpid()} on {socket.gethostname()}"
    )
    payload = json.dumps({"beat_at": beat.beat_at.isoformat(), "worker": beat.worker})
    # Several times longer than the staleness limit: an old beat must still read as stale.
    try:
        cache.set(CACHE_KEY, payload, timeout=HEARTBEAT_KEEP_SECONDS)
    finally:
        # Written even when the cache is down, and the failure still fails the task.
        path = _heartbeat_file()
        partial = path.with_suffix(".tmp")
        partial.write_text(payload)
        partial.replace(path)  # atomic: a reader never sees half a file
    return beat


def _parsed(payload: str | None) -> WorkerHeartbeat | None:
    try:
        found = json.loads(payload or "")
        return WorkerHeartbeat(
            beat_at=datetime.fromisoformat(found["beat_at"]), worker=str(found["worker"])
        )
    except (ValueError, KeyError, TypeError):
        return None


def worker_heartbeat_latest() -> WorkerHeartbeat | None:
    """The newest heartbeat in the cache or the file; None when the worker never beat."""
    try:
        from_file = _heartbeat_file().read_text()
    except OSError:
        from_file = None
    try:
        from_cache = cache.get(CACHE_KEY)
    except Exception:  # Redis down: readiness reports that on its own line; use the file
        from_cache = None
    beats = [b for b in (_parsed(from_cache), _parsed(from_file)) if b is not None]
    return max(beats, key=lambda b: b.beat_at, default=None)


def worker_heartbeat_on_task(sender: object, task: dict, **kwargs: object) -> None:
    """django-q2's pre_execute: each task a worker starts is a beat too.

    The scheduled beat can wait behind a long task on a one-worker cluster; this keeps
    a busy worker from reading as dead for longer than its current task runs.
    """
    if task.get("sync"):
        return  # run inline by the caller (tests): no worker involved
    try:
        worker_heartbeat_write()
    except Exception as exc:  # a beat must never fail the task it precedes
        logger.warning("worker heartbeat not written: %s", exc)
