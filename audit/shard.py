"""Sharded collection: which hosts of an inventory shard K of N collects.

The rule ("sha256-runs"): the inventory's hosts are ordered by the SHA-256 of their lower-cased
name (ties, which do not happen, by that name), and the order is cut into N contiguous runs whose
sizes differ by at most one (the first `hosts % N` runs are one larger). Shard K takes run K.

So every collector computes the same slice from the same inventory, wherever it runs; the shards
are as even as they can be; and adding or removing a host moves at most N - 1 others to another
shard (each cut point shifts by at most one place), unlike round-robin over the inventory order,
where one host inserted near the top moves nearly every host after it.

The directory (AD and DNS) is not sharded: shard 1 collects it for the whole inventory (unless
`--only hosts`), the other shards collect hosts only. `hvlm merge` joins the shards.
"""

from __future__ import annotations

import argparse
import hashlib
import re
from collections.abc import Sequence
from typing import Any

__all__ = ["SHARD_RULE", "parse_shard", "shard_assignment", "shard_hosts", "shard_record"]

SHARD_RULE = "sha256-runs"
_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(text: str) -> tuple[int, int]:
    """`K/N` with 1 <= K <= N, for argparse (a bad value is a usage error)."""
    match = _SPEC.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not K/N (e.g. 1/3: the first of three shards)")
    k, n = int(match.group(1)), int(match.group(2))
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: the number of shards N must be at least 1")
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"{text!r}: the shard K must be from 1 to {n}")
    return k, n


def _key(name: str) -> tuple[str, str]:
    lower = name.lower()
    return hashlib.sha256(lower.encode("utf-8")).hexdigest(), lower


def shard_assignment(names: Sequence[str], count: int) -> dict[str, int]:
    """Every host's shard (1 to count), by the rule above."""
    if count < 1:
        raise ValueError("count must be at least 1")
    ordered = sorted(names, key=_key)
    base, extra = divmod(len(ordered), count)
    out: dict[str, int] = {}
    start = 0
    for k in range(1, count + 1):
        size = base + (1 if k <= extra else 0)
        for name in ordered[start:start + size]:
            out[name] = k
        start += size
    return out


def shard_hosts(names: Sequence[str], index: int, count: int) -> list[str]:
    """The hosts of shard `index` of `count`, in inventory order."""
    assignment = shard_assignment(names, count)
    return [n for n in names if assignment[n] == index]


def shard_record(index: int, count: int) -> dict[str, Any]:
    """What a shard's snapshot says about itself (top-level `shard`)."""
    return {"index": index, "count": count, "rule": SHARD_RULE}
