"""A readable terminal summary: problems first, each with where and how to fix it."""

from __future__ import annotations

from typing import Any

from reports.aggregate import flat_findings

_COLOURS = {"fail": "31", "error": "35", "warning": "33", "pass": "32", "not_applicable": "2"}
_LABEL = {"fail": "FAIL", "error": "ERROR", "warning": "WARN", "pass": "PASS", "not_applicable": "N/A"}


def _paint(text: str, status: str, colour: bool) -> str:
    return f"\x1b[{_COLOURS[status]}m{text}\x1b[0m" if colour else text


def _safe(text: str) -> str:
    """Host-supplied strings must not drive the terminal: drop control characters. Every value is
    printed on one line, so a line break in a VM name cannot forge a line of the report either."""
    return "".join(ch if ch.isprintable() else " " if ch in "\r\n\u2028\u2029" else "?" for ch in text)


def render_text(report: dict[str, Any], *, colour: bool = False, show_passed: bool = False) -> str:
    lines: list[str] = []
    run = report["run"]
    inv = report["inventory"]
    lines.append(f"hvlm {report['tool']['version']} - {run['command']} of {_safe(run['snapshot'])}")
    lines.append(
        f"{len(inv['hosts'])} hosts, {len(inv['pairs'])} planned migrations, "
        f"{len(run['checks_run'])} checks, snapshot taken {run['snapshot_created']}"
    )
    lines.append("")
    for f in flat_findings(report):
        status = f["status"]
        tag = _paint(f"{_LABEL[status]:5}", status, colour)
        lines.append(f"{tag} [{f['severity']}] {f['check_id']}: {_safe(f['subject']['label'])}")
        lines.append(f"      {_safe(f['message'])}")
        fix = f.get("fix")
        if fix and status in ("fail", "warning"):
            lines.append(f"      Fix ({_safe(fix['run_on'])}, as {_safe(fix['run_as'])}): {_safe(fix['summary'])}")
            for ps in fix["powershell"].splitlines():
                lines.append(f"        PS> {_safe(ps)}")
    if show_passed and report["passed"]:
        lines.append("")
        lines.append("Passed and not applicable, by check:")
        for entry in report["passed"]:
            status = entry["status"]
            subjects = entry["subjects"]
            shown = ", ".join(_safe(s) for s in subjects[:5]) + (f", ... ({len(subjects) - 5} more)" if len(subjects) > 5 else "")
            lines.append(f"{_paint(f'{_LABEL[status]:5}', status, colour)} {entry['check_id']}: {len(subjects)}: {shown}")
    if report["uncollected"]:
        lines.append("")
        lines.append(f"Could not collect {len(report['uncollected'])} facts:")
        for u in report["uncollected"][:50]:
            lines.append(f"  {_safe(u['path'])}: {u['kind']}: {_safe(u['message'])}")
        if len(report["uncollected"]) > 50:
            lines.append(f"  ... and {len(report['uncollected']) - 50} more (see the JSON report)")
    s = report["summary"]["by_status"]
    lines.append("")
    parts = [
        _paint(f"{s['fail']} failed", "fail", colour and s["fail"] > 0),
        _paint(f"{s['warning']} warnings", "warning", colour and s["warning"] > 0),
        _paint(f"{s['error']} errors", "error", colour and s["error"] > 0),
        _paint(f"{s['pass']} passed", "pass", colour),
        f"{s['not_applicable']} not applicable",
    ]
    lines.append("Summary: " + ", ".join(parts))
    verdicts = {
        0: "all clear",
        1: f"findings at or above severity {run['fail_on']}",
        3: "INCOMPLETE: some facts could not be collected or some checks errored",
        4: f"findings at or above severity {run['fail_on']}, and the audit is INCOMPLETE",
    }
    lines.append(f"Result: {verdicts[run['exit_code']]} (exit code {run['exit_code']})")
    return "\n".join(lines) + "\n"
