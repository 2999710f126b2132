"""Vectors follow their rows out: every way of deleting a Memory deletes its vector.

A receiver rather than a service, on purpose: queryset deletes, the admin's bulk delete
and the cascade from deleting a person never pass through a service, and Chroma must not
keep a vector whose row is gone. The vector goes after the transaction commits.
"""

import logging
from functools import partial

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from memory.models import Memory, MemorySpace
from memory.vectors import VectorStoreUnavailable, collection_delete, vectors_delete

logger = logging.getLogger(__name__)


def _vector_delete(collection: str, memory_id: int) -> None:
    try:
        vectors_delete(collection=collection, ids=[memory_id])
    except VectorStoreUnavailable as exc:
        logger.warning("vector %s stays until `manage.py reindex`: %s", memory_id, exc)


def _collection_delete(collection: str) -> None:
    try:
        collection_delete(name=collection)
    except VectorStoreUnavailable as exc:
        logger.warning("collection %s of a deleted person stays: %s", collection, exc)


@receiver(post_delete, sender=Memory, dispatch_uid="memory_vector_delete")
def memory_vector_delete(sender, instance: Memory, **kwargs) -> None:
    space = MemorySpace.objects.filter(user_id=instance.user_id).first()
    if space is not None:
        transaction.on_commit(partial(_vector_delete, space.collection, instance.pk))


@receiver(post_delete, sender=MemorySpace, dispatch_uid="memory_space_delete")
def memory_space_delete(sender, instance: MemorySpace, **kwargs) -> None:
    transaction.on_commit(partial(_collection_delete, instance.collection))
