"""Evaluate a snapshot with a selection of checks and build the report: shared by audit and scan."""

from __future__ import annotations

import datetime as dt
import gc
import sys
from dataclasses import dataclass
from typing import Any

from hvlm.audit.drift import apply_baseline, load_report
from hvlm.audit.engine import run_checks
from hvlm.audit.errors import UsageError
from hvlm.audit.inventory import pairing_advice
from hvlm.audit.model import Severity
from hvlm.audit.registry import Check, Registry, load_registry
from hvlm.audit.report import build_report, recount_exit_code
from hvlm.audit.snapshot import Snapshot, now_iso
from hvlm.audit.waivers import WaiverFile, apply_waivers, load_waivers
from hvlm.audit.words import noun

__all__ = ["Compliance", "advise_pairing", "audit_args", "audit_snapshot", "load_compliance", "select_checks"]


@dataclass(frozen=True, slots=True)
class Compliance:
    """What a compliance run adds to an audit: waivers, a baseline report, --fail-on-new."""

    waivers: WaiverFile | None = None
    baseline: tuple[str, dict[str, Any]] | None = None  # (file name, report)
    fail_on_new: bool = False


def load_compliance(args: Any, registry: Registry | None = None, inventory_waivers: str | None = None) -> Compliance:
    """Read the waivers file and the baseline before anything is collected or audited: a bad
    file is an input error (exit 2) and no earlier output is touched."""
    path = getattr(args, "waivers", None) or inventory_waivers
    waivers = None
    if path:
        registry = registry or load_registry()
        kinds = {c.meta.id: c.meta.subject.value for c in registry}
        waivers = load_waivers(path, set(kinds), kinds)
        waivers.require_usable()
    baseline = None
    if getattr(args, "baseline", None):
        baseline = (str(args.baseline), load_report(args.baseline))
    fail_on_new = bool(getattr(args, "fail_on_new", False))
    if fail_on_new and baseline is None:
        raise UsageError("--fail-on-new needs --baseline OLD_REPORT (the run whose findings are not new)")
    return Compliance(waivers, baseline, fail_on_new)


def apply_compliance(report: dict[str, Any], compliance: Compliance, today: dt.date | None = None) -> None:
    """Mark waived members and baseline states, then recount the exit code from the report."""
    if compliance.waivers is None and compliance.baseline is None:
        return
    if compliance.waivers is not None:
        apply_waivers(report, compliance.waivers, today)
    if compliance.baseline is not None:
        apply_baseline(report, compliance.baseline[1], compliance.baseline[0])
    if compliance.fail_on_new:
        report["run"]["fail_on_new"] = True
    recount_exit_code(report, fail_on_new=compliance.fail_on_new)


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
    compliance: Compliance | None = None,
    today: dt.date | None = None,
) -> dict[str, Any]:
    started = now_iso()
    chosen, skipped = select_checks(registry or load_registry(), only, skip)
    # The snapshot lives to the end of the run: move its millions of objects out of the cyclic
    # collector's sight, which otherwise rescans them while the checks allocate (a third of the
    # evaluation time on a 2,000-host fleet).
    gc.collect()
    gc.freeze()
    try:
        evaluation = run_checks(snapshot, chosen, list_passed=show_passed)
    finally:
        gc.unfreeze()
    report = build_report(
        snapshot, evaluation, chosen, fail_on=Severity(fail_on), command=command, skipped=skipped, started=started,
        include_return=include_return,
    )
    if compliance is not None:
        apply_compliance(report, compliance, today)
    return report


def advise_pairing(hosts: list[str], pairs: Any, groups: dict[str, Any]) -> None:
    """Say on stderr when a large inventory plans every ordered pair only by default."""
    advice = pairing_advice(hosts, pairs, groups)
    if advice:
        print(f"hvlm: note: {advice}", file=sys.stderr)


def audit_args(snapshot: Snapshot, args: Any, command: str, compliance: Compliance | None = None,
               registry: Registry | None = None) -> dict[str, Any]:
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
        registry=registry,
        show_passed=bool(getattr(args, "show_passed", False)),
        include_return=bool(args.include_return or snapshot.doc["inventory"].get("include_return")),
        compliance=compliance,
    )
