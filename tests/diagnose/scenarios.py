"""Snapshots with exactly one fault for `hvlm diagnose`, built on the checks' healthy two-host fleet.

tests/checks/_identity.doc() is HV01 -> HV02 in corp.contoso.com, Kerberos with full constrained
delegation both ways, an operator who may be delegated: every check passes. Each scenario changes
one thing, so the cause diagnose ranks first can only come from that change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hvlm.audit.diagnose import diagnose
from hvlm.audit.snapshot import Snapshot
from tests.checks._identity import CORP, CORP_SID, FAB, H1, H2, doc
from tests.support.fleet import ALL_SERVICES, VIRTUAL_MACHINES, DiskModel, GiB, VMModel

SRC_FIX = ("'HV01'",)  # AD fixes name the source's computer object, quoted
CG_2025 = {"auth": "CredSSP", "build": 26100, "credential_guard": True}
CREDSSP = {"auth": "CredSSP"}
H2_FAB = f"hv02.{FAB}"


def with_when_changed(d: dict[str, Any], host_sam: str, when: str) -> dict[str, Any]:
    """Set whenChanged on one computer object (the fleet models do not carry it)."""
    for dom in d["domains"].values():
        for obj in dom.get("computers", {}).get("value", []):
            if obj["sAMAccountName"] == host_sam:
                obj["whenChanged"] = when
    return d


def rights_by_gpo(d: dict[str, Any], host: str) -> dict[str, Any]:
    """A GPO sets both user rights on the host with NT VIRTUAL MACHINE\\Virtual Machines: host-logon-as-service sees
    them and passes (with no GPO setting them, the local lists in force decide)."""
    entry = {"Precedence": 1, "GPOID": None, "GPOName": "Server Baseline",
             "Accounts": [{"Name": ALL_SERVICES[0], "SID": ALL_SERVICES[1]},
                          {"Name": "BUILTIN\\Administrators", "SID": "S-1-5-32-544"},
                          {"Name": VIRTUAL_MACHINES[0], "SID": VIRTUAL_MACHINES[1]}]}
    d["hosts"][host]["logon_rights"]["value"]["Rights"] = [
        {"UserRight": right, **entry} for right in ("SeServiceLogonRight", "SeCreateSymbolicLinkPrivilege")]
    return d


@dataclass(frozen=True)
class Scenario:
    cause: str
    code: str
    build: Callable[[], dict[str, Any]]
    fix_names: tuple[str, ...]  # what the first fix (or step) must name, exactly as quoted
    verdict: str = "confirmed"
    initiated_from: str | None = None
    destination: str = "hv02"
    message: str | None = None
    kw: dict[str, Any] = field(default_factory=dict)


SCENARIOS = [
    Scenario("credssp-credential-guard", "0x8009030E", lambda: doc(h1=CG_2025, h2=CREDSSP),
             ("Switch HV01 to Kerberos", "hv01.corp.contoso.com")),
    Scenario("credssp-double-hop", "0x8009030E", lambda: doc(h1=CREDSSP, h2=CREDSSP),
             ("Switch HV01 to Kerberos", "hv01.corp.contoso.com"), initiated_from="admin-pc.corp.contoso.com"),
    Scenario("auth-type-mismatch", "0x8009030E", lambda: doc(h2=CREDSSP), ("hv02.corp.contoso.com",)),
    Scenario("domain-trust", "0x8009030E",
             lambda: doc(h2={"domain": FAB}, c2={"rbcd": [(f"{CORP_SID}-2101", "CORP\\HV01$")]}),
             (FAB,), destination=H2_FAB),
    Scenario("kcd-missing", "0x8009030E", lambda: doc(c1={"delegate_to": []}),
             ("Set-ADComputer -Identity 'HV01'", "'Microsoft Virtual System Migration Service/hv02.corp.contoso.com'")),
    Scenario("kcd-name-form", "0x8009030E",
             lambda: doc(c1={"delegate_to": ["Microsoft Virtual System Migration Service/HV02", "cifs/HV02"]}),
             ("Set-ADComputer -Identity 'HV01'", "'Microsoft Virtual System Migration Service/hv02.corp.contoso.com'"),
             message="Failed to establish a connection with host 'hv02.corp.contoso.com': No credentials are "
                     "available in the security package (0x8009030E)."),
    Scenario("kcd-kerberos-only", "0x8009030E", lambda: doc(c1={"any_protocol": False}),
             ("(Get-ADComputer -Identity 'HV01'", "-TrustedToAuthForDelegation $true")),
    Scenario("operator-not-delegable", "0x8009030E",
             lambda: doc(op={"tokenGroups": [f"{CORP_SID}-513", f"{CORP_SID}-1201", f"{CORP_SID}-525"]}),
             (f"Remove-ADGroupMember -Identity '{CORP_SID}-525'", "-Members 'hvadmin'")),
    Scenario("destination-spn", "0x8009030E",
             lambda: doc(c2={"spns": ["HOST/HV02", "HOST/hv02.corp.contoso.com"]}),
             ("setspn -S 'Microsoft Virtual System Migration Service/HV02' 'HV02'",)),
    Scenario("destination-dns", "0x8009030E",
             lambda: doc(dns={H2: {"name": H2, "A": ["10.0.0.12"], "AAAA": [],
                                   "PTR": {"10.0.0.12": ["old-hv.corp.contoso.com."]}}}),
             ("-PtrDomainName 'hv02.corp.contoso.com.'",), verdict="likely"),  # a PTR is a warning
    Scenario("clock-skew", "0x8009030E", lambda: doc(h2={"utc_time": "2026-11-20T09:10:00Z"}),
             ("hv02.corp.contoso.com",)),
    Scenario("changes-not-effective", "0x8009030E",
             lambda: with_when_changed(doc(), "HV01$", "2026-11-20T08:55:00Z"),
             ("Invoke-Command -ComputerName 'hv01.corp.contoso.com' -ScriptBlock { klist purge -li 0x3e7 }",),
             verdict="likely"),
    Scenario("dc-unreachable", "0x80090311", lambda: doc(domains={CORP: {"domain_controllers": []}}),
             ("-ComputerName 'hv01.corp.contoso.com'", "$domain = 'corp.contoso.com'"), verdict="likely"),
    Scenario("dest-vmms", "0x8007274D", lambda: doc(h2={"vmms_status": "Stopped"}), ("hv02.corp.contoso.com",)),
    Scenario("dest-migration-disabled", "0x8007274D", lambda: doc(h2={"migration_enabled": False}),
             ("hv02.corp.contoso.com",)),
    Scenario("dest-firewall-6600", "0x8007274C", lambda: doc(h2={"firewall_enabled": False}),
             ("hv02.corp.contoso.com", "Enable-NetFirewallRule -Name 'VIRT-MIGL-In-TCP-NoScope'")),
    Scenario("migration-network", "0x8007274C", lambda: doc(h2={"migration_networks": [("192.168.99.0/24", 0)]}),
             ("hv02.corp.contoso.com", "Remove-VMMigrationNetwork '192.168.99.0/24'")),
    Scenario("destination-memory", "0x800705AA",
             lambda: doc(h1={"vms": [VMModel("vm-big", memory_startup=300 * GiB)]}),
             ("hv02.corp.contoso.com", "FreePhysicalMemory"), verdict="likely"),  # free memory when collected
    Scenario("operator-local-admin", "0x80070005", lambda: doc(h2={"hyperv_admins": []}),
             ("hv02.corp.contoso.com",)),
    Scenario("registry-pol", "0x8007274C", lambda: doc(h2={"registry_pol": bytes(8)}),
             ("hv02.corp.contoso.com", "Rename-Item -LiteralPath $policyFile")),
    Scenario("user-rights", "0x80070569",
             lambda: doc(h2={"service_logon_gpo": ("Server Hardening", [ALL_SERVICES])}),
             ("hv02.corp.contoso.com", "$gpoName = 'Server Hardening'")),
    Scenario("iso-path", "0xC03A0014", lambda: doc(h1={"vms": [VMModel("web01", iso="C:\\ISO\\setup.iso")]}),
             ("Set-VMDvdDrive -VMName 'web01'",
              "Invoke-Command -ComputerName 'hv02.corp.contoso.com' -ScriptBlock { Test-Path -LiteralPath "
              "'C:\\ISO\\setup.iso' }"), verdict="likely"),  # hvlm never looks for the image on the destination
    Scenario("disk-path", "0xC03A0014",
             lambda: doc(h1={"vms": [VMModel("app01", disks=[DiskModel(error="The system cannot find the file "
                                                                              "specified.")])]}),
             ("-ComputerName 'hv01.corp.contoso.com'", "Get-VHD"), verdict="likely"),
]
# Causes no configuration shows: "possible" on a healthy pair, first for the code that lists them first.
BY_HAND = {
    "destination-name-alias": ("0x80090322", "setspn -L 'HV02'"),
    "security-software": ("0x8007271D", "Test-NetConnection -ComputerName 'hv02.corp.contoso.com' -Port 6600"),
}
# Causes a check now judges, which stayed by hand before: (code, the check's fact on its host, hand command).
JUDGED = {
    "registry-pol": ("0x8007274C", (H2, "policy_file"), "-ComputerName 'hv02.corp.contoso.com'"),
    "user-rights": ("0x80070569", (H2, "logon_rights"), "-ComputerName 'hv02.corp.contoso.com'"),
    "iso-path": ("0xC03A0014", (H1, "vm_media"), "-ComputerName 'hv01.corp.contoso.com'"),
    "vtpm-guardian": ("vtpm-key-protector", (H2, "hgs_guardians"), "-ComputerName 'hv02.corp.contoso.com'"),
}
VTPM_MESSAGE = ("Live migration of 'db02' failed: The key protector for the virtual machine 'db02' could not be "
                "unwrapped. Details are included in the HostGuardianServiceClient event log.")


def run(d: dict[str, Any], code: str | None = None, *, source: str = "hv01", destination: str = "hv02",
        **kw: Any) -> dict[str, Any]:
    """diagnose() on a scenario document (validated against the snapshot schema first)."""
    return diagnose(Snapshot.from_document(d, "scenario.json"), source, destination, error=code, **kw)


def fix_text(cause: dict[str, Any]) -> str:
    """Everything a person reads to act on a cause: its fixes and its steps."""
    parts = [f"{x['summary']}\n{x['run_on']}\n{x['powershell']}" for x in cause["fixes"]]
    steps = [f"{st['text']}\n{st['powershell'] or ''}" for st in cause["steps"]]
    return "\n".join(parts + steps)


__all__ = ["BY_HAND", "H1", "H2", "JUDGED", "SCENARIOS", "SRC_FIX", "VTPM_MESSAGE", "Scenario", "fix_text",
           "rights_by_gpo", "run", "with_when_changed"]
