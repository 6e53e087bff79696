"""Migration subnets are private (RFC 1918 or IPv6 ULA) and are not the management network."""

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
    overlaps,
    parse_subnet,
    remove_network_ps,
)


@check(
    id="host-migration-subnet-private",
    title="Migration subnets private and apart from management",
    severity=Severity.MEDIUM,
    subject=SubjectKind.HOST,
    requires=("host.migration_networks", "host.ip_interfaces", "host.dns?"),
    rationale="""Live migration sends VM memory unencrypted; Microsoft's guidance is to isolate it on
    trusted private networks, physically or on a VLAN. A migration subnet that is the management
    network (the interface with the default gateway, or where the host's FQDN resolves) puts VM
    memory on the network every administrator and service uses: a failure (medium). A subnet merely
    outside RFC 1918 (10/8, 172.16/12, 192.168/16) and the IPv6 unique local range fc00::/7 is not a
    failure: IPv6 global addresses, 100.64.0.0/10 or an organisation's own public range can be
    isolated just as well, and the move works; it is a low warning to confirm the isolation. An
    entry that cannot be read as a subnet is a low warning too. Where DNS was not collected the
    gateway alone marks management, and the evidence says so.""",
    references=(DOCS["setup"], DOCS["migration-network"], DOCS["hyperv-networking"]),
    fix_hint="Replace the subnet with the host's isolated private migration subnet (Remove-/Add-VMMigrationNetwork).",
)
def run(f: Facts) -> Outcome:
    host = f.host()
    entries = [str(e["Subnet"]) for e in f["host.migration_networks"]]
    ifaces = interfaces(f["host.ip_interfaces"])
    dns = f.optional("host.dns")
    mgmt = management(ifaces, dns)
    evidence: dict[str, Any] = {
        "migration_networks": entries,
        "management": sorted({f"{n} ({why})" for n, why in mgmt}),
        "dns": "collected" if dns else "not available: management judged by the default gateway only",
    }
    if not entries:
        return Outcome(Status.NOT_APPLICABLE, f"{host.fqdn} lists no migration subnet.", evidence=evidence)
    public: list[str] = []
    on_mgmt: list[str] = []
    unreadable: list[str] = []
    for text in entries:
        net = parse_subnet(text)
        if net is None:
            unreadable.append(text)
        elif any(overlaps(net, m) for m, _ in mgmt):
            on_mgmt.append(text)
        elif not is_private(net):
            public.append(text)
    evidence.update({"public": public, "management_subnets": on_mgmt, "unreadable": unreadable})
    bad = on_mgmt
    if not bad and not public and not unreadable:
        return Outcome(Status.PASS, f"{host.fqdn}'s migration subnets are private and apart from management: "
                       f"{', '.join(entries)}.", evidence=evidence)
    keep = [n for n in (parse_subnet(e) for e in entries if e not in bad and e not in unreadable) if n]
    add = [n for n in candidates(ifaces, mgmt) if not any(overlaps(n, k) for k in keep)] if not keep else []
    lines = [remove_network_ps(s) for s in bad]
    lines += [add_network_ps(str(n)) for n in add]
    if not bad:
        lines = ["Get-VMMigrationNetwork | Format-Table -Property 'Subnet', 'Priority'",
                 "Get-NetIPAddress | Format-Table -Property 'InterfaceAlias', 'IPAddress', 'PrefixLength'"]
    parts = []
    if public:
        parts.append(f"outside RFC 1918 and fc00::/7 (fine if isolated; confirm it): {', '.join(public)}")
    if on_mgmt:
        parts.append(f"the management network: {', '.join(on_mgmt)}")
    if unreadable:
        parts.append(f"not readable as a subnet: {', '.join(unreadable)}")
    summary = f"Take the exposed {noun(len(bad), 'subnet')} off {host.fqdn}'s migration list"
    summary += (f" and add its isolated network {', '.join(str(n) for n in add)}." if add else
                "." if keep else "; no isolated private network was found: connect one (own NIC or VLAN) first.")
    if not bad:
        summary = ("Confirm that each listed subnet is an isolated network (own NIC or VLAN, not reachable by users) "
                   "and correct any entry that cannot be read.")
    return Outcome(
        Status.FAIL if bad else Status.WARNING,
        f"{host.fqdn} migrates VMs over subnets that are " + "; ".join(parts) + ".",
        on_host(host, summary, "\n".join(lines), docs=(DOCS["migration-network"], DOCS["setup"])),
        evidence,
        severity=Severity.MEDIUM if bad else Severity.LOW,
    )
