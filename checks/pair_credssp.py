"""Moves from the source do not depend on CredSSP's pitfalls: a session on the source, or Credential Guard."""

from __future__ import annotations

from typing import Any

from hvlm.audit.facts import Facts, HostRef, RoleFacts
from hvlm.audit.knowledge import DOCS, os_release
from hvlm.audit.model import Fix, Outcome, Severity, Status, SubjectKind
from hvlm.audit.registry import check
from hvlm.checks._ad import (
    CIFS,
    FIRST_ANY_PROTOCOL_BUILD,
    MIGRATION_SERVICE,
    TRUSTED_TO_AUTH_FOR_DELEGATION,
    add_delegation_ps,
    any_protocol_ps,
    auth_type,
    missing,
    rbcd_for,
    rbcd_ps,
    same_domain,
    spn_forms,
    uac,
)
from hvlm.checks._fixes import on_host
from hvlm.checks._keys import nothing

CREDENTIAL_GUARD = 1  # Win32_DeviceGuard.SecurityServicesRunning


def _source(src: RoleFacts) -> tuple[str, bool | None]:
    sauth, dg = auth_type(src["vmhost"]), src["device_guard"]
    if sauth != "CredSSP":
        return sauth, None
    return sauth, None if dg is None else CREDENTIAL_GUARD in [int(x) for x in dg.get("SecurityServicesRunning") or []]


@check(
    id="pair-credssp",
    title="Source does not depend on CredSSP (sign-in, Credential Guard)",
    severity=Severity.CRITICAL,
    subject=SubjectKind.PAIR,
    rollback=True,
    requires=(
        "source.vmhost",
        "destination.vmhost",
        "source.device_guard?",
        "source.operating_system?",
        "source.ad_computer?",
        "destination.ad_computer?",
    ),
    rationale="""With CredSSP (the default up to Windows Server 2022), the source's VMMS needs the
    operator's credentials, which exist only in a session on the source: every move must be started
    from the source host (console, RDP, or a CredSSP PowerShell session), else it fails with
    0x8009030E "No credentials are available in the security package"; a source set to CredSSP
    therefore gives a warning naming the host to sign in to. Where Credential Guard runs on the
    source (Win32_DeviceGuard SecurityServicesRunning contains 1; on by default on domain-joined
    non-DC Windows Server 2025), CredSSP live migration fails outright: Microsoft's fix is Kerberos
    constrained delegation (or RBCD), so that fails, with the fix setting Kerberos on both hosts and
    the delegation entries. If the source uses CredSSP and Credential Guard's state was not
    collected, the check reports an error rather than guess. The verdict follows the source's
    setting, which governs the outgoing move; a source set to Kerberos passes (its delegation is
    judged by the pair-kcd checks).""",
    references=(DOCS["setup"], DOCS["use"], DOCS["cg-known-issues"], DOCS["cg-configure"], DOCS["ts-lm"]),
    fix_hint="Move the pair to Kerberos with constrained delegation, or sign in to the source before every move.",
    parts=(_source, nothing),
)
def run(f: Facts) -> Outcome:
    src, dst = f.host("source"), f.host("destination")
    sauth, dauth = auth_type(f["source.vmhost"]), auth_type(f["destination.vmhost"])
    evidence: dict[str, Any] = {"source": sauth, "destination": dauth}
    if sauth != "CredSSP":
        return Outcome(Status.PASS, f"{src.short} uses {sauth} for live migration: moves from it need no session on "
                       "the source and are not affected by Credential Guard.", evidence=evidence)
    dg = f.optional("source.device_guard")
    os_info = f.optional("source.operating_system")
    release = os_release(os_info["BuildNumber"]) if os_info else None
    if dg is None:
        err = f.unavailable("source.device_guard")
        return Outcome(Status.ERROR, f"could not tell whether Credential Guard runs on {src.short}, which uses CredSSP "
                       f"(it is on by default on domain-joined Windows Server 2025): "
                       f"{err.path + ': ' + err.message if err else 'not collected'}", evidence=evidence)
    running = [int(x) for x in dg.get("SecurityServicesRunning") or []]
    evidence["SecurityServicesRunning"] = running
    fix = _kerberos_fix(f, src, dst)
    if CREDENTIAL_GUARD in running:
        where = f" ({release.name}, where it is on by default)" if release and release.build >= 26100 else ""
        return Outcome(
            Status.FAIL,
            f"Credential Guard runs on {src.short}{where} and {src.short} uses CredSSP: live migrations from "
            f"{src.short} fail, even from a session on {src.short}, because Credential Guard stops CredSSP from "
            "using signed-in credentials. Move the pair to Kerberos with constrained delegation.",
            fix,
            evidence,
        )
    return Outcome(
        Status.WARNING,
        f"{src.short} uses CredSSP: every move from {src.short} to {dst.short} must be started from a session on "
        f"{src.short} (sign in to {src.fqdn} by console, RDP or a CredSSP PowerShell session), or it fails with "
        "0x8009030E. Kerberos with constrained delegation removes that constraint.",
        fix,
        evidence,
        severity=Severity.MEDIUM,
    )


def _kerberos_fix(f: Facts, src: HostRef, dst: HostRef) -> Fix:
    """Kerberos on the source, run there; the delegation it then needs is an AD change for a Domain Admin,
    printed as comments (the AD fixes of pair-kcd-* carry it once the pair uses Kerberos)."""
    scomp, dcomp = f.optional("source.ad_computer"), f.optional("destination.ad_computer")
    lines = ["Set-VMHost -VirtualMachineMigrationAuthenticationType Kerberos"]
    ad: list[str] = []
    if not same_domain(src, dst):
        if not rbcd_for(dcomp, src, (scomp or {}).get("objectSid")).lists_source:
            ad.append(rbcd_ps(src, dst))
    else:
        wanted = [*spn_forms(MIGRATION_SERVICE, dst), *spn_forms(CIFS, dst)]
        entries = missing((scomp or {}).get("msDS-AllowedToDelegateTo") or [], wanted) if scomp else wanted
        if entries:
            ad.append(add_delegation_ps(src, entries))
        os_info = f.optional("source.operating_system")
        build = int(os_info["BuildNumber"]) if os_info else None
        if (build is None or build >= FIRST_ANY_PROTOCOL_BUILD) and not (scomp and uac(scomp) & TRUSTED_TO_AUTH_FOR_DELEGATION):
            ad.append(any_protocol_ps(src))
    if ad:
        lines += [f"# Kerberos needs {src.short}'s constrained delegation to {dst.short}, an Active Directory change for a",
                  "# member of Domain Admins (pair-kcd-migration-service and pair-kcd-cifs report it once the",
                  "# pair uses Kerberos); from a machine with the ActiveDirectory module:",
                  *(f"#   {line}" for block in ad for line in block.splitlines())]
    else:
        lines.append(f"# Active Directory: {src.short}'s constrained delegation to {dst.short} is already in place.")
    lines.append(f"# {dst.short} must use Kerberos too (pair-auth-type-match says so when it does not).")
    return on_host(
        src,
        f"Switch {src.short} to Kerberos for live migration (Microsoft's recommended setup; disabling Credential "
        "Guard instead weakens the host). Its constrained delegation is an AD change for a Domain Admin, "
        "shown as comments.",
        "\n".join(lines),
        gui="Hyper-V Manager > Hyper-V Settings > Live Migrations > Advanced Features > Use Kerberos",
        docs=(DOCS["setup"], DOCS["cg-known-issues"], DOCS["set-vmhost"], DOCS["set-adcomputer"]),
        sets=(("VirtualMachineMigrationAuthenticationType", "Kerberos"),),
    )
