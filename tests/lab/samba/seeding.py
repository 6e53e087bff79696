"""Seeding helpers of :class:`~tests.lab.samba.dc.SambaDC`: computers, delegation, users, groups,
memberships and DNS records.

Directory objects go through ``ldbadd``/``ldbmodify`` on the DC's sam.ldb (batched: one process per
call, 200 computers in about 6 s); resource-based delegation through ``samba-tool delegation
add-principal -H sam.ldb`` (LDAP writes of that attribute are refused); DNS through the DC's DNS
RPC (``samba-tool dns``, the DC's IP as server: the host resolver does not know the lab's zones).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from . import seed
from ._proc import LabError
from .config import DCSettings
from .ldb import LdbTools, escape_rdn_value, ldif_modify, ldif_record
from .seed import ComputerSpec

ALLOWED_TO_AUTHENTICATE = "68b1d179-0d15-4d4f-ab71-46152e79a7bc"  # rightsGuid of the extended right


class DirectorySeeding:
    """Mixed into SambaDC, which provides these attributes and :meth:`samba_tool`."""

    settings: DCSettings
    ldb: LdbTools
    _reverse_zones: set[str]

    def samba_tool(self, *args: str, admin: bool = False, namespaced: bool = False) -> str:
        raise NotImplementedError

    @property
    def _domain_dn(self) -> str:
        return self.settings.domain_dn

    @property
    def _dns_domain(self) -> str:
        return self.settings.dns_domain

    def add_computers_bulk(self, specs: Iterable[ComputerSpec]) -> list[str]:
        """Add many computer accounts in one transaction (200 in about 6 s); returns their DNs."""
        spec_list = list(specs)
        ldif, passwords = seed.computers_ldif(spec_list, self._domain_dn, self._dns_domain)
        self.ldb.add(ldif, secrets=passwords)
        return [seed.computer_dn(s.name, self._domain_dn) for s in spec_list]

    def add_computer(
        self,
        name: str,
        *,
        dns_host_name: str | None = None,
        spns: Sequence[str] | str = (),
        allowed_to_delegate_to: Sequence[str] | str = (),
        trusted_to_auth_for_delegation: bool = False,
        trusted_for_delegation: bool = False,
        operating_system: str | None = "Windows Server 2022 Datacenter",
        operating_system_version: str | None = "10.0 (20348)",
        enabled: bool = True,
        password: str | None = None,
    ) -> str:
        """Add a computer account (a domain-joined Hyper-V host); returns its DN.

        ``trusted_to_auth_for_delegation``: constrained delegation with protocol transition
        ("use any authentication protocol", UAC 0x1000000); ``trusted_for_delegation``:
        unconstrained delegation (UAC 0x80000)."""
        spec = ComputerSpec(
            name=name,
            dns_host_name=dns_host_name,
            spns=seed.as_tuple(spns),
            allowed_to_delegate_to=seed.as_tuple(allowed_to_delegate_to),
            trusted_to_auth_for_delegation=trusted_to_auth_for_delegation,
            trusted_for_delegation=trusted_for_delegation,
            operating_system=operating_system,
            operating_system_version=operating_system_version,
            enabled=enabled,
            password=password,
        )
        return self.add_computers_bulk([spec])[0]

    def add_rbcd(self, target_computer: str, principal_computer: str) -> None:
        """Let ``principal_computer`` delegate to ``target_computer`` (resource-based constrained
        delegation: msDS-AllowedToActOnBehalfOfOtherIdentity on the target). LDAP writes of that
        attribute are refused even to Administrator, so this goes through the local database."""
        self.samba_tool(
            "delegation", "add-principal", _account(target_computer), _account(principal_computer),
            "-H", str(self.ldb.sam_ldb),
        )  # fmt: skip

    def set_encryption_types(self, computer: str, value: int | None) -> None:
        """msDS-SupportedEncryptionTypes of a computer (0x4 RC4, 0x8 AES128, 0x10 AES256), as Windows
        writes it for itself; None removes it, so the domain's default applies."""
        dn = self.dn_of(computer)
        if value is None:
            (current,) = self.ldb.search("(objectClass=*)", ["msDS-SupportedEncryptionTypes"], base=dn, scope="base")
            if "msDS-SupportedEncryptionTypes" in current:
                self.ldb.modify(ldif_modify(dn, "delete", "msDS-SupportedEncryptionTypes", []))
        else:
            self.ldb.modify(ldif_modify(dn, "replace", "msDS-SupportedEncryptionTypes", [str(value)]))

    def allow_to_authenticate(self, computer: str, sid: str) -> None:
        """Grant ``sid`` (any SID, another forest's too) the extended right "Allowed to Authenticate" on a
        computer object, as selective authentication requires: an object ACE added to its DACL."""
        self.samba_tool(
            "dsacl", "set", f"--objectdn={self.dn_of(computer)}", f"--sddl=(OA;;CR;{ALLOWED_TO_AUTHENTICATE};;{sid})",
            "-H", str(self.ldb.sam_ldb),
        )  # fmt: skip

    def set_trust_attributes(self, partner: str, attributes: int) -> int:
        """trustAttributes of this domain's trustedDomain object for ``partner`` (0x10: selective
        authentication); returns the value it had, to put back."""
        found = self.ldb.search(
            f"(&(objectClass=trustedDomain)(trustPartner={seed.escape_filter_value(partner)}))",
            ["trustAttributes"], base=f"CN=System,{self._domain_dn}",
        )  # fmt: skip
        if len(found) != 1:
            raise LabError(f"{len(found)} trusts with {partner!r} in {self.settings.realm}")
        self.ldb.modify(ldif_modify(found[0]["dn"][0], "replace", "trustAttributes", [str(attributes)]))
        return int(found[0]["trustAttributes"][0])

    def add_trusted_domain(self, partner: str, flat_name: str, *, direction: int = 3, trust_type: int = 2,
                           attributes: int = 0x8) -> str:
        """Write a trustedDomain object under CN=System directly (no partner DC, no trust secret): what
        LDAP readers of trusts see, for tests that need a trust's attributes and not a working trust
        (a real one: :class:`~tests.lab.samba.forest.SambaForest`). Returns its DN."""
        dn = f"CN={escape_rdn_value(partner)},CN=System,{self._domain_dn}"
        self.ldb.add(ldif_record(dn, [
            ("objectClass", "trustedDomain"), ("trustPartner", partner), ("flatName", flat_name),
            ("trustDirection", str(direction)), ("trustType", str(trust_type)), ("trustAttributes", str(attributes)),
        ]))  # fmt: skip
        return dn

    def add_user(self, name: str, password: str, *, sensitive_not_delegated: bool = False, enabled: bool = True) -> str:
        """Add a user in CN=Users (UPN name@domain); returns its DN. ``sensitive_not_delegated`` sets
        "Account is sensitive and cannot be delegated" (UAC 0x100000)."""
        ldif = seed.user_ldif(
            name,
            password,
            self._domain_dn,
            self._dns_domain,
            sensitive_not_delegated=sensitive_not_delegated,
            enabled=enabled,
        )
        self.ldb.add(ldif, secrets=[password])
        return seed.users_dn(name, self._domain_dn)

    def add_group(self, name: str, scope: str = "global") -> str:
        """Add a security group in CN=Users; returns its DN."""
        self.ldb.add(seed.group_ldif(name, self._domain_dn, scope))
        return seed.users_dn(name, self._domain_dn)

    def add_member(self, group: str, member: str) -> None:
        """Put ``member`` (user, computer as NAME or NAME$, or group: nesting works) into ``group``.
        Names are sAMAccountNames or DNs."""
        self.add_members(group, [member])

    def add_members(self, group: str, members: Iterable[str]) -> None:
        """Several members in one change."""
        member_dns = [self.dn_of(m) for m in members]
        self.ldb.modify(ldif_modify(self.dn_of(group), "add", "member", member_dns))

    def dn_of(self, name: str) -> str:
        """DN of an account or group by sAMAccountName (computers with or without ``$``), or ``name``
        itself if it already is a DN."""
        if "=" in name and "," in name:
            return name
        esc = seed.escape_filter_value(name)
        found = self.ldb.search(f"(|(sAMAccountName={esc})(sAMAccountName={esc}$))", ["dn"], base=self._domain_dn)
        if len(found) != 1:
            raise LabError(f"{len(found)} objects named {name!r} in {self.settings.realm}")
        return found[0]["dn"][0]

    # --------------------------------------------------------------------- DNS
    def add_dns_record(self, zone: str, name: str, rtype: str, data: str) -> None:
        """Add one record through the DC's DNS RPC (``samba-tool dns add``; the DC must run)."""
        self.samba_tool("dns", "add", self.settings.ip, zone, name, rtype, data, admin=True)

    def add_a(self, host: str, ip: str) -> None:
        """A record: ``host`` short (hv01) or fully qualified in the DC's domain (hv01.lab.test)."""
        name = host.rstrip(".")
        suffix = "." + self._dns_domain
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
        self.add_dns_record(self._dns_domain, name, "A", ip)

    def add_ptr(self, ip: str, fqdn: str) -> None:
        """PTR record for an IPv4 address in its /24 reverse zone, created on first use."""
        octets = ip.split(".")
        if len(octets) != 4:
            raise ValueError(f"not an IPv4 address: {ip!r}")
        zone = ".".join(reversed(octets[:3])) + ".in-addr.arpa"
        if zone not in self._reverse_zones:
            try:
                self.samba_tool("dns", "zonecreate", self.settings.ip, zone, admin=True)
            except LabError as exc:
                if "ZONE_ALREADY_EXISTS" not in str(exc):
                    raise
            self._reverse_zones.add(zone)
        self.add_dns_record(zone, octets[3], "PTR", fqdn.rstrip(".") + ".")


def _account(name: str) -> str:
    """A computer's sAMAccountName from HV01 or HV01$."""
    return name if name.endswith("$") else name + "$"
