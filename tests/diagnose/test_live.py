"""`hvlm diagnose` live: the two hosts over real WS-Management (the WinRM lab's simulated hosts) and the
directory from a real Samba AD DC, one pair per cause with exactly that fault.

Directory faults (delegation, "Kerberos only", SPNs, PTR records, the operator's groups) are seeded
in the DC; host faults (CredSSP, Credential Guard, clocks, firewall, migration networks) live in the
simulated hosts' fleet models. Each pair's computer objects were created minutes ago, so the
"changes not yet effective" hint (whenChanged within 15 minutes) is live on every pair: it ranks
first on the healthy pair and after the configuration fault on the others.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.collect.labkit import PASSWORD, USER, run_cli, toml_str, write_inventory
from tests.directory.labsetup import MIG, host_spns
from tests.lab.hostsim import SimHost
from tests.lab.samba import SambaDC
from tests.lab.samba.seed import ComputerSpec
from tests.lab.winrm import WinRMLab, closed_port
from tests.support.fleet import GiB, HostModel, VMModel

pytestmark = pytest.mark.lab
pytest_plugins = ["tests.lab.samba.fixtures"]  # samba_dc

OPERATOR_PASSWORD = "Dg-Operator-Pass-1"
EVERYONE_AUTHENTICATED = ("NT AUTHORITY\\Authenticated Users", "S-1-5-11")
CG_2025 = {"auth": "CredSSP", "build": 26100, "credential_guard": True}


@dataclass(frozen=True)
class Live:
    key: str  # the pair is DG<key>1 -> DG<key>2
    cause: str
    code: str
    verdict: str = "confirmed"
    h1: dict[str, Any] = field(default_factory=dict)
    h2: dict[str, Any] = field(default_factory=dict)
    delegation: str = "full"  # full | none | short: DG<key>1's entries for DG<key>2
    any_protocol: bool = True
    dest_spns: bool = True
    ptr: str | None = None  # the destination's PTR name, when it is wrong
    operator: str = "dgopok"
    initiated_from: str | None = None
    fix_names: tuple[str, ...] = ()  # {src} {dst} {src_fqdn} {dst_fqdn} {domain} are filled in
    dns: bool = True  # Kerberos codes judge DNS: seed A/PTR records


SCENARIOS = [
    Live("OK", "changes-not-effective", "0x8009030E", verdict="likely",
         fix_names=("Invoke-Command -ComputerName '{src_fqdn}' -ScriptBlock {{ klist purge -li 0x3e7 }}",)),
    Live("CG", "credssp-credential-guard", "0x8009030E", h1=CG_2025, h2={"auth": "CredSSP"},
         fix_names=("Set-VMHost -VirtualMachineMigrationAuthenticationType Kerberos", "{src_fqdn}")),
    Live("DH", "credssp-double-hop", "0x8009030E", h1={"auth": "CredSSP"}, h2={"auth": "CredSSP"},
         initiated_from="admin-pc.lab.test",
         fix_names=("Set-VMHost -VirtualMachineMigrationAuthenticationType Kerberos", "{src_fqdn}")),
    Live("AM", "auth-type-mismatch", "0x8009030E", h2={"auth": "CredSSP"}, fix_names=("{dst_fqdn}",)),
    Live("NK", "kcd-missing", "0x8009030E", delegation="none",
         fix_names=("Set-ADComputer -Identity '{src}'", "'{mig}/{dst_fqdn}'")),
    Live("SN", "kcd-name-form", "0x8009030E", delegation="short",
         fix_names=("Set-ADComputer -Identity '{src}'", "'{mig}/{dst_fqdn}'")),
    Live("KO", "kcd-kerberos-only", "0x8009030E", any_protocol=False,
         fix_names=("(Get-ADComputer -Identity '{src}' -Server '{domain}')",)),
    Live("PU", "operator-not-delegable", "0x8009030E", operator="dgopprot",
         fix_names=("Remove-ADGroupMember", "-Members 'dgopprot'")),
    Live("SE", "operator-not-delegable", "0x8009030E", operator="dgopsens",
         fix_names=("Set-ADAccountControl -Identity 'dgopsens' -Server '{domain}' -AccountNotDelegated $false",)),
    Live("SP", "destination-spn", "0x8009030E", dest_spns=False,
         fix_names=("setspn -S '{mig}/{dst}' '{dst}'",)),
    Live("DN", "destination-dns", "0x8009030E", ptr="old-hv.lab.test", fix_names=("-PtrDomainName '{dst_fqdn}.'",),
         verdict="likely"),  # a foreign PTR is a warning
    Live("CS", "clock-skew", "0x8009030E", h2={"clock_offset_minutes": 12}, fix_names=("{dst_fqdn}",)),
    Live("FW", "dest-firewall-6600", "0x8007274C", h2={"firewall_enabled": False}, dns=False,
         fix_names=("{dst_fqdn}", "Enable-NetFirewallRule -Name 'VIRT-MIGL-In-TCP-NoScope'")),
    Live("MD", "dest-migration-disabled", "0x8007274D", h2={"migration_enabled": False}, dns=False,
         fix_names=("{dst_fqdn}",)),
    Live("VS", "dest-vmms", "0x8007274D", h2={"vmms_status": "Stopped"}, dns=False, fix_names=("{dst_fqdn}",)),
    Live("MN", "migration-network", "0x8007274C", h2={"migration_networks": [("192.168.99.0/24", 0)]}, dns=False,
         fix_names=("Remove-VMMigrationNetwork '192.168.99.0/24'",)),
    Live("ME", "destination-memory", "0x800705AA", h1={"vms": [VMModel("dg-big", memory_startup=400 * GiB)]},
         dns=False, fix_names=("{dst_fqdn}", "FreePhysicalMemory"), verdict="likely"),  # free memory when collected
    Live("LA", "operator-local-admin", "0x80070005", h2={"hyperv_admins": []}, dns=False,
         fix_names=("{dst_fqdn}",)),
]


def _kcd(dest: str, domain: str, fqdn: bool = True) -> list[str]:
    return [f"{svc}/{n}" for svc in (MIG, "cifs") for n in ([dest] + ([f"{dest.lower()}.{domain}"] if fqdn else []))]


def _models(s: Live, i: int, domain: str) -> tuple[HostModel, HostModel]:
    def model(n: int, over: dict[str, Any]) -> HostModel:
        over = dict(over)
        offset = over.pop("clock_offset_minutes", 0)
        when = (dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=offset)
                ).isoformat().replace("+00:00", "Z")
        return HostModel(f"DG{s.key}{n}", domain=domain, index=150 + 2 * i + n, utc_time=when,
                         **{"build": 20348, "hyperv_admins": [EVERYONE_AUTHENTICATED], **over})

    return model(1, s.h1), model(2, s.h2)


@dataclass
class World:
    dc: SambaDC
    lab: WinRMLab
    models: dict[str, tuple[HostModel, HostModel]]


@pytest.fixture(scope="module")
def world(samba_dc: SambaDC) -> Iterator[World]:
    dc, domain = samba_dc, samba_dc.dns_domain
    for name in ("dgopok", "dgopprot"):
        dc.add_user(name, OPERATOR_PASSWORD)
    dc.add_user("dgopsens", OPERATOR_PASSWORD, sensitive_not_delegated=True)
    dc.add_member("Protected Users", "dgopprot")
    specs, models = [], {}
    for i, s in enumerate(SCENARIOS):
        a, b = _models(s, i, domain)
        models[s.key] = (a, b)
        entries = {"full": _kcd(b.name, domain), "none": [], "short": _kcd(b.name, domain, fqdn=False)}[s.delegation]
        specs.append(ComputerSpec(a.name, spns=tuple(host_spns(a.name, domain)), allowed_to_delegate_to=tuple(entries),
                                  trusted_to_auth_for_delegation=s.any_protocol and bool(entries)))
        dest_spns = host_spns(b.name, domain) if s.dest_spns else [f"HOST/{b.name}", f"HOST/{b.fqdn}"]
        specs.append(ComputerSpec(b.name, spns=tuple(dest_spns), allowed_to_delegate_to=tuple(_kcd(a.name, domain)),
                                  trusted_to_auth_for_delegation=True))
        if s.dns:
            for m in (a, b):
                dc.add_a(m.fqdn, m.mgmt_ip)
            dc.add_ptr(a.mgmt_ip, a.fqdn)
            dc.add_ptr(b.mgmt_ip, s.ptr or b.fqdn)
    dc.add_computers_bulk(specs)
    sims = [SimHost(m) for pair in models.values() for m in pair]
    with WinRMLab([s.spec() for s in sims], scheme="https", auth="basic", users={USER: PASSWORD}) as lab:
        yield World(dc, lab, models)


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch, samba_dc: SambaDC) -> None:
    monkeypatch.setenv("HVLM_PASSWORD", PASSWORD)
    monkeypatch.setenv("HVLM_LDAP_PASSWORD", samba_dc.admin_password)
    monkeypatch.delenv("HVLM_USERNAME", raising=False)


def _inventory(w: World, s: Live, path: Path, per_host: dict[str, dict[str, Any]] | None = None) -> Path:
    a, b = w.models[s.key]
    write_inventory(path, w.lab, [SimHost(a), SimHost(b)], per_host=per_host,
                    defaults={"auth": "basic", "username": USER, "ca_bundle": w.lab.ca_cert_path})
    dc = w.dc
    extra = [
        "[operator]",
        f"account = {toml_str(dc.netbios_domain + chr(92) + s.operator)}",
        "[ad]",
        f"dns_servers = [{toml_str(dc.ip)}]",
        'auth = "simple"',
        'tls = "ldaps"',
        f"ca_file = {toml_str(str(dc.ca_cert))}",
        f"username = {toml_str(dc.admin_upn)}",
    ]
    path.write_text(path.read_text("utf-8") + "\n".join(extra) + "\n", "utf-8")
    return path


@pytest.mark.parametrize("s", SCENARIOS, ids=[f"{s.key}-{s.cause}" for s in SCENARIOS])
def test_live_diagnosis_names_the_fault_first(world: World, s: Live, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    a, b = world.models[s.key]
    inventory = _inventory(world, s, tmp_path / "fleet.toml")
    args = ["diagnose", "-s", a.name.lower(), "-d", b.fqdn, "-e", s.code, "-i", str(inventory), "--format", "json",
            "-o", str(tmp_path / "d.json"), "--save-snapshot", str(tmp_path / "snap.json"), "-q"]
    if s.initiated_from:
        args += ["--initiated-from", s.initiated_from]
    run = run_cli(capsys, *args)
    d = json.loads((tmp_path / "d.json").read_text("utf-8"))
    assert d["run"]["mode"] == "live" and run.code == d["run"]["exit_code"] == 1, (run.err, d["uncollected"])
    assert not d["result"]["incomplete"] and d["uncollected"] == []
    top = d["causes"][0]
    assert (top["id"], top["verdict"]) == (s.cause, s.verdict), [(c["id"], c["verdict"], c["reason"][:90])
                                                                 for c in d["causes"][:4]]
    names = {"src": a.name, "dst": b.name, "src_fqdn": a.fqdn, "dst_fqdn": b.fqdn, "domain": world.dc.dns_domain,
             "mig": MIG}
    text = "\n".join([f"{x['run_on']}\n{x['powershell']}" for x in top["fixes"]]
                     + [f"{st['text']}\n{st['powershell'] or ''}" for st in top["steps"]])
    for name in s.fix_names:
        assert name.format(**names) in text, (name.format(**names), text)
    confirmed = [c["id"] for c in d["causes"] if c["verdict"] == "confirmed"]
    assert confirmed == ([s.cause] if s.verdict == "confirmed" else []), confirmed
    # collected only this pair: two hosts, their two computer objects, one operator
    snap = json.loads((tmp_path / "snap.json").read_text("utf-8"))
    assert sorted(snap["hosts"]) == sorted([a.fqdn, b.fqdn])
    computers = snap["domains"][world.dc.dns_domain]["computers"]["value"]
    assert sorted(c["sAMAccountName"] for c in computers) == sorted([f"{a.name}$", f"{b.name}$"])
    assert snap["operator"]["value"]["sAMAccountName"] == s.operator
    if s.code == "0x8009030E":  # the pair was seeded minutes ago: the hint is live too (no AD part in CredSSP)
        hint = next(c for c in d["causes"] if c["id"] == "changes-not-effective")
        credssp = s.h1.get("auth") == s.h2.get("auth") == "CredSSP"
        assert hint["verdict"] == ("ruled_out" if credssp else "likely"), hint["reason"]
        assert bool(hint["evidence"]["facts"]) is not credssp
    for secret in (PASSWORD, world.dc.admin_password):
        assert secret not in run.out + run.err + (tmp_path / "d.json").read_text("utf-8") + json.dumps(snap)


def test_live_text_output_and_the_hosts_probed(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = next(x for x in SCENARIOS if x.key == "KO")
    a, b = world.models[s.key]
    run = run_cli(capsys, "diagnose", "--source", a.fqdn, "--destination", b.name, "--message",
                  "Im Sicherheitspaket sind keine Anmeldeinformationen verfügbar.", "-i",
                  str(_inventory(world, s, tmp_path / "fleet.toml")))
    assert run.code == 1, run.err
    assert "Most likely cause: Delegation set to \"Kerberos only\" on DGKO1" in run.out
    assert "(recognised from the German wording of the message)" in run.out
    assert "Facts: live collection" in run.out
    assert "hvlm: 2 hosts" in run.err  # the collection summary: only the pair


def test_live_unreachable_destination_is_incomplete_not_clear(world: World, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    s = next(x for x in SCENARIOS if x.key == "OK")
    a, b = world.models[s.key]
    inventory = _inventory(world, s, tmp_path / "fleet.toml", per_host={b.fqdn: {"port": closed_port()}})
    run = run_cli(capsys, "diagnose", "-s", a.fqdn, "-d", b.fqdn, "-e", "0x8009030E", "-i", str(inventory),
                  "--format", "json", "-q", "--connect-timeout", "2")
    d = json.loads(run.out)
    assert run.code == 4 and d["result"]["incomplete"], run.err  # the recent change is likely; the rest unknown
    assert any(u["path"] == f"hosts/{b.fqdn}/connection" for u in d["uncollected"])
    # the delegation is judged from the directory alone; the hosts' authentication types need the destination
    kcd = next(c for c in d["causes"] if c["id"] == "kcd-missing")
    assert kcd["verdict"] == "ruled_out"
    mismatch = next(c for c in d["causes"] if c["id"] == "auth-type-mismatch")
    assert mismatch["verdict"] == "possible" and mismatch["unchecked"]
    assert mismatch["reason"].startswith("Could not be checked") and b.fqdn in mismatch["reason"]
    assert not [c for c in d["causes"] if c["verdict"] == "confirmed"]
