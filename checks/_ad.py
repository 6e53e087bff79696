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

from audit.facts import HostRef
from audit.model import Fix
from audit.psquote import ps_array, ps_quote
from checks._fixes import in_ad

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
    """The two names ADUC writes for one service on one host: NetBIOS name and FQDN."""
    return (f"{service}/{host.short}", f"{service}/{host.fqdn}")


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


def rbcd_for(dst_computer: Mapping[str, Any] | None, src: HostRef, src_sid: str | None) -> Rbcd:
    """Does the destination's msDS-AllowedToActOnBehalfOfOtherIdentity list the source?

    Matched by SID when the source's SID is known, else by its account name (DOMAIN\\NAME$).
    """
    if dst_computer is None:
        return Rbcd(False, False, ())
    entries = list(dst_computer.get("msDS-AllowedToActOnBehalfOfOtherIdentity") or [])
    shown = tuple(f"{e.get('name') or '?'} ({e['sid']})" for e in entries)
    account = f"{src.short}$".casefold()
    for entry in entries:
        if src_sid and str(entry["sid"]).upper() == src_sid.upper():
            return Rbcd(True, True, shown)
        name = str(entry.get("name") or "").casefold()
        if not src_sid and (name == account or name.endswith("\\" + account)):
            return Rbcd(True, True, shown)
    return Rbcd(True, False, shown)


def add_delegation_ps(src: HostRef, entries: list[str]) -> str:
    """Add constrained-delegation targets to the source's computer object (existing ones untouched)."""
    return (
        f"Set-ADComputer -Identity {ps_quote(src.short)}{server(src.domain)} "
        f"-Add @{{'msDS-AllowedToDelegateTo'={ps_array(entries)}}}"
    )


def any_protocol_ps(src: HostRef) -> str:
    """Select "Use any authentication protocol" (TRUSTED_TO_AUTH_FOR_DELEGATION) on the source."""
    return (
        f"Set-ADAccountControl -Identity (Get-ADComputer -Identity {ps_quote(src.short)}{server(src.domain)})"
        f"{server(src.domain)} -TrustedToAuthForDelegation $true"
    )


def rbcd_ps(src: HostRef, dst: HostRef) -> str:
    """Add the source to the destination's resource-based delegation, keeping the principals already listed."""
    return "\n".join(
        [
            f"$source = Get-ADComputer -Identity {ps_quote(src.short)}{server(src.domain)}",
            f"$current = (Get-ADComputer -Identity {ps_quote(dst.short)}{server(dst.domain)} "
            "-Properties PrincipalsAllowedToDelegateToAccount).PrincipalsAllowedToDelegateToAccount",
            f"Set-ADComputer -Identity {ps_quote(dst.short)}{server(dst.domain)} "
            "-PrincipalsAllowedToDelegateToAccount (@($current) + @($source) | Where-Object { $_ })",
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
) -> Fix:
    """checks._fixes.in_ad, with who and where narrowed when a fix needs a particular domain's admins."""
    fix = in_ad(summary, powershell, docs=docs, gui=gui)
    return replace(fix, run_as=run_as or fix.run_as, run_on=run_on or fix.run_on)


def purge_tickets_ps(src: HostRef) -> str:
    """New delegation takes effect with a new ticket: purge the source's SYSTEM tickets (or wait 15 min)."""
    return (
        "# Then let the source pick up the change (or wait up to 15 minutes):\n"
        f"Invoke-Command -ComputerName {ps_quote(src.fqdn)} -ScriptBlock {{ klist purge -li 0x3e7 }}"
    )
