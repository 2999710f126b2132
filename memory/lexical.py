"""Per-person lexical indexes, kept in step with the rows.

Each process keeps one LexicalIndex per person it has recalled for. Before a recall the
index catches up with rows changed since it last looked (cheap: one indexed query); a
deletion (the count went down) rebuilds it. The worker and the web process each keep
their own, so nothing needs to be shared or invalidated across processes.
"""

import threading
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Max

from memory.models import Memory
from memory.ranking import LexicalIndex


@dataclass
class _Entry:
    index: LexicalIndex = field(default_factory=LexicalIndex)
    seen_until: datetime | None = None
    count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


_entries: dict[int, _Entry] = {}
_entries_lock = threading.Lock()


def _recallable(user_id: int):
    return Memory.objects.filter(user_id=user_id, superseded_by__isnull=True)


def lexical_index_for(*, user_id: int) -> LexicalIndex:
    with _entries_lock:
        entry = _entries.setdefault(user_id, _Entry())
    with entry.lock:
        state = _recallable(user_id).aggregate(count=Count("id"), latest=Max("updated_at"))
        if state["count"] == entry.count and state["latest"] == entry.seen_until:
            return entry.index
        changed = Memory.objects.filter(user_id=user_id)
        if entry.seen_until is not None and state["count"] >= entry.count:
            changed = changed.filter(updated_at__gt=entry.seen_until)
        else:
            entry.index = LexicalIndex()
            changed = _recallable(user_id)
        for memory_id, key_text, superseded in changed.values_list(
            "id", "key_text", "superseded_by_id"
        ):
            if memory_id in entry.index:
                entry.index.remove(memory_id)
            if superseded is None:
                entry.index.add(memory_id, key_text)
        entry.count = state["count"]
        entry.seen_until = state["latest"]
        return entry.index


def lexical_index_forget(*, user_id: int) -> None:
    with _entries_lock:
        _entries.pop(user_id, None)
