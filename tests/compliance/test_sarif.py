"""SARIF 2.1.0, validated against the OASIS schema that sarif-kit vendors (not checks of our own)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from hvlm.audit.cli import main
from hvlm.audit.commands.audit_cmd import example_snapshot_path
from hvlm.reports.sarif import result_level

sarif_validate = pytest.importorskip("sarif_kit.validate", reason="pip install -e '.[test]' (sarif-kit)")

FIREWALL_HV01 = "host-firewall-6600:a446223d"


def _sarif(tmp_path: Path, *args: str, name: str = "r.sarif") -> dict[str, Any]:
    out = tmp_path / name
    assert main(["audit", "--example", "--sarif", str(out), "-o", str(tmp_path / "r.txt"), *args]) in (0, 1)
    log: dict[str, Any] = json.loads(out.read_text("utf-8"))
    errors = sarif_validate.validation_errors(log)
    assert errors == [], errors[:5]
    return log


def test_schema_valid_rules_and_results(tmp_path: Path) -> None:
    log = _sarif(tmp_path, "--json", str(tmp_path / "r.json"))
    report = json.loads((tmp_path / "r.json").read_text("utf-8"))
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [c["id"] for c in report["checks"]]
    fw = next(r for r in rules if r["id"] == "host-firewall-6600")
    check = next(c for c in report["checks"] if c["id"] == "host-firewall-6600")
    assert fw["name"] == "HostFirewall6600"
    assert fw["shortDescription"]["text"] == check["title"]
    assert fw["fullDescription"]["text"] == check["rationale"]
    assert fw["helpUri"] == check["references"][0]
    assert check["fix_hint"] in fw["help"]["text"]
    assert fw["properties"]["severity"] == "high"
    members = [(g, m) for g in report["findings"] for m in g["members"]]
    assert len(run["results"]) == len(members)
    for result, (g, m) in zip(run["results"], members, strict=True):
        assert result["ruleId"] == g["check_id"]
        assert rules[result["ruleIndex"]]["id"] == g["check_id"]
        assert result["partialFingerprints"]["hvlmFindingId/v1"] == m["id"]
        assert result["level"] == result_level(g["status"], g["severity"])
        assert result["message"]["text"] == m["message"]
        assert result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == m["subject"]["label"]
        assert "suppressions" not in result and "baselineState" not in result
    assert run["invocations"][0]["exitCode"] == report["run"]["exit_code"]


def test_level_mapping() -> None:
    assert [result_level("fail", s) for s in ("critical", "high", "medium", "low", "info")] == \
        ["error", "error", "warning", "warning", "warning"]
    assert [result_level("warning", s) for s in ("critical", "high", "medium", "low", "info")] == \
        ["warning", "warning", "warning", "note", "note"]
    assert result_level("error", "critical") == "note"


def test_fingerprints_are_stable_across_runs(tmp_path: Path) -> None:
    a = _sarif(tmp_path, name="a.sarif")["runs"][0]["results"]
    b = _sarif(tmp_path, name="b.sarif")["runs"][0]["results"]
    assert [r["partialFingerprints"] for r in a] == [r["partialFingerprints"] for r in b]
    assert len({r["partialFingerprints"]["hvlmFindingId/v1"] for r in a}) == len(a)


def test_waived_findings_are_suppressed_and_baseline_states_set(tmp_path: Path, waivers_file: Path,
                                                                frozen: dt.date) -> None:
    baseline = tmp_path / "base.json"
    assert main(["audit", "--example", "--skip", "host-firewall-6600,pair-cpu-vendor", "--json", str(baseline),
                 "-o", str(tmp_path / "x.txt")]) == 1
    # a baseline that had a finding the new run does not: pretend pair-cpu-vendor is gone by skipping it now
    log = _sarif(tmp_path, "--waivers", str(waivers_file), "--baseline", str(baseline))
    results = log["runs"][0]["results"]
    fw = next(r for r in results if r["partialFingerprints"]["hvlmFindingId/v1"] == FIREWALL_HV01)
    assert fw["suppressions"] == [{
        "kind": "external", "status": "accepted", "justification": "Migration network firewalled upstream",
        "properties": {"waiverId": "CHG-1", "approvedBy": "CAB 2026-11-14", "expires": "2026-12-31"}}]
    assert fw["baselineState"] == "new" and fw["level"] == "error"
    states = {r["baselineState"] for r in results}
    assert states == {"new", "unchanged"}
    assert sum(1 for r in results if "suppressions" in r) == 1
    errors = [r for r in results if r["properties"]["hvlm.status"] == "error"]
    assert all(r["level"] == "note" and r["properties"]["hvlm.couldNotCheck"] for r in errors)
    # a check the new run skipped is not evaluated: its baseline findings are not "absent" (gone)
    log = _sarif(tmp_path, "--baseline", str(baseline), "--skip", "host-firewall-6600,pair-cpu-vendor,pair-credssp",
                 name="c.sarif")
    assert not [r for r in log["runs"][0]["results"] if r["baselineState"] == "absent"]
    # a finding really gone (hv06 now allows live migration) is absent
    snap = json.loads(Path(example_snapshot_path()).read_text("utf-8"))
    snap["hosts"]["hv06.lab.fabrikam.com"]["vmhost"]["value"]["VirtualMachineMigrationEnabled"] = True
    fixed = tmp_path / "fixed-snapshot.json"
    fixed.write_text(json.dumps(snap), "utf-8")
    out = tmp_path / "d.sarif"
    assert main(["audit", str(fixed), "--baseline", str(baseline), "--skip", "host-firewall-6600,pair-cpu-vendor",
                 "--sarif", str(out), "-o", str(tmp_path / "d.txt")]) == 1
    log = json.loads(out.read_text("utf-8"))
    assert sarif_validate.validation_errors(log) == []
    absent = [r for r in log["runs"][0]["results"] if r["baselineState"] == "absent"]
    assert absent and {r["ruleId"] for r in absent} == {"host-migration-enabled"}
    assert all(r["kind"] == "pass" and r["level"] == "none" for r in absent)


def test_the_validator_rejects_a_broken_log(tmp_path: Path) -> None:
    """The schema is the OASIS one, and strict: a made-up level or a missing message is refused."""
    log = _sarif(tmp_path)
    bad = json.loads(json.dumps(log))
    bad["runs"][0]["results"][0]["level"] = "critical"
    del bad["runs"][0]["results"][1]["message"]
    assert len(sarif_validate.validation_errors(bad)) >= 2
