"""Incoming and outgoing live migrations are enabled on the host."""

from __future__ import annotations

from hvlm.audit.facts import Facts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.registry import check
from hvlm.checks._fixes import on_host


@check(
    id="host-migration-enabled",
    title="Live migration enabled on the host",
    severity=Severity.CRITICAL,
    subject=SubjectKind.HOST,
    requires=("host.vmhost",),
    rationale="""Live migration is disabled by default: Get-VMHost shows
    VirtualMachineMigrationEnabled False until it is enabled. Both the source and the destination
    must allow incoming and outgoing live migrations.""",
    references=(DOCS["setup"], DOCS["enable-vmmigration"]),
    fix_hint="Enable-VMMigration on the host.",
)
def run(f: Facts) -> Outcome:
    host = f.host()
    enabled = f["host.vmhost"]["VirtualMachineMigrationEnabled"]
    evidence = {"VirtualMachineMigrationEnabled": enabled}
    if enabled is True:
        return Outcome(Status.PASS, f"Live migration is enabled on {host.fqdn}.", evidence=evidence)
    return Outcome(
        Status.FAIL,
        f"Live migration is disabled on {host.fqdn} (VirtualMachineMigrationEnabled is False).",
        on_host(
            host,
            "Enable incoming and outgoing live migrations.",
            "Enable-VMMigration",
            docs=(DOCS["setup"], DOCS["enable-vmmigration"]),
            gui="Hyper-V Manager > Hyper-V Settings > Live Migrations > "
            "Enable incoming and outgoing live migrations",
        ),
        evidence,
    )
