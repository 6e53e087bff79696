"""What a run did not evaluate is never "fixed": hvlm diff, the baseline and the history tell a finding
that is gone (its check ran on its subject and no longer finds it) from one the new run did not look
at (its check not run, its host, move or domain not covered, or its VMs unreadable)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from hvlm.audit.cli import main
from hvlm.audit.commands.audit_cmd import example_snapshot_path
from hvlm.audit.schemas import load_schema
from tests.compliance.conftest import members, run_json

HV03 = "hv03.corp.contoso.com"
HV06 = "hv06.lab.fabrikam.com"
HV07 = "hv07.corp.contoso.com"
MEDIA = "vm-media-attached"


def _valid(kind: str, doc: dict[str, Any]) -> None:
    Draft202012Validator(load_schema(kind), format_checker=Draft202012Validator.FORMAT_CHECKER).validate(doc)


def _diff(old: Path, new: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main(["diff", str(old), str(new), "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    _valid("diff", doc)
    return code, doc


def _snapshot(tmp_path: Path, name: str, edit: Any) -> Path:
    doc = json.loads(Path(example_snapshot_path()).read_text("utf-8"))
    edit(doc)
    path = tmp_path / name
    path.write_text(json.dumps(doc), "utf-8")
    return path


def _audit(snapshot: Path, out: Path, *extra: str) -> dict[str, Any]:
    assert main(["audit", str(snapshot), "--format", "json", "-o", str(out), *extra]) in (1, 3, 4)
    report: dict[str, Any] = json.loads(out.read_text("utf-8"))
    _valid("report", report)
    return report


@pytest.fixture
def full(tmp_path: Path) -> Path:
    out = tmp_path / "a.json"
    run_json([], out)
    return out


def _ids(report: dict[str, Any], check: str | None = None, **subject: str) -> set[str]:
    return {k for k, m in members(report).items() if (check is None or m["check_id"] == check)
            and all(m["subject"].get(f) == v for f, v in subject.items())}


def test_a_skipped_check_is_not_evaluated_not_fixed(full: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The reviewer's reproduction: audit, then audit --skip vm-media-attached, then diff."""
    b = tmp_path / "b.json"
    _, report = run_json(["--skip", MEDIA], b)
    assert report["run"]["checks_skipped"] == [MEDIA] and MEDIA not in report["run"]["checks_run"]
    media = _ids(json.loads(full.read_text("utf-8")), MEDIA)
    assert media
    code, doc = _diff(full, b, capsys)
    assert code == 0 and doc["changed"] is False and doc["findings"]["fixed"] == []
    assert {f["id"] for f in doc["findings"]["not_evaluated"]} == media
    assert {f["reason"] for f in doc["findings"]["not_evaluated"]} == {"check skipped (--skip)"}
    assert doc["summary"]["fixed"] == 0 and doc["summary"]["not_evaluated"] == len(media)
    capsys.readouterr()
    assert main(["diff", str(full), str(b)]) == 0
    text = capsys.readouterr().out
    assert "0 fixed" in text and f"{len(media)} not evaluated" in text
    assert "Fixed (no longer found)" not in text
    assert "Not evaluated in the new run (neither fixed nor found):" in text
    assert "not evaluated: check skipped (--skip)" in text
    page = tmp_path / "d.html"
    assert main(["diff", str(full), str(b), "--format", "html", "-o", str(page)]) == 0
    html = page.read_text("utf-8")
    assert 'id="not_evaluated"' in html and "Not evaluated: check skipped (--skip)" in html
    assert 'id="fixed"' not in html


def test_checks_not_selected_are_not_evaluated(full: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    only = tmp_path / "only.json"
    _, report = run_json(["--checks", "host-migration-enabled"], only)
    assert report["run"]["checks_run"] == ["host-migration-enabled"]
    old = json.loads(full.read_text("utf-8"))
    code, doc = _diff(full, only, capsys)
    assert code == 0 and doc["findings"]["fixed"] == [] and doc["findings"]["new"] == []
    assert [f["id"] for f in doc["findings"]["unchanged"]] == sorted(_ids(old, "host-migration-enabled"))
    others = {k for k, m in members(old).items() if m["check_id"] != "host-migration-enabled"}
    assert {f["id"] for f in doc["findings"]["not_evaluated"]} == others
    assert {f["reason"] for f in doc["findings"]["not_evaluated"]} <= {"check not run", "check skipped (--skip)"}


def test_a_finding_really_gone_is_still_fixed(full: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def enable(doc: dict[str, Any]) -> None:
        doc["hosts"][HV06]["vmhost"]["value"]["VirtualMachineMigrationEnabled"] = True

    new = _audit(_snapshot(tmp_path, "fixed.json", enable), tmp_path / "b.json")
    gone = _ids(json.loads(full.read_text("utf-8")), "host-migration-enabled", host=HV06)
    assert len(gone) == 1 and not _ids(new, "host-migration-enabled", host=HV06)
    code, doc = _diff(full, tmp_path / "b.json", capsys)
    assert code == 1 and {f["id"] for f in doc["findings"]["fixed"]} == gone
    assert doc["findings"]["not_evaluated"] == []


def test_a_host_and_move_not_in_the_new_run_are_not_evaluated(full: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    def drop_hv07(doc: dict[str, Any]) -> None:
        inv = doc["inventory"]
        inv["hosts"].remove(HV07)
        inv["pairs"] = [p for p in inv["pairs"] if HV07 not in p]
        del doc["hosts"][HV07]

    new = _audit(_snapshot(tmp_path, "no-hv07.json", drop_hv07), tmp_path / "b.json")
    assert HV07 not in new["hosts"] and all(HV07 not in (m["source"], m["destination"]) for m in new["moves"])
    old = json.loads(full.read_text("utf-8"))
    on_hv07 = {k for k, m in members(old).items()
               if HV07 in (m["subject"].get("host"), m["subject"].get("source"), m["subject"].get("destination"))}
    assert on_hv07
    code, doc = _diff(full, tmp_path / "b.json", capsys)
    not_evaluated = {f["id"]: f["reason"] for f in doc["findings"]["not_evaluated"]}
    assert set(not_evaluated) == on_hv07
    assert code == 0 and doc["findings"]["fixed"] == [] and doc["findings"]["new"] == []
    assert not on_hv07 & {f["id"] for f in doc["findings"]["fixed"]}
    reasons = set(not_evaluated.values())
    assert f"host {HV07} not in this run" in reasons
    assert any(r.startswith("move ") and HV07 in r for r in reasons)


def test_a_move_whose_vms_could_not_be_read_is_not_evaluated(full: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    def vms_timed_out(doc: dict[str, Any]) -> None:
        fact = doc["hosts"][HV03]["vms"]
        doc["hosts"][HV03]["vms"] = {"error": {"kind": "timeout", "message": "timed out"},
                                     "source": fact["source"], "collected_at": fact["collected_at"]}

    new = _audit(_snapshot(tmp_path, "no-vms.json", vms_timed_out), tmp_path / "b.json")
    errors = [m for g in new["findings"] if g["status"] == "error" and g["check_id"] == MEDIA for m in g["members"]]
    assert [m["subject"].get("vm") for m in errors] == [None]  # one error for the whole move
    old_vms = {k for k, m in members(json.loads(full.read_text("utf-8"))).items()
               if m["subject"]["kind"] == "vm" and m["subject"]["source"] == HV03 and "vm" in m["subject"]}
    assert old_vms
    code, doc = _diff(full, tmp_path / "b.json", capsys)
    assert code == 1  # the errors are new findings
    assert {f["id"] for f in doc["findings"]["not_evaluated"]} == old_vms and doc["findings"]["fixed"] == []
    assert all(f["reason"] == f"the check could not judge the VMs of {HV03} -> hv04.corp.contoso.com in this run"
               for f in doc["findings"]["not_evaluated"])


def test_the_report_records_the_domains_it_judged(full: Path) -> None:
    report = json.loads(full.read_text("utf-8"))
    assert report["run"]["domains"] == ["corp.contoso.com", "lab.fabrikam.com"]


def test_the_baseline_lists_what_the_run_did_not_evaluate(full: Path, tmp_path: Path) -> None:
    _, report = run_json(["--baseline", str(full), "--skip", MEDIA], tmp_path / "r.json")
    _valid("report", report)
    media = _ids(json.loads(full.read_text("utf-8")), MEDIA)
    assert report["baseline"]["absent"] == []
    assert {a["id"] for a in report["baseline"]["not_evaluated"]} == media
    assert {a["reason"] for a in report["baseline"]["not_evaluated"]} == {"check skipped (--skip)"}
