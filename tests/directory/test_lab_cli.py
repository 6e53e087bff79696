"""`hvlm collect --only directory` and `hvlm audit` as a user runs them, against the Samba lab DC.

The password reaches hvlm only through HVLM_LDAP_PASSWORD; the test checks that it appears in no
output, no snapshot and no report.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hvlm.reports.aggregate import flat_findings
from tests.directory import labsetup as lab
from tests.directory.labsetup import SETUPS
from tests.lab.samba import SambaDC
from tests.support.fleet import HostModel

pytestmark = pytest.mark.lab
pytest_plugins = ["tests.lab.samba.fixtures"]  # samba_dc, samba_forest

REPO = Path(__file__).resolve().parents[2]


def _hvlm(*args: str, password: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HVLM_PASSWORD", "HVLM_LDAP_PASSWORD")}
    env["HVLM_LDAP_PASSWORD"] = password
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "hvlm.audit.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=300,
        cwd=REPO,
        check=False,
    )


def _inventory(dc: SambaDC, path: Path) -> list[str]:
    hosts = [lab.fqdn(dc, n) for s in SETUPS for n in s.names]
    pairs = [(lab.fqdn(dc, s.names[0]), lab.fqdn(dc, s.names[1])) for s in SETUPS]
    lines = [
        "hosts = [" + ", ".join(json.dumps(h) for h in hosts) + "]",
        f"operator = {json.dumps(dc.netbios_domain + chr(92) + 'dxopnone')}",
        "migrations = [" + ", ".join(f'{{source = "{s}", destination = "{d}"}}' for s, d in pairs) + "]",
        "",
        "[ad]",
        f"dns_servers = [{json.dumps(dc.ip)}]",
        'auth = "simple"',
        'tls = "ldaps"',
        f"ca_file = {json.dumps(str(dc.ca_cert))}",
        f"username = {json.dumps(dc.admin_upn)}",
    ]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return hosts


def _findings(report: dict[str, Any], check_id: str) -> dict[str, str]:
    """Every subject's status for one check: listed problems, and passes (run with --show-passed)."""
    out = {}
    for f in flat_findings(report):
        if f["check_id"] == check_id:
            s = f["subject"]
            key = f"{s['source']}>{s['destination']}" if s.get("source") else s.get("host") or s.get("operator")
            out[key] = f["status"]
    for entry in report["passed"]:
        if entry["check_id"] == check_id:
            for label in entry["subjects"]:
                out[label.replace(" -> ", ">")] = entry["status"]
    return out


def test_collect_only_directory_then_audit(samba_dc: SambaDC, seeded: Any, operators: Any, tmp_path: Path) -> None:
    inv = tmp_path / "fleet.toml"
    snap = tmp_path / "snap.json"
    hosts = _inventory(samba_dc, inv)
    log_file = tmp_path / "collect.log"
    collected = _hvlm(
        "collect", "--inventory", str(inv), "--only", "directory", "-o", str(snap), "--log", str(log_file),
        password=samba_dc.admin_password,
    )
    assert collected.returncode == 0, collected.stderr
    text = snap.read_text("utf-8")
    assert samba_dc.admin_password not in text + collected.stdout + collected.stderr
    # --log records the directory and DNS collection against the real DC, and never the password
    log_text = log_file.read_text("utf-8")
    assert samba_dc.admin_password not in log_text
    assert f"TLS ldaps, bind simple as {samba_dc.admin_upn}" in log_text
    assert re.search(r"ldap search on \S+: base '.*', scope subtree, filter .*objectCategory=computer.*: "
                     rf"{sum(len(s.names) for s in SETUPS)} entries in 1 page\(s\), \d+\.\d{{3}} s", log_text), log_text
    assert re.search(rf"dns SRV _ldap\._tcp\.dc\._msdcs\.{re.escape(samba_dc.dns_domain)}\. asking "
                     rf"{re.escape(samba_dc.ip)}: 1 record", log_text), log_text
    assert re.search(r"dns A \S+\. asking .*: \d+ record\(s\)", log_text)
    doc = json.loads(text)
    assert doc["hosts"] == {}
    computers = {c["sAMAccountName"]: c for c in doc["domains"][samba_dc.dns_domain]["computers"]["value"]}
    assert set(computers) == {f"{n}$" for s in SETUPS for n in s.names}
    assert computers["DXUC1$"]["userAccountControl"] & lab.TRUSTED_FOR_DELEGATION
    assert doc["operator"]["value"]["sAMAccountName"] == "dxopnone"
    assert set(doc["dns"]) == set(hosts)

    # Directory facts alone: the checks that need only AD judge (delegation is audited as if the
    # hosts used Kerberos, and says so); the ones that need host facts report error (never pass),
    # and the run is incomplete.
    report_path = tmp_path / "report.json"
    audited = _hvlm("audit", str(snap), "--format", "json", "--show-passed", "-o", str(report_path), password="unused")
    assert audited.returncode in (3, 4), audited.stderr
    report = json.loads(report_path.read_text("utf-8"))
    unconstrained = _findings(report, "host-unconstrained-delegation")
    assert unconstrained[lab.fqdn(samba_dc, "DXUC1")] == "warning" and unconstrained[lab.fqdn(samba_dc, "DXOK1")] == "pass"
    f = lambda name: lab.fqdn(samba_dc, name)  # noqa: E731
    kcd = _findings(report, "pair-kcd-migration-service")
    assert kcd[f"{f('DXOK1')}>{f('DXOK2')}"] == "pass"
    assert kcd[f"{f('DXCF1')}>{f('DXCF2')}"] == "fail"
    assert kcd[f"{f('DXOW2')}>{f('DXOW1')}"] == "fail"
    assert kcd[f"{f('DXRB1')}>{f('DXRB2')}"] == "warning"
    # "Kerberos only" on 2016 and later is found from AD alone (operatingSystemVersion), without host facts
    assert _findings(report, "host-kcd-any-protocol")[f("DXKO1")] == "fail"
    assert set(_findings(report, "host-migration-enabled").values()) == {"error"}

    # The same directory facts with the hosts' own facts (what `hvlm collect` adds over WinRM): the
    # seeded set-ups get their verdicts from the CLI.
    models = [
        HostModel(n, domain=samba_dc.dns_domain, index=i, build=20348)
        for i, n in enumerate((n for s in SETUPS for n in s.names), start=1)
    ]
    doc["hosts"] = {m.fqdn: m.facts("psrp") for m in models}
    full = tmp_path / "full.json"
    full.write_text(json.dumps(doc), "utf-8")
    audited = _hvlm("audit", str(full), "--format", "json", "--show-passed", "-o", str(report_path), password="unused")
    assert audited.returncode in (0, 1), audited.stderr
    report = json.loads(report_path.read_text("utf-8"))
    kcd = _findings(report, "pair-kcd-migration-service")
    assert kcd[f"{f('DXOK1')}>{f('DXOK2')}"] == "pass"
    assert kcd[f"{f('DXCF1')}>{f('DXCF2')}"] == "fail"
    assert kcd[f"{f('DXOW2')}>{f('DXOW1')}"] == "fail"
    assert kcd[f"{f('DXRB1')}>{f('DXRB2')}"] == "warning"
    assert _findings(report, "host-kcd-any-protocol")[f("DXKO1")] == "fail"
    assert _findings(report, "operator-domain-admins")[f"{f('DXCF1')}>{f('DXCF2')}"] == "warning"  # advice
    assert samba_dc.admin_password not in report_path.read_text("utf-8")


def test_collect_refuses_plain_ldap_without_permission(samba_dc: SambaDC, tmp_path: Path) -> None:
    inv = tmp_path / "fleet.toml"
    _inventory(samba_dc, inv)
    result = _hvlm(
        "collect",
        "--inventory",
        str(inv),
        "--only",
        "directory",
        "-o",
        str(tmp_path / "s.json"),
        "--ldap-tls",
        "plain",
        password=samba_dc.admin_password,
    )
    assert result.returncode == 2
    assert "--allow-plain-ldap" in result.stderr
    assert not (tmp_path / "s.json").exists()
