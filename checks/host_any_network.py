"""Incoming live migrations are limited to chosen networks, not "any available network"."""

from __future__ import annotations

from typing import Any

from hvlm.audit.facts import Facts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.registry import check
from hvlm.audit.words import noun
from hvlm.checks._fixes import on_host
from hvlm.checks._net import (
    add_network_ps,
    candidates,
    interfaces,
    is_private,
    management,
    on_interface,
    overlaps,
    parse_subnet,
)


@check(
    id="host-any-network",
    title="Live migration limited to chosen networks",
    severity=Severity.MEDIUM,
    subject=SubjectKind.HOST,
    requires=("host.vmhost", "host.migration_networks?", "host.ip_interfaces?", "host.dns?"),
    rationale="""Live migration traffic is not encrypted. Microsoft's guidance is to keep it on
    trusted private networks, physically isolated or on a VLAN, and to pick specific migration
    networks rather than "Use any available network for live migration"
    (UseAnyNetworkForMigration). With it on, VM memory, which can hold secrets, may cross the
    management or any other network. The moves themselves work, so this is a warning (medium, at the
    default exit-code threshold); a migration subnet that is the management network is
    host-migration-subnet-private's failure. Turning it off narrows moves into the host to the chosen
    networks, so the fix does so only when every host the inventory pairs it with (either direction)
    has an address on one of them; otherwise it is a manual step naming the hosts that would be cut
    off (or whose addresses were not collected). Subnets already listed stay accepted and are named.""",
    references=(DOCS["setup"], DOCS["set-vmhost"], DOCS["migration-network"]),
    fix_hint="Add-VMMigrationNetwork for the isolated subnet, then Set-VMHost -UseAnyNetworkForMigration $false.",
)
def run(f: Facts) -> Outcome:
    host = f.host()
    use_any = f["host.vmhost"]["UseAnyNetworkForMigration"]
    evidence: dict[str, Any] = {"UseAnyNetworkForMigration": use_any}
    if use_any is False:
        return Outcome(Status.PASS, f"{host.fqdn} accepts live migrations only on its chosen networks.",
                       evidence=evidence)
    ifaces = interfaces(f.optional("host.ip_interfaces"))
    mgmt = management(ifaces, f.optional("host.dns"))
    configured = [n for n in (parse_subnet(e["Subnet"]) for e in f.optional("host.migration_networks") or []) if n]
    good = [n for n in configured if on_interface(n, ifaces) and is_private(n)
            and not any(overlaps(n, m) for m, _ in mgmt)]
    add = [n for n in candidates(ifaces, mgmt) if not any(overlaps(n, g) for g in good)] if not good else []
    evidence.update({"configured": [str(n) for n in configured], "suggested": [str(n) for n in add]})
    nets = good or add
    if not nets:
        lines = [
            "Get-NetIPAddress | Format-Table -Property 'InterfaceAlias', 'IPAddress', 'PrefixLength'",
            "# Add the dedicated private migration subnet first (Add-VMMigrationNetwork), then run:",
            "# Set-VMHost -UseAnyNetworkForMigration $false",
        ]
        summary = (f"{host.fqdn} has no private, non-management network to dedicate to live migration: connect "
                   "it to an isolated network (own NIC or VLAN), add that subnet, then turn off 'any network'.")
        return _outcome(f, summary, lines, evidence, limited=False)
    # Moves into this host then reach it only on `nets`: every host it moves VMs with needs an address there.
    peers = f.partners()
    known = f.across_inventory("host.ip_interfaces")
    reach = {p: [str(i.ip) for n in nets for i in on_interface(n, interfaces(known[p]))] if p in known else None
             for p in peers}
    cut = [p for p, ips in reach.items() if ips == []]
    unknown = [p for p, ips in reach.items() if ips is None]
    also = [n for n in configured if n not in nets]
    evidence.update({"limited_to": [str(n) for n in nets], "peers": reach, "also_listed": [str(n) for n in also]})
    where = ", ".join(str(n) for n in nets)
    lines = [add_network_ps(str(n)) for n in add]
    lines += ["Set-VMHost -UseAnyNetworkForMigration $false",
              "Get-VMMigrationNetwork | Format-Table -Property 'Subnet', 'Priority'"]
    extra = (f" {', '.join(str(n) for n in also)} {noun(len(also), 'stays listed and is', 'stay listed and are')} "
             "accepted too "
             "(host-migration-subnets and host-migration-subnet-private judge it)." if also else "")
    if cut or unknown:
        why = "; ".join(
            ([f"{', '.join(cut)} {noun(len(cut), 'has', 'have')} no address there"] if cut else [])
            + ([f"the addresses of {', '.join(unknown)} were not collected"] if unknown else []))
        summary = (f"Do not limit {host.fqdn}'s incoming live migrations to {where} yet: {why}, and moves between "
                   f"{host.fqdn} and {noun(len(cut) + len(unknown), 'it', 'them')} would then fail. Give every host it "
                   "moves VMs with an address on that network first (or choose a network they all share), then run "
                   "the commands.")
        return _outcome(f, summary, ["# " + line for line in lines], evidence, limited=False)
    them = "; ".join(f"{p} ({', '.join(ips or [])})" for p, ips in reach.items())
    summary = (f"Limit incoming live migrations on {host.fqdn} to its isolated network {where}. "
               + (f"Every host it moves VMs with has an address there: {them}." if peers else
                  "The inventory pairs it with no other host.") + extra)
    return _outcome(f, summary, lines, evidence, limited=True)


def _outcome(f: Facts, summary: str, lines: list[str], evidence: dict[str, Any], *, limited: bool) -> Outcome:
    host = f.host()
    return Outcome(
        Status.WARNING,
        f"{host.fqdn} accepts live migrations on any network (UseAnyNetworkForMigration is on); the traffic is "
        "not encrypted.",
        on_host(host, summary, "\n".join(lines), docs=(DOCS["setup"], DOCS["migration-network"], DOCS["set-vmhost"]),
                gui="Hyper-V Manager > Hyper-V Settings > Live Migrations > Incoming live migrations > "
                "Use these IP addresses for live migration",
                kind="change" if limited else "manual",
                sets=(("UseAnyNetworkForMigration", "$false"),) if limited else ()),
        evidence,
    )
