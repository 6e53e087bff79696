"""Incoming live migrations are limited to chosen networks, not "any available network"."""

from __future__ import annotations

from typing import Any

from hvlm.audit.facts import Facts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_quote
from hvlm.audit.registry import check
from hvlm.checks._fixes import on_host
from hvlm.checks._net import candidates, interfaces, is_private, management, on_interface, overlaps, parse_subnet


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
    host-migration-subnet-private's failure.""",
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
    lines = [f"Add-VMMigrationNetwork {ps_quote(str(n))}" for n in add]
    if good or add:
        lines.append("Set-VMHost -UseAnyNetworkForMigration $false")
        summary = (f"Limit incoming live migrations on {host.fqdn} to its isolated network "
                   f"{', '.join(str(n) for n in good or add)}.")
    else:
        lines = [
            "Get-NetIPAddress | Format-Table -Property 'InterfaceAlias', 'IPAddress', 'PrefixLength'",
            "# Add the dedicated private migration subnet first (Add-VMMigrationNetwork), then run:",
            "# Set-VMHost -UseAnyNetworkForMigration $false",
        ]
        summary = (f"{host.fqdn} has no private, non-management network to dedicate to live migration: connect "
                   "it to an isolated network (own NIC or VLAN), add that subnet, then turn off 'any network'.")
    limited = bool(good or add)
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
