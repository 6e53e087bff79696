"""Counted nouns for messages: "1 change", "3 changes", never "change(s)"."""

from __future__ import annotations

__all__ = ["count", "noun"]


def noun(n: int, one: str, many: str | None = None) -> str:
    """The noun alone, singular or plural for n."""
    return one if n == 1 else (many or one + "s")


def count(n: int, one: str, many: str | None = None) -> str:
    """The number and the noun: count(1, "change") == "1 change", count(2, "switch", "switches")."""
    return f"{n:,} {noun(n, one, many)}"
