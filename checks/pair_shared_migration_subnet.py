"""The destination's incoming migration networks are reachable from a network of the source."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from audit.facts import Facts, RoleFacts
from audit.knowledge import DOCS
from audit.model import Outcome, Severity, Status, SubjectKind
from audit.psquote import ps_quote
from audit.registry import check
from checks._fixes import on_host
from checks._keys import addresses, subnets
from checks._net import interfaces, on_interface, parse_subnet, shared_candidates


def _key(src: RoleFacts, dst: RoleFacts) -> Hashable:
    """Whether the destination accepts any network; else whether one of its subnets holds a source address."""
    if dst["vmhost"]["UseAnyNetworkForMigration"]:
        return True
    ips = addresses(src)
    for version, net, mask in subnets(dst):
        for v, ip in ips:
            if v == version and ip & mask == net:
                return False, True
    return False, False


@check(
    id="pair-shared-migration-subnet",
    title="Source and destination share a migration subnet",
    severity=Severity.HIGH,
    subject=SubjectKind.PAIR,
    rollback=True,
    requires=(
        "source.ip_interfaces",
        "destination.vmhost",
        "destination.migration_networks",
        "destination.ip_interfaces?",
    ),
    rationale="""With UseAnyNetworkForMigration off, the destination accepts a live migration only on
    its listed migration subnets, so the source needs an address in at least one of them. Without a
    shared subnet the move fails with connection errors, or is routed across other networks although
    the traffic is not encrypted. This check passes when one of the destination's subnets contains
    an address of the source; it does not apply when the destination accepts any network
    (host-any-network reports that).""",
    references=(DOCS["setup"], DOCS["migration-network"], DOCS["ts-lm"]),
    fix_hint="Add-VMMigrationNetwork on the destination for a private subnet both hosts are on.",
    key=_key,
)
def run(f: Facts) -> Outcome:
    sref, dref = f.host("source"), f.host("destination")
    src = interfaces(f["source.ip_interfaces"])
    entries = [str(e["Subnet"]) for e in f["destination.migration_networks"]]
    evidence: dict[str, Any] = {
        "destination.UseAnyNetworkForMigration": f["destination.vmhost"]["UseAnyNetworkForMigration"],
        "destination.migration_networks": entries,
        "source.addresses": [f"{i.ip}/{i.network.prefixlen}" for i in src],
    }
    if evidence["destination.UseAnyNetworkForMigration"]:
        return Outcome(Status.NOT_APPLICABLE, f"{dref.fqdn} accepts live migrations on any network "
                       "(see host-any-network).", evidence=evidence)
    shared = {}
    for text in entries:
        net = parse_subnet(text)
        hits = on_interface(net, src) if net else []
        if hits:
            shared[text] = [str(i.ip) for i in hits]
    evidence["shared"] = shared
    if shared:
        listed = "; ".join(f"{s} (source {', '.join(a)})" for s, a in shared.items())
        return Outcome(Status.PASS, f"{sref.fqdn} can reach {dref.fqdn}'s migration subnet {listed}.",
                       evidence=evidence)
    common = shared_candidates(src, interfaces(f.optional("destination.ip_interfaces")))
    evidence["suggested"] = [str(n) for n in common]
    if common:
        summary = (f"Accept live migrations on {dref.fqdn} from the private network both hosts are on: "
                   f"{common[0]}.")
        ps = f"Add-VMMigrationNetwork {ps_quote(str(common[0]))}"
    else:
        summary = (f"{sref.fqdn} and {dref.fqdn} share no private network: connect both to one isolated migration "
                   "network (own NIC or VLAN) and add its subnet on both hosts with Add-VMMigrationNetwork.")
        ps = "Get-VMMigrationNetwork | Format-Table -Property 'Subnet', 'Priority'"
    listed = ", ".join(entries) or "none"
    return Outcome(
        Status.FAIL,
        f"None of {dref.fqdn}'s migration subnets ({listed}) holds an address of {sref.fqdn}: the move cannot "
        "use an isolated network between them.",
        on_host(dref, summary, ps, docs=(DOCS["migration-network"], DOCS["setup"]),
                gui="Hyper-V Manager > Hyper-V Settings > Live Migrations > Incoming live migrations > Add"),
        evidence,
    )
