"""Walk what an exception wraps: requests -> urllib3 -> socket, pyspnego -> GSSAPI, and causes."""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["causes"]

_WRAPPED = ("reason", "base_error")  # urllib3's MaxRetryError.reason; pyspnego's SpnegoError.base_error


def causes(exc: BaseException, limit: int = 20) -> Iterator[BaseException]:
    """The exception, then (breadth first, each once, at most `limit`) the exceptions it wraps: in its args,
    its `reason` or `base_error`, its __cause__ and __context__."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo and len(seen) < limit:
        cur = todo.pop(0)
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        todo.extend(a for a in getattr(cur, "args", ()) if isinstance(a, BaseException))
        for attr in _WRAPPED:
            inner = getattr(cur, attr, None)
            if isinstance(inner, BaseException):
                todo.append(inner)
        todo.extend(nxt for nxt in (cur.__cause__, cur.__context__) if nxt is not None)
