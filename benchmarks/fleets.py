"""Generated fleets for the benchmarks: healthy Hyper-V hosts with 20 VMs each, optionally in groups,
optionally with a share of hosts carrying one of the example's mistakes.

    python benchmarks/fleets.py 2000 --group 20 -o fleet.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.fleet import (
    ALL_SERVICES,
    VIRTUAL_MACHINES,
    ComputerModel,
    HostModel,
    VMModel,
    build_snapshot,
    delegation_entries,
)

BUILDS = (17763, 20348, 26100)  # 2019, 2022, 2025: every one runs configuration version 9.0
DOMAIN_SID = "S-1-5-21-1-2-3"
OPERATORS = ("CORP\\HV-Operators", f"{DOMAIN_SID}-1201")  # in every host's Hyper-V Administrators
OPERATOR = {
    "domain": "corp.contoso.com", "distinguishedName": "CN=hvadmin,OU=Admins,DC=corp,DC=contoso,DC=com",
    "sAMAccountName": "hvadmin", "userPrincipalName": "hvadmin@corp.contoso.com", "objectSid": f"{DOMAIN_SID}-1105",
    "userAccountControl": 0x200, "tokenGroups": [f"{DOMAIN_SID}-513", f"{DOMAIN_SID}-512", f"{DOMAIN_SID}-1201"],
    "memberOf": [],
}
# the Hyper-V hosts' GPO sets both user rights with NT VIRTUAL MACHINE\\Virtual Machines (read from RSoP), so
# host-logon-as-service judges them from the GPO (without one, from the local lists in force, as secedit exports them)
HYPERV_RIGHTS = [
    {"UserRight": right, "Precedence": 1, "GPOID": None, "GPOName": "CORP Hyper-V Hosts",
     "Accounts": [{"Name": n, "SID": sid} for n, sid in (ALL_SERVICES, ("BUILTIN\\Administrators", "S-1-5-32-544"),
                                                         VIRTUAL_MACHINES)]}
    for right in ("SeServiceLogonRight", "SeCreateSymbolicLinkPrivilege")
]
DOMAIN = {
    "info": {"dnsRoot": "corp.contoso.com", "nETBIOSName": "CORP", "objectSid": DOMAIN_SID,
             "currentTime": "2026-11-20T09:00:00Z"},
    "domain_controllers": [{"target": "dc01.corp.contoso.com", "port": 389, "priority": 0, "weight": 100}],
    "trusts": [],
}


def _mistake(kind: int, host: HostModel) -> tuple[HostModel, dict[str, Any]]:
    """One of the example's mistakes on a host, and what it does to its computer object."""
    if kind == 0:
        return dataclasses.replace(host, migration_enabled=False), {}
    if kind == 1:
        return dataclasses.replace(host, auth="CredSSP"), {}
    if kind == 2:
        return host, {"drop_cifs": True}
    if kind == 3:
        return host, {"any_protocol": False}
    if kind == 4:
        return dataclasses.replace(host, firewall_enabled=False), {}
    if kind == 5:
        vms = [dataclasses.replace(vm, version="12.0") if i < 3 else vm for i, vm in enumerate(host.vms)]
        return dataclasses.replace(host, build=26100, vms=vms), {}
    if kind == 6:
        return dataclasses.replace(host, switches=["vSwitch-Production"]), {}
    if kind == 7:
        return dataclasses.replace(host, performance="SMB"), {}
    if kind == 8:
        return dataclasses.replace(host, utc_time="2026-11-20T09:09:00Z"), {}
    return dataclasses.replace(host, cpu_vendor="AuthenticAMD", cpu_name="AMD EPYC 7543 32-Core Processor"), {}


def fleet(n: int, group: int | None = 20, vms: int = 20, broken: float = 0.0, seed: int = 1) -> dict[str, Any]:
    """n hosts (every ordered pair inside each group of `group`, or all pairs when None)."""
    rng = random.Random(seed)
    hosts = [
        HostModel(f"HV{i:04d}", index=i % 240 + 1, build=BUILDS[i % 3], hyperv_admins=[OPERATORS],
                  vms=[VMModel(f"vm{i:04d}-{j:02d}", "9.0") for j in range(vms)])
        for i in range(n)
    ]
    effects: dict[str, dict[str, Any]] = {}
    for i in sorted(rng.sample(range(n), int(n * broken))):
        hosts[i], effect = _mistake(rng.randrange(10), hosts[i])
        effects[hosts[i].fqdn] = effect
    members: dict[str, list[HostModel]] = {}
    groups: dict[str, list[str]] | None = None
    if group:
        groups = {}
        for k in range(0, n, group):
            name = f"g{k // group:03d}"
            groups[name] = [h.fqdn for h in hosts[k:k + group]]
            members.update({h.fqdn: hosts[k:k + group] for h in hosts[k:k + group]})
    else:
        members = {h.fqdn: hosts for h in hosts}
    computers = []
    for i, h in enumerate(hosts):
        effect = effects.get(h.fqdn, {})
        services = ("Microsoft Virtual System Migration Service",) if effect.get("drop_cifs") else (
            "Microsoft Virtual System Migration Service", "cifs")
        entries = [e for d in members[h.fqdn] if d is not h for e in delegation_entries(d, services)]
        computers.append(ComputerModel(h, f"{DOMAIN_SID}-{3000 + i}", entries,
                                       any_protocol=effect.get("any_protocol", True)))
    doc = build_snapshot(hosts, computers={"corp.contoso.com": computers}, groups=groups,
                         domains={"corp.contoso.com": DOMAIN}, operator=OPERATOR)
    for value in doc["hosts"].values():  # healthy: a GPO grants both user rights with the virtual machines
        value["logon_rights"]["value"]["Rights"] = HYPERV_RIGHTS
    return doc


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("hosts", type=int)
    p.add_argument("--group", type=int, default=20, help="hosts per group; 0 for every ordered pair")
    p.add_argument("--broken", type=float, default=0.0, help="share of hosts with one of the example's mistakes")
    p.add_argument("-o", "--output", required=True)
    a = p.parse_args()
    Path(a.output).write_text(json.dumps(fleet(a.hosts, a.group or None, broken=a.broken)), "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
