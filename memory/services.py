"""Writes of the memory app. Memory takes a user and plain values; it imports no other app.

The database is the source of truth: a row is written first, its vector second. A vector
that could not be written leaves the row `pending` (or `failed`), and the resync task
writes it later; `memory_reindex` rebuilds a person's collection from rows alone.
"""

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from memory.embeddings import EmbeddingsUnavailable, embed_texts, embedder
from memory.lexical import lexical_index_for
from memory.models import Consolidation, Memory, MemorySpace
from memory.ranking import fuse, memory_key_text
from memory.scoring import scorer
from memory.superseding import memory_supersede
from memory.vectors import (
    VectorStoreUnavailable,
    collection_get_or_create,
    collection_reset,
    vectors_nearest,
    vectors_upsert,
)

logger = logging.getLogger(__name__)

# How much importance and retention add to a candidate's fused relevance (0..1 each).
IMPORTANCE_WEIGHT = 0.05
RETENTION_WEIGHT = 0.05


@dataclass(frozen=True)
class RecalledMemory:
    id: int
    text: str
    kind: str
    said_at: datetime
    score: float
    parts: dict = field(default_factory=dict)
    source_message_id: int | None = None
    source_label: str = ""


def _space_metadata(user: AbstractBaseUser) -> dict:
    return {"owner_id": str(user.pk), "embedding_model": embedder().name}


def memory_space_allocate(*, user: AbstractBaseUser, name: str) -> MemorySpace:
    """The person's own Chroma collection; calling it again changes nothing."""
    try:
        space, _ = MemorySpace.objects.get_or_create(
            user=user, defaults={"collection": name, "embedding_model": embedder().name}
        )
    except IntegrityError:  # a racing first sign-in made it a moment ago
        space = MemorySpace.objects.get(user=user)
    collection_get_or_create(name=space.collection, metadata=_space_metadata(user))
    return space


def memory_space_for(*, user: AbstractBaseUser) -> MemorySpace:
    """The person's space row (made on first use, e.g. for an admin-created user)."""
    space = MemorySpace.objects.filter(user=user).first()
    if space is not None:
        return space
    try:
        space, _ = MemorySpace.objects.get_or_create(
            user=user,
            defaults={"collection": f"pipo-{uuid.uuid4().hex}", "embedding_model": embedder().name},
        )
    except IntegrityError:
        space = MemorySpace.objects.get(user=user)
    return space


def _initial_strength(importance: float) -> float:
    return (
        settings.PIPO_MEMORY_STRENGTH_BASE_DAYS
        + importance * settings.PIPO_MEMORY_STRENGTH_PER_IMPORTANCE_DAYS
    )


def _key_text(*, speaker: str, text: str, said_at: datetime, caption: str, context: str) -> str:
    return memory_key_text(
        speaker=speaker or "",
        text=text,
        said_at=f"{said_at:%-d %B %Y}",
        caption=caption or None,
        context=context or None,
    )


def _vector_write(*, space: MemorySpace, memories: list[Memory], vectors) -> None:
    """Mirror rows to Chroma; on failure the rows stay pending for the resync task."""
    ids = [m.pk for m in memories]
    try:
        vectors_upsert(collection=space.collection, ids=ids, vectors=[v.tolist() for v in vectors])
    except VectorStoreUnavailable as exc:
        logger.warning("vectors of memories %s left pending: %s", ids, exc)
        return
    Memory.objects.filter(pk__in=ids).update(
        vector_status=Memory.VectorStatus.SYNCED, embedding_model=embedder().name
    )
    for memory in memories:
        memory.vector_status = Memory.VectorStatus.SYNCED


def memory_create(
    *,
    user: AbstractBaseUser,
    text: str,
    said_at: datetime,
    importance: float,
    kind: str = Memory.Kind.OTHER,
    speaker: str = "",
    context: str = "",
    caption: str = "",
    source_message_id: int | None = None,
    source_label: str = "",
    vector=None,
) -> Memory:
    space = memory_space_for(user=user)
    key = _key_text(speaker=speaker, text=text, said_at=said_at, caption=caption, context=context)
    memory = Memory.objects.create(
        user=user,
        text=text,
        key_text=key,
        kind=kind,
        importance=importance,
        strength=_initial_strength(importance),
        said_at=said_at,
        speaker=speaker,
        source_message_id=source_message_id,
        source_label=source_label,
    )
    if vector is None:
        try:
            vector = embed_texts([key])[0]
        except EmbeddingsUnavailable as exc:
            logger.warning("memory %s left pending: %s", memory.pk, exc)
            return memory
    _vector_write(space=space, memories=[memory], vectors=[vector])
    return memory


def memory_reinforce(*, memory_ids: list[int], at: datetime | None = None) -> None:
    """A recall or a repetition: strength up, access count up, the forgetting clock reset."""
    Memory.objects.filter(pk__in=memory_ids).update(
        access_count=F("access_count") + 1,
        last_accessed_at=at or timezone.now(),
        strength=F("strength") * settings.PIPO_MEMORY_RECALL_BOOST,
    )


def memory_consolidate(
    *,
    user: AbstractBaseUser,
    text: str,
    said_at: datetime,
    source_message_id: int | None = None,
    speaker: str = "",
    context: str = "",
    caption: str = "",
    source_label: str = "",
    keep_all: bool = False,
    supersede: bool = True,
) -> Memory | None:
    """Decide whether a message is worth remembering, and remember it once.

    A near-duplicate of an existing memory (cosine over PIPO_MEMORY_DUPLICATE_SIMILARITY)
    reinforces that memory instead of adding one. With a source message id, running it
    twice on one message changes nothing the second time.
    """
    if source_message_id is not None:
        done = Consolidation.objects.filter(user=user, source_message_id=source_message_id)
        if done.exists():
            return done.first().memory
    active = scorer()
    score = active.score(f"{text} {caption}".strip())
    outcome, memory = Consolidation.Outcome.SKIPPED, None
    if keep_all or score.importance >= active.keep_threshold:
        space = memory_space_for(user=user)
        key = _key_text(
            speaker=speaker, text=text, said_at=said_at, caption=caption, context=context
        )
        vector = None
        nearest: list[tuple[int, float]] = []
        try:
            vector = embed_texts([key])[0]
            nearest = vectors_nearest(collection=space.collection, vector=vector.tolist(), n=1)
        except (EmbeddingsUnavailable, VectorStoreUnavailable) as exc:
            logger.warning("duplicate check skipped: %s", exc)
        twin = None
        if nearest and nearest[0][1] >= settings.PIPO_MEMORY_DUPLICATE_SIMILARITY:
            twin = Memory.objects.filter(user=user, pk=nearest[0][0]).first()
        if twin is not None:
            memory_reinforce(memory_ids=[twin.pk], at=said_at)
            Memory.objects.filter(pk=twin.pk, importance__lt=score.importance).update(
                importance=score.importance
            )
            outcome, memory = Consolidation.Outcome.REINFORCED, twin
        else:
            memory = memory_create(
                user=user,
                text=text,
                said_at=said_at,
                importance=score.importance,
                kind=score.kind,
                speaker=speaker,
                context=context,
                caption=caption,
                source_message_id=source_message_id,
                source_label=source_label,
                vector=vector,
            )
            outcome = Consolidation.Outcome.KEPT
            if supersede and vector is not None and settings.PIPO_SUPERSEDE:
                memory_supersede(memory=memory, vector=vector.tolist())
    if source_message_id is not None:
        try:
            with transaction.atomic():
                Consolidation.objects.create(
                    user=user,
                    source_message_id=source_message_id,
                    memory=memory,
                    outcome=outcome,
                    importance=score.importance,
                )
        except IntegrityError:  # another worker finished the same message first
            pass
    return memory


def memory_recall(
    *,
    user: AbstractBaseUser,
    query: str,
    k: int,
    now: datetime | None = None,
    reinforce: bool = True,
) -> list[RecalledMemory]:
    """The k memories that best fit `query`, best first, each with its score parts.

    Dense candidates come from the person's Chroma collection, lexical ones from their
    BM25 index; the two are fused, then importance and retention R = exp(-t/S) add a
    little. What is returned is reinforced. With Chroma or the embedder down, recall
    goes on lexically and logs why.
    """
    if not query or not query.strip() or k <= 0:
        return []
    now = now or timezone.now()
    candidates = settings.PIPO_RECALL_CANDIDATES
    dense: list[tuple[int, float]] = []
    try:
        space = memory_space_for(user=user)
        vector = embed_texts([query])[0]
        dense = vectors_nearest(collection=space.collection, vector=vector.tolist(), n=candidates)
    except (EmbeddingsUnavailable, VectorStoreUnavailable) as exc:
        logger.warning("recall without vectors for user %s: %s", user.pk, exc)
    person_index = lexical_index_for(user_id=user.pk)
    lexical = person_index.index.scores(query, candidates)
    ids = {i for i, _ in dense} | {i for i, _ in lexical}
    # No ordering: the default one made SQLite walk the person's whole index.
    found = Memory.objects.filter(user=user, pk__in=ids, superseded_by__isnull=True).order_by()
    rows = {m.pk: m for m in found}
    dense = [(i, s) for i, s in dense if i in rows]
    lexical = [(i, s) for i, s in lexical if i in rows]
    prior = {
        i: IMPORTANCE_WEIGHT * m.importance + RETENTION_WEIGHT * m.retention(now=now)
        for i, m in rows.items()
    }
    ranked = fuse(
        dense=dense,
        lexical=lexical,
        prior=prior,
        neighbours=person_index.neighbours(rows),
        k=k,
    )
    recalled = [
        RecalledMemory(
            id=i,
            text=rows[i].text,
            kind=rows[i].kind,
            said_at=rows[i].said_at,
            score=round(score, 4),
            parts={name: round(value, 4) for name, value in parts.items()},
            source_message_id=rows[i].source_message_id,
            source_label=rows[i].source_label,
        )
        for i, score, parts in ranked
    ]
    if reinforce and recalled:
        memory_reinforce(memory_ids=[m.id for m in recalled], at=now)
    return recalled


def memory_forget(*, memory_ids: list[int]) -> int:
    """Delete memories; their vectors go with them (memory/signals.py)."""
    deleted, _ = Memory.objects.filter(pk__in=memory_ids).delete()
    return deleted


def memory_pin(*, memory_ids: list[int], pinned: bool) -> int:
    return Memory.objects.filter(pk__in=memory_ids).update(pinned=pinned)


def memory_vectors_resync(*, limit: int = 500) -> int:
    """Write the vectors of rows left pending or failed; returns how many were synced."""
    waiting = list(
        Memory.objects.filter(
            vector_status__in=[Memory.VectorStatus.PENDING, Memory.VectorStatus.FAILED]
        ).order_by("pk")[:limit]
    )
    synced = 0
    by_user: dict[int, list[Memory]] = {}
    for memory in waiting:
        by_user.setdefault(memory.user_id, []).append(memory)
    for memories in by_user.values():
        space = memory_space_for(user=memories[0].user)
        try:
            vectors = embed_texts([m.key_text or m.text for m in memories])
        except EmbeddingsUnavailable as exc:
            logger.warning("resync postponed: %s", exc)
            return synced
        _vector_write(space=space, memories=memories, vectors=vectors)
        synced += sum(m.vector_status == Memory.VectorStatus.SYNCED for m in memories)
    return synced


def memory_reindex(*, user: AbstractBaseUser, progress=None, batch_size: int = 256) -> int:
    """Rebuild the person's collection from rows alone (e.g. after a change of model)."""
    space = memory_space_for(user=user)
    collection_reset(name=space.collection, metadata=_space_metadata(user))
    MemorySpace.objects.filter(pk=space.pk).update(embedding_model=embedder().name)
    Memory.objects.filter(user=user).update(vector_status=Memory.VectorStatus.PENDING)
    memories = list(Memory.objects.filter(user=user).order_by("pk"))
    for start in range(0, len(memories), batch_size):
        batch = memories[start : start + batch_size]
        vectors = embed_texts([m.key_text or m.text for m in batch])
        _vector_write(space=space, memories=batch, vectors=vectors)
        if progress is not None:
            progress(len(batch))
    return len(memories)
