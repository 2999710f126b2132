"""Writes of the memory app. Memory takes a user and plain values; it imports no other app.

The database is the source of truth: a row is written first, its vector second. A vector
that could not be written leaves the row `pending` (or `failed`), and the resync task
writes it later; `memory_reindex` rebuilds a person's collection from rows alone.
"""

import logging
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django_q.tasks import async_task

from memory.embeddings import EmbeddingsUnavailable, embed_texts, embedder
from memory.lexical import lexical_index_for, lexical_index_forget
from memory.models import Consolidation, Memory, MemorySpace, Portrait
from memory.ranking import fuse, memory_key_text
from memory.scoring import RuleScorer, scorer
from memory.superseding import CANDIDATES as SUPERSEDE_CANDIDATES
from memory.superseding import memory_supersede
from memory.vectors import (
    VectorStoreUnavailable,
    collection_get_or_create,
    collection_reset,
    vectors_nearest,
    vectors_upsert,
)
from pipo.text import text_unstorable_reason

logger = logging.getLogger(__name__)

_embed_pool: ThreadPoolExecutor | None = None
_embed_pool_lock = threading.Lock()


def _key_embedding_started(key: str) -> Future:
    """The key's vector, computed on another thread while the classifier reads the message.

    Both models run in ONNX Runtime on one thread each and let go of the GIL, so on two
    cores a kept message waits for the slower of the two, not for both (docs/benchmarks.md).
    """
    global _embed_pool
    with _embed_pool_lock:
        if _embed_pool is None:
            _embed_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pipo-embed")
        return _embed_pool.submit(embed_texts, [key])


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
    memory = _memory_row_create(
        user=user,
        text=text,
        said_at=said_at,
        importance=importance,
        kind=kind,
        speaker=speaker,
        context=context,
        caption=caption,
        source_message_id=source_message_id,
        source_label=source_label,
    )
    _memory_vector_write(memory=memory, vector=vector)
    return memory


def _memory_row_create(
    *,
    user: AbstractBaseUser,
    text: str,
    said_at: datetime,
    importance: float,
    kind: str,
    speaker: str,
    context: str,
    caption: str,
    source_message_id: int | None,
    source_label: str,
    space: MemorySpace | None = None,
) -> Memory:
    """The row alone, vector pending (its space made first if it has none)."""
    if space is None:
        memory_space_for(user=user)
    return Memory.objects.create(
        user=user,
        text=text,
        key_text=_key_text(
            speaker=speaker, text=text, said_at=said_at, caption=caption, context=context
        ),
        kind=kind,
        importance=importance,
        strength=_initial_strength(importance),
        said_at=said_at,
        speaker=speaker,
        source_message_id=source_message_id,
        source_label=source_label,
    )


def _memory_vector_write(*, memory: Memory, vector=None, space: MemorySpace | None = None) -> None:
    """Embed (unless given) and mirror one memory; on failure it stays pending."""
    if vector is None:
        try:
            vector = embed_texts([memory.key_text])[0]
        except EmbeddingsUnavailable as exc:
            logger.warning("memory %s left pending: %s", memory.pk, exc)
            return
    space = space or memory_space_for(user=memory.user)
    _vector_write(space=space, memories=[memory], vectors=[vector])


def _memory_source_add(*, memory_id: int, message_id: int) -> None:
    """A message that said the memory again is one of its sources too (export, API)."""
    memory = Memory.objects.select_for_update().only("source_message_ids", "source_message_id")
    memory = memory.get(pk=memory_id)
    sources = list(memory.source_message_ids or [])
    if message_id != memory.source_message_id and message_id not in sources:
        memory.source_message_ids = [*sources, message_id]
        memory.save(update_fields=["source_message_ids"])


def memory_reinforce(*, memory_ids: list[int], at: datetime | None = None) -> None:
    """A recall or a repetition: strength up, access count up, the forgetting clock reset."""
    Memory.objects.filter(pk__in=memory_ids).update(
        access_count=F("access_count") + 1,
        last_accessed_at=at or timezone.now(),
        strength=F("strength") * settings.PIPO_MEMORY_RECALL_BOOST,
    )


def memory_vectors_refresh(*, memories: list[Memory]) -> None:
    """Re-embed these memories (one batch) and mirror them; on failure they stay pending."""
    if not memories:
        return
    try:
        vectors = embed_texts([m.key_text or m.text for m in memories])
    except EmbeddingsUnavailable as exc:
        logger.warning("vectors of memories %s left pending: %s", [m.pk for m in memories], exc)
        return
    _vector_write(space=memory_space_for(user=memories[0].user), memories=memories, vectors=vectors)


def memory_upsert(
    *,
    user: AbstractBaseUser,
    memory_id: int | None,
    text: str,
    said_at: datetime,
    importance: float,
    kind: str = Memory.Kind.OTHER,
    speaker: str = "",
    source_message_ids: list[int] | None = None,
) -> Memory:
    """Create a memory, or rewrite the person's memory `memory_id` if it still exists.

    Made to run inside the caller's transaction: the row is written now, its vector once
    the transaction commits (left pending for the resync task if that fails), so a rolled
    back caller leaves no vector behind. A rewrite keeps the memory's strength and counts.
    """
    key = _key_text(speaker=speaker, text=text, said_at=said_at, caption="", context="")
    memory = None
    if memory_id is not None:
        memory = Memory.objects.select_for_update().filter(user=user, pk=memory_id).first()
    if memory is None:
        memory = Memory.objects.create(
            user=user,
            text=text,
            key_text=key,
            kind=kind,
            importance=importance,
            strength=_initial_strength(importance),
            said_at=said_at,
            speaker=speaker,
            source_message_ids=source_message_ids or [],
        )
    else:
        memory.text, memory.key_text, memory.kind = text, key, kind
        memory.said_at, memory.speaker = said_at, speaker
        memory.source_message_ids = source_message_ids or []
        memory.vector_status = Memory.VectorStatus.PENDING
        memory.save(
            update_fields=[
                "text", "key_text", "kind", "said_at", "speaker", "source_message_ids",
                "vector_status", "updated_at",
            ]
        )  # fmt: skip
    transaction.on_commit(lambda: memory_vectors_refresh(memories=[memory]))
    return memory


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
    twice on one message changes nothing the second time. Text that is blank, not text, or
    that the database can't store (NUL, lone surrogates) is not remembered: None.
    """
    if not isinstance(text, str) or not text.strip() or text_unstorable_reason(text=text):
        return None
    if source_message_id is not None:
        done = Consolidation.objects.filter(user=user, source_message_id=source_message_id)
        if done.exists():
            return done.first().memory
    active = scorer()
    key = _key_text(speaker=speaker, text=text, said_at=said_at, caption=caption, context=context)
    # A trained classifier takes as long as the embedder: start the vector now (wasted on
    # a message that is not kept). The rules take no time, so nothing is started early.
    early = None if isinstance(active, RuleScorer) else _key_embedding_started(key)
    # The message it replies to can carry its subject ("What do you do?" -> "Nurse").
    score = active.score(f"{text} {caption}".strip(), context=context)
    keep = keep_all or score.importance >= active.keep_threshold
    vector = None
    nearest: list[tuple[int, float]] = []
    twin = None
    if keep:
        space = memory_space_for(user=user)
        try:
            vector = (early.result() if early is not None else embed_texts([key]))[0]
            # One query serves both the duplicate check and superseding's candidates.
            nearest = vectors_nearest(
                collection=space.collection, vector=vector.tolist(), n=SUPERSEDE_CANDIDATES
            )
        except (EmbeddingsUnavailable, VectorStoreUnavailable) as exc:
            logger.warning("duplicate check skipped: %s", exc)
        if nearest and nearest[0][1] >= settings.PIPO_MEMORY_DUPLICATE_SIMILARITY:
            twin = Memory.objects.filter(user=user, pk=nearest[0][0]).first()
            # A merged memory's vector can linger while Chroma is down: its survivor.
            while twin is not None and twin.merged_into_id is not None:
                twin = twin.merged_into
    outcome, memory = Consolidation.Outcome.SKIPPED, None
    try:
        # The memory and the record that its message was consolidated commit together: a
        # worker killed in between, or racing another on the same message, can't leave a
        # memory that the rerun (task retry, sweep) would add again or reinforce as a twin.
        with transaction.atomic():
            if twin is not None:
                memory_reinforce(memory_ids=[twin.pk], at=said_at)
                Memory.objects.filter(pk=twin.pk, importance__lt=score.importance).update(
                    importance=score.importance
                )
                if source_message_id is not None:
                    _memory_source_add(memory_id=twin.pk, message_id=source_message_id)
                outcome, memory = Consolidation.Outcome.REINFORCED, twin
            elif keep:
                memory = _memory_row_create(
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
                    space=space,
                )
                outcome = Consolidation.Outcome.KEPT
            if source_message_id is not None:
                Consolidation.objects.create(
                    user=user,
                    source_message_id=source_message_id,
                    memory=memory,
                    outcome=outcome,
                    importance=score.importance,
                )
    except IntegrityError:  # another worker finished the same message first
        winner = Consolidation.objects.filter(user=user, source_message_id=source_message_id)
        if not winner.exists():
            raise
        return winner.first().memory
    if outcome == Consolidation.Outcome.KEPT:
        _memory_vector_write(memory=memory, vector=vector, space=space)
        if settings.PIPO_SUPERSEDE and supersede and vector is not None:
            memory_supersede(memory=memory, vector=vector.tolist(), nearest=nearest)
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
    goes on lexically and logs why. A query that is not text, or is blank, recalls nothing.
    """
    if not isinstance(query, str) or not query.strip() or k <= 0:
        return []
    # A lone surrogate (from JSON) would stop the tokenizer; the rest of the query still counts.
    query = query.encode("utf-8", "ignore").decode("utf-8")
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
    found = Memory.objects.filter(
        user=user, pk__in=ids, superseded_by__isnull=True, merged_into__isnull=True
    ).order_by()
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


MEMORY_TEXT_MAX_CHARS = 16_000
CONTEXT_MARK = "\n(in reply to "


class MemoryTextRejected(Exception):
    """The new text of a memory can't be used; `message` says why, for the person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def memory_text_update(*, user: AbstractBaseUser, memory_id: int, text: str) -> Memory:
    """Rewrite one of the person's memories and re-embed it: the row first, the vector after.

    Raises Memory.DoesNotExist for an id that is not the person's, MemoryTextRejected for
    empty or unstorable text, or text over MEMORY_TEXT_MAX_CHARS. If the embedder or Chroma
    is down the row is saved anyway and left `pending` (the resync task writes the vector
    later); callers can tell from `vector_status`.
    """
    if not isinstance(text, str) or not text.strip():
        raise MemoryTextRejected("A memory can't be empty. Write what PIPO should remember.")
    unstorable = text_unstorable_reason(text=text)
    if unstorable:
        raise MemoryTextRejected(f"This text {unstorable}, which PIPO can't store. Remove it.")
    text = text.strip()
    if len(text) > MEMORY_TEXT_MAX_CHARS:
        raise MemoryTextRejected(
            f"A memory can have at most {MEMORY_TEXT_MAX_CHARS:,} characters "
            f"(this one has {len(text):,})."
        )
    with transaction.atomic():
        memory = Memory.objects.select_for_update().get(user=user, pk=memory_id)
        # The turn it answered still explains it, so the "(in reply to ...)" line stays.
        _, mark, context = (memory.key_text or "").partition(CONTEXT_MARK)
        memory.text = text
        memory.key_text = _key_text(
            speaker=memory.speaker,
            text=text,
            said_at=memory.said_at,
            caption="",
            context=context.removesuffix(")") if mark else "",
        )
        memory.vector_status = Memory.VectorStatus.PENDING
        memory.save(update_fields=["text", "key_text", "vector_status", "updated_at"])
    try:
        vector = embed_texts([memory.key_text])[0]
    except EmbeddingsUnavailable as exc:
        logger.warning("memory %s edited, vector left pending: %s", memory.pk, exc)
        return memory
    _vector_write(space=memory_space_for(user=user), memories=[memory], vectors=[vector])
    return memory


def memory_pin_set(*, user: AbstractBaseUser, memory_id: int, pinned: bool) -> Memory:
    """Pin or unpin one of the person's memories; Memory.DoesNotExist for anyone else's."""
    memory = Memory.objects.get(user=user, pk=memory_id)
    memory.pinned = pinned
    memory.save(update_fields=["pinned", "updated_at"])
    return memory


def memory_forget_one(*, user: AbstractBaseUser, memory_id: int) -> None:
    """Forget one of the person's memories; Memory.DoesNotExist for anyone else's."""
    Memory.objects.get(user=user, pk=memory_id).delete()


def memory_forget_all(*, user: AbstractBaseUser) -> int:
    """Forget everything PIPO remembers about the person: rows, vectors and the portrait.

    Returns how many memories were forgotten. The collection is emptied after commit (it
    stays allocated, so new memories can form). Which messages were already consolidated
    is kept, so the sweep does not bring the forgotten back.
    """
    with transaction.atomic():
        count = Memory.objects.filter(user=user).count()
        Memory.objects.filter(user=user).delete()
        Portrait.objects.filter(user=user).delete()
        space = MemorySpace.objects.filter(user=user).first()
        if space is not None:
            transaction.on_commit(lambda: _collection_empty(user=user, space=space))
    lexical_index_forget(user_id=user.pk)
    return count


def _collection_empty(*, user: AbstractBaseUser, space: MemorySpace) -> None:
    try:
        collection_reset(name=space.collection, metadata=_space_metadata(user))
    except VectorStoreUnavailable as exc:
        logger.warning("collection %s not emptied, `manage.py reindex` will: %s", space, exc)


@dataclass(frozen=True)
class MemoryImport:
    """One memory from an export file; the links are ids within that file."""

    file_id: int
    text: str
    said_at: datetime
    kind: str = Memory.Kind.OTHER
    importance: float = 0.5
    strength: float = 1.0
    access_count: int = 0
    pinned: bool = False
    last_accessed_at: datetime | None = None
    key_text: str = ""
    speaker: str = ""
    source_label: str = ""
    source_message_ids: tuple[int, ...] = ()  # the new ids of the imported messages
    superseded_by: int | None = None
    merged_into: int | None = None


@dataclass
class MemoryImportResult:
    ids: dict[int, int] = field(default_factory=dict)  # file id -> memory id (new or twin)
    created: int = 0
    skipped: int = 0


def memory_import(*, user: AbstractBaseUser, memories: list[MemoryImport]) -> MemoryImportResult:
    """Write imported memories as they were (strength, recalls, pins, history links).

    A memory identical to one the person has (same text, said at the same moment) is
    skipped, so importing one file twice adds nothing. Runs in the caller's transaction;
    the vectors are written after it commits, by a task (the resync schedule catches them
    if the broker is down).
    """
    result = MemoryImportResult()
    memory_space_for(user=user)
    known = {
        (text, said_at): pk
        for pk, text, said_at in Memory.objects.filter(user=user).values_list(
            "pk", "text", "said_at"
        )
    }
    fresh: list[tuple[MemoryImport, Memory]] = []
    first_in_file: dict[tuple[str, datetime], int] = {}  # a twin later in the same file
    twins_in_file: dict[int, int] = {}
    for record in memories:
        identity = (record.text, record.said_at)
        if identity in known or identity in first_in_file:
            if identity in known:
                result.ids[record.file_id] = known[identity]
            else:
                twins_in_file[record.file_id] = first_in_file[identity]
            result.skipped += 1
            continue
        row = Memory(
            user=user,
            text=record.text,
            key_text=record.key_text
            or _key_text(
                speaker=record.speaker,
                text=record.text,
                said_at=record.said_at,
                caption="",
                context="",
            ),
            kind=record.kind,
            importance=record.importance,
            strength=record.strength,
            access_count=record.access_count,
            pinned=record.pinned,
            said_at=record.said_at,
            last_accessed_at=record.last_accessed_at,
            speaker=record.speaker,
            source_label=record.source_label,
            source_message_id=record.source_message_ids[0] if record.source_message_ids else None,
            source_message_ids=list(record.source_message_ids),
            vector_status=Memory.VectorStatus.PENDING,
        )
        fresh.append((record, row))
        first_in_file[identity] = record.file_id
    created = Memory.objects.bulk_create([row for _, row in fresh], batch_size=500)
    for (record, _), row in zip(fresh, created, strict=True):
        result.ids[record.file_id] = row.pk
    for file_id, first in twins_in_file.items():
        result.ids[file_id] = result.ids[first]
    linked = []
    for record, row in fresh:
        row.superseded_by_id = result.ids.get(record.superseded_by)
        row.merged_into_id = result.ids.get(record.merged_into)
        if row.superseded_by_id or row.merged_into_id:
            linked.append(row)
    Memory.objects.bulk_update(linked, ["superseded_by", "merged_into"], batch_size=500)
    result.created = len(created)
    new_ids = [row.pk for row in created]
    if new_ids:
        transaction.on_commit(partial(_memory_vectors_write_enqueue, user.pk, new_ids))
    return result


def _memory_vectors_write_enqueue(user_id: int, memory_ids: list[int]) -> None:
    try:
        async_task("memory.services.memory_vectors_write", user_id, memory_ids)
    except Exception as exc:  # the broker is down: rows stay pending for the resync task
        logger.warning("vectors of %s imported memories left to resync: %s", len(memory_ids), exc)


def memory_vectors_write(user_id: int, memory_ids: list[int], batch_size: int = 256) -> int:
    """Write the vectors of these memories of one person (a task: ids, not instances)."""
    memories = list(Memory.objects.filter(user_id=user_id, pk__in=memory_ids).order_by("pk"))
    if not memories:
        return 0
    space = memory_space_for(user=memories[0].user)
    for start in range(0, len(memories), batch_size):
        batch = memories[start : start + batch_size]
        try:
            vectors = embed_texts([m.key_text or m.text for m in batch])
        except EmbeddingsUnavailable as exc:
            logger.warning("imported vectors left to resync: %s", exc)
            break
        _vector_write(space=space, memories=batch, vectors=vectors)
    return sum(m.vector_status == Memory.VectorStatus.SYNCED for m in memories)


def portrait_restore(
    *, user: AbstractBaseUser, text: str, memory_count: int, model: str
) -> Portrait:
    """Put back a portrait from an export file (the daily job refreshes it from there)."""
    portrait, _ = Portrait.objects.update_or_create(
        user=user, defaults={"text": text, "memory_count": memory_count, "model": model}
    )
    return portrait
