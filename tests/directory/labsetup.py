"""Seeding and collecting against the Samba lab DC, shared by the directory lab tests.

Everything seeded here is named DX... so that it cannot clash with what other tests put in the
session's shared DC. The seven delegation set-ups are the ones issue 5 lists, each on its own pair
of Hyper-V-like computer objects: <code>1 and <code>2.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import ldap3

from hvlm.audit.collect.directory import DirectoryOptions, collect_directory
from hvlm.audit.inventory import Inventory, parse_inventory
from tests.lab.samba import SambaDC

OPERATOR_PASSWORD = "Dx-Operator-Pass-1"  # lab-only operator accounts
MIG = "Microsoft Virtual System Migration Service"
CONSOLE = "Microsoft Virtual Console Service"
WORKSTATION_TRUST_ACCOUNT = 0x1000
TRUSTED_FOR_DELEGATION = 0x80000
NOT_DELEGATED = 0x100000
TRUSTED_TO_AUTH_FOR_DELEGATION = 0x1000000


def host_spns(name: str, domain: str) -> list[str]:
    """The SPNs a domain-joined Hyper-V host registers on its own account."""
    return [
        f"{svc}/{n}" for svc in ("HOST", "RestrictedKrbHost", MIG, CONSOLE) for n in (name, f"{name.lower()}.{domain}")
    ]


def kcd(
    dest: str, domain: str, services: Sequence[str] = (MIG, "cifs"), short: bool = True, fqdn: bool = True
) -> list[str]:
    """msDS-AllowedToDelegateTo entries for one destination, as ADUC writes them."""
    names = ([dest] if short else []) + ([f"{dest.lower()}.{domain}"] if fqdn else [])
    return [f"{svc}/{n}" for svc in services for n in names]


@dataclass(frozen=True)
class Setup:
    """One delegation set-up on a pair of computers: what is seeded on each."""

    code: str
    title: str
    delegate_1_to_2: Callable[[str, str], list[str]] = lambda d, dom: []
    delegate_2_to_1: Callable[[str, str], list[str]] = lambda d, dom: []
    any_protocol: bool = False
    unconstrained: bool = False
    rbcd: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, str]:
        return (f"DX{self.code}1", f"DX{self.code}2")


def _full(d: str, dom: str) -> list[str]:
    return kcd(d, dom)


SETUPS = [
    Setup("OK", "correct: both SPNs, both name forms, both directions, any protocol", _full, _full, any_protocol=True),
    Setup("KO", "Kerberos only", _full, _full),
    Setup(
        "CF",
        "cifs only",
        lambda d, dom: kcd(d, dom, ("cifs",)),
        lambda d, dom: kcd(d, dom, ("cifs",)),
        any_protocol=True,
    ),
    Setup(
        "SN",
        "short names only",
        lambda d, dom: kcd(d, dom, fqdn=False),
        lambda d, dom: kcd(d, dom, fqdn=False),
        any_protocol=True,
    ),
    Setup("OW", "one direction only", _full, any_protocol=True),
    Setup("RB", "resource-based delegation only", rbcd=True),
    Setup("UC", "unconstrained delegation", unconstrained=True),
]


@dataclass
class Seeded:
    """What was written, per computer name, to compare with what the collector reads."""

    computers: dict[str, dict[str, Any]]
    rbcd: dict[str, list[str]]  # target -> principals (names)


def seed_setups(dc: SambaDC) -> Seeded:
    dom = dc.dns_domain
    computers: dict[str, dict[str, Any]] = {}
    rbcd: dict[str, list[str]] = {}
    for s in SETUPS:
        a, b = s.names
        for name, peer, deleg in ((a, b, s.delegate_1_to_2), (b, a, s.delegate_2_to_1)):
            entries = deleg(peer, dom)
            dc.add_computer(
                name,
                spns=host_spns(name, dom),
                allowed_to_delegate_to=entries,
                trusted_to_auth_for_delegation=s.any_protocol and bool(entries),
                trusted_for_delegation=s.unconstrained,
                operating_system="Windows Server 2022 Datacenter",
                operating_system_version="10.0 (20348)",
            )
            uac = WORKSTATION_TRUST_ACCOUNT
            if s.any_protocol and entries:
                uac |= TRUSTED_TO_AUTH_FOR_DELEGATION
            if s.unconstrained:
                uac |= TRUSTED_FOR_DELEGATION
            computers[name] = {
                "sAMAccountName": f"{name}$",
                "dNSHostName": f"{name.lower()}.{dom}",
                "servicePrincipalName": sorted(host_spns(name, dom), key=str.lower),
                "msDS-AllowedToDelegateTo": sorted(entries, key=str.lower),
                "userAccountControl": uac,
                "operatingSystem": "Windows Server 2022 Datacenter",
                "operatingSystemVersion": "10.0 (20348)",
            }
        if s.rbcd:
            dc.add_rbcd(b, a)  # a may delegate to b
            dc.add_rbcd(a, b)
            rbcd[b] = [f"{dc.netbios_domain}\\{a}$"]
            rbcd[a] = [f"{dc.netbios_domain}\\{b}$"]
    return Seeded(computers, rbcd)


def fqdn(dc: SambaDC, name: str) -> str:
    return f"{name.lower()}.{dc.dns_domain}"


def inventory(hosts: Sequence[str], operator: str | None, pairs: Sequence[tuple[str, str]] = ()) -> Inventory:
    data: dict[str, Any] = {"hosts": list(hosts)}
    if operator:
        data["operator"] = operator
    if pairs:
        data["migrations"] = [{"source": s, "destination": d} for s, d in pairs]
    return parse_inventory(data)


def options(samba: SambaDC, **overrides: Any) -> DirectoryOptions:
    """Simple bind as the lab's Administrator over LDAPS, the lab CA validated, the DC's DNS."""
    base: dict[str, Any] = {
        "dns_servers": (samba.ip,),
        "auth": "simple",
        "tls": "ldaps",
        "ca_file": str(samba.ca_cert),
        "username": samba.admin_upn,
        "timeout": 10.0,
    }
    return DirectoryOptions(**{**base, **overrides})


@contextmanager
def password(value: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in ("HVLM_LDAP_PASSWORD", "HVLM_PASSWORD")}
    os.environ["HVLM_LDAP_PASSWORD"] = value
    os.environ.pop("HVLM_PASSWORD", None)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def collect(
    samba: SambaDC,
    hosts: Sequence[str],
    operator: str | None = None,
    host_domains: dict[str, str | None] | None = None,
    secret: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """collect_directory for ``hosts`` with lab options; ``overrides`` are DirectoryOptions fields."""
    with password(secret if secret is not None else samba.admin_password):
        return collect_directory(inventory(hosts, operator), options(samba, **overrides), host_domains or {})


class SearchCounter:
    """Counts LDAP search requests sent through ldap3 (one per page), whoever sends them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self._original = ldap3.Connection.search

    def __enter__(self) -> SearchCounter:
        original = self._original
        calls = self.calls

        def counting(conn: Any, search_base: str, search_filter: str, *args: Any, **kwargs: Any) -> Any:
            calls.append((search_base, search_filter[:80]))
            return original(conn, search_base, search_filter, *args, **kwargs)

        ldap3.Connection.search = counting  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        ldap3.Connection.search = self._original  # type: ignore[method-assign]
