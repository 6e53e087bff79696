"""The directory collector against a real Samba AD DC (tests/lab/samba): seeded delegation
set-ups, operators, DNS, binds and failures read back exactly as hvlm collect reads them.

The DC fixture fails (never skips) when the DC cannot start, in CI and elsewhere.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hvlm.audit.collect.directory import collect_directory
from hvlm.audit.collect.ldap_conn import Credentials, DcEndpoint, connect
from hvlm.audit.collect.ldap_domain import read_computers, read_domain
from hvlm.audit.collect.ldap_filter import HostName
from hvlm.audit.snapshot import Snapshot, new_snapshot_document
from tests.directory import labsetup as lab
from tests.directory.labsetup import NOT_DELEGATED, OPERATOR_PASSWORD, SETUPS, Seeded
from tests.lab.samba import SambaDC

pytestmark = pytest.mark.lab
pytest_plugins = ["tests.lab.samba.fixtures"]  # samba_dc, samba_forest


def _all_hosts(dc: SambaDC) -> list[str]:
    return [lab.fqdn(dc, n) for s in SETUPS for n in s.names]


def _by_sam(result: dict[str, Any], domain: str) -> dict[str, dict[str, Any]]:
    fact = result["domains"][domain]["computers"]
    assert "value" in fact, fact
    return {c["sAMAccountName"][:-1]: c for c in fact["value"]}


def test_seeded_delegation_setups_read_back_exactly(samba_dc: SambaDC, seeded: Seeded) -> None:
    result = lab.collect(samba_dc, _all_hosts(samba_dc))
    found = _by_sam(result, samba_dc.dns_domain)
    assert set(found) == set(seeded.computers)
    sids = {name: c["objectSid"] for name, c in found.items()}
    for name, want in seeded.computers.items():
        got = found[name]
        for key, value in want.items():
            assert got[key] == value, (name, key)
        assert got["objectSid"].startswith(samba_dc.domain_sid + "-")
        assert got["distinguishedName"] == f"CN={name},CN=Computers,{samba_dc.domain_dn}"
        assert got["whenChanged"] and got["whenChanged"].endswith("Z")
        principals = got["msDS-AllowedToActOnBehalfOfOtherIdentity"]
        wanted = seeded.rbcd.get(name, [])
        assert [p["name"] for p in principals] == wanted, name
        assert [p["sid"] for p in principals] == [sids[w.split("\\")[1][:-1]] for w in wanted]
    info = result["domains"][samba_dc.dns_domain]["info"]
    assert info["source"]["host"] == samba_dc.fqdn
    assert info["value"]["objectSid"] == samba_dc.domain_sid
    assert info["value"]["nETBIOSName"] == samba_dc.netbios_domain
    assert info["value"]["dnsRoot"] == samba_dc.dns_domain
    assert info["value"]["currentTime"].endswith("Z")
    assert result["domains"][samba_dc.dns_domain]["domain_controllers"]["value"][0]["target"] == samba_dc.fqdn
    assert result["domains"][samba_dc.dns_domain]["trusts"]["value"] == [] or all(
        "trustPartner" in t for t in result["domains"][samba_dc.dns_domain]["trusts"]["value"]
    )


def test_collected_facts_make_a_valid_snapshot(samba_dc: SambaDC, seeded: Seeded, operators: dict[str, str]) -> None:
    hosts = _all_hosts(samba_dc)
    result = lab.collect(samba_dc, hosts, operator=f"{samba_dc.netbios_domain}\\dxopnested")
    doc = new_snapshot_document(lab.inventory(hosts, f"{samba_dc.netbios_domain}\\dxopnested").to_snapshot())
    doc["domains"] = result["domains"]
    doc["dns"] = result["dns"]
    doc["operator"] = result["operator"]
    snapshot = Snapshot.from_document(copy.deepcopy(doc))
    assert snapshot.uncollected() == []


@pytest.mark.parametrize(
    ("user", "domain_admin", "protected", "sensitive"),
    [
        ("dxopdirect", True, False, False),
        ("dxopnested", True, False, False),
        ("dxopnone", False, False, False),
        ("dxopprot", False, True, False),
        ("dxopsens", False, False, True),
    ],
)
def test_operator_groups_including_nested(
    samba_dc: SambaDC, operators: dict[str, str], user: str, domain_admin: bool, protected: bool, sensitive: bool
) -> None:
    account = f"{samba_dc.netbios_domain}\\{user}"
    result = lab.collect(samba_dc, [lab.fqdn(samba_dc, "DXOK1")], operator=account)
    fact = result["operator"]
    assert "value" in fact, fact
    op = fact["value"]
    sid = samba_dc.domain_sid
    assert op["sAMAccountName"] == user and op["domain"] == samba_dc.dns_domain
    assert op["userPrincipalName"] == f"{user}@{samba_dc.dns_domain}"
    assert op["objectSid"].startswith(sid + "-")
    assert (f"{sid}-512" in op["tokenGroups"]) is domain_admin
    assert (f"{sid}-525" in op["tokenGroups"]) is protected
    assert f"{sid}-513" in op["tokenGroups"]  # Domain Users, the primary group
    assert bool(op["userAccountControl"] & NOT_DELEGATED) is sensitive
    direct = {dn.split(",")[0][3:] for dn in op["memberOf"]}
    assert (
        direct
        == {
            "dxopdirect": {"Domain Admins"},
            "dxopnested": {"DXHyperVOps"},  # Domain Admins only through DXHyperVOps -> DXTier0
            "dxopnone": set(),
            "dxopprot": {"Protected Users"},
            "dxopsens": set(),
        }[user]
    )


def test_operator_as_upn_and_unknown_operator(samba_dc: SambaDC, operators: dict[str, str]) -> None:
    host = [lab.fqdn(samba_dc, "DXOK1")]
    upn = lab.collect(samba_dc, host, operator=f"dxopdirect@{samba_dc.dns_domain}")["operator"]
    assert upn["value"]["sAMAccountName"] == "dxopdirect"
    missing = lab.collect(samba_dc, host, operator=f"{samba_dc.netbios_domain}\\dxnobody")["operator"]
    assert missing["error"]["kind"] == "not_found" and "dxnobody" in missing["error"]["message"]
    unknown = lab.collect(samba_dc, host, operator="NOSUCHDOM\\dxopdirect")["operator"]
    assert unknown["error"]["kind"] == "unknown_domain" and "user@dns.domain" in unknown["error"]["message"]


def test_search_count_is_the_same_for_5_and_200_computers(samba_dc: SambaDC) -> None:
    from tests.lab.samba import ComputerSpec

    names = [f"DXB{i:03d}" for i in range(200)]
    samba_dc.add_computers_bulk([ComputerSpec(n, spns=tuple(lab.host_spns(n, samba_dc.dns_domain))) for n in names])
    counts = {}
    for size in (5, 200):
        hosts = [lab.fqdn(samba_dc, n) for n in names[:size]]
        with lab.SearchCounter() as counter:
            result = lab.collect(samba_dc, hosts, operator="Administrator@" + samba_dc.dns_domain)
        assert len(result["domains"][samba_dc.dns_domain]["computers"]["value"]) == size
        assert "value" in result["operator"]
        counts[size] = len(counter.calls)
    # rootDSE, domain object, crossRef, computers (one OR filter), trusts, operator, its tokenGroups
    assert counts == {5: 7, 200: 7}


def test_very_large_fleets_are_split_into_bounded_filters(samba_dc: SambaDC) -> None:
    session = connect(
        DcEndpoint(samba_dc.fqdn, samba_dc.ip),
        samba_dc.dns_domain,
        Credentials("simple", samba_dc.admin_upn, samba_dc.admin_password),
        ca_file=str(samba_dc.ca_cert),
    )
    try:
        base = read_domain(session, samba_dc.dns_domain).base_dn
        hosts = [HostName.of(f"dxok{i}.{samba_dc.dns_domain}", None) for i in (1, 2)] * 1 + [
            HostName.of(f"dxko{i}.{samba_dc.dns_domain}", None) for i in (1, 2)
        ]
        before = session.searches
        found = read_computers(session, base, hosts, chunk_size=3)
        assert session.searches - before == 2
        assert sorted(c["sAMAccountName"] for c in found) == ["DXKO1$", "DXKO2$", "DXOK1$", "DXOK2$"]
    finally:
        session.close()


def test_hostile_host_names_match_nothing(samba_dc: SambaDC, seeded: Seeded) -> None:
    dom = samba_dc.dns_domain
    hostile = [f"*.{dom}", f"dxok1)(sAMAccountName=*.{dom}", f"dx*.{dom}", f"back\\slash.{dom}", f"x)(|(cn=*.{dom}"]
    result = lab.collect(samba_dc, hostile)
    assert result["domains"][dom]["computers"]["value"] == []
    session = connect(
        DcEndpoint(samba_dc.fqdn, samba_dc.ip),
        dom,
        Credentials("simple", samba_dc.admin_upn, samba_dc.admin_password),
        ca_file=str(samba_dc.ca_cert),
    )
    try:
        base = read_domain(session, dom).base_dn
        nul = [HostName("x", f"dxok1\0)(cn=*.{dom}", "DXOK1\0*$"), HostName("y", f"dxok1.{dom}", "*")]
        assert [c["sAMAccountName"] for c in read_computers(session, base, nul)] == ["DXOK1$"]  # only the literal
    finally:
        session.close()


def test_dns_facts_forward_and_reverse(samba_dc: SambaDC, seeded: Seeded) -> None:
    dc = samba_dc
    dc.add_a("dxok1", "10.250.0.11")
    dc.add_ptr("10.250.0.11", lab.fqdn(dc, "DXOK1"))
    dc.add_a("dxok2", "10.250.0.12")
    dc.add_ptr("10.250.0.12", lab.fqdn(dc, "DXKO1"))  # stale PTR: points at another host
    hosts = [lab.fqdn(dc, n) for n in ("DXOK1", "DXOK2", "DXKO2")]
    dns = lab.collect(dc, hosts)["dns"]
    assert dns[hosts[0]]["value"] == {
        "name": hosts[0],
        "A": ["10.250.0.11"],
        "AAAA": [],
        "PTR": {"10.250.0.11": [hosts[0] + "."]},
    }
    assert dns[hosts[1]]["value"]["PTR"] == {"10.250.0.12": [lab.fqdn(dc, "DXKO1") + "."]}
    assert dns[hosts[2]]["value"] == {"name": hosts[2], "A": [], "AAAA": [], "PTR": {}}
    assert all(f["source"]["collector"] == "dns" for f in dns.values())


# ------------------------------------------------------------------------- binds and failures
def test_starttls_simple_bind(samba_dc: SambaDC, seeded: Seeded) -> None:
    result = lab.collect(samba_dc, [lab.fqdn(samba_dc, "DXOK1")], tls="starttls")
    assert [c["sAMAccountName"] for c in result["domains"][samba_dc.dns_domain]["computers"]["value"]] == ["DXOK1$"]


def test_explicit_dc_by_name_and_port(samba_dc: SambaDC, seeded: Seeded) -> None:
    result = lab.collect(samba_dc, [lab.fqdn(samba_dc, "DXOK1")], dc=f"{samba_dc.fqdn}:636")
    assert result["domains"][samba_dc.dns_domain]["info"]["source"]["host"] == samba_dc.fqdn
    assert "value" in result["domains"][samba_dc.dns_domain]["computers"]


def _errors(result: dict[str, Any], domain: str) -> dict[str, str]:
    return {k: f["error"]["kind"] for k, f in result["domains"][domain].items() if "error" in f}


def test_plain_ldap_refused_by_default_and_by_the_dc(samba_dc: SambaDC) -> None:
    host = [lab.fqdn(samba_dc, "DXOK1")]
    refused = lab.collect(samba_dc, host, tls="plain")
    assert _errors(refused, samba_dc.dns_domain) == {
        "info": "plain_refused",
        "computers": "plain_refused",
        "trusts": "plain_refused",
    }
    allowed = lab.collect(samba_dc, host, tls="plain", allow_plain=True)
    err = allowed["domains"][samba_dc.dns_domain]["info"]["error"]
    assert err["kind"] == "bind_refused" and "--ldap-tls ldaps" in err["message"]  # DC requires strong auth


def test_untrusted_certificate(samba_dc: SambaDC) -> None:
    result = lab.collect(samba_dc, [lab.fqdn(samba_dc, "DXOK1")], ca_file=None)
    err = result["domains"][samba_dc.dns_domain]["info"]["error"]
    assert err["kind"] == "tls_untrusted" and "--ldap-ca" in err["message"]


def test_certificate_name_is_checked(samba_dc: SambaDC) -> None:
    """A name that leads to the DC but that its certificate does not carry is refused."""
    samba_dc.add_a("dxalias", samba_dc.ip)
    alias = lab.fqdn(samba_dc, "dxalias")
    result = lab.collect(samba_dc, [lab.fqdn(samba_dc, "DXOK1")], dc=alias)
    err = result["domains"][samba_dc.dns_domain]["info"]["error"]
    assert err["kind"] == "tls_name_mismatch" and alias in err["message"], err


def test_wrong_password_is_refused_and_never_echoed(samba_dc: SambaDC) -> None:
    secret = "Wrong-Secret-123"
    result = lab.collect(samba_dc, [lab.fqdn(samba_dc, "DXOK1")], operator="LAB\\Administrator", secret=secret)
    err = result["domains"][samba_dc.dns_domain]["info"]["error"]
    assert err["kind"] == "bind_refused" and "invalid credentials" in err["message"]
    assert secret not in repr(result)


def test_one_failing_domain_does_not_stop_the_others(samba_dc: SambaDC, seeded: Seeded) -> None:
    ghost = f"ghost.{samba_dc.dns_domain}"  # inside the DC's zone: NXDOMAIN at once
    hosts = [lab.fqdn(samba_dc, "DXOK1"), f"hv01.{ghost}", f"hv02.{ghost}"]
    result = lab.collect(samba_dc, hosts, operator=f"Administrator@{samba_dc.dns_domain}")
    assert "value" in result["domains"][samba_dc.dns_domain]["computers"]
    assert _errors(result, ghost) == {
        "domain_controllers": "no_dc_records",
        "info": "no_dc_records",
        "computers": "no_dc_records",
        "trusts": "no_dc_records",
    }
    assert "--dns-server" in result["domains"][ghost]["info"]["error"]["message"]
    assert "value" in result["operator"]
    unreachable = lab.collect(samba_dc, hosts, dcs=((ghost, "127.0.0.9"),), timeout=3.0)
    assert unreachable["domains"][ghost]["info"]["error"]["kind"] == "dc_unreachable"
    assert "value" in unreachable["domains"][samba_dc.dns_domain]["info"]


def test_tokengroups_of_another_user_as_a_plain_user(samba_dc: SambaDC, operators: dict[str, str]) -> None:
    """Bound as an unprivileged user, reading another account's groups: either the DC lets it
    (the Samba default) or the fact says it could not be read; it is never an empty group list."""
    result = lab.collect(
        samba_dc,
        [lab.fqdn(samba_dc, "DXOK1")],
        operator=f"{samba_dc.netbios_domain}\\dxopnested",
        secret=OPERATOR_PASSWORD,
        username=f"dxopnone@{samba_dc.dns_domain}",
    )
    fact = result["operator"]
    print("plain user reading another's tokenGroups:", fact.get("error") or "readable")
    if "value" in fact:
        assert f"{samba_dc.domain_sid}-512" in fact["value"]["tokenGroups"]
    else:
        assert fact["error"]["kind"] == "not_readable"


def test_collect_directory_signature_is_the_documented_one(samba_dc: SambaDC) -> None:
    """What the orchestrator calls: positional inventory, options, host_domains; optional progress."""
    messages: list[str] = []
    with lab.password(samba_dc.admin_password):
        result = collect_directory(
            lab.inventory(["DXOK1"], None),
            lab.options(samba_dc),
            {"DXOK1": samba_dc.dns_domain},
            progress=messages.append,
        )
    assert set(result) == {"domains", "dns"}  # no operator in the inventory: no operator fact
    assert [c["sAMAccountName"] for c in result["domains"][samba_dc.dns_domain]["computers"]["value"]] == ["DXOK1$"]
    assert result["dns"]["DXOK1"]["value"]["name"] == lab.fqdn(samba_dc, "DXOK1")
    assert any("bound to" in m for m in messages)
    assert not any(samba_dc.admin_password in m for m in messages)
