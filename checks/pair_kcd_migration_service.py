"""The source may delegate to the destination's Microsoft Virtual System Migration Service (Kerberos)."""

from __future__ import annotations

from hvlm.audit.facts import Facts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Outcome, Severity, SubjectKind
from hvlm.audit.registry import check
from hvlm.checks._ad import MIGRATION_SERVICE
from hvlm.checks._kcd import REQUIRES, Service, evaluate, key


@check(
    id="pair-kcd-migration-service",
    title="Constrained delegation to the destination's migration service",
    severity=Severity.CRITICAL,
    subject=SubjectKind.PAIR,
    rollback=True,
    requires=REQUIRES,
    rationale="""With Kerberos, the source's computer account must be trusted to delegate to
    "Microsoft Virtual System Migration Service/<destination>" (Microsoft's setup step 1): ADUC
    writes the service for the destination's NetBIOS name and its FQDN into the source's
    msDS-AllowedToDelegateTo, and both are checked, case-insensitively, because a client may ask for
    either. Delegation is directional, so both directions of each pair are checked. Missing entries
    fail (every Kerberos move from the source fails). Resource-based delegation on the destination
    listing the source (by SID) is accepted as the alternative and reported as a warning: Microsoft
    recommends KCD or RBCD over CredSSP but documents no RBCD-only live migration (UNCONFIRMED).
    Classic delegation does not cross domains, so a cross-domain pair needs that resource-based
    delegation, one entry that serves every service of the destination: this check reports it for
    the pair (pair-kcd-cifs does not repeat it). A listed principal that is not a computer account
    may be a group holding the source: a warning, since group memberships are not collected. The
    check applies when either host is set to Kerberos; for CredSSP on both it is not applicable
    (CredSSP needs no delegation; see pair-credssp), nor for a host outside a domain
    (host-domain-member).""",
    references=(DOCS["setup"], DOCS["kcd-overview"], DOCS["second-hop"], DOCS["ts-lm"], DOCS["set-adcomputer"]),
    fix_hint="Set-ADComputer -Add the destination's migration-service SPNs to the source's msDS-AllowedToDelegateTo.",
    key=key(MIGRATION_SERVICE),
)
def run(f: Facts) -> Outcome:
    return evaluate(
        f,
        Service(
            spn=MIGRATION_SERVICE,
            name="the migration service (Microsoft Virtual System Migration Service)",
            needed_for="It carries the live migration itself: every Kerberos move from the source to this destination "
            "fails (0x8009030E / 0x8009030D); the cifs entries are a separate finding.",
            missing=Severity.CRITICAL,
            rbcd_documented=False,
            reports_rbcd=True,
        ),
    )
