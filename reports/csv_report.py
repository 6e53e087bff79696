"""CSV for spreadsheets: one row per listed finding (failures, warnings, errors), in report order.
A waived finding keeps its status and names its waiver in the waiver columns; with --baseline,
baseline_state says new, unchanged or updated.

Passes and not-applicables are counted per check in the JSON report (and in JUnit), not listed:
a fleet of 2,000 hosts has hundreds of thousands of them.

Safe to open in Excel or LibreOffice: a cell that starts with = + - @ (or a tab or carriage
return) would be run as a formula, so it gets a leading single quote, as OWASP recommends
("CSV injection"). That alters such a value by one visible character, which is the price of not
running whatever a host chose to call itself. The file starts with a UTF-8 byte order mark so
Excel reads non-ASCII names correctly; Python's csv module and most tools read it with
encoding="utf-8-sig".
"""

from __future__ import annotations

import csv
import io
from typing import Any

from hvlm.reports.aggregate import flat_findings

__all__ = ["COLUMNS", "render_csv", "safe_cell"]

COLUMNS = (
    "id",
    "check_id",
    "title",
    "severity",
    "status",
    "direction",
    "subject_kind",
    "subject",
    "host",
    "source",
    "destination",
    "vm",
    "vm_id",
    "domain",
    "operator",
    "message",
    "fix_summary",
    "fix_run_on",
    "fix_run_as",
    "fix_target",
    "fix_requires_vm_off",
    "waiver",
    "waiver_justification",
    "waiver_approved_by",
    "waiver_expires",
    "baseline_state",
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """The cell's text, with a leading quote if a spreadsheet would take it for a formula."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def render_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    findings = flat_findings(report)
    for f in findings:
        fid = f["id"]
        s = f["subject"]
        fix = f.get("fix") or {}
        waiver = f.get("waiver") or {}
        row = [
            fid,
            f["check_id"],
            f["title"],
            f["severity"],
            f["status"],
            f.get("direction") or "",
            s["kind"],
            s["label"],
            s.get("host"),
            s.get("source"),
            s.get("destination"),
            s.get("vm"),
            s.get("vm_id"),
            s.get("domain"),
            s.get("operator"),
            f["message"],
            fix.get("summary"),
            fix.get("run_on"),
            fix.get("run_as"),
            fix.get("target"),
            ("yes" if fix.get("requires_vm_off") else "no") if fix else "",
            waiver.get("id"),
            waiver.get("justification"),
            waiver.get("approved_by"),
            waiver.get("expires"),
            f.get("baseline_state"),
        ]
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue()
