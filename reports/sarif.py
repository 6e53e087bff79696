"""SARIF 2.1.0 (OASIS), for code-scanning dashboards and security tooling that read it.

Mapping:
- every check run is a rule: id, a PascalCase name, shortDescription = title, fullDescription =
  rationale, helpUri = its first reference, help = the fix hint, properties.severity;
  defaultConfiguration.level from the check's severity;
- every problem member is a result: fail -> error (critical, high) or warning; warning -> warning
  (critical, high, medium) or note; error (could not be checked) -> note with
  properties.hvlm.status = "error". The message is the member's; the location is logical (the
  subject: a host, a move, a VM, an operator account, a domain), as nothing here is a source file;
- partialFingerprints["hvlmFindingId/v1"] is the member id (check + hash of the subject, the same
  in every run), so dashboards track a finding across runs;
- a waived member has a suppression (kind "external", status "accepted", the justification, who
  approved it and the expiry in its properties);
- with --baseline, baselineState new / unchanged / updated, and one result (kind "pass", level
  "none", baselineState "absent") per finding of the baseline that is gone.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["SARIF_SCHEMA", "render_sarif", "result_level", "sarif_log"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT = "hvlmFindingId/v1"
_RULE_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
_TAGS = ["hyper-v", "live-migration", "compliance"]


def result_level(status: str, severity: str) -> str:
    """The SARIF level of a member with this status and severity."""
    if status == "fail":
        return "error" if severity in ("critical", "high") else "warning"
    if status == "warning":
        return "warning" if severity in ("critical", "high", "medium") else "note"
    return "note"  # error: it could not be checked


def _rule_name(check_id: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in check_id.replace("_", "-").split("-") if part)


def _rule(check: dict[str, Any]) -> dict[str, Any]:
    refs = [r for r in check.get("references", []) if isinstance(r, str)]
    hint = check.get("fix_hint") or ""
    help_text = f"Fix: {hint}" if hint else check["rationale"]
    if refs:
        help_text += "\nSee: " + " ".join(refs)
    rule: dict[str, Any] = {
        "id": check["id"],
        "name": _rule_name(check["id"]),
        "shortDescription": {"text": check["title"]},
        "fullDescription": {"text": check["rationale"]},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": _RULE_LEVEL[check["severity"]]},
        "properties": {"severity": check["severity"], "subject": check["subject"], "rollback": check["rollback"],
                       "tags": _TAGS},
    }
    if refs:
        rule["helpUri"] = refs[0]
    return rule


def _location(subject: dict[str, Any]) -> dict[str, Any]:
    kind = subject["kind"]
    if kind == "host":
        name = subject.get("host") or subject["label"]
    elif kind == "pair":
        name = f"{subject.get('source')} -> {subject.get('destination')}"
    elif kind == "vm":
        name = subject.get("vm") or subject["label"]
    elif kind == "operator":
        name = subject.get("operator") or subject["label"]
    else:
        name = subject.get("domain") or subject["label"]
    return {"logicalLocations": [{"name": name, "fullyQualifiedName": subject["label"],
                                  "kind": "move" if kind == "pair" else kind}]}


def _result(group: dict[str, Any], member: dict[str, Any], rule_index: int | None) -> dict[str, Any]:
    props: dict[str, Any] = {"hvlm.status": group["status"], "hvlm.severity": group["severity"],
                             "hvlm.id": member["id"], "hvlm.group": group["id"]}
    if group["direction"]:
        props["hvlm.direction"] = group["direction"]
    if group["status"] == "error":
        props["hvlm.couldNotCheck"] = True
    result: dict[str, Any] = {
        "ruleId": group["check_id"],
        "level": result_level(group["status"], group["severity"]),
        "kind": "fail",
        "message": {"text": member["message"]},
        "locations": [_location(member["subject"])],
        "partialFingerprints": {FINGERPRINT: member["id"]},
        "properties": props,
    }
    if rule_index is not None:
        result["ruleIndex"] = rule_index
    waiver = member.get("waiver")
    if waiver:
        result["suppressions"] = [{
            "kind": "external",
            "status": "accepted",
            "justification": waiver["justification"],
            "properties": {"waiverId": waiver["id"], "approvedBy": waiver["approved_by"],
                           "expires": waiver["expires"]},
        }]
    if member.get("baseline_state"):
        result["baselineState"] = member["baseline_state"]
    return result


def _absent(entry: dict[str, Any], rule_index: int | None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": entry["check_id"],
        "level": "none",
        "kind": "pass",
        "message": {"text": f"No longer found (was {entry['status']} in the baseline): {entry['message']}"},
        "locations": [{"logicalLocations": [{"fullyQualifiedName": entry["subject"]}]}],
        "partialFingerprints": {FINGERPRINT: entry["id"]},
        "baselineState": "absent",
        "properties": {"hvlm.id": entry["id"], "hvlm.status": entry["status"], "hvlm.severity": entry["severity"]},
    }
    if rule_index is not None:
        result["ruleIndex"] = rule_index
    return result


def sarif_log(report: dict[str, Any]) -> dict[str, Any]:
    """The SARIF log (one run) of a version 2 report."""
    run = report["run"]
    rules = [_rule(c) for c in report["checks"]]
    index = {r["id"]: i for i, r in enumerate(rules)}
    results = [_result(g, m, index.get(g["check_id"])) for g in report["findings"] for m in g["members"]]
    baseline = report.get("baseline")
    if baseline:
        results += [_absent(e, index.get(e["check_id"])) for e in baseline["absent"]]
    code = run["exit_code"]
    sarif_run: dict[str, Any] = {
        "tool": {"driver": {"name": "hvlm", "version": report["tool"]["version"], "rules": rules}},
        "automationDetails": {"id": f"hvlm/{run['command']}/"},
        "invocations": [{
            "executionSuccessful": True,
            "exitCode": code,
            "startTimeUtc": run["started"],
            "endTimeUtc": run["finished"],
            "properties": {"snapshot": run["snapshot"], "failOn": run["fail_on"],
                           "includeReturn": run["include_return"], "snapshotComplete": run["snapshot_complete"]},
        }],
        "results": results,
        "properties": {"summary": report["summary"]["by_status"]},
    }
    if baseline:
        sarif_run["properties"]["baseline"] = {"file": baseline["file"], "started": baseline["started"]}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [sarif_run]}


def render_sarif(report: dict[str, Any]) -> str:
    return json.dumps(sarif_log(report), ensure_ascii=False, indent=1) + "\n"
