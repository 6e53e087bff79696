"""The host's computer account supports AES for Kerberos, not RC4 alone."""

from __future__ import annotations

from hvlm.audit.facts import Facts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_quote
from hvlm.audit.registry import check
from hvlm.checks._ad import ad_fix, ad_host, outside_domain, server, unavailable

ATTR = "msDS-SupportedEncryptionTypes"
RC4 = 0x4
AES = 0x8 | 0x10


def names(value: int) -> str:
    bits = [(0x1, "DES-CBC-CRC"), (0x2, "DES-CBC-MD5"), (RC4, "RC4"), (0x8, "AES128"), (0x10, "AES256")]
    return ", ".join(n for bit, n in bits if value & bit) or "none"


@check(
    id="host-kerberos-rc4-only",
    title="Computer account supports AES for Kerberos",
    severity=Severity.MEDIUM,
    subject=SubjectKind.HOST,
    requires=("host.ad_computer?", "host.computer_system?"),
    rationale="""Live migration with Kerberos relies on service tickets to the host's computer account
    (constrained delegation to its migration service and cifs). The KDC encrypts them with a type the
    account advertises in msDS-SupportedEncryptionTypes (0x4 RC4, 0x8 AES128, 0x10 AES256). An account
    that advertises RC4 (or DES) only gets RC4 tickets, and breaks as domains withdraw RC4: the
    delegation tickets then fail and so do the moves. A value without any AES bit fails. Not set at
    all, the domain's default applies (DefaultDomainSupportedEncTypes on the DCs, RC4 on older
    ones): a low warning to set it. Windows writes the attribute itself from the policy "Network
    security: Configure encryption types allowed for Kerberos", so that policy is the lasting fix.""",
    references=(DOCS["kile-enctypes"], DOCS["ada2-enctypes"], DOCS["set-adcomputer"]),
    fix_hint="Set-ADComputer -KerberosEncryptionType AES128,AES256 (and the Kerberos encryption-types policy).",
)
def run(f: Facts) -> Outcome:
    host = ad_host(f)
    skip = outside_domain(f, "host", what="Kerberos encryption types in AD")
    if skip is not None:
        return skip
    comp = f.optional("host.ad_computer")
    if comp is None:
        return unavailable(f, "host.ad_computer")
    if ATTR not in comp:
        return Outcome(Status.ERROR, f"could not check: {ATTR} of {host.short} was not collected (a snapshot from an "
                       "older hvlm); collect the directory again.")
    value = comp[ATTR]
    evidence = {"computer": comp.get("distinguishedName") or comp["sAMAccountName"],
                ATTR: None if value is None else hex(int(value))}
    fix = ad_fix(
        summary=f"Let {host.short} use AES for Kerberos: set its encryption types, and set the policy \"Network "
        "security: Configure encryption types allowed for Kerberos\" (AES128, AES256) on the host, which otherwise "
        "writes its own value back. Restart the host (or renew its password) so the new keys are used.",
        powershell=f"Set-ADComputer -Identity {ps_quote(host.short)}{server(host.domain)} "
        "-KerberosEncryptionType 'AES128', 'AES256'",
        gui=f"Active Directory Users and Computers > {host.short} > Properties > Attribute Editor > {ATTR}",
        docs=(DOCS["set-adcomputer"], DOCS["kile-enctypes"]),
    )
    if value is None:
        return Outcome(
            Status.WARNING,
            f"{host.short} does not state its Kerberos encryption types ({ATTR} is not set): the domain's default "
            "decides, RC4 on DCs not told otherwise.",
            fix,
            evidence,
            severity=Severity.LOW,
        )
    flags = int(value)
    if flags & AES:
        return Outcome(Status.PASS, f"{host.short} supports {names(flags)} for Kerberos.", evidence=evidence)
    # RC4 still works where the domain allows it: a risk with a date, not a blocked move today.
    return Outcome(
        Status.WARNING,
        f"{host.short} advertises only {names(flags)} for Kerberos ({ATTR} {hex(flags)}): moves work while the "
        "domain still issues RC4 tickets, and fail, with the migration's delegation, once RC4 is withdrawn.",
        fix,
        evidence,
        severity=Severity.HIGH,
    )
