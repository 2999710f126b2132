"""django-q2 tasks of the memory app: thin, by id, calling services."""

from memory.services import memory_vectors_resync


def memory_vectors_resync_task() -> int:
    return memory_vectors_resync()
