"""The normalised report that every renderer takes, and the exit codes pipelines rely on."""

from __future__ import annotations

import datetime as dt
import getpass
import socket
from collections.abc import Iterable
from typing import Any

from audit import __version__
from audit.model import SEVERITY_ORDER, Finding, Severity, Status
from audit.registry import Check
from audit.snapshot import Snapshot, now_iso

__all__ = [
    "EXIT_CLEAR",
    "EXIT_FINDINGS",
    "EXIT_FINDINGS_AND_INCOMPLETE",
    "EXIT_INCOMPLETE",
    "EXIT_USAGE",
    "REPORT_VERSION",
    "build_report",
    "exit_code",
]

REPORT_VERSION = 1
EXIT_CLEAR = 0  # every check passed (or was not applicable) at the threshold
EXIT_FINDINGS = 1  # failures or warnings at or above --fail-on
EXIT_USAGE = 2  # usage or input error: nothing was audited
EXIT_INCOMPLETE = 3  # facts missing or checks errored, no findings at the threshold
EXIT_FINDINGS_AND_INCOMPLETE = 4  # both 1 and 3


def operator_identity() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _summary(findings: list[Finding]) -> dict[str, Any]:
    by_status = {s.value: 0 for s in Status}
    by_severity: dict[str, dict[str, int]] = {
        sev.value: {"fail": 0, "warning": 0, "error": 0}
        for sev in sorted(Severity, key=lambda s: -SEVERITY_ORDER[s])
    }
    for f in findings:
        by_status[f.status.value] += 1
        if f.status in (Status.FAIL, Status.WARNING, Status.ERROR):
            by_severity[f.severity.value][f.status.value] += 1
    return {"findings": len(findings), "by_status": by_status, "by_severity": by_severity}


def exit_code(findings: Iterable[Finding], complete: bool, fail_on: Severity) -> int:
    threshold = SEVERITY_ORDER[fail_on]
    above = False
    incomplete = not complete
    for f in findings:
        if f.status in (Status.FAIL, Status.WARNING) and SEVERITY_ORDER[f.severity] >= threshold:
            above = True
        elif f.status is Status.ERROR:
            incomplete = True
    if above and incomplete:
        return EXIT_FINDINGS_AND_INCOMPLETE
    if above:
        return EXIT_FINDINGS
    if incomplete:
        return EXIT_INCOMPLETE
    return EXIT_CLEAR


def _sort_key(f: Finding) -> tuple[int, int, str, str]:
    rank = {Status.FAIL: 0, Status.ERROR: 1, Status.WARNING: 2, Status.PASS: 3, Status.NOT_APPLICABLE: 4}
    return (rank[f.status], -SEVERITY_ORDER[f.severity], f.check_id, f.subject.label)


def build_report(
    snapshot: Snapshot,
    findings: list[Finding],
    checks: list[Check],
    *,
    fail_on: Severity,
    command: str,
    skipped: Iterable[str] = (),
    started: str | None = None,
) -> dict[str, Any]:
    ordered = sorted(findings, key=_sort_key)
    uncollected = snapshot.uncollected()
    # A fact that does not exist on that host (kind not_found: Get-VMHostSupportedVersion on
    # 2012 R2) is listed, but only makes the run incomplete through a check that needed it.
    missing = [u for u in uncollected if u["kind"] != "not_found"]
    code = exit_code(ordered, snapshot.complete and not missing, fail_on)
    return {
        "report_version": REPORT_VERSION,
        "tool": {"name": "hvlm", "version": __version__},
        "run": {
            "command": command,
            "started": started or now_iso(),
            "finished": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            "run_by": operator_identity(),
            "snapshot": snapshot.name,
            "snapshot_created": snapshot.doc["created"],
            "snapshot_complete": snapshot.complete,
            "fail_on": fail_on.value,
            "checks_run": [c.meta.id for c in checks],
            "checks_skipped": sorted(skipped),
            "exit_code": code,
        },
        "inventory": snapshot.doc["inventory"],
        "summary": _summary(ordered),
        "findings": [f.to_dict() for f in ordered],
        "uncollected": uncollected,
        "checks": [
            {
                "id": c.meta.id,
                "title": c.meta.title,
                "severity": c.meta.severity.value,
                "subject": c.meta.subject.value,
                "rationale": c.meta.rationale,
                "references": list(c.meta.references),
            }
            for c in checks
        ],
    }
