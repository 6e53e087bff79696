"""collect_directory end to end with a scripted directory (fakeldap) and a loopback DNS server
(fakedns): the failures a lab DC cannot be made to produce become error facts, and collection
goes on for the rest."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from hvlm.audit.collect import directory
from hvlm.audit.collect.directory import DirectoryOptions, collect_directory
from hvlm.audit.collect.sddl import build_security_descriptor, parse_sddl, sid_to_bytes
from hvlm.audit.inventory import parse_inventory
from hvlm.audit.snapshot import Snapshot, new_snapshot_document
from tests.directory.fakedns import fake_dns
from tests.directory.fakeldap import FakeConnection, FakeScript

DOM_SID = "S-1-5-21-1-2-3"
OK = {"result": 0, "description": "success"}


def _sid(rid: int) -> bytes:
    return sid_to_bytes(f"{DOM_SID}-{rid}")


class Directory:
    """A one-domain directory (corp.test) answering the collector's searches; knobs break parts."""

    def __init__(self, hosts: int = 3) -> None:
        self.computers = {
            f"HV{i:03d}": {
                "sAMAccountName": [f"HV{i:03d}$".encode()],
                "dNSHostName": [f"hv{i:03d}.corp.test".encode()],
                "objectSid": [_sid(1100 + i)],
                "userAccountControl": [b"16781312"],
                "msDS-AllowedToDelegateTo": [f"cifs/hv{i + 1:03d}.corp.test".encode()],
                "whenChanged": [b"20261120090000.0Z"],
            }
            for i in range(hosts)
        }
        self.computer_result: dict[str, Any] = OK
        self.token_groups: list[bytes] = [_sid(512), _sid(513)]
        self.broken_info = False
        self.trust_attributes = b"8"

    def answer(self, base: str, filt: str, cookie: bytes | None) -> Any:
        if base == "":
            if self.broken_info:
                raise RuntimeError("unexpected library failure")
            return [
                (
                    "",
                    {
                        "defaultNamingContext": [b"DC=corp,DC=test"],
                        "currentTime": [b"20261125120000.0Z"],
                        "configurationNamingContext": [b"CN=Configuration,DC=corp,DC=test"],
                    },
                )
            ], OK
        if base == "DC=corp,DC=test" and filt == "(objectClass=*)":
            return [(base, {"objectSid": [sid_to_bytes(DOM_SID)], "name": [b"corp"]})], OK
        if base.startswith("CN=Partitions"):
            return [("CN=CORP,CN=Partitions", {"nETBIOSName": [b"CORP"], "dnsRoot": [b"corp.test"]})], OK
        if base.startswith("CN=System"):
            return [
                (
                    "CN=lab.test,CN=System",
                    {
                        "trustPartner": [b"LAB.TEST"],
                        "flatName": [b"LAB"],
                        "trustDirection": [b"3"],
                        "trustType": [b"2"],
                        "trustAttributes": [self.trust_attributes],
                    },
                )
            ], OK
        if "objectCategory=computer" in filt:
            hits = [(f"CN={n},OU=HV,DC=corp,DC=test", a) for n, a in self.computers.items() if f"={n}$)" in filt]
            return hits, self.computer_result
        if "objectSid=" in filt:
            return [("CN=HV000,OU=HV,DC=corp,DC=test", {"objectSid": [_sid(1100)], "sAMAccountName": [b"HV000$"]})], OK
        if "sAMAccountName=hvadmin" in filt:
            return [
                (
                    "CN=hvadmin,CN=Users,DC=corp,DC=test",
                    {
                        "sAMAccountName": [b"hvadmin"],
                        "objectSid": [_sid(1500)],
                        "userAccountControl": [b"512"],
                        "memberOf": [],
                    },
                )
            ], OK
        if base.startswith("CN=hvadmin"):
            return [(base, {"tokenGroups": self.token_groups})], OK
        raise AssertionError(f"unexpected search {base} {filt}")


@pytest.fixture
def dns_server() -> Iterator[str]:
    records = {
        ("_ldap._tcp.dc._msdcs.corp.test", "SRV"): ["0 100 389 dc1.corp.test."],
        ("dc1.corp.test", "A"): ["127.0.0.1"],
        ("hv000.corp.test", "A"): ["10.0.0.10"],
        ("10.0.0.10.in-addr.arpa", "PTR"): ["hv000.corp.test."],
    }
    with fake_dns(records) as address:
        yield address


def _collect(
    d: Directory,
    dns_server: str,
    hosts: list[str],
    monkeypatch: pytest.MonkeyPatch,
    operator: str | None = "CORP\\hvadmin",
) -> dict[str, Any]:
    monkeypatch.setattr(directory, "CONNECTION_FACTORY", FakeConnection)
    monkeypatch.setenv("HVLM_LDAP_PASSWORD", "pw-not-shown")
    FakeScript(d.answer)
    data: dict[str, Any] = {"hosts": hosts}
    if operator:
        data["operator"] = operator
    opts = DirectoryOptions(dns_servers=(dns_server,), auth="simple", username="auditor@corp.test", timeout=2)
    return collect_directory(parse_inventory(data), opts, {})


def _valid(result: dict[str, Any], hosts: list[str]) -> None:
    doc = new_snapshot_document(parse_inventory({"hosts": hosts}).to_snapshot())
    doc.update(result)
    Snapshot.from_document(doc)


def test_full_read_of_a_scripted_domain(dns_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    d = Directory()
    d.computers["HV001"]["msDS-AllowedToActOnBehalfOfOtherIdentity"] = [
        build_security_descriptor(parse_sddl(f"O:BAD:(A;;0xf01ff;;;{DOM_SID}-1100)(A;;0xf01ff;;;S-1-5-21-9-9-9-1234)"))
    ]
    hosts = ["hv000.corp.test", "hv001.corp.test", "hv404.corp.test"]
    result = _collect(d, dns_server, hosts, monkeypatch)
    _valid(result, hosts)
    dom = result["domains"]["corp.test"]
    assert dom["info"]["value"] == {
        "dnsRoot": "corp.test",
        "nETBIOSName": "CORP",
        "distinguishedName": "DC=corp,DC=test",
        "objectSid": DOM_SID,
        "currentTime": "2026-11-25T12:00:00Z",
    }
    assert dom["trusts"]["value"] == [
        {"trustPartner": "lab.test", "flatName": "LAB", "trustDirection": 3, "trustType": 2, "trustAttributes": 8}
    ]
    c = {x["sAMAccountName"]: x for x in dom["computers"]["value"]}
    assert set(c) == {"HV000$", "HV001$"}  # hv404 has no object: the engine reports it not_found
    assert c["HV001$"]["msDS-AllowedToActOnBehalfOfOtherIdentity"] == [
        {"sid": f"{DOM_SID}-1100", "name": "CORP\\HV000$"},  # named from the collected computers, no search
        {"sid": "S-1-5-21-9-9-9-1234", "name": None},  # another forest: unresolved, said so
    ]
    assert c["HV000$"]["whenChanged"] == "2026-11-20T09:00:00Z"
    assert result["operator"]["value"]["tokenGroups"] == [f"{DOM_SID}-512", f"{DOM_SID}-513"]
    assert result["dns"]["hv000.corp.test"]["value"]["PTR"] == {"10.0.0.10": ["hv000.corp.test."]}
    conn = FakeConnection.instances[-1]
    # rootDSE, domain, crossRef, computers, trusts, one name search (the foreign SID), operator, tokenGroups
    assert len(conn.searches) == 8
    assert "pw-not-shown" not in repr(result)


def test_selective_trust_reads_allowed_to_authenticate_in_the_same_search(
    dns_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = Directory()
    hosts = ["hv000.corp.test", "hv001.corp.test", "hv002.corp.test"]
    plain = _collect(d, dns_server, hosts, monkeypatch, operator=None)
    (search,) = [s for s in FakeConnection.instances[-1].searches if "objectCategory=computer" in s["filter"]]
    assert "nTSecurityDescriptor" not in search["attributes"] and not search.get("controls")
    assert all("allowedToAuthenticate" not in c for c in plain["domains"]["corp.test"]["computers"]["value"])

    d.trust_attributes = b"24"  # forest transitive + cross-organisation (selective authentication)
    right = "68b1d179-0d15-4d4f-ab71-46152e79a7bc"
    d.computers["HV001"]["nTSecurityDescriptor"] = [build_security_descriptor(parse_sddl(
        f"O:{DOM_SID}-512D:(OA;;CR;{right};;S-1-5-21-9-9-9-1105)(OD;;CR;{right};;S-1-5-21-9-9-9-1106)"
        f"(OA;;CR;00299570-246d-11d0-a768-00aa006e0529;;S-1-5-21-9-9-9-1107)(A;;RPLCLORC;;;AU)"
        f"(OA;IO;CR;{right};;S-1-5-21-9-9-9-1108)(A;;0xf01ff;;;{DOM_SID}-512)"))]
    d.computers["HV002"]["nTSecurityDescriptor"] = [b"\x01\x00junk"]
    result = _collect(d, dns_server, hosts, monkeypatch, operator=None)
    _valid(result, hosts)
    (search,) = [s for s in FakeConnection.instances[-1].searches if "objectCategory=computer" in s["filter"]]
    assert "nTSecurityDescriptor" in search["attributes"]
    assert search["controls"] == [("1.2.840.113556.1.4.801", False, bytes.fromhex("3003020104"))]  # DACL only
    fact = result["domains"]["corp.test"]["computers"]
    assert "nTSecurityDescriptor (DACL: SD flags control 0x4)" in fact["source"]["command"]
    c = {x["sAMAccountName"]: x["allowedToAuthenticate"] for x in fact["value"]}
    # the right itself, not another extended right (change password), nor an inherit-only ACE; full control counts
    assert c["HV001$"] == {"readable": True, "reason": None, "allowed": ["S-1-5-21-9-9-9-1105", f"{DOM_SID}-512"],
                           "denied": ["S-1-5-21-9-9-9-1106"]}
    assert c["HV000$"]["readable"] is False and "no nTSecurityDescriptor" in c["HV000$"]["reason"]
    assert c["HV002$"]["readable"] is False and "not a valid descriptor" in c["HV002$"]["reason"]


def test_search_count_does_not_grow_with_hosts(dns_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    counts = []
    for n in (5, 300):
        d = Directory(n)
        result = _collect(d, dns_server, [f"hv{i:03d}.corp.test" for i in range(n)], monkeypatch, operator=None)
        assert len(result["domains"]["corp.test"]["computers"]["value"]) == n
        counts.append(len(FakeConnection.instances[-1].searches))
    assert counts == [5, 5]


@pytest.mark.parametrize(
    ("breakage", "kind"),
    [
        (lambda d: d.computers["HV001"].pop("userAccountControl"), "not_readable"),
        (
            lambda d: d.computers["HV001"].update({"msDS-AllowedToActOnBehalfOfOtherIdentity": [b"\x01\x00junk"]}),
            "decode_error",
        ),
        (
            lambda d: setattr(d, "computer_result", {"result": 4, "description": "sizeLimitExceeded", "message": ""}),
            "size_limit",
        ),
    ],
)
def test_computer_failures_spare_the_other_facts(
    dns_server: str, monkeypatch: pytest.MonkeyPatch, breakage: Any, kind: str
) -> None:
    d = Directory()
    breakage(d)
    hosts = ["hv000.corp.test", "hv001.corp.test"]
    result = _collect(d, dns_server, hosts, monkeypatch)
    _valid(result, hosts)
    dom = result["domains"]["corp.test"]
    assert dom["computers"]["error"]["kind"] == kind
    assert dom["computers"]["source"]["host"] == "dc1.corp.test"
    assert "value" in dom["info"] and "value" in dom["trusts"] and "value" in result["operator"]


def test_unreadable_token_groups_is_an_error_not_an_empty_list(
    dns_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = Directory()
    d.token_groups = []
    result = _collect(d, dns_server, ["hv000.corp.test"], monkeypatch)
    assert result["operator"]["error"]["kind"] == "not_readable"
    assert "tokenGroups" in result["operator"]["error"]["message"]


def test_an_unexpected_failure_in_one_domain_is_an_error_fact(dns_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    d = Directory()
    d.broken_info = True
    hosts = ["hv000.corp.test", "hv9.other.test"]
    result = _collect(d, dns_server, hosts, monkeypatch)
    _valid(result, hosts)
    assert result["domains"]["corp.test"]["info"]["error"]["kind"] == "internal_error"
    assert result["domains"]["other.test"]["info"]["error"]["kind"] == "no_dc_records"
    assert result["operator"]["error"]["kind"] == "internal_error"  # its domain could not be read
    assert "value" in result["dns"]["hv000.corp.test"]


def test_a_bug_in_one_section_costs_only_that_section(dns_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("pw-not-shown")

    monkeypatch.setattr(directory.ldap_domain, "read_computers", broken)
    monkeypatch.setattr(directory.dns_lookup, "host_records", broken)
    hosts = ["hv000.corp.test"]
    result = _collect(Directory(), dns_server, hosts, monkeypatch)
    _valid(result, hosts)
    dom = result["domains"]["corp.test"]
    assert dom["computers"]["error"]["kind"] == "internal_error"
    assert "value" in dom["info"] and "value" in dom["trusts"] and "value" in result["operator"]
    assert result["dns"]["hv000.corp.test"]["error"]["kind"] == "internal_error"
    assert "pw-not-shown" not in repr(result)  # the password is redacted even from unexpected errors


def test_hosts_named_by_address_are_found_by_their_ptr_name(dns_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    hosts = ["10.0.0.10", "10.0.0.99"]
    result = _collect(Directory(), dns_server, hosts, monkeypatch)
    _valid(result, hosts)
    assert [c["sAMAccountName"] for c in result["domains"]["corp.test"]["computers"]["value"]] == ["HV000$"]
    assert result["dns"]["10.0.0.10"]["value"]["name"] == "hv000.corp.test"
    assert result["dns"]["10.0.0.10"]["value"]["PTR"] == {"10.0.0.10": ["hv000.corp.test."]}
    assert result["dns"]["10.0.0.99"]["value"] == {"name": "10.0.0.99", "A": [], "AAAA": [], "PTR": {"10.0.0.99": []}}


def test_hosts_outside_any_domain_get_dns_but_no_ad_lookup(dns_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    d = Directory()
    monkeypatch.setattr(directory, "CONNECTION_FACTORY", FakeConnection)
    FakeScript(d.answer)
    inv = parse_inventory({"hosts": ["hv000.corp.test", "WG01"]})
    result = collect_directory(
        inv, DirectoryOptions(dns_servers=(dns_server,), timeout=2), {"hv000.corp.test": None, "WG01": None}
    )
    assert result["domains"] == {}
    assert set(result["dns"]) == {"hv000.corp.test", "WG01"}
    assert result["dns"]["WG01"]["value"]["A"] == []


def test_no_password_for_a_simple_bind(dns_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HVLM_LDAP_PASSWORD", raising=False)
    monkeypatch.delenv("HVLM_PASSWORD", raising=False)
    monkeypatch.setattr(sys, "stdin", None)
    monkeypatch.setattr(directory, "CONNECTION_FACTORY", FakeConnection)
    FakeScript(Directory().answer)
    inv = parse_inventory({"hosts": ["hv000.corp.test"], "operator": "CORP\\hvadmin"})
    result = collect_directory(inv, DirectoryOptions(dns_servers=(dns_server,), auth="simple", timeout=2), {})
    err = result["domains"]["corp.test"]["info"]["error"]
    assert err["kind"] == "no_password" and "HVLM_LDAP_PASSWORD" in err["message"]


def test_a_domain_only_a_host_reported_gets_no_bind_password(monkeypatch: pytest.MonkeyPatch) -> None:
    # A rogue host reports Domain = evil.test (Win32_ComputerSystem is host-supplied) and DNS gives
    # evil.test a "DC": the simple-bind password must not be sent there; corp.test, which the
    # inventory names, is read as usual.
    records = {
        ("_ldap._tcp.dc._msdcs.corp.test", "SRV"): ["0 100 389 dc1.corp.test."],
        ("_ldap._tcp.dc._msdcs.evil.test", "SRV"): ["0 100 389 dc.evil.test."],
        ("dc1.corp.test", "A"): ["127.0.0.1"],
        ("dc.evil.test", "A"): ["127.0.0.2"],
    }
    contacted: list[str] = []

    def factory(server: Any, **kwargs: Any) -> Any:
        contacted.append(server.host)
        return FakeConnection(server, **kwargs)

    monkeypatch.setattr(directory, "CONNECTION_FACTORY", factory)
    monkeypatch.setenv("HVLM_LDAP_PASSWORD", "pw-not-shown")
    FakeScript(Directory().answer)
    inv = parse_inventory({"hosts": ["hv000.corp.test", "HV001"]})
    with fake_dns(records) as address:
        opts = DirectoryOptions(dns_servers=(address,), auth="simple", username="CORP\\auditor", timeout=2)
        result = collect_directory(inv, opts, {"hv000.corp.test": "corp.test", "HV001": "evil.test"})
        assert contacted == ["127.0.0.1"]
        err = result["domains"]["evil.test"]["info"]["error"]
        assert err["kind"] == "untrusted_domain" and "--dc evil.test=HOST" in err["message"]
        assert "value" in result["domains"]["corp.test"]["info"]
        # named in the inventory, the same domain is trusted with the password
        named = parse_inventory({"hosts": ["hv000.corp.test", "HV001"], "defaults": {"domain": "evil.test"}})
        assert "evil.test" in directory._password_domains(named, opts)


def test_cli_reads_the_ldap_password_from_the_keyring_before_connecting(
    dns_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import types

    from hvlm.audit.cli import main

    monkeypatch.delenv("HVLM_LDAP_PASSWORD", raising=False)
    monkeypatch.delenv("HVLM_PASSWORD", raising=False)
    monkeypatch.setattr(sys, "stdin", None)
    monkeypatch.setattr(directory, "CONNECTION_FACTORY", FakeConnection)
    script = FakeScript(Directory().answer)
    inventory = tmp_path / "fleet.toml"
    inventory.write_text('hosts = ["hv000.corp.test"]\noperator = "CORP\\\\hvadmin"\n')
    argv = ["collect", "-i", str(inventory), "--only", "directory", "-o", str(tmp_path / "dir.json"),
            "--ldap-auth", "simple", "--ldap-user", "auditor@corp.test", "--dns-server", dns_server, "-q"]
    # no password anywhere: a usage error before any connection, saying where one may come from
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "no LDAP password for auditor@corp.test" in err and "keyring set hvlm-ldap auditor@corp.test" in err
    assert script.bind_password is None and not (tmp_path / "dir.json").exists()
    fake = types.ModuleType("keyring")
    fake.get_password = (  # type: ignore[attr-defined]
        lambda service, user: "kr-secret-pw" if (service, user) == ("hvlm-ldap", "auditor@corp.test") else None
    )
    monkeypatch.setitem(sys.modules, "keyring", fake)
    assert main(argv) == 0, capsys.readouterr().err
    assert script.bind_password == "kr-secret-pw"
    assert "kr-secret-pw" not in (tmp_path / "dir.json").read_text() + capsys.readouterr().err


def test_log_records_the_directory_and_dns_collection_but_never_the_password(
    dns_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from hvlm.audit.cli import main

    monkeypatch.setenv("HVLM_LDAP_PASSWORD", "pw-not-shown-in-logs")
    monkeypatch.setattr(directory, "CONNECTION_FACTORY", FakeConnection)
    FakeScript(Directory().answer)
    inventory = tmp_path / "fleet.toml"
    inventory.write_text('hosts = ["hv000.corp.test", "hv001.corp.test"]\noperator = "CORP\\\\hvadmin"\n')
    log_file = tmp_path / "collect.log"
    code = main(["collect", "-i", str(inventory), "--only", "directory", "-o", str(tmp_path / "dir.json"),
                 "--ldap-auth", "simple", "--ldap-user", "auditor@corp.test", "--ldap-tls", "starttls",
                 "--dns-server", dns_server, "--log", str(log_file)])
    assert code in (0, 3), capsys.readouterr().err
    text = log_file.read_text("utf-8")
    assert "pw-not-shown-in-logs" not in text
    # the DC tried, with the bind method and the TLS mode
    assert "connecting to dc1.corp.test" in text and "TLS starttls" in text and "bind simple as auditor@corp.test" in text
    assert "bound to dc1.corp.test" in text
    # each search: base, filter, result count and duration
    assert re.search(r"ldap search on dc1\.corp\.test: base 'DC=corp,DC=test', scope subtree, filter .*"
                     r"objectCategory=computer.*: 2 entries in 1 page\(s\), \d+\.\d{3} s", text), text
    assert re.search(r"base 'CN=System,DC=corp,DC=test'.*: 1 entries", text)
    # DNS queries and their outcome
    assert re.search(r"dns SRV _ldap\._tcp\.dc\._msdcs\.corp\.test\. asking 127\.0\.0\.1:\d+: 1 record\(s\): "
                     r"0 100 389 dc1\.corp\.test\.", text), text
    assert re.search(r"dns A hv001\.corp\.test\. asking .*: no such name \(NXDOMAIN\)|dns A hv001\.corp\.test\. "
                     r"asking .*: 0 record", text), text
    assert "directory: 1 domain(s) to read: corp.test" in text


def test_describe_filter_keeps_log_lines_short() -> None:
    from hvlm.audit.collect.ldap_conn import describe_filter

    assert describe_filter("(objectClass=*)") == "(objectClass=*)"
    big = "(&(objectCategory=computer)(|" + "".join(f"(sAMAccountName=HV{i:04d}$)" for i in range(2000)) + "))"
    short = describe_filter(big)
    assert len(short) < 140 and "2001 clauses" in short and f"{len(big)} characters" in short
