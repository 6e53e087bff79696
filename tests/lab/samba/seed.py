"""LDIF for the objects tests seed: Hyper-V-like computers, users, groups, memberships.

The records go through ``ldbadd``/``ldbmodify`` on the DC's sam.ldb (see :mod:`.ldb` for why), so
everything, including delegation flags that LDAP reserves to holders of SeEnableDelegationPrivilege,
is set in one step per batch, exactly as it would read back from a real DC.
"""

from __future__ import annotations

import secrets as _secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .ldb import escape_rdn_value, ldif_record, unicode_pwd

# userAccountControl bits (MS-ADTS 2.2.16)
UF_ACCOUNTDISABLE = 0x2
UF_NORMAL_ACCOUNT = 0x200
UF_WORKSTATION_TRUST_ACCOUNT = 0x1000
UF_DONT_EXPIRE_PASSWD = 0x10000
UF_TRUSTED_FOR_DELEGATION = 0x80000
UF_NOT_DELEGATED = 0x100000
UF_TRUSTED_TO_AUTHENTICATE_FOR_DELEGATION = 0x1000000

# groupType values (MS-ADTS 2.2.12): security groups by scope
GROUP_TYPES = {
    "global": -2147483646,
    "domain_local": -2147483644,
    "universal": -2147483640,
}


def random_password() -> str:
    """A password that passes AD complexity rules (machine accounts get one each)."""
    return "Aa1-" + _secrets.token_urlsafe(24)


@dataclass(frozen=True)
class ComputerSpec:
    """One computer account, like a Hyper-V host joined to the domain (a member server).

    ``dns_host_name`` defaults to ``<name lower>.<domain>``; ``password`` to a random one.
    """

    name: str
    dns_host_name: str | None = None
    spns: tuple[str, ...] = ()
    allowed_to_delegate_to: tuple[str, ...] = ()
    trusted_to_auth_for_delegation: bool = False
    trusted_for_delegation: bool = False
    operating_system: str | None = "Windows Server 2022 Datacenter"
    operating_system_version: str | None = "10.0 (20348)"
    enabled: bool = True
    password: str | None = field(default=None, repr=False)

    def user_account_control(self) -> int:
        uac = UF_WORKSTATION_TRUST_ACCOUNT
        if not self.enabled:
            uac |= UF_ACCOUNTDISABLE
        if self.trusted_for_delegation:
            uac |= UF_TRUSTED_FOR_DELEGATION
        if self.trusted_to_auth_for_delegation:
            uac |= UF_TRUSTED_TO_AUTHENTICATE_FOR_DELEGATION
        return uac


def computer_dn(name: str, domain_dn: str) -> str:
    return f"CN={escape_rdn_value(name)},CN=Computers,{domain_dn}"


def users_dn(name: str, domain_dn: str) -> str:
    return f"CN={escape_rdn_value(name)},CN=Users,{domain_dn}"


def computers_ldif(specs: Iterable[ComputerSpec], domain_dn: str, dns_domain: str) -> tuple[str, list[str]]:
    """LDIF adding ``specs``, and the passwords used (for log redaction)."""
    records: list[str] = []
    passwords: list[str] = []
    for spec in specs:
        password = spec.password or random_password()
        passwords.append(password)
        attrs: list[tuple[str, str | bytes]] = [
            ("objectClass", "computer"),
            ("sAMAccountName", f"{spec.name}$"),
            ("userAccountControl", str(spec.user_account_control())),
            ("dNSHostName", spec.dns_host_name or f"{spec.name.lower()}.{dns_domain}"),
        ]
        attrs += [("servicePrincipalName", spn) for spn in spec.spns]
        attrs += [("msDS-AllowedToDelegateTo", spn) for spn in spec.allowed_to_delegate_to]
        if spec.operating_system:
            attrs.append(("operatingSystem", spec.operating_system))
        if spec.operating_system_version:
            attrs.append(("operatingSystemVersion", spec.operating_system_version))
        attrs.append(("unicodePwd", unicode_pwd(password)))
        records.append(ldif_record(computer_dn(spec.name, domain_dn), attrs))
    return "\n".join(records), passwords


def user_ldif(
    name: str, password: str, domain_dn: str, dns_domain: str, *, sensitive_not_delegated: bool, enabled: bool
) -> str:
    """LDIF adding a user in CN=Users with a UPN; "sensitive and cannot be delegated" on request."""
    uac = UF_NORMAL_ACCOUNT | UF_DONT_EXPIRE_PASSWD
    if sensitive_not_delegated:
        uac |= UF_NOT_DELEGATED
    if not enabled:
        uac |= UF_ACCOUNTDISABLE
    attrs: list[tuple[str, str | bytes]] = [
        ("objectClass", "user"),
        ("sAMAccountName", name),
        ("userPrincipalName", f"{name}@{dns_domain}"),
        ("userAccountControl", str(uac)),
        ("unicodePwd", unicode_pwd(password)),
    ]
    return ldif_record(users_dn(name, domain_dn), attrs)


def group_ldif(name: str, domain_dn: str, scope: str) -> str:
    """LDIF adding a security group in CN=Users (``scope``: global, domain_local or universal)."""
    if scope not in GROUP_TYPES:
        raise ValueError(f"group scope must be one of {sorted(GROUP_TYPES)}, not {scope!r}")
    attrs: list[tuple[str, str | bytes]] = [
        ("objectClass", "group"),
        ("sAMAccountName", name),
        ("groupType", str(GROUP_TYPES[scope])),
    ]
    return ldif_record(users_dn(name, domain_dn), attrs)


def escape_filter_value(value: str) -> str:
    """Escape a value for an LDAP filter (RFC 4515)."""
    return "".join(f"\\{ord(ch):02x}" if ch in "*()\\\x00" else ch for ch in value)


def as_tuple(values: Sequence[str] | str) -> tuple[str, ...]:
    """Accept one string or a sequence of them (a lone SPN must not become its characters)."""
    return (values,) if isinstance(values, str) else tuple(values)
