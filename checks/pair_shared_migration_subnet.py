"""The destination's incoming migration networks are reachable from a network of the source."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from hvlm.audit.facts import Facts, RoleFacts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_quote
from hvlm.audit.registry import check
from hvlm.checks._fixes import on_host
from hvlm.checks._keys import addresses, subnets
from hvlm.checks._net import interfaces, on_interface, parse_subnet, shared_candidates


def _usable_families(side: RoleFacts) -> frozenset[int]:
    return frozenset(i.ip.version for i in interfaces(side["ip_interfaces"]) if i.usable)


def _key(src: RoleFacts, dst: RoleFacts) -> Hashable:
    """Whether the destination accepts any network; else whether one of its subnets holds a source address;
    else whether the source has a usable address of a family those subnets use (routed: warning; none: fail)."""
    if dst["vmhost"]["UseAnyNetworkForMigration"]:
        return True
    ips = addresses(src)
    nets = subnets(dst)
    for version, net, mask in nets:
        for v, ip in ips:
            if v == version and ip & mask == net:
                return False, True
    return False, False, bool({version for version, _, _ in nets} & src.derived("usable", _usable_families))


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
    its listed migration subnets. This check passes when one of them contains an address of the
    source. Without a shared subnet the move works only if the source's networks are routed to the
    destination's migration subnet, which the collected facts cannot show (no routes are read):
    Microsoft allows routed migration networks, so that is a warning (medium) with the test to run,
    not a failure. It fails when the source has no address at all in the IP family of any of the
    destination's subnets (an IPv6-only migration network and an IPv4-only source): no route can
    help. It does not apply when the destination accepts any network (host-any-network reports
    that).""",
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
    dst_ifaces = interfaces(f.optional("destination.ip_interfaces"))
    common = shared_candidates(src, dst_ifaces)
    evidence["suggested"] = [str(n) for n in common]
    nets = [n for n in (parse_subnet(e) for e in entries) if n]
    families = {n.version for n in nets}
    routable = [n for n in nets if any(i.usable and i.ip.version == n.version for i in src)]
    evidence["routable_families"] = sorted({f"IPv{n.version}" for n in routable})
    if common:
        summary = (f"Accept live migrations on {dref.fqdn} from the private network both hosts are on: "
                   f"{common[0]}.")
        ps = f"Add-VMMigrationNetwork {ps_quote(str(common[0]))}"
    else:
        summary = (f"{sref.fqdn} and {dref.fqdn} share no private network: connect both to one isolated migration "
                   "network (own NIC or VLAN) and add its subnet on both hosts with Add-VMMigrationNetwork.")
        ps = "Get-VMMigrationNetwork | Format-Table -Property 'Subnet', 'Priority'"
    listed = ", ".join(entries) or "none"
    fix = on_host(dref, summary, ps, docs=(DOCS["migration-network"], DOCS["setup"]),
                  gui="Hyper-V Manager > Hyper-V Settings > Live Migrations > Incoming live migrations > Add",
                  kind="change" if common else "manual")
    if not routable:
        return Outcome(
            Status.FAIL,
            f"None of {dref.fqdn}'s migration subnets ({listed}) holds an address of {sref.fqdn}, and {sref.fqdn} has "
            f"no {' or '.join(f'IPv{v}' for v in sorted(families)) or 'usable'} address to route to them: the move "
            "cannot reach the destination.",
            fix,
            evidence,
        )
    targets = [str(i.ip) for i in dst_ifaces if any(on_interface(n, [i]) for n in nets)] or [dref.fqdn]
    test = "\n".join(f"Test-NetConnection -ComputerName {ps_quote(t)} -Port 6600" for t in targets)
    return Outcome(
        Status.WARNING,
        f"None of {dref.fqdn}'s migration subnets ({listed}) holds an address of {sref.fqdn}: the move works only if "
        f"{sref.fqdn}'s networks are routed to them (a routed migration network), which the collected facts cannot "
        "show; otherwise it fails with connection errors.",
        on_host(sref, f"From {sref.fqdn}, test the destination's migration address(es) on TCP 6600; if they cannot be "
                f"reached, {summary[0].lower() + summary[1:]}",
                test + "\n# If the test fails, on the destination:\n# " + ps,
                docs=(DOCS["migration-network"], DOCS["setup"], DOCS["ts-lm"]), kind="check"),
        evidence,
        severity=Severity.MEDIUM,
    )
