"""Evaluate a snapshot with a selection of checks and build the report: shared by audit and scan."""

from __future__ import annotations

from typing import Any

from audit.engine import evaluate
from audit.errors import UsageError
from audit.model import Severity
from audit.registry import Check, Registry, load_registry
from audit.report import build_report
from audit.snapshot import Snapshot, now_iso

__all__ = ["audit_snapshot", "select_checks"]


def _ids(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def select_checks(registry: Registry, only: str | None, skip: str | None) -> tuple[list[Check], list[str]]:
    wanted, skipped = _ids(only), _ids(skip)
    unknown = [i for i in wanted + skipped if i not in registry]
    if unknown:
        raise UsageError(
            f"unknown check id(s): {', '.join(unknown)} (see `hvlm checks` for the catalogue)"
        )
    chosen = [c for c in registry if (not wanted or c.meta.id in wanted) and c.meta.id not in skipped]
    if not chosen:
        raise UsageError("no checks left to run after --checks/--skip")
    return chosen, skipped


def audit_snapshot(
    snapshot: Snapshot,
    *,
    only: str | None = None,
    skip: str | None = None,
    fail_on: str = "medium",
    command: str = "audit",
    registry: Registry | None = None,
) -> dict[str, Any]:
    started = now_iso()
    chosen, skipped = select_checks(registry or load_registry(), only, skip)
    findings = evaluate(snapshot, chosen)
    return build_report(
        snapshot, findings, chosen, fail_on=Severity(fail_on), command=command, skipped=skipped, started=started
    )
