"""Build the example snapshot shipped with hvlm (audit/data/example-snapshot.json).

A realistic fleet of seven hosts in two forests joined by a one-way forest trust, mixing Windows
Server 2012 R2 to 2025, with the mistakes administrators really make. Run:
    python tools/make_example.py            # rewrite the shipped file
    python tools/make_example.py --check    # exit 1 if the shipped file is out of date
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.fleet import (
    ALL_SERVICES,
    VIRTUAL_MACHINES,
    CheckpointModel,
    ComputerModel,
    DiskModel,
    GiB,
    HostModel,
    VMModel,
    build_snapshot,
    delegation_entries,
)

OUT = Path(__file__).resolve().parents[1] / "audit" / "data" / "example-snapshot.json"
CORP_SID = "S-1-5-21-1004336348-1177238915-682003330"
FAB_SID = "S-1-5-21-2127521184-1604012920-1887927527"
HV_OPERATORS = ("CORP\\HV-Operators", f"{CORP_SID}-1201")
# the NVIDIA A16 both 2025 hosts carry, by its device instance path (Get-VMHostPartitionableGpu Name)
A16 = "\\\\?\\PCI#VEN_10DE&DEV_25B6&SUBSYS_157E10DE&REV_A1#4&2e3b5d9&0&0010#{064092b3-625e-43bf-9eb5-dc845897dd59}"
FILE_SHARE = "\\\\fs01.corp.contoso.com\\vms"
CORP_DA = ("CORP\\Domain Admins", f"{CORP_SID}-512")
FAB_DA = ("FABRIKAM\\Domain Admins", f"{FAB_SID}-512")


def fleet() -> dict[str, Any]:
    admins = [("BUILTIN\\Administrator", f"{CORP_SID}-500"), CORP_DA]
    # HV01: a hardening baseline disabled the Hyper-V (MIG-TCP-In) rule, TCP 6600; sql01 keeps its
    # data on a pass-through disk, as it did on the physical server it was converted from
    hv01 = HostModel("HV01", index=1, build=9600, auth="Kerberos", firewall_enabled=False,
                     cpu_name="Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz",
                     vms=[VMModel("sql01", "5.0", memory_startup=32 * GiB,
                                  disks=[DiskModel(), DiskModel(disk_number=2, size=2048 * GiB)]),
                          VMModel("file01", "5.0", state="Off")],
                     hyperv_admins=[HV_OPERATORS], administrators=admins, utc_time="2026-11-20T09:00:12Z")
    # HV02: still lists the subnet of a decommissioned second migration NIC; last night's cumulative
    # update waits for a restart
    hv02 = HostModel("HV02", index=2, build=14393, max_vm_migrations=0, pending_reboot=["ComponentBasedServicing"],
                     migration_networks=[("192.168.50.0/24", 0), ("192.168.150.0/24", 1)],
                     cpu_name="Intel(R) Xeon(R) Gold 6138 CPU @ 2.00GHz",
                     vms=[VMModel("app01", "5.0", compatibility_for_migration=True),
                          VMModel("app02", "8.0", compatibility_for_migration=True,
                                  checkpoints=[CheckpointModel("before-sql-cu", state_bytes=8 * GiB)]),
                          # files02 lives on the file server's share: only its memory moves
                          VMModel("files02", "8.0", compatibility_for_migration=True, config_path=FILE_SHARE,
                                  disks=[DiskModel(path=f"{FILE_SHARE}\\files02\\files02.vhdx")])],
                     hyperv_admins=[HV_OPERATORS], administrators=admins, utc_time="2026-11-20T09:00:03Z")
    # HV03 and HV04 were installed from one cloned image: the same dynamic MAC address range;
    # web01 still has the Windows Server ISO it was installed from in its DVD drive; a disk that filled up
    # during a policy refresh left HV03's local Registry.pol as zeros
    cloned_macs = ("00155D000E00", "00155D000EFF")
    hv03 = HostModel("HV03", index=3, build=17763, use_any_network=True, mac_range=cloned_macs,
                     registry_pol=bytes(8),
                     vms=[VMModel("web01", "9.0", compatibility_for_migration=True,
                                  iso="C:\\ISO\\en-us_windows_server_2019_x64.iso"),
                          VMModel("legacy01", "7.0", generation=1, adapters=[("Network Adapter", "vSwitch-Legacy")])],
                     switches=["vSwitch-Prod", "vSwitch-Legacy"],
                     hyperv_admins=[HV_OPERATORS], administrators=admins)
    # HV04: SMB transport, and the management network added as a "fallback" migration network
    # db01's data disk is a 1.5 TiB fixed VHDX; db02 has a virtual TPM (BitLocker in the guest)
    hv04 = HostModel("HV04", index=4, build=20348, vmms_start="Manual", performance="SMB", mac_range=cloned_macs,
                     migration_networks=[("192.168.50.0/24", 0), ("10.0.0.0/24", 1)],
                     vms=[VMModel("db01", "10.0", memory_startup=64 * GiB, compatibility_for_migration=True,
                                  disks=[DiskModel(), DiskModel(size=1536 * GiB, file_size=1536 * GiB,
                                                                vhd_type="Fixed")]),
                          VMModel("db02", "9.0", compatibility_for_migration=True, tpm=True)],
                     hyperv_admins=[HV_OPERATORS], administrators=admins)
    # HV05: new hardware with a 2 TiB VM volume, half full already; it sits in the OU of the 2025 security
    # baseline GPO, which sets "Log on as a service" without NT VIRTUAL MACHINE\Virtual Machines; nobody
    # copied HV04's guardian certificates to it, so db02 (vTPM) cannot be unlocked there
    hv05 = HostModel("HV05", index=5, build=26100, auth="CredSSP", credential_guard=True,
                     service_logon_gpo=("CORP Server Baseline 2025", [ALL_SERVICES]),
                     volumes=[("C:\\", 200 * GiB, 150 * GiB), ("D:\\", 2048 * GiB, 1024 * GiB)],
                     cpu_name="Intel(R) Xeon(R) Platinum 8480+ CPU @ 2.00GHz",
                     vms=[VMModel("ai01", "12.0", memory_startup=128 * GiB), VMModel("app03", "10.0"),
                          # a VDI session host on a partition of the A16 (GPU-P)
                          VMModel("vdi01", "12.0", gpu_partitions=[(A16, True)])],
                     gpus=[(A16, 4, [1, 2, 4, 8, 16])],
                     hyperv_admins=[], administrators=admins, free_memory=48 * GiB,
                     # new 25 GbE RDMA network, the only migration subnet: older hosts are not on it
                     performance="SMB", migration_networks=[("192.168.55.0/24", 0)],
                     extra_interfaces=[{"InterfaceAlias": "LM-RDMA", "IPAddress": "192.168.55.15", "PrefixLength": 24,
                                        "AddressFamily": "IPv4", "DefaultGateway": None, "RdmaEnabled": True}])
    # HV06: the lab's AMD host, no live migration from Intel hosts; its clock follows a stale NTP appliance
    # its A16 was split into 8 partitions for the lab's test desktops, HV05's into 4
    hv06 = HostModel("HV06", domain="lab.fabrikam.com", index=6, build=26100, migration_enabled=False,
                     gpus=[(A16, 8, [1, 2, 4, 8, 16])],
                     cpu_vendor="AuthenticAMD", cpu_name="AMD EPYC 9454 48-Core Processor",
                     vms=[VMModel("rnd01", "11.0", compatibility_for_migration=True)],
                     hyperv_admins=[HV_OPERATORS], administrators=[("BUILTIN\\Administrator", f"{FAB_SID}-500"), FAB_DA],
                     utc_time="2026-11-20T09:07:41Z")
    # a Windows Server 2012 host still being evacuated: outside the supported matrix; also a branch DC
    hv07 = HostModel("HV07", index=7, build=9200, supported_versions=["4.0"], domain_role=5,
                     cpu_name="Intel(R) Xeon(R) CPU E5-2670 0 @ 2.60GHz",
                     vms=[VMModel("print01", "4.0", generation=1, memory_startup=4 * GiB)],
                     hyperv_admins=[HV_OPERATORS], administrators=admins)
    hosts = [hv01, hv02, hv03, hv04, hv05, hv06, hv07]
    pairs = [(hv07, hv01), (hv01, hv02), (hv02, hv03), (hv02, hv04), (hv03, hv04), (hv04, hv05), (hv05, hv06)]

    FS01_CIFS = ["cifs/FS01", "cifs/fs01.corp.contoso.com"]

    def kcd(src: HostModel, *dests: HostModel) -> list[str]:
        return [e for d in dests for e in delegation_entries(d)]

    corp_computers = [
        ComputerModel(hv01, f"{CORP_SID}-2101", kcd(hv01, hv02, hv07)),
        # HV02 and HV04 may delegate to the file server's cifs (set up for Hyper-V Manager); HV03 was forgotten
        ComputerModel(hv02, f"{CORP_SID}-2102", kcd(hv02, hv01, hv03, hv04) + FS01_CIFS),
        # HV03 -> HV02: only the migration service was added, cifs forgotten (storage moves fail)
        ComputerModel(hv03, f"{CORP_SID}-2103",
                      delegation_entries(hv02, ("Microsoft Virtual System Migration Service",)) + kcd(hv03, hv04)),
        # "Kerberos only": the classic cause of 0x8009030E on 2016 and later
        ComputerModel(hv04, f"{CORP_SID}-2104", kcd(hv04, hv02, hv03, hv05) + FS01_CIFS, any_protocol=False),
        ComputerModel(hv05, f"{CORP_SID}-2105", kcd(hv05, hv04)),
        # a DC: trusted for unconstrained delegation; its migration-service SPNs were lost when it was promoted;
        # its account was set to RC4 only years ago, for a legacy application
        ComputerModel(hv07, f"{CORP_SID}-2107", kcd(hv07, hv01), unconstrained=True, encryption_types=0x4,
                      spns=[f"{s}/{n}" for s in ("HOST", "RestrictedKrbHost") for n in ("HV07", hv07.fqdn)]),
    ]
    fab_computers = [
        # cross-forest: classic KCD cannot cross, resource-based delegation on HV06 lists HV05
        ComputerModel(hv06, f"{FAB_SID}-1601", [], rbcd=[(f"{CORP_SID}-2105", "CORP\\HV05$")]),
    ]
    # one-way: the lab forest trusts corp (corp admins manage the lab), corp does not trust the lab
    trust_corp = {"trustPartner": "lab.fabrikam.com", "flatName": "FABRIKAM", "trustDirection": 1,
                  "trustType": 2, "trustAttributes": 8}
    # ... with selective authentication (0x10): corp accounts reach only lab computers that allow them
    trust_fab = {"trustPartner": "corp.contoso.com", "flatName": "CORP", "trustDirection": 2,
                 "trustType": 2, "trustAttributes": 0x8 | 0x10}
    domains = {
        "corp.contoso.com": {
            "info": {"dnsRoot": "corp.contoso.com", "nETBIOSName": "CORP", "objectSid": CORP_SID,
                     "distinguishedName": "DC=corp,DC=contoso,DC=com", "currentTime": "2026-11-20T09:00:05Z"},
            "domain_controllers": [{"target": "dc01.corp.contoso.com", "port": 389, "priority": 0, "weight": 100},
                                   {"target": "dc02.corp.contoso.com", "port": 389, "priority": 0, "weight": 100}],
            "trusts": [trust_corp],
        },
        "lab.fabrikam.com": {
            "info": {"dnsRoot": "lab.fabrikam.com", "nETBIOSName": "FABRIKAM", "objectSid": FAB_SID,
                     "distinguishedName": "DC=lab,DC=fabrikam,DC=com", "currentTime": "2026-11-20T09:00:04Z"},
            "domain_controllers": [{"target": "dc01.lab.fabrikam.com", "port": 389, "priority": 0, "weight": 100}],
            "trusts": [trust_fab],
        },
    }
    operator = {
        "domain": "corp.contoso.com",
        "distinguishedName": "CN=Hyper-V Admin,OU=Admins,DC=corp,DC=contoso,DC=com",
        "sAMAccountName": "hvadmin",
        "userPrincipalName": "hvadmin@corp.contoso.com",
        "objectSid": f"{CORP_SID}-1105",
        "userAccountControl": 0x200 | 0x100000,  # hardening baseline: "sensitive and cannot be delegated"
        "tokenGroups": [f"{CORP_SID}-513", f"{CORP_SID}-1201"],
        "memberOf": ["CN=HV-Operators,OU=Groups,DC=corp,DC=contoso,DC=com"],
    }
    dns = {
        hv03.fqdn: {"name": hv03.fqdn, "A": [hv03.mgmt_ip], "AAAA": [],
                    "PTR": {hv03.mgmt_ip: ["hv03-old.corp.contoso.com."]}},
    }
    doc = build_snapshot(
        hosts,
        computers={"corp.contoso.com": corp_computers, "lab.fabrikam.com": fab_computers},
        domains=domains,
        operator=operator,
        operator_name="CORP\\hvadmin",
        pairs=[(a.fqdn, b.fqdn) for a, b in pairs],
        dns=dns,
    )
    _selective_authentication(doc)
    _management_machine(doc)
    _hyperv_rights_gpo(doc)
    return doc


def _hyperv_rights_gpo(doc: dict[str, Any]) -> None:
    """The corp Hyper-V hosts' OU links "CORP Hyper-V Hosts", which sets both user rights with NT VIRTUAL
    MACHINE\\Virtual Machines (hvlm reads them from RSoP); HV05 sits in the 2025 baseline's OU instead, and the
    lab's HV06 has no such GPO, so its local lists grant them (hvlm reads the rights in force with secedit)."""
    accounts = {"SeServiceLogonRight": [ALL_SERVICES, VIRTUAL_MACHINES],
                "SeCreateSymbolicLinkPrivilege": [("BUILTIN\\Administrators", "S-1-5-32-544"), VIRTUAL_MACHINES]}
    for name in ("hv01", "hv02", "hv03", "hv04", "hv07"):
        rights = doc["hosts"][f"{name}.corp.contoso.com"]["logon_rights"]["value"]
        gpo_id = f"cn={{{uuid.uuid5(uuid.NAMESPACE_DNS, 'CORP Hyper-V Hosts')}}},cn=policies,cn=system," \
                 "DC=corp,DC=contoso,DC=com"
        rights["Rights"] = [{"UserRight": right, "Precedence": 1, "GPOID": gpo_id.upper(),
                             "GPOName": "CORP Hyper-V Hosts",
                             "Accounts": [{"Name": n, "SID": sid} for n, sid in who]}
                            for right, who in accounts.items()]


def _selective_authentication(doc: dict[str, Any]) -> None:
    """HV06's computer object in the lab forest: only the lab's admins hold "Allowed to Authenticate"
    (the DACL a new computer object gets), so HV05$ of corp may not authenticate to it."""
    (hv06,) = doc["domains"]["lab.fabrikam.com"]["computers"]["value"]
    hv06["allowedToAuthenticate"] = {"readable": True, "reason": None,
                                     "allowed": [f"{FAB_SID}-512", f"{FAB_SID}-519"], "denied": []}


def _management_machine(doc: dict[str, Any]) -> None:
    """The operator collected from ADMIN01, a Windows Server 2019 management server with only the
    Hyper-V module 2.0 (its 1.1, for the 2012 R2 host, was removed with an old RSAT)."""
    doc["management"] = {
        "source": {"collector": "example", "host": "admin01.corp.contoso.com",
                   "command": "hvlm on the machine it runs on: Get-Module -ListAvailable -Name Hyper-V"},
        "collected_at": "2026-11-20T09:00:00Z",
        "value": {"computer": "admin01.corp.contoso.com", "platform": "Windows", "inventory_host": None,
                  "windows": {"BuildNumber": 17763, "Caption": "Microsoft Windows Server 2019 Standard",
                              "ProductType": 3, "HyperVModule": ["2.0.0.0"], "ToolsFeature": "Installed",
                              "ToolsFeatureError": None}},
    }


def render() -> str:
    return json.dumps(fleet(), indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if OUT.read_text("utf-8") != text:
            print(f"{OUT} is out of date: run python tools/make_example.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, "utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
