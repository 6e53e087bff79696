"""Active Directory rules shared by the domain, operator-rights and authentication checks.

Written once so that every check reads SIDs, userAccountControl flags, delegation entries and the
direction of delegation the same way, and words the AD fixes the same way. Names that came from a
host or the directory reach PowerShell only through audit.psquote.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from hvlm.audit.facts import Facts, HostRef
from hvlm.audit.model import Fix, Outcome, Status
from hvlm.audit.psquote import ps_array, ps_quote
from hvlm.checks._fixes import in_ad

HYPERV_ADMINISTRATORS = "S-1-5-32-578"
ADMINISTRATORS = "S-1-5-32-544"
LOCAL_GROUP_NAMES = {HYPERV_ADMINISTRATORS: "Hyper-V Administrators", ADMINISTRATORS: "Administrators"}

# userAccountControl flags (learn.microsoft.com/windows/win32/adschema/a-useraccountcontrol)
TRUSTED_FOR_DELEGATION = 0x80000  # unconstrained delegation
NOT_DELEGATED = 0x100000  # "Account is sensitive and cannot be delegated"
TRUSTED_TO_AUTH_FOR_DELEGATION = 0x1000000  # "Use any authentication protocol"

DOMAIN_ADMINS_RID = 512
PROTECTED_USERS_RID = 525
DC_ROLES = frozenset({4, 5})  # Win32_ComputerSystem.DomainRole: backup / primary domain controller
FIRST_ANY_PROTOCOL_BUILD = 14393  # Windows Server 2016: WMI v2 over WinRM needs protocol transition

MIGRATION_SERVICE = "Microsoft Virtual System Migration Service"
CIFS = "cifs"

_DOMAIN_SID = re.compile(r"^(S-1-5-21-\d+-\d+-\d+)-(\d+)$", re.IGNORECASE)
_AD_OS_VERSION = re.compile(r"\((\d+)\)")  # operatingSystemVersion "10.0 (17763)"

NETBIOS_MAX = 15  # a NetBIOS computer name (and the sAMAccountName before its "$") has at most 15 characters


def netbios(name: str) -> str:
    """The NetBIOS form of a host's first DNS label: upper case, cut to 15 characters as Windows cuts it."""
    return name.upper()[:NETBIOS_MAX]


def ad_host(f: Facts, role: str = "host") -> HostRef:
    """The host as AD names it: `short` is the NetBIOS name (at most 15 characters).

    A snapshot without host facts (a directory-only collection) derives the short name from the
    FQDN's first label, which can be longer than a NetBIOS name; AD's sAMAccountName and the short
    SPNs ADUC writes use the first 15 characters, so every AD name and SPN goes through here.
    """
    ref = f.host(role)
    short = netbios(ref.short)
    return ref if short == ref.short else replace(ref, short=short)


def os_build(os_info: Mapping[str, Any] | None, computer: Mapping[str, Any] | None) -> tuple[int | None, str]:
    """A host's build number and where it came from: Win32_OperatingSystem, else AD's operatingSystemVersion.

    A directory-only audit has no host facts, but the computer object records "10.0 (17763)".
    """
    if os_info is not None and str(os_info.get("BuildNumber") or "").isdigit():
        return int(os_info["BuildNumber"]), "Win32_OperatingSystem.BuildNumber on the host"
    text = str((computer or {}).get("operatingSystemVersion") or "")
    match = _AD_OS_VERSION.search(text)
    if match:
        return int(match.group(1)), f"the computer object's operatingSystemVersion in AD ({text!r}): host facts not collected"
    return None, "unknown: neither the host's Win32_OperatingSystem nor AD's operatingSystemVersion was available"


def outside_domain(f: Facts, *roles: str, what: str) -> Outcome | None:
    """NOT_APPLICABLE for a check about AD when a host of the subject is in a workgroup, else None.

    Such a host has no computer object, no delegation and no trust: host-domain-member reports the
    one cause, and the AD checks must not turn it into errors ("could not check") or more failures.
    Each role's f"{role}.computer_system?" must be declared.
    """
    for role in roles:
        cs = f.optional(f"{role}.computer_system")
        if cs is not None and not cs.get("PartOfDomain"):
            ref = f.host(role)
            return Outcome(
                Status.NOT_APPLICABLE,
                f"{ref.name} is not joined to a domain (workgroup {cs.get('Domain')}): it has no computer object in "
                f"Active Directory, so {what} does not apply; host-domain-member reports it.",
                evidence={"host": ref.name, "PartOfDomain": False, "Domain": cs.get("Domain"),
                          "see": "host-domain-member"},
            )
    return None


def unavailable(f: Facts, name: str, fallback: str = "not collected") -> Outcome:
    """The error outcome for an optional fact the check cannot do without, naming why it is missing."""
    err = f.unavailable(name)
    return Outcome(Status.ERROR, f"could not check: {err.path + ': ' + err.message if err else fallback}")


def domain_sid(sid: str) -> str | None:
    """The domain part of a domain account SID (S-1-5-21-a-b-c), or None for other SIDs."""
    match = _DOMAIN_SID.match(sid.strip())
    return match.group(1).upper() if match else None


def has_rid(sids: Iterable[str], rid: int, domain: str | None = None) -> list[str]:
    """The SIDs among `sids` that are `rid` of `domain` (of any domain when `domain` is None)."""
    hits = []
    for sid in sids:
        match = _DOMAIN_SID.match(str(sid).strip())
        if match and int(match.group(2)) == rid and (domain is None or match.group(1).upper() == domain.upper()):
            hits.append(str(sid))
    return hits


UNKNOWN_AUTH = "unknown (Get-VMHost not collected)"


def auth_type(vmhost: Mapping[str, Any] | None) -> str:
    if vmhost is None:
        return UNKNOWN_AUTH
    return str(vmhost["VirtualMachineMigrationAuthenticationType"])


def uses_kerberos(src_vmhost: Mapping[str, Any] | None, dst_vmhost: Mapping[str, Any] | None) -> bool:
    """A pair is treated as Kerberos when either host is set to Kerberos, or its setting is unknown.

    A mismatch is pair-auth-type-match's failure; the documented way out of it (and the only one on
    Windows Server 2025 with Credential Guard) is Kerberos on both, which needs the delegation. An
    unknown setting (a directory-only collection, without WinRM) is audited as Kerberos, so a
    delegation audit still judges the entries instead of reporting nothing.
    """
    return auth_type(src_vmhost) != "CredSSP" or auth_type(dst_vmhost) != "CredSSP"


def same_domain(a: HostRef, b: HostRef) -> bool:
    return bool(a.domain) and bool(b.domain) and str(a.domain).lower() == str(b.domain).lower()


def spn_forms(service: str, host: HostRef) -> tuple[str, str]:
    """The two names ADUC writes for one service on one host: NetBIOS name (15 characters at most) and FQDN."""
    return (f"{service}/{netbios(host.short)}", f"{service}/{host.fqdn}")


def missing(present: Iterable[str], wanted: Iterable[str]) -> list[str]:
    """The wanted names absent from `present`, compared case-insensitively as AD compares SPNs."""
    have = {str(v).strip().casefold() for v in present}
    return [w for w in wanted if w.casefold() not in have]


def server(domain: str | None) -> str:
    """` -Server 'domain'` for AD cmdlets, so the fix works from a machine in another domain."""
    return f" -Server {ps_quote(domain)}" if domain else ""


def uac(computer: Mapping[str, Any]) -> int:
    return int(computer.get("userAccountControl") or 0)


@dataclass(frozen=True)
class Rbcd:
    """Resource-based delegation on the destination's object, as far as it could be read."""

    known: bool  # False: the destination's computer object was not available
    lists_source: bool
    principals: tuple[str, ...]  # "name (SID)" of every principal listed
    # principals that are not computer accounts (groups, or SIDs whose name could not be read): the
    # source may be a member, which the collected facts cannot tell (no group memberships are read)
    unresolved: tuple[str, ...] = ()


def rbcd_for(dst_computer: Mapping[str, Any] | None, src: HostRef, src_sid: str | None) -> Rbcd:
    """Does the destination's msDS-AllowedToActOnBehalfOfOtherIdentity list the source?

    Matched by SID when the source's SID is known, else by its account name (DOMAIN\\NAME$).
    A listed principal whose name does not end in "$" is not a computer account: it may be a group
    holding the source, so it is returned in `unresolved` rather than read as "absent".
    """
    if dst_computer is None:
        return Rbcd(False, False, ())
    entries = list(dst_computer.get("msDS-AllowedToActOnBehalfOfOtherIdentity") or [])
    shown = tuple(f"{e.get('name') or '?'} ({e['sid']})" for e in entries)
    account = f"{netbios(src.short)}$".casefold()
    for entry in entries:
        if src_sid and str(entry["sid"]).upper() == src_sid.upper():
            return Rbcd(True, True, shown)
        name = str(entry.get("name") or "").casefold()
        if not src_sid and (name == account or name.endswith("\\" + account)):
            return Rbcd(True, True, shown)
    unresolved = tuple(
        f"{e.get('name') or '?'} ({e['sid']})" for e in entries if not str(e.get("name") or "").endswith("$")
    )
    return Rbcd(True, False, shown, unresolved)


def domain_admin_run_as(operator: Mapping[str, Any] | None, operator_name: str | None, domain: str | None,
                        computer: Mapping[str, Any] | None, extra: str = "") -> str:
    """Who must run an AD change in `domain`, and whether the operator is one of them.

    The operator's tokenGroups hold the Domain Admins SID (domain SID + "-512") of that domain, or
    they do not; the domain SID is read from the changed computer object's objectSid. Without the
    operator fact the role alone is named.
    """
    who = f"a member of Domain Admins of {domain}{extra}" if domain else f"a member of Domain Admins{extra}"
    if operator is None or computer is None:
        return who
    dsid = domain_sid(str(computer.get("objectSid") or ""))
    if dsid is None:
        return who
    account = operator_name or f"{operator.get('domain')}\\{operator.get('sAMAccountName')}"
    if has_rid(operator.get("tokenGroups") or [], DOMAIN_ADMINS_RID, dsid):
        return f"{who} (the operator {account} is one)"
    return f"{who}; the operator {account} is not a Domain Admin of {domain or 'that domain'}, so someone who is must run it"


def add_delegation_ps(src: HostRef, entries: list[str]) -> str:
    """Add constrained-delegation targets to the source's computer object, checked when the script runs:
    it reads msDS-AllowedToDelegateTo, compares case-insensitively (as AD does), says which entries are
    already there and adds only the others. `Set-ADComputer -Add` of a value already present fails
    ("The specified value already exists"), which would stop a script under $ErrorActionPreference
    'Stop'; so running it twice, or after someone added an entry by hand, changes nothing."""
    ident = f"-Identity {ps_quote(netbios(src.short))}{server(src.domain)}"
    short = netbios(src.short)
    once: dict[str, str] = {}
    for entry in entries:  # each entry once, in its first spelling: AD would refuse the second
        once.setdefault(entry.casefold(), entry)
    return "\n".join(
        [
            "# Adds to msDS-AllowedToDelegateTo only the entries the computer object lacks when this runs (compared",
            "# case-insensitively, as AD does); entries already there are kept and named.",
            f"$delegateTo = {ps_array(once.values())}",
            f"$present = @((Get-ADComputer {ident} -Properties 'msDS-AllowedToDelegateTo').'msDS-AllowedToDelegateTo')",
            "$kept = @($delegateTo | Where-Object { $present -contains $_ })",
            "$toAdd = @($delegateTo | Where-Object { $present -notcontains $_ })",
            "if ($kept.Count -gt 0) {",
            f"    Write-Output ({ps_quote(short + ' already delegates to (kept): ')} + ($kept -join ', '))",
            "}",
            "if ($toAdd.Count -gt 0) {",
            f"    Set-ADComputer {ident} -Add @{{'msDS-AllowedToDelegateTo' = [string[]]$toAdd}}",
            f"    Write-Output ({ps_quote(short + ' may now delegate to: ')} + ($toAdd -join ', '))",
            "}",
        ]
    )


def any_protocol_ps(src: HostRef) -> str:
    """Select "Use any authentication protocol" (TRUSTED_TO_AUTH_FOR_DELEGATION) on the source."""
    return (
        f"Set-ADAccountControl -Identity (Get-ADComputer -Identity {ps_quote(netbios(src.short))}{server(src.domain)})"
        f"{server(src.domain)} -TrustedToAuthForDelegation $true"
    )


def rbcd_ps(src: HostRef, dst: HostRef) -> str:
    """Add the source to the destination's resource-based delegation, keeping the principals already listed;
    a source already listed is left alone, so running it again changes nothing."""
    return "\n".join(
        [
            f"$source = Get-ADComputer -Identity {ps_quote(netbios(src.short))}{server(src.domain)}",
            f"$current = (Get-ADComputer -Identity {ps_quote(netbios(dst.short))}{server(dst.domain)} "
            "-Properties PrincipalsAllowedToDelegateToAccount).PrincipalsAllowedToDelegateToAccount",
            "if (@($current) -notcontains $source.DistinguishedName) {",
            f"    Set-ADComputer -Identity {ps_quote(netbios(dst.short))}{server(dst.domain)} "
            "-PrincipalsAllowedToDelegateToAccount (@($current) + @($source.DistinguishedName) | Where-Object { $_ })",
            "}",
        ]
    )


def ad_fix(
    summary: str,
    powershell: str,
    *,
    docs: tuple[str, ...],
    gui: str | None = None,
    run_as: str | None = None,
    run_on: str | None = None,
    kind: str = "change",
) -> Fix:
    """checks._fixes.in_ad, with who and where narrowed when a fix needs a particular domain's admins."""
    fix = in_ad(summary, powershell, docs=docs, gui=gui, kind=kind)
    return replace(fix, run_as=run_as or fix.run_as, run_on=run_on or fix.run_on)


def purge_tickets_ps(src: HostRef) -> str:
    """New delegation takes effect with a new ticket: purge the source's SYSTEM tickets. A ticket obtained
    before the change stays valid for its lifetime (10 hours by default). The purge needs local admin
    rights on the source, which an AD admin may not have: a refusal warns and the script goes on."""
    return (
        "# Then let the source pick up the change: a ticket obtained before it stays valid up to 10 hours by\n"
        "# default. Needs local admin rights on the source; if refused, run klist purge -li 0x3e7 there.\n"
        f"Invoke-Command -ComputerName {ps_quote(src.fqdn)} -ScriptBlock {{ klist purge -li 0x3e7 }} "
        "-ErrorAction Continue"
    )
