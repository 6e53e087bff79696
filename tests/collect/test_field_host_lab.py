"""`hvlm scan` against the WinRM lab: the host guardian, user rights, local policy file and pending restart
facts travel from simulated hosts through real WS-Management/PSRP into the checks.

Two moves: HV11 -> HV12 between healthy hosts (HV12 holds HV11's guardian certificates, its baseline
GPO keeps NT VIRTUAL MACHINE\\Virtual Machines, its Registry.pol is well formed, nothing waits for a
restart) and HV13 -> HV14 onto a broken one (no guardian of HV13, a GPO that sets "Log on as a
service" without the virtual machines, a Registry.pol of zeros, a pending servicing restart). Each
moves a VM with a virtual TPM. HV15, a Windows Server 2012 R2 host, shows the probe's 2012 R2
answers (no HgsClient module) reaching the checks as values, not errors, and a local "Log on as a
service" without the virtual machines (no GPO: the rights in force, from secedit, fail it); on HV11
secedit failed, so its user rights are a warning.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.lab.hostsim import SimHost
from tests.lab.winrm import WinRMLab
from tests.support.fleet import ALL_SERVICES, VIRTUAL_MACHINES, HostModel, VMModel

from .labkit import PASSWORD, USER, assert_facts_equal_model, run_cli, write_inventory

pytestmark = pytest.mark.lab
CHECKS = ("vm-vtpm-guardian", "host-logon-as-service", "host-policy-file", "host-pending-reboot")


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HVLM_PASSWORD", PASSWORD)
    monkeypatch.delenv("HVLM_USERNAME", raising=False)


UNREAD = "the export of the user rights failed with exit code 5: Access is denied."


def fleet() -> list[SimHost]:
    baseline = ("CORP Server Baseline", [ALL_SERVICES, VIRTUAL_MACHINES])
    return [
        SimHost(HostModel("HV11", index=11, build=20348, vms=[VMModel("db11", tpm=True)],
                          effective_rights_error=UNREAD)),
        SimHost(HostModel("HV12", index=12, build=26100, guardians_from=["HV11"], service_logon_gpo=baseline)),
        SimHost(HostModel("HV13", index=13, build=20348, vms=[VMModel("db13", tpm=True)])),
        SimHost(HostModel("HV14", index=14, build=26100, guardians_from=["HV11"], registry_pol=bytes(8),
                          service_logon_gpo=("CORP Server Hardening", [ALL_SERVICES]),
                          pending_reboot=["ComponentBasedServicing"])),
        SimHost(HostModel("HV15", index=15, build=9600, vms=[VMModel("old15", version="5.0")],
                          local_service_logon_vms=False)),
    ]


def statuses(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(check id, subject label) -> status, for problems and passes alike."""
    out = {}
    for group in report["findings"]:
        for member in group["members"]:
            out[(group["check_id"], member["subject"]["label"])] = group["status"]
    for passed in report["passed"]:
        for label in passed["subjects"]:
            out[(passed["check_id"], label)] = passed["status"]
    return out


def test_scan_judges_guardians_user_rights_policy_file_and_restarts_from_the_hosts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sims = fleet()
    names = {s.model.name: s.name for s in sims}
    with WinRMLab([s.spec() for s in sims], scheme="https", auth="basic", users={USER: PASSWORD}) as lab:
        inventory = write_inventory(tmp_path / "fleet.toml", lab, sims,
                                    defaults={"auth": "basic", "username": USER, "ca_bundle": lab.ca_cert_path})
        with inventory.open("a") as out:
            for src, dst in (("HV11", "HV12"), ("HV13", "HV14"), ("HV15", "HV12")):
                out.write(f'[[migrations]]\nsource = "{names[src]}"\ndestination = "{names[dst]}"\n')
        run = run_cli(capsys, "scan", "-i", str(inventory), "--checks", ",".join(CHECKS), "--format", "json",
                      "--show-passed", "--save-snapshot", str(tmp_path / "snap.json"), "-q", "--ldap-timeout", "2")
    report = json.loads(run.out)
    snap = json.loads((tmp_path / "snap.json").read_text())
    for sim in sims:  # the facts arrived exactly as the hosts hold them, 2012 R2 included
        assert_facts_equal_model(snap["hosts"][sim.name], sim)
    old = snap["hosts"][names["HV15"]]
    assert old["hgs_client"]["value"]["Installed"] is False and old["vm_key_protectors"]["value"] == []
    got = statuses(report)
    healthy, broken = names["HV12"], names["HV14"]
    assert got[("vm-vtpm-guardian", f"VM db11 on {names['HV11']} -> {healthy}")] == "pass"
    assert got[("vm-vtpm-guardian", f"VM db13 on {names['HV13']} -> {broken}")] == "fail"
    assert got[("vm-vtpm-guardian", f"VM old15 on {names['HV15']} -> {healthy}")] == "pass"
    for check in ("host-logon-as-service", "host-policy-file", "host-pending-reboot"):
        assert got[(check, healthy)] == "pass", check
        assert got[(check, broken)] in ("fail", "warning"), check
        assert got[(check, names["HV15"])] == ("fail" if check == "host-logon-as-service" else "pass"), check
    assert got[("host-logon-as-service", broken)] == "fail"
    assert got[("host-logon-as-service", names["HV11"])] == "warning"  # secedit failed there
    assert got[("host-pending-reboot", broken)] == "warning"
    messages = {m["subject"]["label"] + " " + g["check_id"]: m["message"]
                for g in report["findings"] for m in g["members"]}
    assert "CORP Server Hardening" in messages[f"{broken} host-logon-as-service"]
    # no GPO sets "Create symbolic links" on the healthy host: its list in force (secedit) holds the virtual
    # machines; HV15 (2012 R2, no GPO) lost them from its local "Log on as a service"; HV11's export failed
    assert "the local \"Log on as a service\" (no GPO sets it) does not hold NT VIRTUAL MACHINE\\Virtual " \
        "Machines (S-1-5-83-0): it holds *S-1-5-80-0" in messages[f"{names['HV15']} host-logon-as-service"]
    unread = messages[f"{names['HV11']} host-logon-as-service"]
    assert unread.startswith(f"Checked only Group Policy on {names['HV11']}") and f"(secedit: {UNREAD})" in unread
    snap_rights = snap["hosts"][healthy]["logon_rights"]["value"]
    assert {a["SID"] for a in snap_rights["Effective"]["SeCreateSymbolicLinkPrivilege"]} == {"S-1-5-32-544",
                                                                                            "S-1-5-83-0"}
    assert "00 00 00 00" in messages[f"{broken} host-policy-file"]
    assert "does not hold HV13's UntrustedGuardian (encryption certificate thumbprint " \
        in messages[f"VM db13 on {names['HV13']} -> {broken} vm-vtpm-guardian"]
    # the moves onto the broken host are blocked by exactly these findings; the healthy moves pass (a source's
    # user rights, HV11's unread and HV15's missing, cannot stop a move from it)
    moves = {(m["source"], m["destination"]): m for m in report["moves"]}
    assert moves[(names["HV11"], healthy)]["verdict"] == "pass"
    assert moves[(names["HV15"], healthy)]["verdict"] == "pass"
    assert moves[(names["HV13"], broken)]["verdict"] == "fail"
    # the directory is not part of this lab, so its facts stay uncollected (exit 4, facts missing); none of
    # the host sections these checks read is among them
    sections = ("hgs_client", "hgs_guardians", "vm_key_protectors", "logon_rights", "policy_file", "pending_reboot")
    assert not [u for u in report["uncollected"] if u["path"].split("/")[-1] in sections]
    assert report["uncollected"] and run.code == 4, run.err
