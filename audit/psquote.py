"""Safe quoting of values pasted into generated PowerShell.

Everything a host or the directory returns is data. It only ever reaches a fix script inside a
single-quoted PowerShell string, where nothing is expanded. PowerShell treats the typographic
quotes U+2018..U+201B as single quotes too, so those are doubled as well.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["ps_array", "ps_quote"]

_SINGLE_QUOTES = frozenset("'\u2018\u2019\u201a\u201b")


def ps_quote(value: str) -> str:
    """Return `value` as a PowerShell single-quoted string literal."""
    if "\x00" in value:
        raise ValueError("NUL cannot appear in a PowerShell string literal")
    out = []
    for ch in value:
        out.append(ch + ch if ch in _SINGLE_QUOTES else ch)
    return "'" + "".join(out) + "'"


def ps_array(values: Iterable[str]) -> str:
    """Return `@('a', 'b')` with every element quoted."""
    return "@(" + ", ".join(ps_quote(v) for v in values) + ")"
