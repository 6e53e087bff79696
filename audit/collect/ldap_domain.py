"""What one domain's directory holds for the audit, read in a fixed number of searches.

Per domain, whatever the fleet size: rootDSE, the domain object, its crossRef (NetBIOS name), one
paged OR search for all inventory computers (split only past MAX_HOSTS_PER_FILTER hosts), the
trustedDomain objects, and at most one search resolving the SIDs that resource-based delegation
names. The operator adds two (find the account, then read its tokenGroups, which AD computes only
in a base-scope read). Values are decoded from raw bytes into the snapshot schema's shapes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hvlm.audit.collect.ldap_conn import DirectoryError, LdapSession
from hvlm.audit.collect.ldap_filter import (
    MAX_HOSTS_PER_FILTER,
    HostName,
    and_filter,
    chunks,
    computers_filter,
    equals,
    or_filter,
)
from hvlm.audit.collect.sddl import (
    SecurityDescriptorError,
    allowed_principals,
    extended_right_holders,
    parse_security_descriptor,
    sid_from_bytes,
    sid_to_bytes,
)
from hvlm.audit.words import count

__all__ = [
    "ALLOWED_TO_AUTHENTICATE",
    "COMPUTER_ATTRIBUTES",
    "DomainRead",
    "OperatorAccount",
    "computers_command",
    "parse_operator_account",
    "read_computers",
    "read_domain",
    "read_operator",
    "read_trusts",
    "resolve_sid_names",
]

COMPUTER_ATTRIBUTES = (
    "distinguishedName",
    "dNSHostName",
    "sAMAccountName",
    "objectSid",
    "servicePrincipalName",
    "msDS-AllowedToDelegateTo",
    "userAccountControl",
    "msDS-SupportedEncryptionTypes",
    "msDS-AllowedToActOnBehalfOfOtherIdentity",
    "operatingSystem",
    "operatingSystemVersion",
    "whenChanged",
)
# "Allowed to Authenticate" (rightsGuid of the extended right): what a trust with selective
# authentication requires on a computer object for accounts of the trusted domain ([MS-ADTS] 6.1.6.7.10).
ALLOWED_TO_AUTHENTICATE = "68b1d179-0d15-4d4f-ab71-46152e79a7bc"
SD_FLAGS_OID = "1.2.840.113556.1.4.801"
DACL_SECURITY_INFORMATION = 0x4
TRUST_ATTRIBUTE_CROSS_ORGANIZATION = 0x10  # selective authentication
TRUST_DIRECTION_OUTBOUND = 0x2  # this domain trusts the partner: the partner's accounts come in
_TRUST_ATTRIBUTES = ("trustPartner", "flatName", "trustDirection", "trustType", "trustAttributes")
_OPERATOR_ATTRIBUTES = (
    "distinguishedName",
    "sAMAccountName",
    "userPrincipalName",
    "objectSid",
    "userAccountControl",
    "memberOf",
)

# Names for SIDs no domain search returns (well-known principals, [MS-DTYP] 2.4.2.4).
_WELL_KNOWN = {
    "S-1-1-0": "Everyone",
    "S-1-5-11": "NT AUTHORITY\\Authenticated Users",
    "S-1-5-18": "NT AUTHORITY\\SYSTEM",
    "S-1-5-9": "NT AUTHORITY\\ENTERPRISE DOMAIN CONTROLLERS",
    "S-1-5-32-544": "BUILTIN\\Administrators",
    "S-1-18-1": "Authentication authority asserted identity",
    "S-1-18-2": "Service asserted identity",
}


# -- decoding ---------------------------------------------------------------------------------


def _text(values: Sequence[bytes] | None) -> str | None:
    if not values:
        return None
    return values[0].decode("utf-8", "replace")


def _texts(values: Sequence[bytes] | None) -> list[str]:
    return [v.decode("utf-8", "replace") for v in values or []]


def _int(values: Sequence[bytes] | None) -> int | None:
    text = _text(values)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _sid(values: Sequence[bytes] | None) -> str | None:
    if not values:
        return None
    try:
        return sid_from_bytes(values[0])
    except SecurityDescriptorError:
        return None


def generalized_time(text: str | None) -> str | None:
    """``20261125193621.0Z`` -> ``2026-11-25T19:36:21Z`` (RFC 4517 GeneralizedTime, UTC)."""
    if not text:
        return None
    core = text.rstrip("Z").split(".")[0].split(",")[0]
    try:
        when = dt.datetime.strptime(core[:14], "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return when.replace(tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")


def dn_to_domain(dn: str) -> str:
    return ".".join(p.split("=", 1)[1] for p in dn.split(",") if p.strip().upper().startswith("DC=")).lower()


# -- domain -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DomainRead:
    """The domain info fact value plus what later searches need."""

    info: dict[str, Any]
    base_dn: str
    configuration_dn: str | None
    dc_name: str | None


def read_domain(session: LdapSession, domain: str) -> DomainRead:
    """rootDSE, the domain object and its crossRef: three base or one-level reads."""
    root = session.search(
        "",
        "(objectClass=*)",
        ("defaultNamingContext", "configurationNamingContext", "currentTime", "dnsHostName"),
        scope="base",
        paged=False,
    )
    if not root:
        raise DirectoryError("ldap_error", f"{session.dc.name} returned no rootDSE")
    attrs = root[0][1]
    base_dn = _text(attrs.get("defaultNamingContext"))
    if not base_dn:
        raise DirectoryError("ldap_error", f"{session.dc.name} did not say its defaultNamingContext")
    served = dn_to_domain(base_dn)
    if served != domain.lower():
        raise DirectoryError(
            "wrong_domain",
            f"{session.dc.name} is a domain controller of {served}, not of {domain}; name a DC of {domain} "
            f"with --dc {domain}=DC",
        )
    config_dn = _text(attrs.get("configurationNamingContext"))
    domain_obj = session.search(base_dn, "(objectClass=*)", ("objectSid", "name"), scope="base", paged=False)
    if not domain_obj or not domain_obj[0][1].get("objectSid"):
        raise DirectoryError(
            "not_readable",
            f"{session.user} could not read objectSid of {base_dn} on {session.dc.name}; bind as a domain user",
        )
    netbios = None
    dns_root = domain.lower()
    if config_dn:
        refs = session.search(
            f"CN=Partitions,{config_dn}",
            and_filter([equals("objectClass", "crossRef"), equals("nCName", base_dn)]),
            ("nETBIOSName", "dnsRoot"),
            scope="one",
            paged=False,
        )
        if refs:
            netbios = _text(refs[0][1].get("nETBIOSName"))
            dns_root = (_text(refs[0][1].get("dnsRoot")) or dns_root).lower()
    info = {
        "dnsRoot": dns_root,
        "nETBIOSName": netbios,
        "distinguishedName": base_dn,
        "objectSid": _sid(domain_obj[0][1].get("objectSid")) or "",
        "currentTime": generalized_time(_text(attrs.get("currentTime"))),
    }
    return DomainRead(info, base_dn, config_dn, _text(attrs.get("dnsHostName")))


# -- computers --------------------------------------------------------------------------------


def computers_command(base_dn: str, hosts: Sequence[HostName], with_acl: bool = False) -> str:
    """The fact's provenance: the search, summarised (the full OR filter can be megabytes)."""
    return (
        f"ldap search {base_dn} subtree (&(objectCategory=computer)(|(dNSHostName=...)(sAMAccountName=...))) "
        f"for {count(len(hosts), 'host')} in {count(-(-len(hosts) // MAX_HOSTS_PER_FILTER), 'filter')}; "
        f"attributes {','.join(COMPUTER_ATTRIBUTES)}"
        + (",nTSecurityDescriptor (DACL: SD flags control 0x4)" if with_acl else "")
    )


def sd_flags_control(flags: int = DACL_SECURITY_INFORMATION) -> tuple[str, bool, bytes]:
    """The LDAP_SERVER_SD_FLAGS control asking for the DACL alone (BER SEQUENCE { INTEGER flags }).

    Without it AD returns nTSecurityDescriptor with its SACL, which only holders of the
    "Manage auditing and security log" right may read: any other bind gets no descriptor at all.
    """
    body = flags.to_bytes(max(1, (flags.bit_length() + 8) // 8), "big")
    return (SD_FLAGS_OID, False, bytes([0x30, 2 + len(body), 0x02, len(body)]) + body)


def selective_trusts(trusts: Sequence[dict[str, Any]]) -> list[str]:
    """Partners whose accounts this domain accepts only under selective authentication."""
    return [
        str(t["trustPartner"]) for t in trusts
        if int(t["trustAttributes"]) & TRUST_ATTRIBUTE_CROSS_ORGANIZATION
        and int(t["trustDirection"]) & TRUST_DIRECTION_OUTBOUND
    ]


def _allowed_to_authenticate(dn: str, values: Sequence[bytes] | None) -> dict[str, Any]:
    """Who holds "Allowed to Authenticate" on the object, from its DACL, or why it is not known."""
    if not values:
        return {
            "readable": False,
            "reason": f"the domain controller returned no nTSecurityDescriptor for {dn} although the DACL was asked "
            "for (SD flags control): the bind account may not read its permissions (READ_CONTROL); bind with an "
            "account that may",
            "allowed": [],
            "denied": [],
        }
    try:
        allowed, denied = extended_right_holders(parse_security_descriptor(values[0]), ALLOWED_TO_AUTHENTICATE)
    except SecurityDescriptorError as exc:
        return {"readable": False, "reason": f"nTSecurityDescriptor of {dn} is not a valid descriptor: {exc}",
                "allowed": [], "denied": []}
    return {"readable": True, "reason": None, "allowed": allowed, "denied": denied}


def _computer(dn: str, attrs: dict[str, list[bytes]], with_acl: bool = False) -> dict[str, Any]:
    sam = _text(attrs.get("sAMAccountName"))
    uac = _int(attrs.get("userAccountControl"))
    missing = [name for name, value in (("sAMAccountName", sam), ("userAccountControl", uac)) if value is None]
    if missing:
        raise DirectoryError(
            "not_readable",
            f"{', '.join(missing)} of {dn} could not be read: the bind account lacks read access to it. Bind with "
            "an account that may read computer objects.",
        )
    rbcd_raw = attrs.get("msDS-AllowedToActOnBehalfOfOtherIdentity") or []
    principals: list[dict[str, Any]] = []
    for blob in rbcd_raw:
        try:
            sids = allowed_principals(parse_security_descriptor(blob))
        except SecurityDescriptorError as exc:
            raise DirectoryError(
                "decode_error", f"msDS-AllowedToActOnBehalfOfOtherIdentity of {dn} is not a valid descriptor: {exc}"
            ) from None
        principals.extend({"sid": s, "name": None} for s in sids if all(p["sid"] != s for p in principals))
    return {
        "distinguishedName": _text(attrs.get("distinguishedName")) or dn,
        "dNSHostName": (_text(attrs.get("dNSHostName")) or "").lower() or None,
        "sAMAccountName": sam,
        "objectSid": _sid(attrs.get("objectSid")),
        "servicePrincipalName": sorted(_texts(attrs.get("servicePrincipalName")), key=str.lower),
        "msDS-AllowedToDelegateTo": sorted(_texts(attrs.get("msDS-AllowedToDelegateTo")), key=str.lower),
        "userAccountControl": uac,
        "msDS-SupportedEncryptionTypes": _int(attrs.get("msDS-SupportedEncryptionTypes")),
        "msDS-AllowedToActOnBehalfOfOtherIdentity": principals,
        "operatingSystem": _text(attrs.get("operatingSystem")),
        "operatingSystemVersion": _text(attrs.get("operatingSystemVersion")),
        "whenChanged": generalized_time(_text(attrs.get("whenChanged"))),
    } | ({"allowedToAuthenticate": _allowed_to_authenticate(dn, attrs.get("nTSecurityDescriptor"))} if with_acl else {})


def read_computers(
    session: LdapSession,
    base_dn: str,
    hosts: Sequence[HostName],
    chunk_size: int = MAX_HOSTS_PER_FILTER,
    with_acl: bool = False,
) -> list[dict[str, Any]]:
    """The computer objects of ``hosts``: one paged search per chunk of hosts, never one per host.

    ``with_acl`` (a domain with a selective-authentication trust) also reads each object's DACL, in
    the same search, for who holds "Allowed to Authenticate" on it."""
    found: dict[str, dict[str, Any]] = {}
    attributes = (*COMPUTER_ATTRIBUTES, "nTSecurityDescriptor") if with_acl else COMPUTER_ATTRIBUTES
    controls = [sd_flags_control()] if with_acl else []
    for chunk in chunks(hosts, chunk_size):
        for dn, attrs in session.search(base_dn, computers_filter(chunk), attributes, controls=controls):
            found.setdefault(dn.lower(), _computer(dn, attrs, with_acl))
    return sorted(found.values(), key=lambda c: str(c["sAMAccountName"]).lower())


def resolve_sid_names(
    session: LdapSession | None,
    base_dn: str | None,
    netbios: str | None,
    computers: Iterable[dict[str, Any]],
    known: dict[str, str],
) -> None:
    """Fill the names of RBCD principals: from ``known`` (SIDs of every collected computer, all
    domains), well-known SIDs, then one search in this domain for the rest. Unresolvable SIDs
    (other forests, deleted accounts) keep ``name: None``."""
    entries = [p for c in computers for p in c["msDS-AllowedToActOnBehalfOfOtherIdentity"]]
    for p in entries:
        p["name"] = known.get(p["sid"]) or _WELL_KNOWN.get(p["sid"])
    todo = sorted({p["sid"] for p in entries if p["name"] is None})
    if not todo or session is None or base_dn is None:
        return
    names: dict[str, str] = {}
    filt = or_filter(equals("objectSid", sid_to_bytes(s)) for s in todo)
    for _dn, attrs in session.search(base_dn, filt, ("objectSid", "sAMAccountName")):
        sid, sam = _sid(attrs.get("objectSid")), _text(attrs.get("sAMAccountName"))
        if sid and sam:
            names[sid] = f"{netbios}\\{sam}" if netbios else sam
    for p in entries:
        if p["name"] is None:
            p["name"] = names.get(p["sid"])


# -- trusts -----------------------------------------------------------------------------------


def read_trusts(session: LdapSession, base_dn: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for dn, attrs in session.search(f"CN=System,{base_dn}", "(objectClass=trustedDomain)", _TRUST_ATTRIBUTES):
        partner = _text(attrs.get("trustPartner"))
        values = {k: _int(attrs.get(k)) for k in ("trustDirection", "trustType", "trustAttributes")}
        if partner is None or any(v is None for v in values.values()):
            raise DirectoryError(
                "not_readable", f"the trust {dn} could not be read in full: the bind account lacks read access"
            )
        out.append({"trustPartner": partner.lower(), "flatName": _text(attrs.get("flatName")), **values})
    return sorted(out, key=lambda t: str(t["trustPartner"]))


# -- operator ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OperatorAccount:
    """The operator as the inventory names it: ``DOMAIN\\user``, ``user@domain`` or ``user``."""

    text: str
    user: str
    netbios: str | None = None
    dns_domain: str | None = None


def parse_operator_account(text: str) -> OperatorAccount:
    value = text.strip()
    if "\\" in value:
        dom, _, user = value.partition("\\")
        if not dom or not user or "\\" in user:
            raise ValueError(f"operator {text!r} is not DOMAIN\\user")
        if "." in dom:
            return OperatorAccount(value, user, None, dom.lower())
        return OperatorAccount(value, user, dom.upper(), None)
    if "@" in value:
        user, _, dom = value.rpartition("@")
        if not user or not dom:
            raise ValueError(f"operator {text!r} is not user@domain")
        return OperatorAccount(value, user, None, dom.lower())
    if not value:
        raise ValueError("the operator account is empty")
    return OperatorAccount(value, value)


def operator_command(base_dn: str, account: OperatorAccount) -> str:
    return f"ldap search {base_dn} for {account.text}; base read of tokenGroups"


def read_operator(session: LdapSession, base_dn: str, domain: str, account: OperatorAccount) -> dict[str, Any]:
    """The operator's account with every group SID it holds, nested ones included (tokenGroups)."""
    by_name = [equals("sAMAccountName", account.user)]
    if account.dns_domain and "@" in account.text:
        by_name.append(equals("userPrincipalName", account.text))
    filt = and_filter([equals("objectClass", "user"), or_filter(by_name)])
    hits = session.search(base_dn, filt, _OPERATOR_ATTRIBUTES)
    if not hits:
        raise DirectoryError(
            "not_found",
            f"no user {account.text} in {domain} (searched sAMAccountName"
            f"{' and userPrincipalName' if len(by_name) > 1 else ''} under {base_dn}); check the inventory's "
            "operator account",
        )
    if len(hits) > 1:
        upn_hits = [h for h in hits if _text(h[1].get("userPrincipalName")) == account.text]
        hits = upn_hits if len(upn_hits) == 1 else hits
    dn, attrs = hits[0]
    sid = _sid(attrs.get("objectSid"))
    sam = _text(attrs.get("sAMAccountName"))
    uac = _int(attrs.get("userAccountControl"))
    if sid is None or sam is None or uac is None:
        raise DirectoryError(
            "not_readable", f"objectSid, sAMAccountName or userAccountControl of {dn} could not be read"
        )
    token = session.search(dn, "(objectClass=*)", ("tokenGroups",), scope="base", paged=False)
    raw_groups = token[0][1].get("tokenGroups") if token else None
    if not raw_groups:
        raise DirectoryError(
            "not_readable",
            f"tokenGroups of {dn} could not be read (AD returns it only to accounts allowed to read it, such as the "
            "account itself or members of Windows Authorization Access Group); bind as the operator or such an "
            "account",
        )
    groups = sorted({sid_from_bytes(v) for v in raw_groups})
    return {
        "domain": domain.lower(),
        "distinguishedName": _text(attrs.get("distinguishedName")) or dn,
        "sAMAccountName": sam,
        "userPrincipalName": _text(attrs.get("userPrincipalName")),
        "objectSid": sid,
        "userAccountControl": uac,
        "tokenGroups": groups,
        "memberOf": sorted(_texts(attrs.get("memberOf")), key=str.lower),
    }
