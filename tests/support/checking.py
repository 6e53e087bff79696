"""Run one check against a snapshot document built with tests.support.fleet."""

from __future__ import annotations

import copy
from typing import Any

from hvlm.audit.engine import evaluate
from hvlm.audit.model import Finding, Status
from hvlm.audit.registry import Check, load_registry
from hvlm.audit.snapshot import Snapshot, error_fact

_REGISTRY = load_registry(include_entry_points=False)


def get_check(check_id: str) -> Check:
    return _REGISTRY.get(check_id)


def run_check(check_id: str, doc: dict[str, Any]) -> list[Finding]:
    """Validate the document against the shipped schema, then evaluate one check."""
    snapshot = Snapshot.from_document(copy.deepcopy(doc))
    return evaluate(snapshot, [get_check(check_id)])


def only(findings: list[Finding], label: str | None = None, **subject: str) -> Finding:
    """The single finding whose subject label (or subject fields) match."""
    hits = [
        f for f in findings
        if (label is None or f.subject.label == label)
        and all(getattr(f.subject, k) == v for k, v in subject.items())
    ]
    assert len(hits) == 1, f"expected one finding for {label or subject}, got {[(h.subject.label, h.status) for h in hits]}"
    return hits[0]


def statuses(findings: list[Finding]) -> set[Status]:
    return {f.status for f in findings}


def break_fact(doc: dict[str, Any], *path: str, kind: str = "access_denied", message: str = "Access is denied.") -> None:
    """Replace the fact at path with an error fact, as a failed collection would leave it."""
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = error_fact(kind, message, "test", None, "test")


def drop_fact(doc: dict[str, Any], *path: str) -> None:
    node = doc
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
