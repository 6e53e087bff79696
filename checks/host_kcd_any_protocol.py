"""Windows Server 2016+ Kerberos hosts with constrained delegation use "any authentication protocol"."""

from __future__ import annotations

from hvlm.audit.facts import Facts
from hvlm.audit.knowledge import DOCS, os_release
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.registry import check
from hvlm.checks._ad import (
    FIRST_ANY_PROTOCOL_BUILD,
    MIGRATION_SERVICE,
    TRUSTED_TO_AUTH_FOR_DELEGATION,
    UNKNOWN_AUTH,
    ad_fix,
    ad_host,
    any_protocol_ps,
    auth_type,
    os_build,
    outside_domain,
    purge_tickets_ps,
    uac,
    unavailable,
)


@check(
    id="host-kcd-any-protocol",
    title='Constrained delegation uses "any authentication protocol"',
    severity=Severity.HIGH,
    subject=SubjectKind.HOST,
    requires=("host.ad_computer?", "host.vmhost?", "host.operating_system?", "host.computer_system?"),
    rationale="""From Windows Server 2016, Hyper-V remoting runs over WMI v2 on WinRM, whose inbound
    forwardable ticket VMMS cannot reach, so a source whose delegation is "Use Kerberos only" fails
    remotely started moves with 0x8009030E ("no credentials are available in the security
    package"); Microsoft's fix is protocol transition, "Use any authentication protocol", which sets
    TRUSTED_TO_AUTH_FOR_DELEGATION (userAccountControl 0x1000000) on the computer object. The check
    applies to hosts set to Kerberos whose object has constrained-delegation entries for the
    migration service: on build 14393 (2016) and later the bit must be set (fail otherwise); on
    2012 R2 "Kerberos only" is the documented setting, so either passes. Hosts using CredSSP, or
    without constrained delegation (see pair-kcd-migration-service), are not applicable; resource-
    based delegation always allows protocol transition and needs no bit. A directory-only audit (no
    host facts) still judges it: the build comes from the computer object's operatingSystemVersion
    ("10.0 (17763)") and an unknown authentication type is audited as Kerberos, as the delegation
    entries suggest; the evidence says so. A host outside a domain is not applicable
    (host-domain-member).""",
    references=(DOCS["kcd-blog"], DOCS["setup"], DOCS["uac"], DOCS["set-adaccountcontrol"], DOCS["ts-lm"]),
    fix_hint="Set-ADAccountControl -TrustedToAuthForDelegation $true on the host's computer object.",
)
def run(f: Facts) -> Outcome:
    host = ad_host(f)
    skip = outside_domain(f, "host", what="delegation in AD")
    if skip is not None:
        return skip
    comp = f.optional("host.ad_computer")
    if comp is None:
        return unavailable(f, "host.ad_computer")
    auth = auth_type(f.optional("host.vmhost"))
    build, build_source = os_build(f.optional("host.operating_system"), comp)
    flags = uac(comp)
    entries = [str(e) for e in comp.get("msDS-AllowedToDelegateTo") or []]
    kcd = [e for e in entries if e.casefold().startswith(MIGRATION_SERVICE.casefold() + "/")]
    any_protocol = bool(flags & TRUSTED_TO_AUTH_FOR_DELEGATION)
    evidence = {"authentication": auth, "BuildNumber": build, "build_from": build_source,
                "userAccountControl": hex(flags), "TrustedToAuthForDelegation": any_protocol,
                "migration_service_entries": kcd}
    if auth not in ("Kerberos", UNKNOWN_AUTH):
        return Outcome(Status.NOT_APPLICABLE, f"{host.short} uses {auth}, not Kerberos.", evidence=evidence)
    if not kcd:
        return Outcome(Status.NOT_APPLICABLE, f"{host.short} has no constrained delegation to a migration service "
                       "(see pair-kcd-migration-service).", evidence=evidence)
    if build is None:
        return Outcome(Status.ERROR, f"could not tell the release of {host.short}: {build_source}.", evidence=evidence)
    release = os_release(build)
    name = release.name if release else f"build {build}"
    from_ad = " (build read from AD's operatingSystemVersion: host facts were not collected)" if "AD" in build_source else ""
    if any_protocol:
        return Outcome(Status.PASS, f'{host.short} ({name}{from_ad}) delegates with "use any authentication protocol".',
                       evidence=evidence)
    if build < FIRST_ANY_PROTOCOL_BUILD:
        return Outcome(Status.PASS, f'{host.short} runs {name}{from_ad}, where "Kerberos only" delegation is the '
                       "documented setting.", evidence=evidence)
    return Outcome(
        Status.FAIL,
        f'{host.short} runs {name}{from_ad} with constrained delegation set to "Kerberos only": moves started '
        "remotely (Hyper-V Manager, Windows Admin Center, PowerShell remoting) fail with 0x8009030E.",
        ad_fix(
            summary=f'Select "Use any authentication protocol" on {host.short}\'s computer object.',
            powershell="\n".join([any_protocol_ps(host), purge_tickets_ps(host)]),
            gui=f"Active Directory Users and Computers > {host.short} > Properties > Delegation > "
            "Use any authentication protocol",
            docs=(DOCS["kcd-blog"], DOCS["set-adaccountcontrol"]),
        ),
        evidence,
    )
