"""Drift: hvlm diff over two reports or two snapshots, and --baseline / --fail-on-new on audit."""

from __future__ import annotations

import copy
import html as html_mod
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from hvlm.audit.cli import main
from hvlm.audit.commands.audit_cmd import example_snapshot_path
from hvlm.audit.schemas import load_schema
from tests.compliance.conftest import members, run_json

FIREWALL_HV01 = "host-firewall-6600:a446223d"


def _diff(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["diff", *args, "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    Draft202012Validator(load_schema("diff"), format_checker=Draft202012Validator.FORMAT_CHECKER).validate(doc)
    return code, doc


@pytest.fixture
def reports(tmp_path: Path) -> dict[str, Path]:
    full = tmp_path / "full.json"
    run_json([], full)
    partial = tmp_path / "partial.json"
    run_json(["--skip", "host-firewall-6600"], partial)
    return {"full": full, "partial": partial}


def test_two_reports_new_fixed_changed_unchanged(reports: dict[str, Path], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = _diff([str(reports["full"]), str(reports["full"])], capsys)
    members = sum(len(g["members"]) for g in json.loads(reports["full"].read_text("utf-8"))["findings"])
    assert code == 0 and not doc["changed"] and doc["summary"]["unchanged"] == members > 0
    code, doc = _diff([str(reports["partial"]), str(reports["full"])], capsys)
    assert code == 1
    assert [f["id"] for f in doc["findings"]["new"]] == [FIREWALL_HV01]
    assert doc["findings"]["new"][0]["status"] == "fail"
    code, doc = _diff([str(reports["full"]), str(reports["partial"])], capsys)
    # the partial run skipped the check: its findings were not evaluated, not fixed, and no change
    assert code == 0 and doc["findings"]["fixed"] == [] and not doc["changed"]
    assert [(f["id"], f["reason"]) for f in doc["findings"]["not_evaluated"]] == [
        (FIREWALL_HV01, "check skipped (--skip)")]
    # same member id, another severity: changed
    old = json.loads(reports["full"].read_text("utf-8"))
    group = next(g for g in old["findings"] if g["check_id"] == "host-firewall-6600")
    group["severity"] = "low"
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(old), "utf-8")
    code, doc = _diff([str(edited), str(reports["full"])], capsys)
    assert code == 1 and doc["summary"]["changed"] == 1 and not doc["findings"]["new"]
    changed = doc["findings"]["changed"][0]
    assert changed["id"] == FIREWALL_HV01 and changed["old"] == {"status": "fail", "severity": "low"}
    assert changed["severity"] == "high"
    assert main(["diff", str(edited), str(reports["full"])]) == 1
    text = capsys.readouterr().out
    assert "Changed (same finding, other status or severity):" in text and "fail/low -> fail/high" in text


def _snapshot_pair(tmp_path: Path) -> tuple[Path, Path]:
    old = json.loads(Path(example_snapshot_path()).read_text("utf-8"))
    new = copy.deepcopy(old)
    comps = new["domains"]["corp.contoso.com"]["computers"]["value"]
    hv01 = next(c for c in comps if c["dNSHostName"] == "hv01.corp.contoso.com")
    hv01["msDS-AllowedToDelegateTo"].remove("cifs/HV02")
    vm = next(v for v in new["hosts"]["hv01.corp.contoso.com"]["vms"]["value"] if v["Name"] == "sql01")
    vm["Version"] = "9.0"
    new["hosts"]["hv01.corp.contoso.com"]["vmhost"]["collected_at"] = "2027-01-01T00:00:00Z"  # provenance only
    new["hosts"]["hv08.corp.contoso.com"] = new["hosts"].pop("hv07.corp.contoso.com")
    a, b = tmp_path / "old.json", tmp_path / "new.json"
    a.write_text(json.dumps(old), "utf-8")
    b.write_text(json.dumps(new), "utf-8")
    return a, b


def test_two_snapshots_name_the_facts_that_changed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _snapshot_pair(tmp_path)
    code, doc = _diff([str(a), str(a)], capsys)
    assert code == 0 and doc["entities"] == []
    code, doc = _diff([str(a), str(b)], capsys)
    assert code == 1
    by = {(e["kind"], e["name"]): e for e in doc["entities"]}
    assert by[("host", "hv01.corp.contoso.com")]["changes"] == [{
        "path": "hosts/hv01.corp.contoso.com/vms/value/[Name=sql01]/Version", "change": "changed",
        "old": "5.0", "new": "9.0"}]
    assert by[("computer", "hv01.corp.contoso.com")]["changes"] == [{
        "path": "domains/corp.contoso.com/computers/hv01.corp.contoso.com/msDS-AllowedToDelegateTo",
        "change": "removed", "old": "cifs/HV02"}]
    assert by[("host", "hv07.corp.contoso.com")]["state"] == "removed"
    assert by[("host", "hv08.corp.contoso.com")]["state"] == "added"
    assert doc["summary"] == {"added": 1, "removed": 1, "changed": 2, "facts": 4}
    html = tmp_path / "d.html"
    assert main(["diff", str(a), str(b), "--format", "html", "-o", str(html)]) == 1
    page = html.read_text("utf-8")
    assert "script-src 'none'" in html_mod.unescape(page) and "[Name=sql01]/Version" in page and "<script" not in page


def test_diff_html_escapes_hostile_names(tmp_path: Path) -> None:
    a, b = _snapshot_pair(tmp_path)
    new = json.loads(b.read_text("utf-8"))
    comps = new["domains"]["corp.contoso.com"]["computers"]["value"]
    hv01 = next(c for c in comps if c["dNSHostName"] == "hv01.corp.contoso.com")
    hv01["msDS-AllowedToDelegateTo"].append("cifs/<script>alert(1)</script>\u202e")
    b.write_text(json.dumps(new), "utf-8")
    html = tmp_path / "d.html"
    main(["diff", str(a), str(b), "--format", "html", "-o", str(html)])
    page = html.read_text("utf-8")
    assert "<script>alert" not in page and "&lt;script&gt;" in page and "⟦U+202E⟧" in page


@pytest.mark.parametrize("kind", ["mixed", "not-hvlm", "not-json", "v1"])
def test_diff_bad_input_exit_2(kind: str, reports: dict[str, Path], tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.json"
    if kind == "mixed":
        other = Path(example_snapshot_path())
    elif kind == "not-hvlm":
        other.write_text('{"hello": 1}', "utf-8")
    elif kind == "not-json":
        other.write_text("{", "utf-8")
    else:
        other.write_text(json.dumps({"report_version": 1, "findings": []}), "utf-8")
    assert main(["diff", str(reports["full"]), str(other)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"hvlm: error: {other}")


def test_baseline_marks_members_and_lists_absent(reports: dict[str, Path], tmp_path: Path) -> None:
    _, report = run_json(["--baseline", str(reports["partial"])], tmp_path / "r.json")
    Draft202012Validator(load_schema("report"), format_checker=Draft202012Validator.FORMAT_CHECKER).validate(report)
    states = {k: m["baseline_state"] for k, m in members(report).items()}
    assert states[FIREWALL_HV01] == "new"
    assert {s for k, s in states.items() if k != FIREWALL_HV01} == {"unchanged"}
    assert report["baseline"]["new"] == 1 and report["baseline"]["absent"] == []
    _, report = run_json(["--baseline", str(reports["full"]), "--skip", "pair-cpu-vendor"], tmp_path / "r2.json")
    # the check did not run: its findings are not evaluated, not absent (fixed)
    assert report["baseline"]["absent"] == []
    assert [a["check_id"] for a in report["baseline"]["not_evaluated"]] == ["pair-cpu-vendor"]


def test_fail_on_new_counts_only_new_findings(reports: dict[str, Path], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, report = run_json(["--baseline", str(reports["full"]), "--fail-on-new"], tmp_path / "r.json")
    assert code == 0 and report["run"]["fail_on_new"] is True
    code, _ = run_json(["--baseline", str(reports["partial"]), "--fail-on-new"], tmp_path / "r.json")
    assert code == 1  # the firewall failure is new
    code, _ = run_json(["--baseline", str(reports["partial"]), "--fail-on-new", "--fail-on", "critical"],
                       tmp_path / "r.json")
    assert code == 0  # new, but below the threshold
    assert main(["audit", "--example", "--fail-on-new"]) == 2
    assert "--fail-on-new needs --baseline" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["snapshot", "garbage", "missing"])
def test_a_baseline_that_is_not_a_report_is_exit_2(kind: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    if kind == "snapshot":
        bad = Path(example_snapshot_path())
    elif kind == "garbage":
        bad.write_text("[1, 2]", "utf-8")
    out = tmp_path / "report.json"
    out.write_text("earlier", "utf-8")
    assert main(["audit", "--example", "--baseline", str(bad), "--format", "json", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"hvlm: error: {bad}")
    assert out.read_text("utf-8") == "earlier"


def test_readings_that_move_every_run_are_not_changes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = json.loads(Path(example_snapshot_path()).read_text("utf-8"))
    new = copy.deepcopy(old)
    host = new["hosts"]["hv01.corp.contoso.com"]
    host["clock"]["value"]["UtcTime"] = "2027-01-01T00:00:00Z"
    domain = new["domains"]["corp.contoso.com"]
    domain["info"]["value"]["currentTime"] = "2027-01-01T00:00:00Z"
    hv01 = next(c for c in domain["computers"]["value"] if c["dNSHostName"] == "hv01.corp.contoso.com")
    hv01["whenChanged"] = "2027-01-01T00:00:00Z"  # also moves when Windows rotates the machine password
    a, b = tmp_path / "old.json", tmp_path / "new.json"
    a.write_text(json.dumps(old), "utf-8")
    b.write_text(json.dumps(new), "utf-8")
    code, doc = _diff([str(a), str(b)], capsys)
    assert (code, doc["entities"]) == (0, [])
    hv01["operatingSystemVersion"] = "10.0 (26100)"  # a real change beside them is still one
    b.write_text(json.dumps(new), "utf-8")
    code, doc = _diff([str(a), str(b)], capsys)
    assert code == 1 and [c["path"] for e in doc["entities"] for c in e["changes"]] == [
        "domains/corp.contoso.com/computers/hv01.corp.contoso.com/operatingSystemVersion"]
