"""Issue 15's done-when, live: scan the WinRM lab's simulated hosts and the Samba AD DC together, change
one delegation entry in the directory and one host setting on a simulated host, scan again, and
`hvlm diff` shows exactly those two fact changes and the findings they cause, nothing else. Then
`hvlm scan --waivers` waives those findings: marked waived in every output, the exit code as clean.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ldap3
import pytest

from tests.collect.labkit import PASSWORD, USER, run_cli, toml_str, write_inventory
from tests.directory.labsetup import MIG, host_spns
from tests.lab.hostsim import SimHost
from tests.lab.samba import SambaDC
from tests.lab.samba.seed import ComputerSpec
from tests.lab.winrm import WinRMLab
from tests.support.fleet import ALL_SERVICES, VIRTUAL_MACHINES, HostModel

pytestmark = pytest.mark.lab
pytest_plugins = ["tests.lab.samba.fixtures"]  # samba_dc

OPERATOR = "hdoperator"
OPERATOR_PASSWORD = "Hd-Operator-Pass-1"
EVERYONE_AUTHENTICATED = ("NT AUTHORITY\\Authenticated Users", "S-1-5-11")
NAMES = ("HDRIFT1", "HDRIFT2")
AES = 0x18  # AES128 and AES256  # names of this test's own, in the session's shared DC


def kcd(dest: HostModel) -> list[str]:
    return [f"{svc}/{n}" for svc in (MIG, "cifs") for n in (dest.name, dest.fqdn)]


@dataclass
class Lab:
    dc: SambaDC
    winrm: WinRMLab
    hosts: tuple[HostModel, HostModel]
    sims: list[SimHost]


@pytest.fixture(scope="module")
def lab(samba_dc: SambaDC) -> Iterator[Lab]:
    dc, domain = samba_dc, samba_dc.dns_domain
    dc.add_user(OPERATOR, OPERATOR_PASSWORD)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    # a GPO grants both user rights with the virtual machines, so host-logon-as-service judges them (clean)
    rights = {"service_logon_gpo": ("Hyper-V Hosts", [ALL_SERVICES, VIRTUAL_MACHINES]),
              "symlink_gpo": ("Hyper-V Hosts", [("BUILTIN\\Administrators", "S-1-5-32-544"), VIRTUAL_MACHINES])}
    a, b = (HostModel(n, domain=domain, index=230 + i, build=20348, hyperv_admins=[EVERYONE_AUTHENTICATED],
                      utc_time=now, **rights) for i, n in enumerate(NAMES))
    dc.add_computers_bulk([
        ComputerSpec(x.name, spns=tuple(host_spns(x.name, domain)), allowed_to_delegate_to=tuple(kcd(y)),
                     trusted_to_auth_for_delegation=True)
        for x, y in ((a, b), (b, a))])
    conn = dc.admin_connection()
    try:
        for m in (a, b):  # AES only, as a current host states it
            conn.modify(dc.dn_of(f"{m.name}$"), {"msDS-SupportedEncryptionTypes": [(ldap3.MODIFY_REPLACE, [AES])]})
            assert conn.result["result"] == 0, conn.result
    finally:
        conn.unbind()
    for m in (a, b):
        dc.add_a(m.fqdn, m.mgmt_ip)
        dc.add_ptr(m.mgmt_ip, m.fqdn)
    sims = [SimHost(a), SimHost(b)]
    with WinRMLab([s.spec() for s in sims], scheme="https", auth="basic", users={USER: PASSWORD}) as winrm:
        yield Lab(dc, winrm, (a, b), sims)


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch, samba_dc: SambaDC) -> None:
    monkeypatch.setenv("HVLM_PASSWORD", PASSWORD)
    monkeypatch.setenv("HVLM_LDAP_PASSWORD", samba_dc.admin_password)
    monkeypatch.delenv("HVLM_USERNAME", raising=False)


def inventory(lab: Lab, path: Path) -> Path:
    write_inventory(path, lab.winrm, lab.sims,
                    defaults={"auth": "basic", "username": USER, "ca_bundle": lab.winrm.ca_cert_path})
    dc = lab.dc
    # moves are started on the first host (a Linux runner cannot judge its own management tools)
    text = f"management_host = {toml_str(lab.sims[0].name)}\n" + path.read_text("utf-8")
    path.write_text(text, "utf-8")
    lines = [
        "[operator]",
        f"account = {toml_str(dc.netbios_domain + chr(92) + OPERATOR)}",
        "[ad]",
        f"dns_servers = [{toml_str(dc.ip)}]",
        'auth = "simple"',
        'tls = "ldaps"',
        f"ca_file = {toml_str(str(dc.ca_cert))}",
        f"username = {toml_str(dc.admin_upn)}",
    ]
    path.write_text(path.read_text("utf-8") + "\n".join(lines) + "\n", "utf-8")
    return path


def scan(capsys: pytest.CaptureFixture[str], inv: Path, out: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    run = run_cli(capsys, "scan", "-i", str(inv), "--format", "json", "-o", str(out / "report.json"),
                  "--save-snapshot", str(out / "snapshot.json"), "-q", *extra)
    assert (out / "report.json").exists(), (run.code, run.err)
    return run.code, json.loads((out / "report.json").read_text("utf-8")), run.err


def remove_delegation(lab: Lab, source: HostModel, entry: str) -> None:
    conn = lab.dc.admin_connection()
    try:
        conn.modify(lab.dc.dn_of(f"{source.name}$"), {"msDS-AllowedToDelegateTo": [(ldap3.MODIFY_DELETE, [entry])]})
        assert conn.result["result"] == 0, conn.result
    finally:
        conn.unbind()


def changes(diff: dict[str, Any]) -> list[tuple[str, str, str, Any, Any]]:
    return [(e["kind"], e["name"], c["path"], c.get("old"), c.get("new")) for e in diff["entities"] for c in e["changes"]]


def diff_json(capsys: pytest.CaptureFixture[str], old: Path, new: Path) -> tuple[int, dict[str, Any]]:
    run = run_cli(capsys, "diff", str(old), str(new), "--format", "json")
    return run.code, json.loads(run.out)


WAIVE = """
[[waivers]]
id = "CHG-LAB-1"
check = "host-migration-enabled"
host = "{b}"
justification = "HDRIFT2 is being drained: live migration off until the move window"
approved_by = "CAB 2026-12-01"
created = 2026-12-01
expires = 2099-12-31

[[waivers]]
id = "CHG-LAB-2"
check = "pair-kcd-cifs"
pair = "{a} -> {b}"
justification = "Storage moves between these hosts are out of scope"
approved_by = "CAB 2026-12-01"
created = 2026-12-01
expires = 2099-12-31

[[waivers]]
id = "CHG-LAB-3"
check = "operator-domain-admins"
pair = "{a} -> {b}"
justification = "A Domain Admin re-adds the delegation in the move window"
approved_by = "CAB 2026-12-01"
created = 2026-12-01
expires = 2099-12-31
"""


def test_diff_of_two_lab_scans_shows_exactly_the_two_changes_and_their_findings(
        lab: Lab, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = lab.hosts
    inv = inventory(lab, tmp_path / "fleet.toml")
    before, after, waived = tmp_path / "before", tmp_path / "after", tmp_path / "waived"
    for d in (before, after, waived):
        d.mkdir()
    history = tmp_path / "history"
    history.mkdir()
    code, report, err = scan(capsys, inv, before, "--history", str(history))
    problems = [(g["check_id"], m["subject"]["label"]) for g in report["findings"] for m in g["members"]
                if g["status"] in ("fail", "warning", "error")]
    assert (code, problems) == (0, []), err  # a clean pair to start from

    entry = f"cifs/{b.fqdn}"
    remove_delegation(lab, a, entry)  # one delegation entry, in the directory
    b.migration_enabled = False  # one host setting, on the simulated host
    try:
        code2, report2, err2 = scan(capsys, inv, after, "--history", str(history))
        assert code2 == report2["run"]["exit_code"] == 1, err2
        assert "(3 new findings, 0 fixed since report-" in err2
        trend = run_cli(capsys, "history", str(history), "--json")
        runs = json.loads(trend.out)["runs"]
        assert trend.code == 0 and [(r["command"], r["exit_code"], r["failures"], r["new"], r["fixed"]) for r in runs] == [
            ("scan", 0, 0, None, None), ("scan", 1, 2, 3, 0)]

        dcode, ddoc = diff_json(capsys, before / "snapshot.json", after / "snapshot.json")
        assert dcode == 1
        assert changes(ddoc) == [
            ("host", b.fqdn, f"hosts/{b.fqdn}/vmhost/value/VirtualMachineMigrationEnabled", True, False),
            ("computer", a.fqdn, f"domains/{lab.dc.dns_domain}/computers/{a.fqdn}/msDS-AllowedToDelegateTo",
             entry, None),
        ]
        rcode, rdoc = diff_json(capsys, before / "report.json", after / "report.json")
        assert rcode == 1 and rdoc["summary"] == {"new": 3, "fixed": 0, "changed": 0, "unchanged": 0,
                                                 "not_evaluated": 0}
        new = sorted((f["check_id"], f["subject"], f["status"]) for f in rdoc["findings"]["new"])
        move = f"{a.fqdn} -> {b.fqdn}"
        assert new == [("host-migration-enabled", b.fqdn, "fail"),
                       ("operator-domain-admins", move, "warning"),  # the missing entry needs a Domain Admin
                       ("pair-kcd-cifs", move, "fail")]
        text = run_cli(capsys, "diff", str(before / "snapshot.json"), str(after / "snapshot.json")).out
        assert f"  - domains/{lab.dc.dns_domain}/computers/{a.fqdn}/msDS-AllowedToDelegateTo: {entry}\n" in text
        assert f"  ~ hosts/{b.fqdn}/vmhost/value/VirtualMachineMigrationEnabled: true -> false\n" in text

        # the same scan with the three findings waived: marked waived, and the exit code of a clean scan
        waivers = tmp_path / "waivers.toml"
        waivers.write_text(WAIVE.format(a=a.fqdn, b=b.fqdn), "utf-8")
        code3, report3, err3 = scan(capsys, inv, waived, "--waivers", str(waivers), "--html",
                                    str(waived / "report.html"))
        assert code3 == 0, err3
        marks = {(g["check_id"], m["subject"]["label"]): (g["status"], m.get("waiver", {}).get("id"))
                 for g in report3["findings"] for m in g["members"]}
        assert marks == {("host-migration-enabled", b.fqdn): ("fail", "CHG-LAB-1"),
                         ("pair-kcd-cifs", move): ("fail", "CHG-LAB-2"),
                         ("operator-domain-admins", move): ("warning", "CHG-LAB-3")}
        text3 = run_cli(capsys, "scan", "-i", str(inv), "--waivers", str(waivers), "-q").out
        assert "[WAIVED CHG-LAB-1]" in text3 and "[WAIVED CHG-LAB-2]" in text3
        html = (waived / "report.html").read_text("utf-8")
        assert "CHG-LAB-1" in html and "HDRIFT2 is being drained" in html
    finally:
        b.migration_enabled = True
        restore = lab.dc.admin_connection()
        try:
            restore.modify(lab.dc.dn_of(f"{a.name}$"), {"msDS-AllowedToDelegateTo": [(ldap3.MODIFY_ADD, [entry])]})
        finally:
            restore.unbind()
