"""Decay and forgetting: MemoryBank's Ebbinghaus curve applied on a schedule.

Retention R = exp(-t/S), t the days since a memory was last recalled (or said), S its
strength (starts higher for important memories, grows with each recall). The hourly job
forgets a memory when R and its importance are both under their thresholds, unless it is
pinned. Each forgetting leaves a ForgetLog entry. Safe to run twice at once: rows are
claimed under a lock (PostgreSQL: SKIP LOCKED; SQLite: one writer at a time), and a row
another run already deleted is simply not there any more.
"""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from memory.models import ForgetLog, Memory

BATCH = 500


@dataclass(frozen=True)
class DecayDecision:
    memory_id: int
    user_id: int
    text: str
    kind: str
    importance: float
    strength: float
    retention: float


def _reason(decision: DecayDecision) -> str:
    return (
        f"retention {decision.retention:.3f} < {settings.PIPO_DECAY_RETENTION_THRESHOLD} "
        f"and importance {decision.importance:.2f} < {settings.PIPO_DECAY_IMPORTANCE_THRESHOLD}"
    )


def _candidates(user: AbstractBaseUser | None):
    memories = Memory.objects.filter(
        pinned=False, importance__lt=settings.PIPO_DECAY_IMPORTANCE_THRESHOLD
    )
    return memories.filter(user=user) if user is not None else memories


def _faded(memories, now: datetime) -> list[DecayDecision]:
    decisions = []
    for memory in memories:
        retention = memory.retention(now=now)
        if retention < settings.PIPO_DECAY_RETENTION_THRESHOLD:
            decisions.append(
                DecayDecision(
                    memory_id=memory.pk,
                    user_id=memory.user_id,
                    text=memory.text,
                    kind=memory.kind,
                    importance=memory.importance,
                    strength=memory.strength,
                    retention=retention,
                )
            )
    return decisions


def memory_decay_preview(
    *, user: AbstractBaseUser | None = None, now: datetime | None = None
) -> list[DecayDecision]:
    """What the decay job would forget now, without forgetting anything."""
    return _faded(_candidates(user).iterator(chunk_size=BATCH), now or timezone.now())


def memory_decay(
    *, user: AbstractBaseUser | None = None, now: datetime | None = None
) -> list[DecayDecision]:
    """Forget what has faded (row, then vector after commit); returns what was forgotten."""
    now = now or timezone.now()
    forgotten: list[DecayDecision] = []
    ids = list(_candidates(user).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), BATCH):
        with transaction.atomic():
            rows = Memory.objects.filter(pk__in=ids[start : start + BATCH])
            if connection.features.has_select_for_update_skip_locked:
                rows = rows.select_for_update(skip_locked=True)
            decisions = _faded(list(rows), now)
            if not decisions:
                continue
            ForgetLog.objects.bulk_create(
                ForgetLog(
                    user_id=d.user_id,
                    memory_id=d.memory_id,
                    kind=d.kind,
                    importance=d.importance,
                    strength=d.strength,
                    retention=d.retention,
                    reason=_reason(d),
                    text=d.text if settings.PIPO_FORGET_KEEP_TEXT else "",
                    forgotten_at=now,
                )
                for d in decisions
            )
            # Each row's post_delete receiver removes its vector once this commits.
            Memory.objects.filter(pk__in=[d.memory_id for d in decisions]).delete()
            forgotten.extend(decisions)
    return forgotten
