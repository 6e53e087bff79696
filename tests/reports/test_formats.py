"""JSON, JUnit and CSV outputs: each valid for its own reader, and all three agree on the counts."""

from __future__ import annotations

import copy
import csv
import io
import json
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from hvlm.audit.cli import main
from hvlm.audit.model import SEVERITY_ORDER, Severity
from hvlm.audit.schemas import load_schema
from hvlm.reports.aggregate import flat_findings
from hvlm.reports.csv_report import COLUMNS, render_csv, safe_cell
from hvlm.reports.json_report import render_json
from hvlm.reports.junit import junit_outcome, render_junit


def _schema_errors(doc: Any) -> list[str]:
    validator = Draft202012Validator(load_schema("report"), format_checker=FormatChecker())
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


def _csv_rows(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff"), "a BOM lets Excel read UTF-8"
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


def _cases(xml_text: str) -> tuple[ET.Element, list[ET.Element]]:
    root = ET.fromstring(xml_text.encode("utf-8"))
    return root, root.findall("./testsuite/testcase")


def _check_agreement(report: dict[str, Any]) -> None:
    doc = json.loads(render_json(report))
    assert _schema_errors(doc) == []
    findings = flat_findings(doc)
    by_status = Counter(f["status"] for f in findings)
    # listed members are the problems; passes and not-applicables are counted per check
    counted = Counter({s: sum(c["counts"][s] for c in doc["checks"]) for s in ("pass", "not_applicable")})
    assert {k: v for k, v in doc["summary"]["by_status"].items() if v} == {
        k: v for k, v in (by_status + counted).items() if v}
    assert sum(doc["summary"]["by_status"].values()) == doc["summary"]["verdicts"]

    rows = _csv_rows(render_csv(report))
    assert len(rows) == len(findings)
    assert Counter(r["status"] for r in rows) == by_status
    assert list(rows[0]) == list(COLUMNS)

    root, all_cases = _cases(render_junit(report))
    cases = [c for c in all_cases if c.find("properties/property[@name='hvlm.id']") is not None]
    summary_cases = [c for c in all_cases if c.find("properties/property[@name='hvlm.count']") is not None]
    assert len(cases) + len(summary_cases) == len(all_cases)
    for status in ("pass", "not_applicable"):
        assert sum(int(c.find("properties/property[@name='hvlm.count']").get("value"))  # type: ignore[union-attr]
                   for c in summary_cases
                   if c.find("properties/property[@name='hvlm.status']").get("value") == status  # type: ignore[union-attr]
                   ) == counted[status]
    threshold = SEVERITY_ORDER[Severity(doc["run"]["fail_on"])]
    warn_fail = sum(
        1 for f in findings if f["status"] == "warning" and SEVERITY_ORDER[Severity(f["severity"])] >= threshold
    )
    assert root.tag == "testsuites"
    assert int(root.get("tests", -1)) == len(all_cases) and len(cases) == len(findings)
    assert int(root.get("failures", -1)) == by_status["fail"] + warn_fail
    assert int(root.get("errors", -1)) == by_status["error"]
    assert int(root.get("skipped", -1)) == sum(1 for c in summary_cases if c.find("skipped") is not None)
    assert len(root.findall("./testsuite/testcase/failure")) == by_status["fail"] + warn_fail
    assert len(root.findall("./testsuite/testcase/error")) == by_status["error"]
    for suite in root.findall("testsuite"):
        assert int(suite.get("tests", -1)) == len(suite.findall("testcase"))
        assert int(suite.get("failures", -1)) == len(suite.findall("testcase/failure"))
    # the same finding ids in CSV and JUnit
    junit_ids = {c.find("properties/property[@name='hvlm.id']").get("value") for c in cases}  # type: ignore[union-attr]
    assert junit_ids == {r["id"] for r in rows}
    assert len(junit_ids) == len(findings)
    # per check, the JUnit suite holds exactly that check's CSV rows
    per_check_csv = Counter(r["check_id"] for r in rows)
    listed = {s.get("name"): len([c for c in s.findall("testcase")
                                  if c.find("properties/property[@name='hvlm.id']") is not None])
              for s in root.findall("testsuite")}
    assert {k: v for k, v in listed.items() if v} == dict(per_check_csv)


def test_example_outputs_are_valid_and_agree(example: dict[str, Any]) -> None:
    assert example["summary"]["by_status"]["fail"] > 0, "the example must exercise failures"
    _check_agreement(example)


def test_hostile_outputs_are_valid_and_agree(hostile: dict[str, Any]) -> None:
    assert hostile["summary"]["by_status"]["error"] > 0, "the hostile fleet exercises errors too"
    _check_agreement(hostile)


def test_junit_maps_warnings_by_threshold_and_not_applicable_to_skipped(example: dict[str, Any]) -> None:
    rep = copy.deepcopy(example)
    base = next(f for f in flat_findings(rep) if f["status"] == "fail")
    warn_low = {**copy.deepcopy(base), "status": "warning", "severity": "low"}
    warn_high = {**copy.deepcopy(base), "status": "warning", "severity": "high"}
    na = {**copy.deepcopy(base), "status": "not_applicable", "fix": None}
    assert junit_outcome(warn_low, "medium") == "passed"
    assert junit_outcome(warn_high, "medium") == "failure"
    assert junit_outcome(warn_low, "low") == "failure"
    assert junit_outcome(na, "medium") == "skipped"
    assert junit_outcome({**base, "status": "pass"}, "medium") == "passed"
    rep["findings"] = [{**g, "members": g["members"][:1]} for g in rep["findings"] if g["check_id"] == base["check_id"]][:1]
    rep["findings"] += [{**rep["findings"][0], "id": "g9", "status": "warning", "severity": "high"}]
    rep["findings"][0] = {**rep["findings"][0], "status": "warning", "severity": "low"}
    _, cases = _cases(render_junit(rep))
    low, high = [c for c in cases if c.find("properties/property[@name='hvlm.id']") is not None]
    skip = next(c for c in cases if c.find("skipped") is not None) if any(
        c.find("skipped") is not None for c in cases) else None
    assert low.find("failure") is None and "below the --fail-on threshold" in (low.findtext("system-out") or "")
    assert low.find("properties/property[@name='hvlm.status']").get("value") == "warning"  # type: ignore[union-attr]
    failure = high.find("failure")
    assert failure is not None and failure.get("type") == "warning"
    assert base["fix"]["powershell"].splitlines()[0] in (failure.text or "")  # the fix travels with the failure
    if skip is not None:  # a check with not-applicable subjects says how many, as skipped
        assert "not applicable" in (skip.get("name") or "")


@pytest.mark.parametrize("value", ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "\t=x", "\r=x", "=cmd|' /C calc'!A0"])
def test_csv_cells_that_a_spreadsheet_would_run_get_a_quote(value: str) -> None:
    assert safe_cell(value) == "'" + value
    assert safe_cell("hv01.corp.contoso.com") == "hv01.corp.contoso.com"


def test_csv_neutralises_hostile_vm_names(hostile: dict[str, Any]) -> None:
    rows = _csv_rows(render_csv(hostile))
    vms = {r["vm"] for r in rows if r["vm"]}
    assert "'=cmd|' /C calc'!A0" in vms and "=cmd|' /C calc'!A0" not in vms
    for r in rows:
        for cell in r.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    # multi-line names survive the round trip intact (quoted by the csv module)
    assert any("\n#>\n" in r["vm"] for r in rows)


def test_junit_survives_control_characters_in_names(example: dict[str, Any]) -> None:
    rep = copy.deepcopy(example)
    rep["findings"][0]["members"][0]["subject"]["label"] = "bad\x01name\x1b[31m\ud800"
    rep["findings"][0]["members"][0]["message"] = "<![CDATA[ ]]> & </testcase>"
    _, cases = _cases(render_junit(rep))
    names = [c.get("name") for c in cases]
    assert "bad\ufffdname\ufffd[31m\ufffd" in names
    assert any(c.find("failure") is not None and c.find("failure").get("message") == "<![CDATA[ ]]> & </testcase>"  # type: ignore[union-attr]
               for c in cases)


def test_cli_writes_every_format_in_one_run(tmp_path: Path) -> None:
    paths = {k: tmp_path / f"r.{k}" for k in ("json", "html", "xml", "csv", "txt")}
    code = main(["audit", "--example", "--json", str(paths["json"]), "--html", str(paths["html"]),
                 "--junit", str(paths["xml"]), "--csv", str(paths["csv"]), "-o", str(paths["txt"])])
    report = json.loads(paths["json"].read_text("utf-8"))
    assert code == report["run"]["exit_code"] == 1
    assert paths["html"].read_text("utf-8").startswith("<!DOCTYPE html>")
    assert paths["txt"].read_text("utf-8").startswith("hvlm ")  # the printed report still goes to -o
    root = ET.fromstring(paths["xml"].read_bytes())
    listed = len(flat_findings(report))
    assert len(root.findall(".//property[@name='hvlm.id']")) == listed
    rows = _csv_rows(paths["csv"].read_text("utf-8"))
    assert len(rows) == listed


def test_cli_reports_an_unwritable_output_as_a_usage_error(tmp_path: Path) -> None:
    assert main(["audit", "--example", "--html", str(tmp_path / "missing-dir" / "r.html"), "-o", str(tmp_path / "t")]) == 2


def test_text_report_keeps_each_hostile_value_on_its_line(example: dict[str, Any]) -> None:
    # A VM name with a line break must not forge a line ("PASS ...") of the terminal report, and no
    # control character may reach the terminal.
    from hvlm.reports.text import render_text

    rep = copy.deepcopy(example)
    group = next(g for g in rep["findings"] if g["status"] == "fail" and g["members"][0]["fix"] is not None)
    group["members"][0]["subject"]["label"] = "vm1\nPASS  [info] forged-check: all good\x1b[2J"
    rep["fixes"][group["members"][0]["fix"]]["run_as"] = "admin\x1b]0;pwned\x07"
    text = render_text(rep)
    assert "\x1b" not in text and "\x07" not in text
    assert not any(line.startswith("PASS  [info] forged-check") for line in text.splitlines())
    assert "vm1 PASS  [info] forged-check: all good?[2J" in text
    assert "as admin?]0;pwned?:" in text
