"""Per-person lexical indexes, kept in step with the rows.

Each process keeps one LexicalIndex per person it has recalled for. Before a recall the
index catches up with rows changed since it last looked (cheap: one indexed query). The
worker and the web process each keep
their own, so nothing needs to be shared or invalidated across processes.
"""

import bisect
import threading
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Max

from memory.models import Memory
from memory.ranking import LexicalIndex


@dataclass
class PersonIndex:
    """A person's BM25 index, and their recallable memory ids in the order they were said."""

    index: LexicalIndex = field(default_factory=LexicalIndex)
    ids: list[int] = field(default_factory=list)  # sorted: ids grow in the order of formation
    seen_until: datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def neighbours(self, memory_ids) -> dict[int, list[int]]:
        """The memories formed just before and just after each of these."""
        found = {}
        for memory_id in memory_ids:
            at = bisect.bisect_left(self.ids, memory_id)
            if at < len(self.ids) and self.ids[at] == memory_id:
                found[memory_id] = [self.ids[i] for i in (at - 1, at + 1) if 0 <= i < len(self.ids)]
        return found

    def _discard(self, memory_id: int) -> None:
        at = bisect.bisect_left(self.ids, memory_id)
        if at < len(self.ids) and self.ids[at] == memory_id:
            del self.ids[at]


_entries: dict[int, PersonIndex] = {}
_entries_lock = threading.Lock()


def lexical_index_for(*, user_id: int) -> PersonIndex:
    with _entries_lock:
        entry = _entries.setdefault(user_id, PersonIndex())
    with entry.lock:
        # Max(updated_at) walks the (user, updated_at) index: O(log n), unlike a count.
        latest = Memory.objects.filter(user_id=user_id).aggregate(latest=Max("updated_at"))
        latest = latest["latest"]
        if entry.seen_until is not None and latest == entry.seen_until:
            return entry
        changed = Memory.objects.filter(user_id=user_id).order_by()
        if entry.seen_until is not None:
            changed = changed.filter(updated_at__gt=entry.seen_until)
        # Deleted rows may linger in the index; recall keeps only ids whose rows exist.
        for memory_id, key_text, superseded, merged in changed.values_list(
            "id", "key_text", "superseded_by_id", "merged_into_id"
        ):
            if memory_id in entry.index:
                entry.index.remove(memory_id)
                entry._discard(memory_id)
            if superseded is None and merged is None:
                entry.index.add(memory_id, key_text)
                bisect.insort(entry.ids, memory_id)
        entry.seen_until = latest
        return entry


def lexical_index_forget(*, user_id: int) -> None:
    with _entries_lock:
        _entries.pop(user_id, None)
