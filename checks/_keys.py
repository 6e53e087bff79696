"""Shared parts of the class keys (audit/engine.py): what decides a check's status, cheaply.

A key is called once per evaluated direction, tens of thousands of times per check on a large
fleet, so whatever depends on one host only (its authentication type, its delegation entries,
the SPN forms of its name, its parsed addresses) is computed once per host with
RoleFacts.derived, one tuple per end, and the key only compares. Each helper reads the facts the
way the check's own logic does (checks/_ad.py, checks/_net.py), so equal keys mean equal inputs
to the verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hvlm.audit.facts import HostRef, RoleFacts
from hvlm.checks._ad import (
    FIRST_ANY_PROTOCOL_BUILD,
    TRUSTED_TO_AUTH_FOR_DELEGATION,
    auth_type,
    os_build,
    rbcd_for,
    spn_forms,
    uac,
)
from hvlm.checks._net import interfaces, parse_subnet


def domain(ref: HostRef) -> str | None:
    """The host's domain as checks._ad.same_domain compares it: two hosts share a domain when both are
    not None and equal."""
    return str(ref.domain).lower() if ref.domain else None


def auth_part(side: RoleFacts) -> str:
    """One host's migration authentication type: a separable key part (engine `parts`)."""
    return auth_type(side["vmhost"])


def _source(side: RoleFacts) -> tuple[str, frozenset[str] | None, str | None]:
    comp = side["ad_computer"]
    entries = None if comp is None else frozenset(
        str(v).strip().casefold() for v in comp.get("msDS-AllowedToDelegateTo") or [])
    return auth_type(side["vmhost"]), entries, domain(side.ref)


def delegation_source(src: RoleFacts) -> tuple[str, frozenset[str] | None, str | None]:
    """(authentication type, msDS-AllowedToDelegateTo case-folded as checks._ad.missing compares it or None
    without a computer object, domain) of a source, once per host."""
    return src.derived("keys:source", _source)


Destination = tuple[str, tuple[str, ...], str | None, tuple[bool, bool, bool] | None]


def delegation_destination(*services: str) -> Callable[[RoleFacts], Destination]:
    """What a destination offers delegation to these services, once per host: (authentication type, the
    case-folded SPN forms of each service (NetBIOS, FQDN), domain, resource-based delegation as (object known,
    lists the source) when it lists no one, else None: ask `rbcd` for each source)."""
    name = "keys:destination:" + "|".join(services)

    def compute(side: RoleFacts) -> Destination:
        forms = tuple(form.casefold() for service in services for form in spn_forms(service, side.ref))
        comp = side["ad_computer"]
        rbcd = (False, False, False) if comp is None else None if comp.get("msDS-AllowedToActOnBehalfOfOtherIdentity") \
            else (True, False, False)
        return auth_type(side["vmhost"]), forms, domain(side.ref), rbcd

    def view(dst: RoleFacts) -> Destination:
        return dst.derived(name, compute)

    return view


def rbcd(dst: RoleFacts, src: RoleFacts) -> tuple[bool, bool, bool]:
    """(destination object known, its resource-based delegation lists the source, it lists principals that
    are not computer accounts), by checks._ad.rbcd_for."""
    found = rbcd_for(dst["ad_computer"], src.ref, (src["ad_computer"] or {}).get("objectSid"))
    return found.known, found.lists_source, bool(found.unresolved)


def _workgroup(side: RoleFacts) -> bool:
    cs = side["computer_system"]
    return cs is not None and not cs.get("PartOfDomain")


def workgroup(side: RoleFacts) -> bool:
    """The host reports it is in a workgroup (checks._ad.outside_domain); unknown counts as joined."""
    return side.derived("keys:workgroup", _workgroup)


def _any_protocol(side: RoleFacts) -> bool:
    build, _ = os_build(side["operating_system"], side["ad_computer"])
    return (build is None or build >= FIRST_ANY_PROTOCOL_BUILD) and not uac(side["ad_computer"]) & TRUSTED_TO_AUTH_FOR_DELEGATION


def lacks_any_protocol(src: RoleFacts) -> bool:
    """A source (2016 or later, or of unknown build) without "Use any authentication protocol"; it has an object."""
    return src.derived("keys:any_protocol", _any_protocol)


def _addresses(side: RoleFacts) -> tuple[tuple[int, int], ...]:
    return tuple((i.ip.version, int(i.ip)) for i in interfaces(side["ip_interfaces"]))


def addresses(side: RoleFacts) -> tuple[tuple[int, int], ...]:
    """The host's parsed ip_interfaces addresses as (IP version, integer), as checks._net.interfaces parses them."""
    return side.derived("keys:addresses", _addresses)


def _subnets(side: RoleFacts) -> tuple[tuple[int, int, int], ...]:
    out = []
    for entry in side["migration_networks"]:
        net = parse_subnet(str(entry["Subnet"]))
        if net is not None:
            out.append((net.version, int(net.network_address), int(net.netmask)))
    return tuple(out)


def subnets(side: RoleFacts) -> tuple[tuple[int, int, int], ...]:
    """The host's migration networks that parse, as (IP version, network address, netmask) integers."""
    return side.derived("keys:subnets", _subnets)


def nothing(side: RoleFacts) -> None:
    """A key part for an end whose facts do not change the check's status."""
    return None


def vm_rows(src: RoleFacts, table: str) -> dict[str, list[dict[str, Any]]]:
    """A per-VM table of the source (vm_hard_disks, vm_media, ...) by lower-cased VMId, once per host,
    matched as checks._vmfacts.rows_of matches them."""
    def index(side: RoleFacts) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for row in side[table] or []:
            out.setdefault(str(row.get("VMId", "")).lower(), []).append(row)
        return out

    return src.derived(f"rows:{table}", index)


def rows_of_vm(vm: Mapping[str, Any], src: RoleFacts, table: str) -> list[dict[str, Any]]:
    return vm_rows(src, table).get(str(vm.get("Id", "")).lower(), [])
