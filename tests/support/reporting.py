"""Build a real (version 2) report from hand-written finding dicts, through audit.report."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hvlm.audit.engine import Evaluation, directions
from hvlm.audit.model import Finding, Fix, Severity, Status, Subject
from hvlm.audit.report import build_report
from hvlm.audit.snapshot import Snapshot
from tests.support.fleet import HostModel, build_snapshot


def report_from(findings: list[dict[str, Any]], hosts: list[str], pairs: list[list[str]]) -> dict[str, Any]:
    """The report hvlm would write had the checks found these (passes are counted, not listed)."""
    models = [HostModel(h.split(".")[0].upper(), domain=h.split(".", 1)[1], index=i + 1) for i, h in enumerate(hosts)]
    doc = build_snapshot(models, pairs=[(s, d) for s, d in pairs])
    snapshot = Snapshot.from_document(doc)
    ev = Evaluation(directions=directions(snapshot))
    for f in findings:
        ev.counts.setdefault(f["check_id"], Counter())[f["status"]] += 1
        if f["status"] in ("pass", "not_applicable"):
            continue
        ev.findings.append(Finding(
            check_id=f["check_id"], title=f["title"], subject=Subject.from_dict(f["subject"]),
            status=Status(f["status"]), severity=Severity(f["severity"]), message=f["message"],
            evidence=f["evidence"], facts_used=tuple(f["facts_used"]),
            fix=Fix.from_dict(f["fix"]) if f["fix"] else None,
        ))
    return build_report(snapshot, ev, [], fail_on=Severity.MEDIUM, command="test")


def as_groups(findings: list[dict[str, Any]]) -> dict[str, Any]:
    """Hand-written v1-style finding dicts as the report's v2 sections: one group per finding."""
    from hvlm.audit.shapes import finding_id

    fixes: list[dict[str, Any]] = []
    groups: list[dict[str, Any]] = []
    for i, f in enumerate(findings):
        fix_index = None
        if f.get("fix"):
            fixes.append(f["fix"])
            fix_index = len(fixes) - 1
        groups.append({
            "id": f"g{i + 1}", "check_id": f["check_id"], "title": f["title"], "status": f["status"],
            "severity": f["severity"], "direction": f.get("direction"),
            "members": [{"id": finding_id(f["check_id"], f["subject"]), "subject": f["subject"],
                         "message": f["message"], "evidence": f.get("evidence", {}), "fix": fix_index, "facts": []}],
        })
    return {"findings": groups, "fixes": fixes, "facts": []}
