"""Reads of the memory app."""

from memory.vectors import collection_exists


def memory_space_exists(*, name: str) -> bool:
    return collection_exists(name=name)
