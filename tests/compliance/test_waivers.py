"""Waivers: a waived finding keeps its status, is shown as waived everywhere, and leaves the exit code alone."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from jsonschema import Draft202012Validator

from hvlm.audit.cli import main
from hvlm.audit.commands.audit_cmd import example_snapshot_path
from hvlm.audit.errors import InputError
from hvlm.audit.inventory import parse_inventory
from hvlm.audit.report import recount_exit_code
from hvlm.audit.run import Compliance, audit_snapshot, load_compliance
from hvlm.audit.schemas import load_schema
from hvlm.audit.snapshot import Snapshot
from hvlm.audit.waivers import parse_waivers
from tests.compliance.conftest import FROZEN, members, run_json

FIREWALL_HV01 = "host-firewall-6600:a446223d"


def _validate(report: dict[str, Any]) -> None:
    Draft202012Validator(load_schema("report"), format_checker=Draft202012Validator.FORMAT_CHECKER).validate(report)


def test_a_waived_finding_keeps_its_status_and_is_marked(frozen: dt.date, waivers_file: Path, tmp_path: Path) -> None:
    code, report = run_json(["--waivers", str(waivers_file)], tmp_path / "r.json")
    _validate(report)
    m = members(report)[FIREWALL_HV01]
    assert m["status"] == "fail"
    assert m["waiver"] == {"id": "CHG-1", "justification": "Migration network firewalled upstream",
                           "approved_by": "CAB 2026-11-14", "expires": "2026-12-31"}
    w = report["waivers"]
    assert w["today"] == "2026-12-01"
    assert [a["id"] for a in w["applied"]] == ["CHG-1"] and w["applied"][0]["members"] == [FIREWALL_HV01]
    assert w["applied"][0]["days_left"] == 30
    assert [e["id"] for e in w["expired"]] == ["CHG-2"] and len(w["expired"][0]["members"]) == 5
    assert [u["id"] for u in w["unmatched"]] == ["CHG-3"]
    # the expired waiver covers nothing: its findings are not marked
    assert not any(mm.get("waiver") for mm in members(report).values() if mm["check_id"] == "operator-delegable")
    assert code == 1


def test_exit_code_recount_agrees_with_the_engine_without_waivers() -> None:
    for fail_on in ("critical", "high", "medium", "low", "info"):
        for include_return in (False, True):
            report = audit_snapshot(Snapshot.load(example_snapshot_path()), fail_on=fail_on,
                                    include_return=include_return)
            code = report["run"]["exit_code"]
            assert recount_exit_code(report) == code


def test_waived_failures_do_not_count(tmp_path: Path, frozen: dt.date) -> None:
    report = audit_snapshot(Snapshot.load(example_snapshot_path()))
    problems = sorted({g["check_id"] for g in report["findings"] if g["status"] in ("fail", "warning", "error")})
    text = "".join(
        f'[[waivers]]\ncheck = "{c}"\nall = true\njustification = "accepted"\napproved_by = "CAB"\n'
        f"created = 2026-11-01\nexpires = 2027-01-01\n" for c in problems
    )
    path = tmp_path / "all.toml"
    path.write_text(text, "utf-8")
    code, waived = run_json(["--waivers", str(path), "--include-return"], tmp_path / "r.json")
    assert code == 0
    assert waived["run"]["exit_code"] == 0
    # nothing dropped: the same members, each with its real status
    assert {k: v["status"] for k, v in members(waived).items()} == {k: v["status"] for k, v in members(report).items()}
    assert all(m.get("waiver") for m in members(waived).values())


def test_a_waiver_expires_across_a_frozen_clock(monkeypatch: pytest.MonkeyPatch, waivers_file: Path,
                                                tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--waivers", str(waivers_file), "--checks", "host-firewall-6600"]
    monkeypatch.setattr("hvlm.audit.waivers.today", lambda: dt.date(2026, 12, 31))  # the last day it holds
    code, report = run_json(args, tmp_path / "a.json")
    assert code == 0 and members(report)[FIREWALL_HV01]["waiver"]["id"] == "CHG-1"
    monkeypatch.setattr("hvlm.audit.waivers.today", lambda: dt.date(2027, 1, 1))
    code, report = run_json(args, tmp_path / "b.json")
    assert code == 1
    assert "waiver" not in members(report)[FIREWALL_HV01]
    assert report["waivers"]["expired"][0]["id"] == "CHG-1"
    assert report["waivers"]["expired"][0]["members"] == [FIREWALL_HV01]
    capsys.readouterr()
    assert main(["audit", "--example", *args]) == 1
    out = capsys.readouterr().out
    top = out.split("Planned moves:")[0]
    assert "EXPIRED WAIVERS (2)" in top and "CHG-1 (waivers[0]) for host-firewall-6600" in top


def test_every_output_shows_the_waiver(frozen: dt.date, waivers_file: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    files = {k: tmp_path / f"r.{k}" for k in ("html", "junit", "csv", "sarif")}
    code = main(["audit", "--example", "--waivers", str(waivers_file), "-v",
                 *(x for k, p in files.items() for x in (f"--{k}", str(p)))])
    assert code == 1
    text = capsys.readouterr().out
    assert "hv01.corp.contoso.com [WAIVED CHG-1]" in text
    assert ("WAIVED by CHG-1 until 2026-12-31 (approved by CAB 2026-11-14): Migration network firewalled upstream"
            in " ".join(text.split()))
    assert "Waivers that match no finding (1)" in text and "CHG-3" in text
    assert "WAIVED CHG-1 until 2026-12-31" in files["html"].read_text("utf-8")
    assert "expired waiver" in files["html"].read_text("utf-8")
    rows = list(csv.DictReader(io.StringIO(files["csv"].read_text("utf-8-sig"))))
    row = next(r for r in rows if r["id"] == FIREWALL_HV01)
    assert (row["status"], row["waiver"], row["waiver_expires"]) == ("fail", "CHG-1", "2026-12-31")
    assert row["waiver_justification"] == "Migration network firewalled upstream"
    assert all(r["waiver"] == "" for r in rows if r["id"] != FIREWALL_HV01)
    root = ET.fromstring(files["junit"].read_text("utf-8"))
    case = next(c for c in root.iter("testcase")
                if c.find("properties/property[@name='hvlm.id'][@value='" + FIREWALL_HV01 + "']") is not None)
    assert case.find("properties/property[@name='hvlm.waiver']").get("value") == "CHG-1"  # type: ignore[union-attr]
    assert case.find("properties/property[@name='hvlm.status']").get("value") == "fail"  # type: ignore[union-attr]
    assert case.find("skipped") is not None and case.find("failure") is None
    sarif = json.loads(files["sarif"].read_text("utf-8"))
    result = next(r for r in sarif["runs"][0]["results"] if r["partialFingerprints"]["hvlmFindingId/v1"] == FIREWALL_HV01)
    assert result["suppressions"][0]["kind"] == "external"
    assert result["suppressions"][0]["justification"] == "Migration network firewalled upstream"


def _earlier(tmp_path: Path) -> Path:
    out = tmp_path / "report.json"
    out.write_text('{"earlier": "run"}', "utf-8")
    return out


@pytest.mark.parametrize(("body", "where", "reason"), [
    ('[[waivers]]\ncheck = "x"\nhost = [\n', "end of document", "invalid TOML"),
    ('[[waivers]]\ncheck = "x" y\n', "line 2 column 13", "invalid TOML"),
    ('[[waivers]]\ncheck = "no-such-check"\nhost = "hv01"\njustification = "j"\napproved_by = "a"\n'
     "created = 2026-01-01\nexpires = 2027-01-01\n", "waivers[0].check", "unknown check id 'no-such-check'"),
    ('[[waivers]]\ncheck = "host-firewall-6600"\nhost = "hv01"\njustification = "j"\napproved_by = "a"\n'
     'created = 2026-01-01\nexpires = "next spring"\n', "waivers[0].expires", "expires must be a date"),
    ('[[waivers]]\ncheck = "host-firewall-6600"\nhost = "*"\njustification = "j"\napproved_by = "a"\n'
     "created = 2026-01-01\nexpires = 2027-01-01\n", "waivers[0].host", "matches every subject"),
    ('[[waivers]]\ncheck = "pair-cpu-vendor"\npair = "* -> *"\njustification = "j"\napproved_by = "a"\n'
     "created = 2026-01-01\nexpires = 2027-01-01\n", "waivers[0].pair", "write all = true"),
    ('[[waivers]]\ncheck = "host-firewall-6600"\nhost = "hv01"\napproved_by = "a"\n'
     "created = 2026-01-01\nexpires = 2027-01-01\n", "waivers[0]", "missing 'justification'"),
    ('[[waivers]]\ncheck = "host-firewall-6600"\nhost = "hv01"\njustification = "j"\napproved_by = "a"\n'
     "created = 2026-01-01\nexpires = 2027-01-01\n"
     '[[waivers]]\ncheck = "host-firewall-6600"\nhost = "HV01"\njustification = "j"\napproved_by = "a"\n'
     "created = 2026-01-01\nexpires = 2027-01-01\n", "waivers[1]", "a second waiver for check 'host-firewall-6600'"),
    ('[[waivers]]\ncheck = "host-firewall-6600"\nhost = "hv01"\njustification = "j"\napproved_by = "a"\n'
     "created = 2026-01-01\nexpires = 2027-01-01\n"
     '[[waivers]]\ncheck = "host-firewall-6600"\nhost = "hv0?.corp.*"\njustification = "j"\napproved_by = "a"\n'
     "created = 2026-01-01\nexpires = 2027-01-01\n", "waivers[1]", "two waivers cover check 'host-firewall-6600'"),
    ('[[waivers]]\ncheck = "host-firewall-6600"\npair = "hv01 -> hv02"\njustification = "j"\napproved_by = "a"\n'
     "created = 2026-01-01\nexpires = 2027-01-01\n", "waivers[0].pair", "a pair selector never matches it"),
])
def test_bad_waivers_are_one_clear_error_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    frozen: dt.date, body: str, where: str, reason: str) -> None:
    path = tmp_path / "w.toml"
    path.write_text(body, "utf-8")
    out = _earlier(tmp_path)
    assert main(["audit", "--example", "--waivers", str(path), "--format", "json", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"hvlm: error: {path} at {where}: ")
    assert reason in err[0]
    assert out.read_text("utf-8") == '{"earlier": "run"}'


def test_lint_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str], frozen: dt.date,
                         waivers_file: Path) -> None:
    clean = tmp_path / "clean.toml"
    clean.write_text('[[waivers]]\ncheck = "host-firewall-6600"\nhost = "hv01"\njustification = "j"\n'
                     'approved_by = "a"\ncreated = 2026-11-01\nexpires = 2027-01-01\n', "utf-8")
    assert main(["waivers", "lint", str(clean)]) == 0
    assert main(["waivers", "lint", str(clean), "--max-days", "10"]) == 1
    assert "over the 10-day limit" in capsys.readouterr().out
    assert main(["waivers", "lint", str(waivers_file)]) == 1
    out = capsys.readouterr().out
    assert f"{waivers_file} at waivers[1].expires: waiver 'CHG-2' expired on 2026-02-01" in out
    missing = tmp_path / "missing.toml"
    missing.write_text('[[waivers]]\ncheck = "nope"\nall = true\ncreated = 2026-11-01\n', "utf-8")
    assert main(["waivers", "lint", str(missing)]) == 1
    out = capsys.readouterr().out
    assert "unknown check id 'nope'" in out and "missing 'justification'" in out and "missing 'expires'" in out
    broken = tmp_path / "broken.toml"
    broken.write_text("waivers = [", "utf-8")
    assert main(["waivers", "lint", str(broken)]) == 2
    assert main(["waivers", "lint", str(tmp_path / "absent.toml")]) == 2


def test_selectors_match_hosts_pairs_vms_and_domains() -> None:
    doc = {"waivers": [
        {"check": "c", "host": ["HV0[12]"], "justification": "j", "approved_by": "a",
         "created": FROZEN, "expires": FROZEN},
        {"check": "c", "pair": "hv01 -> hv0*", "justification": "j", "approved_by": "a",
         "created": FROZEN, "expires": FROZEN},
        {"check": "c", "vm": "hv01/SQL*", "justification": "j", "approved_by": "a",
         "created": "2026-12-01", "expires": "2026-12-01"},
    ]}
    parsed = parse_waivers(doc, "w.toml")
    assert not parsed.problems
    host, pair, vm = parsed.waivers
    assert host.matches({"kind": "host", "host": "hv02.corp.contoso.com"})
    assert host.matches({"kind": "operator", "host": "hv01.corp.contoso.com", "operator": "x"})
    assert not host.matches({"kind": "host", "host": "hv03.corp.contoso.com"})
    assert not host.matches({"kind": "pair", "source": "hv01", "destination": "hv02"})
    assert pair.matches({"kind": "pair", "source": "hv01.corp.contoso.com", "destination": "hv07.corp.contoso.com"})
    assert pair.matches({"kind": "vm", "source": "hv01.corp.contoso.com", "destination": "hv02.x", "vm": "a"})
    assert not pair.matches({"kind": "pair", "source": "hv02.corp.contoso.com", "destination": "hv01.corp.contoso.com"})
    assert vm.matches({"kind": "vm", "source": "hv01.corp.contoso.com", "destination": "hv02", "vm": "sql01"})
    assert not vm.matches({"kind": "vm", "source": "hv02.corp.contoso.com", "destination": "hv01", "vm": "sql01"})
    assert vm.active(FROZEN) and not vm.active(FROZEN + dt.timedelta(days=1))


def test_the_inventory_names_the_waivers_file(tmp_path: Path, waivers_file: Path) -> None:
    inv = parse_inventory({"hosts": ["hv01"], "waivers": "waivers.toml"}, str(tmp_path / "fleet.toml"))
    assert inv.waivers == str(tmp_path / "waivers.toml")
    with pytest.raises(InputError, match="waivers must be the path"):
        parse_inventory({"hosts": ["hv01"], "waivers": 3}, "fleet.toml")

    class Args:
        waivers = None
        baseline = None
        fail_on_new = False

    compliance = load_compliance(Args(), inventory_waivers=str(waivers_file))
    assert compliance.waivers is not None and [w.id for w in compliance.waivers.waivers] == ["CHG-1", "CHG-2", "CHG-3"]
    report = audit_snapshot(Snapshot.load(example_snapshot_path()), compliance=compliance, today=FROZEN)
    assert report["waivers"]["waived"] == 1
    assert isinstance(Compliance(), Compliance)
