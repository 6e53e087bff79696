"""`hvlm merge`: join snapshots from several collectors (shards) into one that `hvlm audit` reads.

Rules, in the order they apply:

- every input must be a valid snapshot (the schema, no JSON key given twice) whose `hosts` are
  all in its own inventory; the same file may not be given twice;
- the inventories must agree: hosts (and their order), planned pairs, groups, operator and
  include_return; the first difference is an error (its `path` may differ: collectors run from
  their own copies);
- each host, each domain, each host's DNS facts and the operator are taken whole from one input.
  When several inputs carry the same one, the **newest complete** wins: complete first (its
  snapshot is `complete` and none of its facts is a blocking error), then the newest `collected_at`
  among its facts, then the input given first. A warning names both files;
- every fact keeps its `source` and `collected_at`; the merged document lists the inputs in
  `merged_from` (file, created, complete, shard, and what was taken from each);
- the merged snapshot is `complete` only if every input is and every inventory host is in one of
  them. A host in none gets `not_collected` error facts that say so (and which shards are missing).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hvlm.audit.collect.probe import HOST_SECTIONS
from hvlm.audit.errors import InputError
from hvlm.audit.jsonio import DEFAULT_MAX_BYTES, read_json_file
from hvlm.audit.shard import SHARD_RULE, shard_assignment
from hvlm.audit.snapshot import NON_BLOCKING_KINDS, Snapshot, error_fact, new_snapshot_document, now_iso
from hvlm.audit.words import count

__all__ = ["MergeResult", "load_for_merge", "merge_snapshots"]

_EPOCH = dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclass
class MergeResult:
    document: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    missing_hosts: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return bool(self.document["complete"])


# -- reading --------------------------------------------------------------------------------------


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _duplicate_key(raw: bytes) -> str | None:
    """The first JSON object key given twice (a parser would silently keep the last one)."""
    try:
        json.loads(raw.decode("utf-8-sig"), object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        return exc.key
    except (ValueError, RecursionError):
        return None  # not JSON: the reader says so in its own words
    return None


def load_for_merge(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Snapshot:
    """A snapshot to merge; anything that would lose or invent facts is an InputError naming the file."""
    doc = read_json_file(path, max_bytes)  # size limit, readable, UTF-8, JSON
    if isinstance(doc, dict) and "report_version" in doc and "schema_version" not in doc:
        raise InputError(path, "an hvlm report, not a facts snapshot: merge the snapshots `hvlm collect` wrote")
    snap = Snapshot.from_document(doc, path)
    key = _duplicate_key(Path(path).read_bytes())
    if key is not None:
        raise InputError(path, f"the key {key!r} is given twice in one JSON object (a host or fact would be lost)")
    inventory = snap.doc["inventory"]["hosts"]
    lowered: dict[str, str] = {}
    for name in inventory:
        if name.lower() in lowered:
            raise InputError(path, f"the inventory names host {name} twice (also as {lowered[name.lower()]})",
                             "/inventory/hosts")
        lowered[name.lower()] = name
    for name in snap.doc["hosts"]:
        if name not in inventory:
            raise InputError(path, f"host {name} has facts but is not in the snapshot's inventory", f"/hosts/{name}")
    return snap


# -- comparing inventories --------------------------------------------------------------------


def _listing(items: Sequence[Any], show: Callable[[Any], str]) -> str:
    shown = ", ".join(show(i) for i in items[:3])
    return shown + (f" and {len(items) - 3} more" if len(items) > 3 else "")


def _pair(p: Any) -> str:
    return f"{p[0]} -> {p[1]}"


def _sequence_difference(what: str, a: list[Any], b: list[Any], a_name: str, show: Callable[[Any], str]) -> str | None:
    keys_a, keys_b = [json.dumps(x) for x in a], [json.dumps(x) for x in b]
    set_a, set_b = set(keys_a), set(keys_b)
    only_b = [x for x, k in zip(b, keys_b, strict=True) if k not in set_a]
    only_a = [x for x, k in zip(a, keys_a, strict=True) if k not in set_b]
    if only_b:
        return f"{what} {_listing(only_b, show)} not in {a_name}'s"
    if only_a:
        return f"no {what} {_listing(only_a, show)}, which {a_name}'s has"
    if keys_a != keys_b:
        i = next(i for i, (x, y) in enumerate(zip(keys_a, keys_b, strict=True)) if x != y)
        return f"the {what} are in another order (at place {i + 1}: {show(b[i])}, {a_name} has {show(a[i])})"
    return None


def inventory_difference(a: dict[str, Any], b: dict[str, Any], a_name: str) -> str | None:
    """The first way inventory b differs from inventory a, in words; None when they agree."""
    found = _sequence_difference("hosts", list(a["hosts"]), list(b["hosts"]), a_name, str)
    if found:
        return found
    found = _sequence_difference("planned moves", list(a["pairs"]), list(b["pairs"]), a_name, _pair)
    if found:
        return found
    groups_a, groups_b = a.get("groups") or {}, b.get("groups") or {}
    for name in list(groups_a) + [g for g in groups_b if g not in groups_a]:
        if name not in groups_b:
            return f"no group {name}, which {a_name}'s has"
        if name not in groups_a:
            return f"group {name} not in {a_name}'s"
        if groups_a[name] != groups_b[name]:
            return f"group {name} is {groups_b[name]}, {a_name}'s is {groups_a[name]}"
    if (a.get("operator") or None) != (b.get("operator") or None):
        return f"operator {b.get('operator') or '(none)'}, {a_name}'s is {a.get('operator') or '(none)'}"
    if bool(a.get("include_return")) != bool(b.get("include_return")):
        return f"include_return {bool(b.get('include_return'))}, {a_name}'s is {bool(a.get('include_return'))}"
    return None


# -- choosing among copies ----------------------------------------------------------------------


def _when(text: Any) -> dt.datetime:
    if not isinstance(text, str):
        return _EPOCH
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return _EPOCH
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _facts(node: Any) -> list[dict[str, Any]]:
    """The facts of a host or domain (a dict of facts), or [node] for one fact."""
    if isinstance(node, dict) and "source" in node:
        return [node]
    if isinstance(node, dict):
        return [f for f in node.values() if isinstance(f, dict)]
    return []


def _rank(snap: Snapshot, node: Any) -> tuple[bool, dt.datetime]:
    facts = _facts(node)
    complete = snap.complete and not any(
        isinstance(f.get("error"), dict) and f["error"].get("kind") not in NON_BLOCKING_KINDS for f in facts
    )
    newest = max((_when(f.get("collected_at")) for f in facts), default=_EPOCH)
    return complete, newest


@dataclass
class _Taken:
    index: int  # which input
    node: Any


def _choose(
    what: str, name: str, copies: list[_Taken], snaps: Sequence[Snapshot], warnings: dict[tuple[str, ...], list[str]]
) -> _Taken:
    if len(copies) == 1:
        return copies[0]
    # max() keeps the first of equals: the input given first wins a tie
    best = max(copies, key=lambda c: _rank(snaps[c.index], c.node))
    complete, newest = _rank(snaps[best.index], best.node)
    why = ("complete, " if complete else "none complete, ") + f"newest {newest.isoformat().replace('+00:00', 'Z')}"
    for other in copies:
        if other is not best:
            key = (what, snaps[other.index].name, snaps[best.index].name, why)
            warnings.setdefault(key, []).append(name)
    return best


def _warning_lines(warnings: dict[tuple[str, ...], list[str]]) -> list[str]:
    lines = []
    for (what, dropped, kept, why), names in warnings.items():
        if len(names) > 1:
            what = {"host": "hosts", "domain": "domains"}.get(what, what)
        lines.append(f"{what} {_listing(names, str)} collected in both {dropped} and {kept}: kept {kept}'s ({why})")
    return lines


# -- merging ------------------------------------------------------------------------------------


def _missing_shards(snaps: Sequence[Snapshot], missing: list[str], inventory: list[str]) -> str:
    records = [s.doc.get("shard") for s in snaps]
    counts = {r.get("count") for r in records if isinstance(r, dict) and r.get("rule", SHARD_RULE) == SHARD_RULE}
    if len(counts) != 1 or None in counts:
        return ""
    count = int(next(iter(counts)))  # type: ignore[arg-type]
    given = {r.get("index") for r in records if isinstance(r, dict)}
    assignment = shard_assignment(inventory, count) if count <= len(inventory) else {}
    absent = sorted({assignment[h] for h in missing if h in assignment} - given)
    if not absent:
        return ""
    return " (shard " + ", ".join(f"{k}/{count}" for k in absent) + " not given)"


def merge_snapshots(snaps: Sequence[Snapshot]) -> MergeResult:
    """One snapshot from several whose inventories agree (InputError naming the file otherwise)."""
    if not snaps:
        raise ValueError("nothing to merge")
    first = snaps[0]
    seen: dict[str, str] = {}
    for snap in snaps:
        real = os.path.realpath(snap.name)
        if real in seen:
            also = "" if seen[real] == snap.name else f" (also as {seen[real]})"
            raise InputError(snap.name, f"given twice{also}: each snapshot is merged once")
        seen[real] = snap.name
        difference = inventory_difference(first.doc["inventory"], snap.doc["inventory"], first.name)
        if difference is not None:
            raise InputError(snap.name, f"its inventory differs from {first.name}'s: {difference}", "/inventory")

    warnings: dict[tuple[str, ...], list[str]] = {}

    def pick(what: str, section: str) -> dict[str, _Taken]:
        copies: dict[str, list[_Taken]] = {}
        for i, snap in enumerate(snaps):
            for name, node in snap.doc.get(section, {}).items():
                copies.setdefault(name, []).append(_Taken(i, node))
        return {name: _choose(what, name, found, snaps, warnings) for name, found in copies.items()}

    inventory = first.doc["inventory"]
    names: list[str] = list(inventory["hosts"])
    hosts = pick("host", "hosts")
    domains = pick("domain", "domains")
    dns = pick("DNS facts of", "dns")
    operators = [_Taken(i, s.doc["operator"]) for i, s in enumerate(snaps) if "operator" in s.doc]
    operator = _choose("operator", str(inventory.get("operator")), operators, snaps, warnings) if operators else None

    doc = new_snapshot_document(dict(inventory))
    missing = [h for h in names if h not in hosts]
    when = now_iso()
    files = ", ".join(s.name for s in snaps)
    note = _missing_shards(snaps, missing, names)
    for host in names:
        if host in hosts:
            doc["hosts"][host] = hosts[host].node
        else:
            message = (f"{host} is in none of the merged snapshots ({files}){note}: collect its shard and merge "
                       "again")
            doc["hosts"][host] = {
                section: error_fact("not_collected", message, "merge", host, "hvlm merge", when)
                for section in ("connection", *HOST_SECTIONS)
            }
    doc["domains"] = {d: domains[d].node for d in sorted(domains)}
    doc["dns"] = {h: dns[h].node for h in names if h in dns}
    if operator is not None:
        doc["operator"] = operator.node
    # the machine that collected: every shard's ran somewhere; the first input's describes the run
    described = next((s.doc["management"] for s in snaps if "management" in s.doc), None)
    if described is not None:
        doc["management"] = described
    doc["complete"] = all(s.complete for s in snaps) and not missing

    merged_from = []
    for i, snap in enumerate(snaps):
        entry: dict[str, Any] = {
            "file": snap.name,
            "created": snap.doc["created"],
            "complete": snap.complete,
            "tool_version": str(snap.doc.get("tool", {}).get("version", "")),
        }
        if isinstance(snap.doc.get("shard"), dict):
            entry["shard"] = snap.doc["shard"]
        entry["hosts"] = [h for h in names if h in hosts and hosts[h].index == i]
        entry["domains"] = [d for d in sorted(domains) if domains[d].index == i]
        entry["dns"] = sum(1 for t in dns.values() if t.index == i)
        entry["operator"] = operator is not None and operator.index == i
        merged_from.append(entry)
    doc["merged_from"] = merged_from

    lines = _warning_lines(warnings)
    incomplete = [s.name for s in snaps if not s.complete]
    if incomplete:
        lines.append(f"{_listing(incomplete, str)} {'is' if len(incomplete) == 1 else 'are'} marked incomplete: "
                     "so is the merged snapshot")
    if missing:
        lines.append(f"{count(len(missing), 'inventory host')} in none of the snapshots{note}: {_listing(missing, str)}; "
                     "the merged snapshot is marked incomplete")
    if not domains and "operator" not in doc and not dns:
        lines.append("no snapshot carries directory facts (AD, DNS): collect shard 1 without --only hosts, or "
                     "`hvlm collect --only directory`, and merge it too")
    return MergeResult(doc, lines, missing)

