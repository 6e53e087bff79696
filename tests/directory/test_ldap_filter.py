"""Filters built from inventory names: escaped per RFC 4515, one OR search per chunk of hosts."""

from __future__ import annotations

import re
from typing import Any

import pytest
from ldap3.operation.search import parse_filter

from hvlm.audit.collect.ldap_filter import (
    MAX_HOSTS_PER_FILTER,
    HostName,
    chunks,
    computers_filter,
    equals,
    escape_filter_value,
)

HOSTILE = [
    "*",
    "hv01)(objectClass=*",
    "hv01*",
    ")(|(sAMAccountName=*",
    "back\\slash",
    "nul\0byte",
    "\\2a",
    "(((",
    "hv01)(&",
    "ünïcode-hv",
]
_MATCH_EQUAL = 10


def _unescape(value: bytes) -> str:
    return re.sub(rb"\\([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), value).decode("utf-8")


def _equalities(node: Any, out: list[tuple[str, str]]) -> list[tuple[str, str]]:
    if node.tag == _MATCH_EQUAL:
        out.append((node.assertion["attr"], _unescape(node.assertion["value"])))
    for child in node.elements:
        _equalities(child, out)
    return out


def _parse(filt: str) -> Any:
    return parse_filter(filt, None, auto_escape=False, auto_encode=False, validator=None, check_names=False)


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_value_stays_one_literal_equality(value: str) -> None:
    filt = equals("dNSHostName", value)
    assert "*" not in filt[1:-1].split("=", 1)[1]
    assert "\0" not in filt
    tree = _parse(filt)
    assert _equalities(tree, []) == [("dNSHostName", value)]


def test_rfc4515_escapes() -> None:
    assert escape_filter_value("a*b(c)d\\e\0f") == "a\\2ab\\28c\\29d\\5ce\\00f"
    assert escape_filter_value("tab\there\x7f") == "tab\\09here\\7f"
    assert escape_filter_value("plain-name.lab.test") == "plain-name.lab.test"
    assert escape_filter_value(b"\x01\x05\xff") == "\\01\\05\\ff"


def test_attribute_names_are_checked() -> None:
    with pytest.raises(ValueError):
        equals("cn)(objectClass=*", "x")


def test_computers_filter_has_two_terms_per_host_and_nothing_else() -> None:
    hosts = [HostName.of(f"{v}.lab.test", None) for v in HOSTILE] + [HostName.of("HV02", "lab.test")]
    tree = _parse(computers_filter(hosts))
    terms = _equalities(tree, [])
    assert terms[0] == ("objectCategory", "computer")
    expected = {("dNSHostName", h.fqdn) for h in hosts} | {("sAMAccountName", h.sam) for h in hosts}
    assert set(terms[1:]) == expected
    (top,) = tree.elements  # one (&...) at the root
    assert len(top.elements) == 2  # (objectCategory=computer) and one (|...): no term escaped the OR
    assert len(top.elements[1].elements) == 2 * len(hosts)


def test_host_names_map_to_dns_and_account_names() -> None:
    assert HostName.of("HV01.Lab.Test", None) == HostName("HV01.Lab.Test", "hv01.lab.test", "HV01$")
    assert HostName.of("hv01", "lab.test") == HostName("hv01", "hv01.lab.test", "HV01$")
    assert HostName.of("hv01", None).fqdn == "hv01"
    # NetBIOS names hold 15 characters; Windows truncates the account name the same way
    assert HostName.of("hyperv-node-0001.lab.test", None).sam == "HYPERV-NODE-000$"


def test_chunks_bound_the_filter_size() -> None:
    hosts = [HostName.of(f"hv{i:05d}.lab.test", None) for i in range(2 * MAX_HOSTS_PER_FILTER + 1)]
    parts = chunks(hosts)
    assert [len(p) for p in parts] == [MAX_HOSTS_PER_FILTER, MAX_HOSTS_PER_FILTER, 1]
    longest = HostName.of(("a" * 63 + ".") * 3 + "b" * 61, None)
    assert len(longest.fqdn) == 253
    # the documented bound: MAX_HOSTS_PER_FILTER worst-case names stay far under AD's 10 MB request limit
    worst = computers_filter([longest] * MAX_HOSTS_PER_FILTER)
    assert len(worst.encode()) < 1_000_000
    with pytest.raises(ValueError):
        computers_filter([])
    with pytest.raises(ValueError):
        chunks(hosts, 0)
