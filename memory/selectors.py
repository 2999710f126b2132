"""Reads of the memory app."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet

from memory.models import Consolidation, Memory
from memory.vectors import collection_exists


def memory_space_exists(*, name: str) -> bool:
    return collection_exists(name=name)


def memory_list(*, user: AbstractBaseUser, kind: str | None = None) -> QuerySet[Memory]:
    memories = Memory.objects.filter(user=user, superseded_by__isnull=True)
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
