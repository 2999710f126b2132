"""Reads of the memory app."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet
from django.utils import timezone

from memory.models import Consolidation, Memory, Portrait
from memory.vectors import collection_exists


def memory_space_exists(*, name: str) -> bool:
    return collection_exists(name=name)


def memory_list(*, user: AbstractBaseUser, kind: str | None = None) -> QuerySet[Memory]:
    memories = Memory.objects.filter(
        user=user, superseded_by__isnull=True, merged_into__isnull=True
    )
    if kind:
        memories = memories.filter(kind=kind)
    return memories.order_by("-created_at", "-id")


def memory_noted_message_ids(*, user: AbstractBaseUser, message_ids: list[int]) -> set[int]:
    """Which of these chat messages became (or reinforced) a memory: the "noted" mark."""
    return set(
        Consolidation.objects.filter(
            user=user, source_message_id__in=message_ids, memory__isnull=False
        ).values_list("source_message_id", flat=True)
    )


def memory_vector_backlog() -> int:
    return Memory.objects.exclude(vector_status=Memory.VectorStatus.SYNCED).count()


def portrait_get(*, user: AbstractBaseUser) -> Portrait | None:
    """The person's portrait, or None before the first refresh."""
    return Portrait.objects.filter(user=user).first()


MEMORY_SORTS = {
    "recent": ("-said_at", "-id"),
    "importance": ("-importance", "-said_at", "-id"),
    "strength": ("-strength", "-said_at", "-id"),
}


def memory_get(*, user: AbstractBaseUser, memory_id: int) -> Memory | None:
    """The person's own memory, or None: never someone else's."""
    return Memory.objects.filter(user=user, pk=memory_id).first()


def memory_search(
    *,
    user: AbstractBaseUser,
    query: str = "",
    kind: str | None = None,
    sort: str = "recent",
    history: bool = False,
) -> QuerySet[Memory]:
    """The person's memories for their memory page: every word of `query` in the text.

    Superseded and merged memories are history: left out unless `history` is set.
    """
    memories = Memory.objects.filter(user=user)
    if not history:
        memories = memories.filter(superseded_by__isnull=True, merged_into__isnull=True)
    # PostgreSQL can't compare with a NUL character; a search for one finds nothing anyway.
    for word in query.replace("\x00", " ").split()[:12]:
        memories = memories.filter(text__icontains=word)
    if kind:
        memories = memories.filter(kind=kind)
    return memories.order_by(*MEMORY_SORTS.get(sort, MEMORY_SORTS["recent"]))


@dataclass(frozen=True)
class RetentionCurve:
    """A memory's retention R = exp(-t/S) over time, laid out for a small inline SVG."""

    points: str  # "x,y x,y ..." for a <polyline>
    now_x: float
    markers: list[tuple[float, float, str]]  # (x, y, what happened then)
    retention_now: float
    retention_ahead: float
    width: int
    height: int
    days_back: int
    days_ahead: int


def memory_retention_curve(
    *,
    memory: Memory,
    now: datetime | None = None,
    days_back: int = 30,
    days_ahead: int = 30,
    width: int = 120,
    height: int = 32,
    samples: int = 61,
) -> RetentionCurve:
    """R over the last `days_back` and next `days_ahead` days, with its known events marked.

    Only the last recall's time is stored, so before it the curve uses the strength the
    memory had then (S divided by one recall boost) from the moment it was said.
    """
    now = now or timezone.now()
    start = now - timedelta(days=days_back)
    span = timedelta(days=days_back + days_ahead)
    said_at, recalled_at = memory.said_at, memory.last_accessed_at
    earlier_strength = memory.strength
    if recalled_at is not None and memory.access_count:
        earlier_strength = memory.strength / settings.PIPO_MEMORY_RECALL_BOOST

    def retention(at: datetime) -> float | None:
        if at < said_at:
            return None
        if memory.pinned:
            return 1.0
        if recalled_at is not None and at >= recalled_at:
            anchor, strength = recalled_at, memory.strength
        else:
            anchor, strength = said_at, earlier_strength
        days = (at - anchor).total_seconds() / 86400
        return math.exp(-days / max(strength, 1e-6))

    def x_of(at: datetime) -> float:
        return round(width * ((at - start) / span), 1)

    def y_of(value: float) -> float:
        return round(height - value * (height - 2) - 1, 1)

    points = []
    for step in range(samples):
        at = start + span * (step / (samples - 1))
        value = retention(at)
        if value is not None:
            points.append(f"{x_of(at)},{y_of(value)}")
    markers = []
    for at, label in ((said_at, "said"), (recalled_at, "last recalled")):
        if at is not None and start <= at <= now:
            markers.append((x_of(at), y_of(retention(at) or 0.0), label))
    return RetentionCurve(
        points=" ".join(points),
        now_x=x_of(now),
        markers=markers,
        retention_now=retention(now) or 0.0,
        retention_ahead=retention(now + timedelta(days=days_ahead)) or 0.0,
        width=width,
        height=height,
        days_back=days_back,
        days_ahead=days_ahead,
    )


def memory_all(*, user: AbstractBaseUser) -> QuerySet[Memory]:
    """Every memory of the person, history included, in the order they were formed."""
    return Memory.objects.filter(user=user).order_by("pk")
