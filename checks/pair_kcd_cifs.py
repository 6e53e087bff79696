"""The source may delegate to the destination's cifs service (storage moves and the SMB transport)."""

from __future__ import annotations

from hvlm.audit.facts import Facts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Outcome, Severity, SubjectKind
from hvlm.audit.registry import check
from hvlm.checks._ad import CIFS
from hvlm.checks._kcd import REQUIRES, Service, evaluate, key


@check(
    id="pair-kcd-cifs",
    title="Constrained delegation to the destination's cifs service",
    severity=Severity.HIGH,
    subject=SubjectKind.PAIR,
    rollback=True,
    requires=REQUIRES,
    rationale="""Microsoft's setup step 1 adds "cifs" next to the migration service: it is needed to
    move storage (with the VM or alone) and for the SMB performance option, which copies memory over
    SMB to the destination. Both the NetBIOS and the FQDN form of "cifs/<destination>" must be in the
    source's msDS-AllowedToDelegateTo (compared case-insensitively), for both directions. Severity
    rule: no fact records whether storage moves are planned, and between non-clustered hosts a move
    of a VM on local disks always carries its storage, so a missing entry is a failure; it is high
    when either host uses the SMB performance option (then every move uses SMB to the destination),
    medium otherwise (only a VM-only move of a VM already on shared SMB storage can do without it).
    Resource-based delegation on the destination listing the source passes: it serves every service
    of the destination, and Microsoft documents it for the second hop to a file share. Classic
    delegation does not cross domains, so a cross-domain pair needs that one resource-based entry,
    which pair-kcd-migration-service reports (not applicable here: one cause, one finding). A listed
    principal that is not a computer account may be a group holding the source: a warning, since
    group memberships are not collected. Not applicable when both hosts use CredSSP or a host is not
    in a domain (host-domain-member).""",
    references=(DOCS["setup"], DOCS["kcd-overview"], DOCS["ts-lm"], DOCS["set-adcomputer"]),
    fix_hint="Set-ADComputer -Add the destination's cifs SPNs to the source's msDS-AllowedToDelegateTo.",
    key=key(CIFS),  # the SMB option only sets the severity
)
def run(f: Facts) -> Outcome:
    hosts = (f.optional("source.vmhost"), f.optional("destination.vmhost"))
    # an unknown performance option (no Get-VMHost) may be SMB: judge it as the stricter case
    smb = any(h is None or h["VirtualMachineMigrationPerformanceOption"] == "SMB" for h in hosts)
    why = ("cifs is the file service: the pair uses (or, not collected, may use) the SMB performance option, so "
           "every move copies memory over SMB to the destination and fails without it." if smb else
           "cifs is the file service: moves that carry storage (Move-VM -IncludeStorage, the usual case between "
           "non-clustered hosts) fail without it; the migration service's own entries are a separate finding.")
    return evaluate(
        f,
        Service(
            spn=CIFS,
            name="the file service (cifs)",
            needed_for=why,
            missing=Severity.HIGH if smb else Severity.MEDIUM,
            rbcd_documented=True,
            reports_rbcd=False,
        ),
    )
