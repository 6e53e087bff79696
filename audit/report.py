"""The report every renderer takes (schema: audit/schemas/report.schema.json, version 2), and the
exit codes pipelines rely on.

It grows with problems, not with subjects x checks: passes and not-applicables are counted per
check (listed compactly only with --show-passed); every failure, warning and error is a member of
a group (same check, status, severity, direction and message once the subject's names and numbers
are blanked); a fix or a fact's provenance that several members share is stored once and referred
to by index. `moves`, `hosts` and `vms` index the members by move, host and VM, so "everything
about hv01 -> hv02" or "about VM db01" is a lookup, not a scan.
"""

from __future__ import annotations

import datetime as dt
import getpass
import socket
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hvlm.audit import __version__
from hvlm.audit.engine import Evaluation, judged_domains
from hvlm.audit.model import SEVERITY_ORDER, Finding, Severity, Status, SubjectKind
from hvlm.audit.registry import Check
from hvlm.audit.roles import affects
from hvlm.audit.shapes import finding_id, shape_key
from hvlm.audit.snapshot import NON_BLOCKING_KINDS, Snapshot, now_iso

__all__ = [
    "EXIT_CLEAR",
    "EXIT_FINDINGS",
    "EXIT_FINDINGS_AND_INCOMPLETE",
    "EXIT_INCOMPLETE",
    "EXIT_USAGE",
    "REPORT_VERSION",
    "build_report",
    "exit_code",
    "recount_exit_code",
]

REPORT_VERSION = 2
EXIT_CLEAR = 0  # every check passed (or was not applicable) at the threshold
EXIT_FINDINGS = 1  # failures or warnings at or above --fail-on
EXIT_USAGE = 2  # usage or input error: nothing was audited
EXIT_INCOMPLETE = 3  # facts missing or checks errored, no findings at the threshold
EXIT_FINDINGS_AND_INCOMPLETE = 4  # both 1 and 3

_STATUS_RANK = {Status.FAIL: 0, Status.ERROR: 1, Status.WARNING: 2, Status.PASS: 3, Status.NOT_APPLICABLE: 4}
_STATUSES = [s.value for s in _STATUS_RANK]


def operator_identity() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def exit_code(findings: Iterable[Finding], complete: bool, fail_on: Severity) -> int:
    """1 for a failure or warning at or above the threshold, 3 when incomplete, 4 for both."""
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


def _worst(statuses: Iterable[str]) -> str | None:
    ranked = [s for s in statuses if s in _STATUSES]
    return min(ranked, key=_STATUSES.index) if ranked else None


@dataclass(slots=True)
class _Tables:
    """Fixes and fact provenance, each stored once and referred to by index."""

    fixes: list[dict[str, Any]] = field(default_factory=list)
    facts: list[dict[str, Any]] = field(default_factory=list)
    _fix_index: dict[Any, int] = field(default_factory=dict)
    _fact_index: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def fix(self, finding: Finding) -> int | None:
        if finding.fix is None:
            return None
        key = finding.fix  # frozen dataclass: equal fixes hash alike
        index = self._fix_index.get(key)
        if index is None:
            index = self._fix_index[key] = len(self.fixes)
            self.fixes.append(finding.fix.to_dict())
        return index

    def fact_refs(self, used: tuple[dict[str, Any], ...]) -> list[int]:
        refs = []
        for u in used:
            key = (u["name"], u["path"], u["collected_at"])
            index = self._fact_index.get(key)
            if index is None:
                index = self._fact_index[key] = len(self.facts)
                self.facts.append(u)
            refs.append(index)
        return refs


def _direction(f: Finding, planned: set[tuple[str, str]]) -> str | None:
    if f.subject.kind not in (SubjectKind.PAIR, SubjectKind.VM):
        return None
    return "planned" if (f.subject.source, f.subject.destination) in planned else "return"


def _sort_key(f: Finding) -> tuple[int, int, str, str]:
    return (_STATUS_RANK[f.status], -SEVERITY_ORDER[f.severity], f.check_id, f.subject.label)


def _groups(findings: list[Finding], planned: set[tuple[str, str]], tables: _Tables) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str, str, str | None, str], dict[str, Any]] = {}
    seen: Counter[str] = Counter()
    for f in sorted(findings, key=_sort_key):
        subject = f.subject.to_dict()
        direction = _direction(f, planned)
        key = (f.check_id, f.status.value, f.severity.value, direction, shape_key(f.message, subject))
        group = groups.get(key)
        if group is None:
            group = groups[key] = {
                "id": f"g{len(groups) + 1}",
                "check_id": f.check_id,
                "title": f.title,
                "status": f.status.value,
                "severity": f.severity.value,
                "direction": direction,
                "members": [],
            }
        fid = finding_id(f.check_id, subject)
        seen[fid] += 1
        group["members"].append({
            "id": fid if seen[fid] == 1 else f"{fid}-{seen[fid]}",
            "subject": subject,
            "message": f.message,
            "evidence": f.evidence,
            "fix": tables.fix(f),
            "facts": tables.fact_refs(f.facts_used),
        })
    return list(groups.values())


def _indexes(snapshot: Snapshot, ev: Evaluation, groups: list[dict[str, Any]]) -> dict[str, Any]:
    """Members by move, host and VM; each move's and host's verdict."""
    by_pair: dict[tuple[str, str], list[list[int]]] = {}
    by_host: dict[str, list[list[int]]] = {h: [] for h in snapshot.hosts}
    by_domain: dict[str, list[list[int]]] = {}
    vms: dict[str, dict[str, list[list[int]]]] = {}
    status_of: dict[tuple[int, int], str] = {}
    for g, group in enumerate(groups):
        for m, member in enumerate(group["members"]):
            ref = [g, m]
            status_of[(g, m)] = group["status"]
            s = member["subject"]
            if s["kind"] in ("pair", "vm"):
                by_pair.setdefault((s["source"], s["destination"]), []).append(ref)
                if s["kind"] == "vm" and "vm" in s:  # a VM check's move-level error names no VM
                    vms.setdefault(s["source"], {}).setdefault(s["vm"], []).append(ref)
            elif s["kind"] in ("host", "operator"):
                by_host.setdefault(s["host"], []).append(ref)
            elif s["kind"] == "domain":
                by_domain.setdefault(s["domain"], []).append(ref)
    hosts: dict[str, Any] = {}
    for host, refs in by_host.items():
        dom = snapshot.host_domain(host)
        refs = refs + by_domain.get(dom or "", [])
        counts = Counter(status_of[(g, m)] for g, m in refs)
        hosts[host] = {"verdict": _worst(counts) or "pass", "counts": dict(counts), "findings": refs}
    # each host's problems as they bear on moves away from it (source) and to it (destination)
    ends_of: dict[tuple[str, str], str] = {}
    for host, entry in hosts.items():
        for role in ("source", "destination"):
            ends_of[(host, role)] = _worst(
                status_of[(g, m)] for g, m in entry["findings"] if affects(groups[g]["check_id"], role)
            ) or "pass"
    moves = []
    for d in ev.directions:
        refs = by_pair.get((d.source, d.destination), [])
        counts = Counter(status_of[(g, m)] for g, m in refs)
        ends = [ends_of[(h, role)] for h, role in ((d.source, "source"), (d.destination, "destination"))
                if (h, role) in ends_of]
        moves.append({
            "source": d.source,
            "destination": d.destination,
            "planned": d.planned,
            "verdict": _worst([*counts, *ends]) or "pass",
            "counts": dict(counts),
            "findings": refs,
        })
    return {"moves": moves, "hosts": hosts, "vms": vms}


def _summary(ev: Evaluation, moves: list[dict[str, Any]], groups: list[dict[str, Any]]) -> dict[str, Any]:
    by_status = {s: 0 for s in _STATUSES}
    for counts in ev.counts.values():
        for status, n in counts.items():
            by_status[status] += n
    by_severity: dict[str, dict[str, int]] = {
        sev.value: {"fail": 0, "warning": 0, "error": 0} for sev in sorted(Severity, key=lambda s: -SEVERITY_ORDER[s])
    }
    for group in groups:
        by_severity[group["severity"]][group["status"]] += len(group["members"])
    planned = [m for m in moves if m["planned"]]
    return {
        "verdicts": sum(by_status.values()),
        "by_status": by_status,
        "by_severity": by_severity,
        "moves": {
            "planned": len(planned),
            "return": len(moves) - len(planned),
            "by_verdict": {s: sum(1 for m in planned if m["verdict"] == s) for s in _STATUSES},
        },
    }


def _passed(ev: Evaluation) -> list[dict[str, Any]]:
    return [
        {"check_id": check_id, "status": status, "subjects": [s.label for s in subjects]}
        for (check_id, status), subjects in sorted(ev.passed.items())
    ]


def build_report(
    snapshot: Snapshot,
    evaluation: Evaluation,
    checks: list[Check],
    *,
    fail_on: Severity,
    command: str,
    skipped: Iterable[str] = (),
    started: str | None = None,
    include_return: bool = False,
) -> dict[str, Any]:
    planned = set(snapshot.pairs)
    tables = _Tables()
    groups = _groups(evaluation.findings, planned, tables)
    uncollected = snapshot.uncollected(include_notes=True)
    # A fact that does not exist on that host (kind not_found: Get-VMHostSupportedVersion on
    # 2012 R2) is listed, but only makes the run incomplete through a check that needed it.
    # Notes (errors the probe recovered from) are listed on their host and never make it incomplete.
    missing = [u for u in uncollected if u["kind"] not in NON_BLOCKING_KINDS]
    counted = [f for f in evaluation.findings if include_return or _direction(f, planned) != "return"]
    code = exit_code(counted, snapshot.complete and not missing, fail_on)
    index = _indexes(snapshot, evaluation, groups)
    report: dict[str, Any] = {
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
            "include_return": include_return,
            "checks_run": [c.meta.id for c in checks],
            "checks_skipped": sorted(skipped),
            "domains": judged_domains(snapshot),
            "exit_code": code,
        },
        "inventory": snapshot.doc["inventory"],
        "summary": _summary(evaluation, index["moves"], groups),
        "checks": [
            {
                "id": c.meta.id,
                "title": c.meta.title,
                "severity": c.meta.severity.value,
                "subject": c.meta.subject.value,
                "rollback": c.meta.rollback,
                "rationale": c.meta.rationale,
                "references": list(c.meta.references),
                "fix_hint": c.meta.fix_hint,
                "counts": {s: evaluation.counts.get(c.meta.id, Counter()).get(s, 0) for s in _STATUSES},
            }
            for c in checks
        ],
        "findings": groups,
        "fixes": tables.fixes,
        "facts": tables.facts,
        "passed": _passed(evaluation),
        **index,
        "uncollected": uncollected,
    }
    return report


def recount_exit_code(report: dict[str, Any], *, fail_on_new: bool = False) -> int:
    """The exit code from the report itself, after waivers and a baseline marked its members.

    As `exit_code`, but a waived member (an accepted risk, `waiver` set) never counts, and with
    `fail_on_new` only members new since the baseline (`baseline_state` "new") can make it 1;
    return-direction members count only with include_return. Stored in run.exit_code.
    """
    run = report["run"]
    threshold = SEVERITY_ORDER[Severity(run["fail_on"])]
    include_return = bool(run.get("include_return"))
    above = False
    incomplete = not run["snapshot_complete"] or any(u["kind"] != "not_found" for u in report["uncollected"])
    for group in report["findings"]:
        if group["direction"] == "return" and not include_return:
            continue
        status = group["status"]
        for member in group["members"]:
            if member.get("waiver"):
                continue
            if status == "error":
                incomplete = True
            elif SEVERITY_ORDER[Severity(group["severity"])] >= threshold and (
                not fail_on_new or member.get("baseline_state") == "new"
            ):
                above = True
    code = EXIT_FINDINGS_AND_INCOMPLETE if above and incomplete else EXIT_FINDINGS if above else \
        EXIT_INCOMPLETE if incomplete else EXIT_CLEAR
    run["exit_code"] = code
    return code
