"""Shared parts of the class keys (audit/engine.py): what decides a check's status, cheaply.

A key is called once per evaluated direction, tens of thousands of times per check on a large
fleet, so whatever depends on one host only (its delegation entries, its SPNs, its parsed
addresses) is computed once per host with RoleFacts.derived and the key compares the results.
Each helper reads the facts the way the check's own logic does (checks/_ad.py), so equal keys
mean equal inputs to the verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audit.facts import RoleFacts
from checks._ad import TRUSTED_TO_AUTH_FOR_DELEGATION, auth_type, rbcd_for, spn_forms, uac
from checks._net import interfaces, parse_subnet


def auth_types(src: RoleFacts, dst: RoleFacts) -> tuple[str, str]:
    """Both hosts' migration authentication type, as checks._ad.auth_type reads it."""
    return auth_type(src["vmhost"]), auth_type(dst["vmhost"])


def _delegation(side: RoleFacts) -> frozenset[str]:
    comp = side["ad_computer"]
    return frozenset(str(v).strip().casefold() for v in comp.get("msDS-AllowedToDelegateTo") or [])


def delegates_to(src: RoleFacts) -> frozenset[str]:
    """The source's msDS-AllowedToDelegateTo, compared as checks._ad.missing compares it.

    Only for a source whose ad_computer is not None."""
    return src.derived("keys:delegate_to", _delegation)


def wanted(dst: RoleFacts, service: str) -> tuple[str, str]:
    """The destination's two SPN forms of a service (NetBIOS, FQDN), case-folded."""

    def compute(d: RoleFacts) -> tuple[str, str]:
        short, fqdn = spn_forms(service, d.ref)
        return short.casefold(), fqdn.casefold()

    return dst.derived(f"keys:spn:{service}", compute)


def present(src: RoleFacts, dst: RoleFacts, service: str) -> tuple[bool, bool]:
    """Whether the source may delegate to the service on the destination by each name."""
    have = delegates_to(src)
    short, fqdn = wanted(dst, service)
    return short in have, fqdn in have


def any_protocol(src: RoleFacts) -> tuple[bool, bool | None]:
    """("Use any authentication protocol" set, source build >= 14393 or None when unknown)."""

    def compute(s: RoleFacts) -> tuple[bool, bool | None]:
        os_info = s["operating_system"]
        build = int(os_info["BuildNumber"]) if os_info else None
        return bool(uac(s["ad_computer"]) & TRUSTED_TO_AUTH_FOR_DELEGATION), None if build is None else build >= 14393

    return src.derived("keys:any_protocol", compute)


def rbcd(dst: RoleFacts, src: RoleFacts, scomp: Mapping[str, Any] | None) -> tuple[bool, bool]:
    """(destination object known, its resource-based delegation lists the source), as checks._ad.rbcd_for says.

    An empty msDS-AllowedToActOnBehalfOfOtherIdentity (the usual case) is decided without a search."""
    dcomp = dst["ad_computer"]
    if dcomp is None:
        return False, False
    if not dcomp.get("msDS-AllowedToActOnBehalfOfOtherIdentity"):
        return True, False
    found = rbcd_for(dcomp, src.ref, (scomp or {}).get("objectSid"))
    return found.known, found.lists_source


def addresses(side: RoleFacts) -> tuple[tuple[int, int], ...]:
    """The host's parsed ip_interfaces addresses as (IP version, integer), as checks._net.interfaces parses them."""
    return side.derived("keys:addresses",
                        lambda s: tuple((i.ip.version, int(i.ip)) for i in interfaces(s["ip_interfaces"])))


def subnets(side: RoleFacts) -> tuple[tuple[int, int, int], ...]:
    """The host's migration networks that parse, as (IP version, network address, netmask) integers."""

    def compute(s: RoleFacts) -> tuple[tuple[int, int, int], ...]:
        out = []
        for entry in s["migration_networks"]:
            net = parse_subnet(str(entry["Subnet"]))
            if net is not None:
                out.append((net.version, int(net.network_address), int(net.netmask)))
        return tuple(out)

    return side.derived("keys:subnets", compute)
