"""The host's computer account supports AES for Kerberos, not RC4 alone."""

from __future__ import annotations

from hvlm.audit.facts import Facts, HostRef
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Fix, Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_quote
from hvlm.audit.registry import check
from hvlm.checks._ad import ad_fix, ad_host, outside_domain, server, unavailable

ATTR = "msDS-SupportedEncryptionTypes"
RC4 = 0x4
AES = 0x8 | 0x10


def names(value: int) -> str:
    bits = [(0x1, "DES-CBC-CRC"), (0x2, "DES-CBC-MD5"), (RC4, "RC4"), (0x8, "AES128"), (0x10, "AES256")]
    return ", ".join(n for bit, n in bits if value & bit) or "none"


DES = 0x1 | 0x2
POLICY = "Network security: Configure encryption types allowed for Kerberos"
POLICY_PATH = ("Computer Configuration > Policies > Windows Settings > Security Settings > Local Policies > "
               "Security Options")


@check(
    id="host-kerberos-rc4-only",
    title="Computer account supports AES for Kerberos",
    severity=Severity.HIGH,
    subject=SubjectKind.HOST,
    requires=("host.ad_computer?", "host.computer_system?"),
    rationale="""Live migration with Kerberos relies on service tickets to the host's computer account
    (constrained delegation to its migration service and cifs). The KDC encrypts them with a type the
    account advertises in msDS-SupportedEncryptionTypes (0x1/0x2 DES, 0x4 RC4, 0x8 AES128, 0x10
    AES256). An account that advertises RC4 but no AES gets RC4 tickets: moves work while the domain
    still issues RC4 and break, with the migration's delegation, once it is withdrawn, a high
    warning. An account that advertises DES alone fails: DES is off by default since Windows 7 and
    Windows Server 2008 R2, so no ticket type is left. Not set at all (or 0), the domain's default
    applies (DefaultDomainSupportedEncTypes on the DCs, RC4 on older ones): a low warning to set it.
    Windows writes the attribute itself from the host's policy "Network security: Configure
    encryption types allowed for Kerberos", so that policy must be changed first, or the host puts
    its old value back; the KDC reads the attribute at once, and purging the host's tickets makes it
    ask for new ones.""",
    references=(DOCS["kile-enctypes"], DOCS["ada2-enctypes"], DOCS["set-adcomputer"]),
    fix_hint="First the host's Kerberos encryption-types policy (AES128, AES256), then Set-ADComputer "
    "-KerberosEncryptionType AES128,AES256, then klist -li 0x3e7 purge on the host.",
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
    flags = 0 if value is None else int(value)
    if flags & AES:
        return Outcome(Status.PASS, f"{host.short} supports {names(flags)} for Kerberos.", evidence=evidence)
    fix = _fix(host)
    if not flags & (DES | RC4):
        what = "is not set" if value is None else f"is {hex(flags)}, no type"
        return Outcome(
            Status.WARNING,
            f"{host.short} does not state its Kerberos encryption types ({ATTR} {what}): the domain's default "
            "decides, RC4 on DCs not told otherwise.",
            fix,
            evidence,
            severity=Severity.LOW,
        )
    if not flags & RC4:
        return Outcome(
            Status.FAIL,
            f"{host.short} advertises only {names(flags)} for Kerberos ({ATTR} {hex(flags)}): DES is off by default "
            "since Windows 7 and Windows Server 2008 R2, so the KDC has no type left for tickets to it, and Kerberos "
            "moves (with their delegation) fail.",
            fix,
            evidence,
        )
    # RC4 still works where the domain allows it: a risk with a date, not a blocked move today.
    return Outcome(
        Status.WARNING,
        f"{host.short} advertises only {names(flags)} for Kerberos ({ATTR} {hex(flags)}): moves work while the "
        "domain still issues RC4 tickets, and fail, with the migration's delegation, once RC4 is withdrawn.",
        fix,
        evidence,
        severity=Severity.HIGH,
    )


def _fix(host: HostRef) -> Fix:
    """In this order: the host's policy (or it writes its old value back), the attribute, the host's tickets."""
    return ad_fix(
        summary=f"Let {host.short} use AES for Kerberos, in this order. 1. Set the policy \"{POLICY}\" to AES128 "
        f"and AES256 in the Group Policy that applies to {host.short} (or its local policy): {host.short} writes "
        f"{ATTR} from that policy, so changing the attribute first is undone. 2. Set the attribute on "
        f"{host.short}'s computer object. 3. The KDC uses the new value at once: purge {host.short}'s computer "
        f"tickets (klist -li 0x3e7 purge on {host.short}) so it asks for new ones. Reset {host.short}'s machine "
        "password only if its account has no AES keys (its password has not changed since the domain gained AES).",
        powershell=f"# 1. First: the policy \"{POLICY}\" = AES128_HMAC_SHA1, AES256_HMAC_SHA1 in the GPO that "
        f"applies to {host.short}\n#    ({POLICY_PATH}), then gpupdate /force on {host.short}.\n"
        "# 2. Then the attribute:\n"
        f"Set-ADComputer -Identity {ps_quote(host.short)}{server(host.domain)} "
        "-KerberosEncryptionType 'AES128', 'AES256'\n"
        f"# 3. The KDC uses it at once; let {host.short} drop its old tickets (needs local admin rights there):\n"
        f"Invoke-Command -ComputerName {ps_quote(host.fqdn)} -ScriptBlock {{ klist -li 0x3e7 purge }}",
        gui=f"Group Policy Management > the GPO linked to {host.short} > {POLICY_PATH} > {POLICY}; then Active "
        f"Directory Users and Computers > {host.short} > Properties > Attribute Editor > {ATTR}",
        docs=(DOCS["set-adcomputer"], DOCS["kile-enctypes"]),
    )
