"""Each configured migration subnet exists on an interface of the host."""

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
    management,
    on_interface,
    overlaps,
    parse_subnet,
    remove_network_ps,
)


@check(
    id="host-migration-subnets",
    title="Migration subnets exist on the host",
    severity=Severity.HIGH,
    subject=SubjectKind.HOST,
    requires=("host.vmhost", "host.migration_networks", "host.ip_interfaces", "host.dns?"),
    rationale="""With UseAnyNetworkForMigration off a host receives live migrations only on the
    subnets listed by Get-VMMigrationNetwork. An entry that matches none of its addresses (a typo,
    a renumbered or removed NIC) accepts nothing, and an empty list means the host accepts no
    incoming live migration at all, which then fails with connection errors. Each entry (CIDR or a
    bare address) is matched against the host's interface addresses with Python's ipaddress.""",
    references=(DOCS["setup"], DOCS["migration-network"], DOCS["set-vmhost"]),
    fix_hint="Remove-VMMigrationNetwork the stale subnet and Add-VMMigrationNetwork the host's migration subnet.",
)
def run(f: Facts) -> Outcome:
    host = f.host()
    use_any = f["host.vmhost"]["UseAnyNetworkForMigration"]
    entries = [str(e["Subnet"]) for e in f["host.migration_networks"]]
    ifaces = interfaces(f["host.ip_interfaces"])
    evidence: dict[str, Any] = {"UseAnyNetworkForMigration": use_any, "migration_networks": entries,
                                "addresses": [f"{i.ip}/{i.network.prefixlen} ({i.alias})" for i in ifaces]}
    if not entries and use_any:
        return Outcome(Status.NOT_APPLICABLE, f"{host.fqdn} lists no migration subnet and uses any network "
                       "(see host-any-network).", evidence=evidence)
    stale: list[str] = []
    found: dict[str, list[str]] = {}
    for text in entries:
        net = parse_subnet(text)
        hits = on_interface(net, ifaces) if net else []
        if hits:
            found[text] = [i.alias for i in hits]
        else:
            stale.append(text)
    evidence.update({"on_interface": found, "stale": stale})
    if not stale and entries:
        where = "; ".join(f"{s} on {', '.join(a)}" for s, a in found.items())
        return Outcome(Status.PASS, f"Every migration subnet of {host.fqdn} is on an interface: {where}.",
                       evidence=evidence)
    nets = [n for n in (parse_subnet(s) for s in found) if n]
    add = [n for n in candidates(ifaces, management(ifaces, f.optional("host.dns")))
           if not any(overlaps(n, k) for k in nets)] if not nets else []
    lines = [remove_network_ps(s) for s in stale]
    lines += [add_network_ps(str(n)) for n in add]
    if not lines:
        lines = ["Get-NetIPAddress | Format-Table -Property 'InterfaceAlias', 'IPAddress', 'PrefixLength'",
                 "Get-VMMigrationNetwork | Format-Table -Property 'Subnet', 'Priority'"]
    ignored = " (ignored while UseAnyNetworkForMigration is on)" if use_any else ""
    if not entries:
        message = f"{host.fqdn} lists no migration subnet and does not use any network: it accepts no live migration."
    else:
        message = (f"{host.fqdn} lists {noun(len(stale), 'a migration subnet', 'migration subnets')} "
                   f"with no address on any of its interfaces{ignored}: "
                   f"{', '.join(stale)}.")
    summary = "Remove the subnets no interface is in" if stale else "Add the host's migration subnet"
    if add:
        summary += f" and add {', '.join(str(n) for n in add)}, the host's isolated network"
    elif not nets:
        summary += "; no private, non-management subnet was found to add: connect an isolated migration network first"
    # A subnet on an interface still accepts moves: the stale entries are clutter, not a blocker
    # (a warning); with none left (or none listed) the host accepts no live migration (a failure).
    usable = bool(found) or bool(use_any)
    if found and not use_any:
        message += f" Moves still arrive on {', '.join(found)}."
    return Outcome(
        Status.WARNING if usable else Status.FAIL,
        message,
        on_host(host, summary + ".", "\n".join(lines), docs=(DOCS["migration-network"], DOCS["setup"]),
                gui="Hyper-V Manager > Hyper-V Settings > Live Migrations > Incoming live migrations"),
        evidence,
        severity=Severity.LOW if usable else None,
    )
