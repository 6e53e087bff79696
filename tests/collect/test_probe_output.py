"""Hosts hvlm cannot reach: `hvlm probe-script` on the host, `--from-probe-output` here, `hvlm audit`."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from hvlm.audit.snapshot import Snapshot
from tests.lab.hostsim import SimHost
from tests.support.fleet import HostModel, VMModel

from .labkit import assert_facts_equal_model, run_cli


def run_on_host(sim: SimHost, script: str) -> str:
    """What the administrator's console shows after running the script on the host."""
    result = sim(script, {})
    assert result.terminating_error is None and not result.errors, result
    return "\n".join(str(o) for o in result.output)


def test_probe_script_output_round_trips_into_a_snapshot_that_hvlm_audit_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sims = [
        SimHost(HostModel("HV07", index=7, build=20348, vms=[VMModel("app1", version="10.0")])),
        SimHost(HostModel("HV08", index=8, build=20348)),
    ]
    script = run_cli(capsys, "probe-script").out
    # Windows PowerShell 5.1's `>` writes UTF-16 LE with a BOM; Out-File -Encoding utf8 writes a UTF-8 BOM.
    first, second = tmp_path / "HV07.json", tmp_path / "HV08.json"
    first.write_bytes(codecs.BOM_UTF16_LE + (run_on_host(sims[0], script) + "\r\n").encode("utf-16-le"))
    second.write_bytes(codecs.BOM_UTF8 + run_on_host(sims[1], script).encode())

    snap = tmp_path / "snapshot.json"
    collected = run_cli(capsys, "collect", "--from-probe-output", str(first), str(second), "-o", str(snap))
    assert collected.code == 0, collected.err
    doc = Snapshot.load(snap).doc
    assert doc["inventory"]["hosts"] == [s.name for s in sims]
    assert doc["inventory"]["pairs"] == [[sims[0].name, sims[1].name], [sims[1].name, sims[0].name]]
    for sim in sims:
        assert_facts_equal_model(doc["hosts"][sim.name], sim)
        assert doc["hosts"][sim.name]["vmhost"]["source"]["collector"] == "probe-output"
        assert doc["hosts"][sim.name]["vmhost"]["collected_at"] == sim.model.utc_time

    report_path = tmp_path / "report.json"
    audited = run_cli(capsys, "audit", str(snap), "--format", "json", "--show-passed", "-o", str(report_path))
    assert audited.code != 2, audited.err
    report = json.loads(report_path.read_text())
    role = next(c for c in report["checks"] if c["id"] == "host-hyperv-role")
    assert role["counts"]["pass"] == 2 and sum(role["counts"].values()) == 2
    assert [(p["status"], sorted(p["subjects"])) for p in report["passed"] if p["check_id"] == "host-hyperv-role"] == \
        [("pass", sorted(s.name for s in sims))]
    assert not [u for u in report["uncollected"] if u["path"].startswith("hosts/")]


def test_probe_outputs_are_matched_to_the_inventory_and_missing_hosts_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = SimHost(HostModel("HV07", index=7))
    out = tmp_path / "hv07.json"
    out.write_text(run_on_host(sim, run_cli(capsys, "probe-script").out))
    inventory = tmp_path / "fleet.toml"
    inventory.write_text('hosts = ["hv07", "hv09.corp.contoso.com"]\n')
    snap = tmp_path / "snapshot.json"
    run = run_cli(capsys, "collect", "-i", str(inventory), "--from-probe-output", str(out), "-o", str(snap),
                  "--only", "hosts")
    assert run.code == 3, run.err
    doc = Snapshot.load(snap).doc
    assert_facts_equal_model(doc["hosts"]["hv07"], sim)
    missing = doc["hosts"]["hv09.corp.contoso.com"]["vmhost"]["error"]
    assert missing["kind"] == "not_collected" and "hvlm probe-script" in missing["message"]

    junk = tmp_path / "junk.json"
    junk.write_text("PS C:\\> .\\hvlm-probe.ps1\r\nAccess is denied.\r\n")
    bad = run_cli(capsys, "collect", "--from-probe-output", str(junk), "-o", str(tmp_path / "x.json"))
    assert bad.code == 2 and "junk.json" in bad.err and "not an hvlm probe output" in bad.err
