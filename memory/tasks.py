"""django-q2 tasks of the memory app: thin, calling services."""

from memory import training
from memory.decay import memory_decay
from memory.services import memory_vectors_resync


def memory_vectors_resync_task() -> int:
    return memory_vectors_resync()


def memory_decay_task() -> int:
    return len(memory_decay())


def importance_train_if_missing() -> str:
    """Train the importance classifier when there is none and no training runs."""
    return training.importance_train_if_missing()
