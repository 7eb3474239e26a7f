"""Choosing the reference DRIMbox's switches by name: ``--fault NAME`` and ``--variant NAME``."""

from __future__ import annotations

from collections.abc import Collection


class UnknownName(ValueError):
    """A ``--fault`` or ``--variant`` that names none of the known ones; the message lists them."""

    def __init__(self, kind: str, name: str, known: Collection[str]) -> None:
        super().__init__(f"unknown {kind} {name!r}; known {kind}s: {', '.join(sorted(known))}")


def select_named(kind: str, name: str | None, known: Collection[str]) -> frozenset[str]:
    """The set of active switches of this ``kind`` for ``--{kind} NAME`` (empty when None)."""
    if name is None:
        return frozenset()
    if name not in known:
        raise UnknownName(kind, name, known)
    return frozenset({name})
