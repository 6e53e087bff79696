"""Evaluate a snapshot with a selection of checks and build the report: shared by audit and scan."""

from __future__ import annotations

import sys
from typing import Any

from audit.engine import run_checks
from audit.errors import UsageError
from audit.inventory import pairing_advice
from audit.model import Severity
from audit.registry import Check, Registry, load_registry
from audit.report import build_report
from audit.snapshot import Snapshot, now_iso
from audit.words import noun

__all__ = ["advise_pairing", "audit_args", "audit_snapshot", "select_checks"]


def _ids(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def select_checks(registry: Registry, only: str | None, skip: str | None) -> tuple[list[Check], list[str]]:
    wanted, skipped = _ids(only), _ids(skip)
    unknown = [i for i in wanted + skipped if i not in registry]
    if unknown:
        raise UsageError(
            f"unknown check {noun(len(unknown), 'id')}: {', '.join(unknown)} (see `hvlm checks` for the catalogue)"
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
    show_passed: bool = False,
    include_return: bool = False,
) -> dict[str, Any]:
    started = now_iso()
    chosen, skipped = select_checks(registry or load_registry(), only, skip)
    evaluation = run_checks(snapshot, chosen, list_passed=show_passed)
    return build_report(
        snapshot, evaluation, chosen, fail_on=Severity(fail_on), command=command, skipped=skipped, started=started,
        include_return=include_return,
    )


def advise_pairing(hosts: list[str], pairs: Any, groups: dict[str, Any]) -> None:
    """Say on stderr when a large inventory plans every ordered pair only by default."""
    advice = pairing_advice(hosts, pairs, groups)
    if advice:
        print(f"hvlm: note: {advice}", file=sys.stderr)


def audit_args(snapshot: Snapshot, args: Any, command: str) -> dict[str, Any]:
    """audit_snapshot with the selection and report options of `audit` and `scan`."""
    inv = snapshot.doc["inventory"]
    if command != "scan":  # scan says it before collecting
        advise_pairing(inv["hosts"], inv["pairs"], inv.get("groups") or {})
    return audit_snapshot(
        snapshot,
        only=args.checks,
        skip=args.skip,
        fail_on=args.fail_on,
        command=command,
        show_passed=bool(getattr(args, "show_passed", False)),
        include_return=bool(args.include_return or snapshot.doc["inventory"].get("include_return")),
    )
