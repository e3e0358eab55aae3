"""Layers of recommendation models, restored from the training checkpoint by name.

A variable ``<scope>/<name>`` reads the checkpoint tensor of that name; a
:class:`HashTable` ``t`` reads ``t/shard_<i>-keys`` and ``-values`` (the
checkpoint contract of docs/DESIGN.md). A custom layer is a Python function
of :func:`variable` and :mod:`recship.ops`; see docs/python.md.
"""

from recship._recship import (
    HashTable,
    activate,
    dense,
    embedding,
    hash_embedding_bag,
    hash_embedding_lookup,
    variable,
)

__all__ = [
    "HashTable",
    "activate",
    "dense",
    "embedding",
    "hash_embedding_bag",
    "hash_embedding_lookup",
    "variable",
]
