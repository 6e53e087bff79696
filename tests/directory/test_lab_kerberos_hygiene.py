"""Kerberos hygiene from the real directory: encryption types and selective authentication.

`hvlm collect --only directory` then `hvlm audit`, as a user runs them, against the Samba lab:
- computer objects seeded with msDS-SupportedEncryptionTypes (AES, RC4 only, not set) read back over
  LDAP and judged by host-kerberos-rc4-only;
- the real two-way forest trust LAB.TEST <-> LAB2.TEST (tests/lab/samba/forest.py) with selective
  authentication switched on for LAB.TEST's side (trustAttributes | 0x10 on its trustedDomain object),
  a LAB2 source and two LAB destinations, one granting the source "Allowed to Authenticate": the
  collector reads both from the DCs and pair-trust-selective-auth judges each direction.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hvlm.audit.snapshot import value_fact
from hvlm.reports.aggregate import flat_findings
from tests.directory import labsetup as lab
from tests.lab.samba import SambaDC, SambaForest

pytestmark = pytest.mark.lab
pytest_plugins = ["tests.lab.samba.fixtures"]  # samba_dc, samba_forest

REPO = Path(__file__).resolve().parents[2]
SELECTIVE = 0x10
READER_PASSWORD = "Dx-Reader-Pass-1"  # lab-only


def hvlm(*args: str, password: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HVLM_PASSWORD", "HVLM_LDAP_PASSWORD")}
    env.update({"HVLM_LDAP_PASSWORD": password, "PYTHONPATH": str(REPO)})
    return subprocess.run([sys.executable, "-m", "hvlm.audit.cli", *args], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=300, cwd=REPO, check=False)


def write_inventory(path: Path, hosts: list[str], pairs: list[tuple[str, str]], dc: SambaDC, ca_file: str,
                    username: str) -> None:
    lines = [
        "hosts = [" + ", ".join(json.dumps(h) for h in hosts) + "]",
        "migrations = [" + ", ".join(f"{{source = {json.dumps(s)}, destination = {json.dumps(d)}}}"
                                     for s, d in pairs) + "]",
        "",
        "[ad]",
        f"dns_servers = [{json.dumps(dc.ip)}]",
        'auth = "simple"',
        'tls = "ldaps"',
        f"ca_file = {json.dumps(ca_file)}",
        f"username = {json.dumps(username)}",
    ]
    path.write_text("\n".join(lines) + "\n", "utf-8")


def collect_and_audit(tmp: Path, password: str) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """The snapshot `hvlm collect --only directory` wrote, and every subject's status per check."""
    snap, report_path = tmp / "snap.json", tmp / "report.json"
    collected = hvlm("collect", "--inventory", str(tmp / "fleet.toml"), "--only", "directory", "-o", str(snap),
                     password=password)
    assert collected.returncode == 0, collected.stderr
    audited = hvlm("audit", str(snap), "--format", "json", "--show-passed", "-o", str(report_path), password="unused")
    assert audited.returncode in (3, 4), audited.stderr  # directory facts alone: host checks cannot be judged
    report = json.loads(report_path.read_text("utf-8"))
    statuses: dict[str, dict[str, str]] = {}
    for f in flat_findings(report):
        s = f["subject"]
        label = f"{s['source']}>{s['destination']}" if s.get("source") else s.get("host")
        statuses.setdefault(f["check_id"], {})[label] = f["status"]
    for entry in report["passed"]:
        for label in entry["subjects"]:
            statuses.setdefault(entry["check_id"], {})[label.replace(" -> ", ">")] = entry["status"]
    assert password not in snap.read_text("utf-8") + report_path.read_text("utf-8")
    return json.loads(snap.read_text("utf-8")), statuses


# -- msDS-SupportedEncryptionTypes -------------------------------------------------------------


ENCTYPES = {"DXETAES": 0x18, "DXETRC4": 0x4, "DXETNONE": None}


@pytest.fixture(scope="module")
def enctype_hosts(samba_dc: SambaDC) -> list[str]:
    for name, value in ENCTYPES.items():
        samba_dc.add_computer(name, spns=lab.host_spns(name, samba_dc.dns_domain))
        samba_dc.set_encryption_types(name, value)
    return [lab.fqdn(samba_dc, n) for n in ENCTYPES]


def test_rc4_only_account_is_found_from_ldap(samba_dc: SambaDC, enctype_hosts: list[str], tmp_path: Path) -> None:
    write_inventory(tmp_path / "fleet.toml", enctype_hosts, [], samba_dc, str(samba_dc.ca_cert), samba_dc.admin_upn)
    doc, statuses = collect_and_audit(tmp_path, samba_dc.admin_password)
    read = {c["sAMAccountName"]: c["msDS-SupportedEncryptionTypes"]
            for c in doc["domains"][samba_dc.dns_domain]["computers"]["value"]}
    assert read == {f"{n}$": v for n, v in ENCTYPES.items()}  # what the DC holds, over LDAPS
    verdicts = statuses["host-kerberos-rc4-only"]
    aes, rc4, unset = (lab.fqdn(samba_dc, n) for n in ENCTYPES)
    assert verdicts[aes] == "pass"
    assert verdicts[rc4] == "warning"  # a high warning: works while the domain still issues RC4 tickets
    assert verdicts[unset] == "warning"  # a low one: the domain's default decides


# -- selective authentication: a trustedDomain object written into the lab DC --------------------

PARTNER, PARTNER_SID = "dxsel.example", "S-1-5-21-3000000001-3000000002-3000000003"
SOURCE_SID = f"{PARTNER_SID}-1105"  # the source's computer account in the partner forest


@pytest.fixture
def written_trust(samba_dc: SambaDC) -> Iterator[list[str]]:
    """LAB.TEST trusts dxsel.example (two-way, forest, selective authentication), written straight into the
    DC's database; DXSWOK grants the partner's source "Allowed to Authenticate", DXSWNO grants nothing.
    The object is deleted right after the test: Samba's forest trust set-up (samba_forest) reads every
    trustedDomain object and fails on this one, which has no trust secret nor forest trust information."""
    dn = samba_dc.add_trusted_domain(PARTNER, "DXSEL", direction=3, attributes=0x8 | SELECTIVE)
    for name in ("DXSWOK", "DXSWNO"):
        samba_dc.add_computer(name, spns=lab.host_spns(name, samba_dc.dns_domain))
    samba_dc.allow_to_authenticate("DXSWOK", SOURCE_SID)
    try:
        yield [lab.fqdn(samba_dc, n) for n in ("DXSWOK", "DXSWNO")]
    finally:
        samba_dc.ldb.modify(f"dn: {dn}\nchangetype: delete\n")


def test_written_selective_trust_is_read_and_judged(
    samba_dc: SambaDC, written_trust: list[str], tmp_path: Path
) -> None:
    ok, no = written_trust
    source = f"dxsrc.{PARTNER}"
    write_inventory(tmp_path / "fleet.toml", [ok, no], [], samba_dc, str(samba_dc.ca_cert), samba_dc.admin_upn)
    doc, _ = collect_and_audit(tmp_path, samba_dc.admin_password)
    facts = doc["domains"][samba_dc.dns_domain]
    (tdo,) = [t for t in facts["trusts"]["value"] if t["trustPartner"] == PARTNER]
    assert (tdo["trustAttributes"], tdo["trustDirection"], tdo["flatName"]) == (0x18, 3, "DXSEL")
    acl = {c["sAMAccountName"]: c["allowedToAuthenticate"] for c in facts["computers"]["value"]}
    assert acl["DXSWOK$"]["readable"] and SOURCE_SID in acl["DXSWOK$"]["allowed"]
    assert acl["DXSWNO$"]["readable"] and SOURCE_SID not in acl["DXSWNO$"]["allowed"]

    # The partner forest has no DC in this lab: its source host is added to the inventory and its computer
    # object given as the partner's DC would return it; everything about LAB.TEST is what was collected.
    doc["inventory"]["hosts"].append(source)
    doc["inventory"]["pairs"] = [[source, ok], [source, no]]
    doc["domains"][PARTNER] = {"computers": value_fact(
        [{"sAMAccountName": "DXSRC$", "dNSHostName": source, "objectSid": SOURCE_SID, "userAccountControl": 4096}],
        "ldap", f"dc1.{PARTNER}", "as the partner forest's DC would return it")}
    snap = tmp_path / "with-source.json"
    snap.write_text(json.dumps(doc), "utf-8")
    report_path = tmp_path / "selective.json"
    audited = hvlm("audit", str(snap), "--format", "json", "--show-passed", "-o", str(report_path), password="unused")
    assert audited.returncode in (3, 4), audited.stderr
    report = json.loads(report_path.read_text("utf-8"))
    got = {f"{f['subject']['source']}>{f['subject']['destination']}": (f["status"], f["message"])
           for f in flat_findings(report) if f["check_id"] == "pair-trust-selective-auth"}
    passed = [label for e in report["passed"] if e["check_id"] == "pair-trust-selective-auth" for label in e["subjects"]]
    assert f"{source} -> {ok}" in passed
    status, message = got[f"{source}>{no}"]
    assert status == "fail" and "DXSRC$ does not hold \"Allowed to Authenticate\" on DXSWNO" in message


# -- selective authentication on the lab's real forest trust ---------------------------------------


@pytest.fixture(scope="module")
def selective(samba_forest: SambaForest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """LAB.TEST trusts LAB2.TEST with selective authentication for this module; DXSEL1 (LAB2) moves to
    DXSELOK (grants it "Allowed to Authenticate") and to DXSELNO (grants nothing)."""
    dc1, dc2 = samba_forest.dc1, samba_forest.dc2
    dc2.add_computer("DXSEL1", spns=lab.host_spns("DXSEL1", dc2.dns_domain))
    for name in ("DXSELOK", "DXSELNO", "DXSELHID"):
        dc1.add_computer(name, spns=lab.host_spns(name, dc1.dns_domain))
    (src,) = dc2.ldb.search("(sAMAccountName=DXSEL1$)", ["objectSid"], base=dc2.settings.domain_dn)
    sid = src["objectSid"][0]
    dc1.allow_to_authenticate("DXSELOK", sid)
    (tdo,) = dc1.ldb.search(f"(&(objectClass=trustedDomain)(trustPartner={dc2.dns_domain}))", ["trustAttributes"],
                            base=f"CN=System,{dc1.settings.domain_dn}")
    before = int(tdo["trustAttributes"][0])
    assert dc1.set_trust_attributes(dc2.dns_domain, before | SELECTIVE) == before
    bundle = Path(tmp_path_factory.mktemp("dxsel-ca")) / "bundle.pem"
    bundle.write_text(dc1.ca_cert.read_text("ascii") + dc2.ca_cert.read_text("ascii"), "ascii")
    try:
        yield {"forest": samba_forest, "sid": sid, "bundle": str(bundle), "attributes": before}
    finally:
        dc1.set_trust_attributes(dc2.dns_domain, before)


def test_selective_trust_and_allowed_to_authenticate_are_read_and_judged(
    selective: dict[str, Any], tmp_path: Path
) -> None:
    forest: SambaForest = selective["forest"]
    dc1, dc2 = forest.dc1, forest.dc2
    source = f"dxsel1.{dc2.dns_domain}"
    ok, no = (f"{n}.{dc1.dns_domain}" for n in ("dxselok", "dxselno"))
    # a bare user name binds as Administrator@<each domain>: both lab forests have their own
    write_inventory(tmp_path / "fleet.toml", [source, ok, no], [(source, ok), (source, no)], dc1, selective["bundle"],
                    "Administrator")
    doc, statuses = collect_and_audit(tmp_path, dc1.admin_password)

    lab1, lab2 = doc["domains"][dc1.dns_domain], doc["domains"][dc2.dns_domain]
    (tdo,) = [t for t in lab1["trusts"]["value"] if t["trustPartner"] == dc2.dns_domain]
    assert tdo["trustAttributes"] == selective["attributes"] | SELECTIVE and tdo["trustDirection"] == 3
    assert "nTSecurityDescriptor (DACL: SD flags control 0x4)" in lab1["computers"]["source"]["command"]
    acl = {c["sAMAccountName"]: c["allowedToAuthenticate"] for c in lab1["computers"]["value"]}
    assert acl["DXSELOK$"]["readable"] and selective["sid"] in acl["DXSELOK$"]["allowed"]
    assert acl["DXSELNO$"]["readable"] and selective["sid"] not in acl["DXSELNO$"]["allowed"]
    assert f"{dc1.domain_sid}-512" in acl["DXSELNO$"]["allowed"]  # Domain Admins' full control, as on Windows
    # LAB2's side of the trust is not selective: its computers' permissions are not read
    assert all("allowedToAuthenticate" not in c for c in lab2["computers"]["value"])
    assert lab2["computers"]["value"][0]["objectSid"] == selective["sid"]

    verdicts = statuses["pair-trust-selective-auth"]
    assert verdicts[f"{source}>{ok}"] == "pass"
    assert verdicts[f"{source}>{no}"] == "fail"
    assert verdicts[f"{ok}>{source}"] == "pass"  # moving back: LAB2 trusts LAB without selective authentication


def test_unreadable_permissions_are_said_in_the_fact(selective: dict[str, Any]) -> None:
    """An account that may not read an object's permissions gets no descriptor: the fact says so (the check
    then reports 'could not check', never a pass)."""
    dc1 = selective["forest"].dc1
    dc1.add_user("dxselreader", READER_PASSWORD)
    (reader,) = dc1.ldb.search("(sAMAccountName=dxselreader)", ["objectSid"], base=dc1.settings.domain_dn)
    dc1.samba_tool("dsacl", "set", f"--objectdn={dc1.dn_of('DXSELHID')}", f"--sddl=(D;;RC;;;{reader['objectSid'][0]})",
                   "-H", str(dc1.ldb.sam_ldb))
    result = lab.collect(dc1, [f"dxselhid.{dc1.dns_domain}", f"dxselok.{dc1.dns_domain}"],
                         username=f"dxselreader@{dc1.dns_domain}", secret=READER_PASSWORD, ca_file=selective["bundle"])
    acl = {c["sAMAccountName"]: c["allowedToAuthenticate"]
           for c in result["domains"][dc1.dns_domain]["computers"]["value"]}
    assert acl["DXSELHID$"]["readable"] is False and "no nTSecurityDescriptor" in acl["DXSELHID$"]["reason"]
    assert acl["DXSELOK$"]["readable"] is True  # a plain user reads the DACL of the others (SD flags control)
