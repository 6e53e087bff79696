"""`hvlm scan` against the WinRM lab describes the machine it ran on (the `management` fact), and
operator-management-tools judges it: "Not checked" from this Linux runner, a verdict when the
collector runs as on Windows (its platform and PowerShell runner replaced; the check untouched)."""

from __future__ import annotations

import json
import platform
import socket
from pathlib import Path
from typing import Any

import pytest

from hvlm.audit.collect import management
from hvlm.audit.snapshot import Snapshot
from hvlm.reports.aggregate import flat_findings
from tests.lab.hostsim import SimHost
from tests.lab.winrm import WinRMLab
from tests.support.fleet import HostModel

from .labkit import PASSWORD, USER, run_cli, write_inventory

pytestmark = pytest.mark.lab


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HVLM_PASSWORD", PASSWORD)
    monkeypatch.delenv("HVLM_USERNAME", raising=False)


def scan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    sims = [SimHost(HostModel("HV01", index=1, build=20348)), SimHost(HostModel("HV02", index=2, build=9600))]
    with WinRMLab([s.spec() for s in sims], scheme="http", auth="ntlm", users={USER: PASSWORD}) as lab:
        inventory = write_inventory(tmp_path / "fleet.toml", lab, sims,
                                    defaults={"transport": "http", "auth": "ntlm", "username": USER})
        run = run_cli(capsys, "scan", "-i", str(inventory), "--save-snapshot", str(tmp_path / "snap.json"),
                      "--format", "json", "--show-passed", "-q")
    return Snapshot.load(tmp_path / "snap.json").doc, json.loads(run.out)


def verdicts(report: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Per host: (status, message) of problems; passes (listed by subject label "<operator> on <host>")."""
    found = {f["subject"]["host"]: (f["status"], f["message"]) for f in flat_findings(report)
             if f["check_id"] == "operator-management-tools"}
    for entry in report["passed"]:
        if entry["check_id"] == "operator-management-tools":
            found.update({label.rsplit(" on ", 1)[1]: (entry["status"], "") for label in entry["subjects"]})
    return found


def test_scan_from_linux_says_not_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc, report = scan(tmp_path, capsys)
    fact = doc["management"]
    assert fact["value"]["platform"] == platform.system() != "Windows"
    assert fact["value"]["computer"] == socket.getfqdn() and fact["value"]["windows"] is None
    found = verdicts(report)
    assert len(found) == 2 and {s for s, _ in found.values()} == {"warning"}
    assert all(m.startswith("Not checked") for _, m in found.values())


def test_scan_from_simulated_windows_judges_each_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(management, "PLATFORM", lambda: "Windows")
    answer = {"BuildNumber": 17763, "Caption": "Microsoft Windows Server 2019 Standard", "ProductType": 3,
              "HyperVModule": "2.0.0.0", "ToolsFeature": "Installed", "ToolsFeatureError": None}
    monkeypatch.setattr(management, "RUN_POWERSHELL", lambda script: json.dumps(answer))
    doc, report = scan(tmp_path, capsys)
    assert doc["management"]["value"]["windows"]["HyperVModule"] == ["2.0.0.0"]
    found = verdicts(report)
    hv01, hv02 = sorted(found)
    assert found[hv01][0] == "pass"  # 2022: module 2.0 manages it
    assert found[hv02][0] == "warning"  # 2012 R2
    assert "(Windows Server 2012 R2), which module 2.x does not manage" in found[hv02][1]
