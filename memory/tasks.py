"""django-q2 tasks of the memory app: thin, calling services."""

from memory.decay import memory_decay
from memory.services import memory_vectors_resync


def memory_vectors_resync_task() -> int:
    return memory_vectors_resync()


def memory_decay_task() -> int:
    return len(memory_decay())
