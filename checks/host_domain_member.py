"""The host is a member server of an Active Directory domain."""

from __future__ import annotations

from dataclasses import replace

from hvlm.audit.facts import Facts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_quote
from hvlm.audit.registry import check
from hvlm.checks._ad import DC_ROLES, server
from hvlm.checks._fixes import DOMAIN_ADMIN, LOCAL_ADMIN, on_host

ROLES = {
    0: "standalone workstation",
    1: "member workstation",
    2: "standalone server",
    3: "member server",
    4: "backup domain controller",
    5: "primary domain controller",
}


@check(
    id="host-domain-member",
    title="Host is a domain member server",
    severity=Severity.HIGH,
    subject=SubjectKind.HOST,
    requires=("host.computer_system",),
    rationale="""Live migration without Failover Clustering needs both hosts in the same Active
    Directory domain or in domains that trust each other: Kerberos delegation and CredSSP both
    authenticate the operator with domain credentials. Win32_ComputerSystem tells it: PartOfDomain
    must be true and DomainRole 3 (member server). A workgroup host fails (the Best Practices
    Analyzer also flags it). A domain controller that runs Hyper-V is a warning: it works, but
    Microsoft recommends Hyper-V as the only role, a DC is trusted for unconstrained delegation by
    design, and the Windows Server 2025 default enablement of Credential Guard excludes DCs, so the
    host behaves differently from its peers. A workstation role (1) is a warning: the documented
    procedure is for Windows Server hosts.""",
    references=(DOCS["setup"], DOCS["win32-computersystem"], DOCS["bpa-domain-membership"], DOCS["cg-configure"]),
    fix_hint="Join the host to the domain (Add-Computer), or move Hyper-V off a domain controller.",
)
def run(f: Facts) -> Outcome:
    host = f.host()
    cs = f["host.computer_system"]
    role = int(cs["DomainRole"])
    joined = bool(cs["PartOfDomain"])
    evidence = {"PartOfDomain": joined, "Domain": cs["Domain"], "DomainRole": role,
                "role": ROLES.get(role, "unknown")}
    if not joined or role in (0, 2):
        domain = host.domain if host.domain and host.domain != str(cs["Domain"]).lower() else None
        target = ps_quote(domain) if domain else "<your AD DNS domain>"
        join = on_host(
            host,
            "Join the host to the domain of the other Hyper-V hosts and restart it. The command prompts "
            "for an account allowed to join computers; no password is written into it.",
            f"Add-Computer -DomainName {target} -Credential (Get-Credential) -Restart",
            docs=(DOCS["setup"], DOCS["bpa-domain-membership"]),
            gui="System Properties > Computer Name > Change... > Member of: Domain",
            run_as=LOCAL_ADMIN,
            # it restarts the host; without a known domain a human must say which one
            kind="disruptive" if domain else "manual",
        )
        return Outcome(
            Status.FAIL,
            f"{host.name} is not joined to a domain (it is a {ROLES.get(role, f'role {role}')} in "
            f"{cs['Domain']!s}); live migration without a cluster needs domain members.",
            replace(join, run_on=host.name),  # a workgroup host is reached by its inventory name
            evidence,
        )
    if role in DC_ROLES:
        return Outcome(
            Status.WARNING,
            f"{host.fqdn} is a domain controller ({ROLES[role]}) that runs Hyper-V: supported, but not "
            "recommended, and it is trusted for unconstrained delegation and left out of Credential Guard's "
            "default enablement on Windows Server 2025, unlike its member-server peers.",
            on_host(
                host,
                "Move the domain controller role to another server: transfer any FSMO roles held here, make "
                "sure other DCs serve the domain and site, then demote this host (it prompts for the new "
                "local Administrator password and restarts).",
                "# Review first which operations master roles this DC holds:\n"
                f"Get-ADDomainController -Identity {ps_quote(host.short)}{server(host.domain)} | "
                "Select-Object -Property 'HostName', 'OperationMasterRoles', 'IsGlobalCatalog'\n"
                "Uninstall-ADDSDomainController -Credential (Get-Credential)",
                docs=(DOCS["bpa-domain-membership"], DOCS["setup"]),
                gui="Server Manager > Manage > Remove Roles and Features > Active Directory Domain Services "
                "> Demote this domain controller",
                run_as=DOMAIN_ADMIN,
                kind="manual",  # FSMO roles and the other DCs are a human's call; the demotion restarts the host
            ),
            evidence,
            severity=Severity.MEDIUM,
        )
    if role != 3:
        return Outcome(
            Status.WARNING,
            f"{host.fqdn} is joined to {cs['Domain']} but reports DomainRole {role} "
            f"({ROLES.get(role, 'unknown')}), not a member server.",
            on_host(
                host,
                "Check the host's role: the documented procedure is for Windows Server member servers.",
                "Get-CimInstance -ClassName Win32_ComputerSystem | "
                "Select-Object -Property 'Name', 'Domain', 'PartOfDomain', 'DomainRole'",
                docs=(DOCS["win32-computersystem"],),
                run_as=LOCAL_ADMIN,
                kind="check",
            ),
            evidence,
            severity=Severity.MEDIUM,
        )
    return Outcome(Status.PASS, f"{host.fqdn} is a member server of {cs['Domain']}.", evidence=evidence)

