"""JUnit XML, so CI servers (Jenkins, GitLab, Azure DevOps) show a scan like a test run.

Mapping, chosen so a CI server's red/green agrees with hvlm's exit code:
- one <testsuite> per check (classname `hvlm.<check id>`), one <testcase> per finding, named by
  its subject ("hv01.corp.contoso.com", "hv01 -> hv02", "VM sql01 on hv01 -> hv02");
- fail -> <failure type="fail">, always;
- warning -> <failure type="warning"> when its severity is at or above the run's --fail-on
  threshold (it then also makes hvlm exit 1); below the threshold the test case passes and the
  warning is kept as the property hvlm.status=warning and in <system-out>;
- error (a fact could not be collected or the check crashed) -> <error>;
- not_applicable -> <skipped>; pass -> a plain test case;
- a waived finding (an accepted risk) -> <skipped> naming the waiver, with the properties
  hvlm.waiver, hvlm.waiver.expires, hvlm.waiver.approved_by; its real status stays in hvlm.status;
- with --fail-on-new, a failure or warning already in the baseline passes (hvlm.baseline_state
  says so), as it does not change the exit code.
Every test case carries the finding's id, status and severity as properties, and failures carry
the fix: where to run it, who, and the PowerShell.
"""

from __future__ import annotations

import re
from typing import Any
from xml.etree import ElementTree as ET  # builds XML only; never parses untrusted input

from hvlm.audit.model import SEVERITY_ORDER, Severity
from hvlm.audit.words import count
from hvlm.reports.aggregate import flat_findings

__all__ = ["junit_outcome", "render_junit"]

# XML 1.0 forbids most control characters even as character references: replace them.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _x(text: Any) -> str:
    return _INVALID_XML.sub("\ufffd", str(text))


def junit_outcome(finding: dict[str, Any], fail_on: str, fail_on_new: bool = False) -> str:
    """What a finding becomes in JUnit: "failure", "error", "skipped" or "passed"."""
    status = finding["status"]
    if finding.get("waiver"):
        return "skipped"
    if fail_on_new and status in ("fail", "warning") and finding.get("baseline_state") != "new":
        return "passed"
    if status == "fail":
        return "failure"
    if status == "warning":
        above = SEVERITY_ORDER[Severity(finding["severity"])] >= SEVERITY_ORDER[Severity(fail_on)]
        return "failure" if above else "passed"
    if status == "error":
        return "error"
    if status == "not_applicable":
        return "skipped"
    return "passed"


def _detail(finding: dict[str, Any]) -> str:
    lines = [finding["message"], f"Subject: {finding['subject']['label']}"]
    fix = finding.get("fix")
    if fix:
        lines += [
            "",
            f"Fix: {fix['summary']}",
            f"Run on: {fix['run_on']} ({fix['target']})",
            f"Run as: {fix['run_as']}",
        ]
        if fix.get("requires_vm_off"):
            lines.append("The VM must be turned off for this change.")
        if fix.get("gui"):
            lines.append(f"GUI: {fix['gui']}")
        if fix.get("powershell"):
            lines += ["PowerShell:", fix["powershell"]]
        lines += [f"Docs: {u}" for u in fix.get("docs", [])]
    return "\n".join(lines)


def _props(parent: ET.Element, pairs: list[tuple[str, str]]) -> None:
    props = ET.SubElement(parent, "properties")
    for name, value in pairs:
        ET.SubElement(props, "property", name=_x(name), value=_x(value))


def _summary_cases(suite: ET.Element, cid: str, counted: dict[str, int], counts: dict[str, int]) -> None:
    """Passes and not-applicables are counted, not listed: one test case says how many of each."""
    for status, outcome in (("pass", "passed"), ("not_applicable", "skipped")):
        n = counted.get(status, 0)
        if not n:
            continue
        words = "passed" if status == "pass" else "not applicable"
        case = ET.SubElement(suite, "testcase", classname=_x(f"hvlm.{cid}"), name=f"{count(n, 'subject')} {words}", time="0")
        _props(case, [("hvlm.status", status), ("hvlm.count", str(n))])
        counts["tests"] += 1
        if outcome == "skipped":
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=f"{count(n, 'subject')}: the check does not apply")


def render_junit(report: dict[str, Any]) -> str:
    run = report["run"]
    fail_on = run["fail_on"]
    findings = flat_findings(report)
    ids = [f["id"] for f in findings]
    counted = {c["id"]: c.get("counts", {}) for c in report["checks"]}
    titles = {c["id"]: c["title"] for c in report["checks"]}
    order: list[str] = [c["id"] for c in report["checks"]]
    for f in findings:
        if f["check_id"] not in order:
            order.append(f["check_id"])
    per_check: dict[str, list[int]] = {cid: [] for cid in order}
    for i, f in enumerate(findings):
        per_check[f["check_id"]].append(i)

    root = ET.Element("testsuites", name="hvlm")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for cid, indices in per_check.items():
        counts = {"tests": len(indices), "failures": 0, "errors": 0, "skipped": 0}
        suite = ET.Element("testsuite", name=_x(cid), timestamp=_x(run["finished"]).replace("Z", ""), time="0")
        _props(suite, [("check.title", titles.get(cid, cid)), ("hvlm.fail_on", fail_on)])
        names_seen: dict[str, int] = {}
        for i in indices:
            f = findings[i]
            label = f["subject"]["label"]
            names_seen[label] = names_seen.get(label, 0) + 1
            name = label if names_seen[label] == 1 else f"{label} #{names_seen[label]}"
            case = ET.SubElement(suite, "testcase", classname=_x(f"hvlm.{cid}"), name=_x(name), time="0")
            props = [
                ("hvlm.id", ids[i]),
                ("hvlm.status", f["status"]),
                ("hvlm.severity", f["severity"]),
                ("hvlm.subject.kind", f["subject"]["kind"]),
            ]
            waiver = f.get("waiver")
            if waiver:
                props += [("hvlm.waiver", waiver["id"]), ("hvlm.waiver.expires", waiver["expires"]),
                          ("hvlm.waiver.approved_by", waiver["approved_by"]),
                          ("hvlm.waiver.justification", waiver["justification"])]
            if f.get("baseline_state"):
                props.append(("hvlm.baseline_state", f["baseline_state"]))
            _props(case, props)
            outcome = junit_outcome(f, fail_on, bool(run.get("fail_on_new")))
            if outcome == "failure":
                counts["failures"] += 1
                el = ET.SubElement(case, "failure", message=_x(f["message"]), type=f["status"])
                el.text = _x(_detail(f))
            elif outcome == "error":
                counts["errors"] += 1
                el = ET.SubElement(case, "error", message=_x(f["message"]), type="error")
                el.text = _x(_detail(f))
            elif outcome == "skipped":
                counts["skipped"] += 1
                if waiver:
                    el = ET.SubElement(case, "skipped", message=_x(
                        f"WAIVED ({f['status']}) by {waiver['id']} until {waiver['expires']}: {waiver['justification']}"))
                    el.text = _x(_detail(f))
                else:
                    ET.SubElement(case, "skipped", message=_x(f["message"]))
            elif f["status"] in ("fail", "warning") and f.get("baseline_state") and run.get("fail_on_new"):
                out = ET.SubElement(case, "system-out")
                out.text = _x(f"{f['status']} already in the baseline ({f['baseline_state']}); --fail-on-new counts only "
                              f"new findings:\n{_detail(f)}")
            elif f["status"] == "warning":
                out = ET.SubElement(case, "system-out")
                out.text = _x(f"warning below the --fail-on threshold ({fail_on}):\n{_detail(f)}")
        _summary_cases(suite, cid, counted.get(cid, {}), counts)
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
        root.append(suite)
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", "0")
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
