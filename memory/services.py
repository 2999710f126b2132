"""Writes of the memory app. Memory takes a user and plain values; it imports no other app."""

from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser

from memory.vectors import collection_get_or_create


def memory_space_allocate(*, user: AbstractBaseUser, name: str) -> None:
    """Create the person's own Chroma collection; calling it again changes nothing."""
    collection_get_or_create(name=name, metadata={"owner_id": str(user.pk)})


@dataclass(frozen=True)
class RecalledMemory:
    text: str
    score: float


def memory_recall(*, user: AbstractBaseUser, query: str, k: int) -> list[RecalledMemory]:
    """The k memories that best fit `query`, best first.

    The seam chat calls before every reply. Memories themselves (rows, vectors, ranking)
    arrive with the memory issue; until then there is nothing to recall.
    """
    return []
