"""No Hyper-V host is trusted for unconstrained delegation."""

from __future__ import annotations

from hvlm.audit.facts import Facts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_quote
from hvlm.audit.registry import check
from hvlm.checks._ad import DC_ROLES, TRUSTED_FOR_DELEGATION, ad_fix, ad_host, outside_domain, server, uac, unavailable


@check(
    id="host-unconstrained-delegation",
    title="Host not trusted for unconstrained delegation",
    severity=Severity.HIGH,
    subject=SubjectKind.HOST,
    requires=("host.ad_computer?", "host.computer_system?"),
    rationale="""userAccountControl 0x80000 (TRUSTED_FOR_DELEGATION, "Trust this computer for
    delegation to any service") lets the host keep the forwarded TGT of everyone who authenticates
    to it and impersonate them to any service in the forest: whoever controls a Hyper-V host then
    controls every administrator who manages it. Live migration needs only constrained delegation
    to two services per peer, and Credential Guard blocks unconstrained delegation anyway. A host
    with the flag fails (a security finding). A domain controller has the flag by design and must
    keep it: on a DC that runs Hyper-V the finding is a warning, and the remedy is moving Hyper-V
    off the DC (see host-domain-member), never clearing the flag. The move itself works either way,
    so a host with the flag is a warning of high severity (a security finding, not a blocker). A
    host outside a domain has no computer object: not applicable (host-domain-member).""",
    references=(DOCS["uac"], DOCS["kcd-overview"], DOCS["cg-known-issues"], DOCS["set-adaccountcontrol"]),
    fix_hint="Set-ADAccountControl -TrustedForDelegation $false, then constrained delegation to the peers only.",
)
def run(f: Facts) -> Outcome:
    host = ad_host(f)
    skip = outside_domain(f, "host", what="delegation in AD")
    if skip is not None:
        return skip
    comp = f.optional("host.ad_computer")
    if comp is None:
        return unavailable(f, "host.ad_computer")
    flags = uac(comp)
    evidence = {"computer": comp.get("distinguishedName") or comp["sAMAccountName"], "userAccountControl": hex(flags),
                "TrustedForDelegation": bool(flags & TRUSTED_FOR_DELEGATION)}
    if not flags & TRUSTED_FOR_DELEGATION:
        return Outcome(Status.PASS, f"{host.short} is not trusted for unconstrained delegation.", evidence=evidence)
    cs = f.optional("host.computer_system")
    if cs is not None and int(cs["DomainRole"]) in DC_ROLES:
        return Outcome(
            Status.WARNING,
            f"{host.short} is a domain controller, trusted for unconstrained delegation by design, and it runs Hyper-V: "
            "everyone managing its VMs hands it a forwardable TGT. Move Hyper-V to a member server; do not clear the flag "
            "on a DC.",
            ad_fix(
                summary=f"Plan moving the VMs off {host.short} and running Hyper-V on member servers (see "
                "host-domain-member); leave the DC's delegation flag alone.",
                powershell=f"Get-ADComputer -Identity {ps_quote(host.short)}{server(host.domain)} "
                "-Properties 'TrustedForDelegation', 'PrimaryGroupID' | "
                "Select-Object -Property 'Name', 'TrustedForDelegation', 'PrimaryGroupID'",
                docs=(DOCS["uac"], DOCS["bpa-domain-membership"]),
                kind="check",
            ),
            evidence,
            severity=Severity.MEDIUM,
        )
    return Outcome(
        Status.WARNING,
        f"{host.short} is trusted for unconstrained delegation (userAccountControl 0x80000): it can impersonate anyone "
        "who authenticates to it, to any service. Moves still work, but live migration needs only constrained "
        "delegation.",
        ad_fix(
            summary=f"Clear unconstrained delegation on {host.short}, then configure constrained delegation to the "
            "migration service and cifs of its peers only (see pair-kcd-migration-service).",
            powershell=f"Set-ADAccountControl -Identity (Get-ADComputer -Identity {ps_quote(host.short)}"
            f"{server(host.domain)}){server(host.domain)} -TrustedForDelegation $false",
            gui=f"Active Directory Users and Computers > {host.short} > Properties > Delegation > "
            "Trust this computer for delegation to specified services only",
            docs=(DOCS["uac"], DOCS["set-adaccountcontrol"], DOCS["kcd-overview"]),
        ),
        evidence,
    )
