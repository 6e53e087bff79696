"""DNS facts and DC discovery through an explicit resolver (a fake DNS server on loopback)."""

from __future__ import annotations

import pytest

from hvlm.audit.collect.dns_lookup import (
    DnsLookupError,
    Srv,
    addresses,
    discover_dcs,
    host_records,
    make_resolver,
    parse_dns_server,
)
from tests.directory.fakedns import fake_dns

RECORDS = {
    ("_ldap._tcp.dc._msdcs.corp.test", "SRV"): [
        "10 50 389 dc2.corp.test.",
        "0 100 389 DC1.corp.test.",
        "0 10 389 dc3.corp.test.",
    ],
    ("dc1.corp.test", "A"): ["10.0.0.2"],
    ("hv01.corp.test", "A"): ["10.0.0.11", "192.168.50.11"],
    ("hv01.corp.test", "AAAA"): ["fd00::11"],
    ("11.0.0.10.in-addr.arpa", "PTR"): ["HV01.corp.test."],
    ("11.50.168.192.in-addr.arpa", "PTR"): "NXDOMAIN",
    ("1.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa", "PTR"): "SERVFAIL",
    ("hv02.corp.test", "A"): ["10.0.0.12"],
    ("12.0.0.10.in-addr.arpa", "PTR"): ["hv09.corp.test.", "hv02.corp.test."],
    ("slow.corp.test", "A"): "DROP",
    ("broken.corp.test", "A"): "SERVFAIL",
}


@pytest.fixture(scope="module")
def server() -> object:
    with fake_dns(RECORDS) as address:
        yield address


def test_parse_dns_server_forms() -> None:
    assert parse_dns_server("10.0.0.2") == ("10.0.0.2", 53)
    assert parse_dns_server("10.0.0.2:5353") == ("10.0.0.2", 5353)
    assert parse_dns_server("fd00::2") == ("fd00::2", 53)
    assert parse_dns_server("[fd00::2]:5353") == ("fd00::2", 5353)
    for bad in ("dc1.corp.test", "10.0.0.2:x", "10.0.0.2:0", "[fd00::2", "10.0.0.2:70000"):
        with pytest.raises(ValueError):
            parse_dns_server(bad)


def test_srv_discovery_orders_by_priority_then_weight(server: str) -> None:
    resolver = make_resolver([server], 2)
    assert discover_dcs(resolver, "corp.test") == [
        Srv("dc1.corp.test", 389, 0, 100),
        Srv("dc3.corp.test", 389, 0, 10),
        Srv("dc2.corp.test", 389, 10, 50),
    ]
    assert addresses(resolver, "dc1.corp.test") == ["10.0.0.2"]


def test_no_srv_records_says_what_to_do(server: str) -> None:
    with pytest.raises(DnsLookupError) as err:
        discover_dcs(make_resolver([server], 2), "other.test")
    assert err.value.kind == "no_dc_records"
    assert "--dns-server" in err.value.message and "--dc" in err.value.message


def test_host_records_forward_and_reverse(server: str) -> None:
    value = host_records(make_resolver([server], 2), "HV01.corp.test")
    assert value["name"] == "HV01.corp.test"
    assert value["A"] == ["10.0.0.11", "192.168.50.11"]
    assert value["AAAA"] == ["fd00::11"]
    assert value["PTR"]["10.0.0.11"] == ["hv01.corp.test."]
    assert value["PTR"]["192.168.50.11"] == []  # NXDOMAIN: known to be missing
    assert "fd00::11" not in value["PTR"]  # SERVFAIL: unknown, and said why
    assert len(value["errors"]) == 1 and "SERVFAIL" in value["errors"][0]


def test_several_ptr_names_are_all_reported(server: str) -> None:
    value = host_records(make_resolver([server], 2), "hv02.corp.test")
    assert value["PTR"] == {"10.0.0.12": ["hv02.corp.test.", "hv09.corp.test."]}
    assert "errors" not in value


def test_missing_host_is_a_fact_not_an_error(server: str) -> None:
    assert host_records(make_resolver([server], 2), "nohost.corp.test") == {
        "name": "nohost.corp.test",
        "A": [],
        "AAAA": [],
        "PTR": {},
    }


def test_timeout_and_servfail_are_errors(server: str) -> None:
    resolver = make_resolver([server], 1)
    with pytest.raises(DnsLookupError) as err:
        host_records(resolver, "slow.corp.test")
    assert err.value.kind == "dns_timeout" and "127.0.0.1:" in err.value.message
    with pytest.raises(DnsLookupError) as err:
        host_records(resolver, "broken.corp.test")
    assert err.value.kind == "dns_error" and "SERVFAIL" in err.value.message


def test_explicit_resolver_asks_only_the_given_server(server: str) -> None:
    resolver = make_resolver([server], 2)
    assert [str(n.address) for n in resolver.nameservers] == ["127.0.0.1"]  # type: ignore[attr-defined]
    assert resolver.search == [] and resolver.cache is None
