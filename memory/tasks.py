"""django-q2 tasks of the memory app: thin, calling services."""

from django.contrib.auth import get_user_model

from memory import training
from memory.decay import memory_decay
from memory.merging import memories_merge
from memory.services import memory_vectors_resync
from pipo.heartbeat import worker_heartbeat_write


def memory_vectors_resync_task() -> int:
    return memory_vectors_resync()


def memory_decay_task() -> int:
    return len(memory_decay())


def importance_train_if_missing() -> str:
    """Train the importance classifier when there is none and no training runs."""
    return training.importance_train_if_missing()


def memories_merge_task() -> str:
    """The weekly long-term consolidation, person by person."""
    people = get_user_model().objects.filter(memories__isnull=False).distinct().order_by("pk")
    merged = sum(memories_merge(user=person).merged for person in people)
    return f"{merged} memories merged"


def worker_heartbeat_task() -> str:
    """Every minute: proves to /readyz that a worker takes tasks off the queue."""
    return f"beat at {worker_heartbeat_write().beat_at.isoformat()}"
