"""Tests of the Samba AD lab itself: what hvlm's directory code will rely on, read back with ldap3
and dnspython exactly as a client of a real DC would."""

from __future__ import annotations

import importlib.util
import ssl
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import dns.resolver
import dns.reversename
import pytest
from cryptography import x509
from ldap3 import BASE, KERBEROS, SASL, SIMPLE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPSocketOpenError, LDAPStrongerAuthRequiredResult

from tests.lab.samba import ComputerSpec, LabError, SambaDC, SambaForest
from tests.lab.samba.ldb import escape_rdn_value, ldif_line, parse_ldif
from tests.lab.samba.seed import escape_filter_value

pytestmark = pytest.mark.lab
pytest_plugins = ["tests.lab.samba.fixtures"]  # samba_dc, samba_forest

MIGRATION_SPN = "Microsoft Virtual System Migration Service"
UAC_TRUSTED_FOR_DELEGATION = 0x80000
UAC_TRUSTED_TO_AUTH_FOR_DELEGATION = 0x1000000
UAC_NOT_DELEGATED = 0x100000


def sid_to_str(raw: bytes) -> str:
    """Binary SID (MS-DTYP 2.4.2.2) to S-1-5-21-... form."""
    revision, count = raw[0], raw[1]
    authority = int.from_bytes(raw[2:8], "big")
    subs = struct.unpack(f"<{count}I", raw[8 : 8 + 4 * count])
    return "S-" + "-".join(str(x) for x in (revision, authority, *subs))


def bind(dc: SambaDC, *, use_ssl: bool, start_tls: bool = False, tls: Tls | None = None) -> Connection:
    server = Server(dc.ip, port=636 if use_ssl else 389, use_ssl=use_ssl, tls=tls or dc.tls(), connect_timeout=5)
    conn = Connection(server, user=dc.admin_upn, password=dc.admin_password, authentication=SIMPLE)
    conn.open()
    if start_tls:
        conn.start_tls(read_server_info=False)
    conn.bind()
    return conn


@pytest.fixture
def conn(samba_dc: SambaDC) -> Iterator[Connection]:
    # Per test: test_binds_without_strong_auth restarts the DC, which drops open connections.
    c = samba_dc.admin_connection()
    yield c
    c.unbind()


# ----------------------------------------------------------------------------- pure helpers
def test_ldif_helpers() -> None:
    assert ldif_line("cn", "HV01") == "cn: HV01"
    assert ldif_line("x", " lead").startswith("x:: ")
    assert ldif_line("x", "é").startswith("x:: ")
    assert ldif_line("servicePrincipalName", f"{MIGRATION_SPN}/HV02") == f"servicePrincipalName: {MIGRATION_SPN}/HV02"
    assert escape_rdn_value("a,b") == "a\\,b"
    assert escape_filter_value("a*(b)") == "a\\2a\\28b\\29"
    parsed = parse_ldif(
        "# record 1\ndn: CN=x,DC=y\nmember: CN=long\n value\nname:: w6k=\n\n# Referral\nref: ldap://z\n"
    )
    assert parsed == [{"dn": ["CN=x,DC=y"], "member": ["CN=longvalue"], "name": ["é"]}]


# ------------------------------------------------------------------------------- TLS, binds
def test_ldaps_simple_bind_validates_lab_ca(samba_dc: SambaDC) -> None:
    tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(samba_dc.ca_cert), valid_names=[samba_dc.fqdn])
    c = Connection(Server(samba_dc.ldaps_url, tls=tls), user=samba_dc.admin_upn, password=samba_dc.admin_password)
    assert c.bind(), c.result
    assert c.search(samba_dc.admin_dn, "(objectClass=user)", BASE, attributes=["objectSid"])
    assert sid_to_str(c.entries[0].objectSid.raw_values[0]) == f"{samba_dc.domain_sid}-500"
    c.unbind()


def test_certificate_names_dc_and_ip(samba_dc: SambaDC) -> None:
    cert = x509.load_pem_x509_certificate(samba_dc.layout.cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert samba_dc.fqdn in san.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == [samba_dc.ip]


def test_ldaps_by_ip_without_valid_names(samba_dc: SambaDC) -> None:
    # ssl.match_hostname (used by ldap3 on Python 3.11) checks the IP SAN.
    tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(samba_dc.ca_cert))
    assert bind(samba_dc, use_ssl=True, tls=tls).bound


def test_ldaps_rejects_unknown_ca(samba_dc: SambaDC) -> None:
    tls = Tls(validate=ssl.CERT_REQUIRED)  # system CAs only: the lab CA is not among them
    with pytest.raises(LDAPSocketOpenError):
        bind(samba_dc, use_ssl=True, tls=tls)


def test_starttls_on_389(samba_dc: SambaDC) -> None:
    c = bind(samba_dc, use_ssl=False, start_tls=True)
    assert c.bound and c.tls_started


def test_plain_simple_bind_refused_by_default(samba_dc: SambaDC) -> None:
    assert samba_dc.require_strong_auth
    c = Connection(Server(samba_dc.ldap_url), user=samba_dc.admin_upn, password=samba_dc.admin_password)
    assert not c.bind()
    assert c.result["description"] == "strongerAuthRequired"
    assert "Transport encryption required" in c.result["message"]
    c2 = Connection(
        Server(samba_dc.ldap_url), user=samba_dc.admin_upn, password=samba_dc.admin_password, raise_exceptions=True
    )
    with pytest.raises(LDAPStrongerAuthRequiredResult):
        c2.bind()


def kinit(dc: SambaDC, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Administrator's TGT into a private ccache; KRB5_CONFIG/KRB5CCNAME set for this test."""
    monkeypatch.setenv("KRB5_CONFIG", str(dc.krb5_conf))
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{folder / 'ccache'}")
    subprocess.run(
        ["kinit", f"{dc.admin_user}@{dc.realm}"],
        input=dc.admin_password + "\n",
        text=True,
        check=True,
        capture_output=True,
        timeout=30,
    )


def gssapi_bind(dc: SambaDC, *, use_ssl: bool) -> Connection:
    # The service ticket is for ldap/<DC name>, not for the IP the socket connects to.
    c = Connection(
        dc.ldap_server(use_ssl=use_ssl),
        authentication=SASL,
        sasl_mechanism=KERBEROS,
        sasl_credentials=(dc.fqdn,),
    )
    c.bind()
    return c


def test_binds_without_strong_auth(samba_dc: SambaDC, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    has_gssapi = importlib.util.find_spec("gssapi") is not None
    if has_gssapi:
        kinit(samba_dc, tmp_path, monkeypatch)
        # Samba 4.17 with strong auth wants SASL sign/seal even inside TLS; ldap3 negotiates
        # neither, so its GSSAPI binds need require_strong_auth=False (Windows accepts them over TLS).
        refused = gssapi_bind(samba_dc, use_ssl=True)
        assert not refused.bound
        assert "Sign or Seal are required" in refused.result["message"]
    samba_dc.restart(require_strong_auth=False)
    try:
        c = Connection(Server(samba_dc.ldap_url), user=samba_dc.admin_upn, password=samba_dc.admin_password)
        assert c.bind(), c.result
        c.unbind()
        if has_gssapi:
            for use_ssl in (False, True):
                g = gssapi_bind(samba_dc, use_ssl=use_ssl)
                assert g.bound, g.result
                assert g.search(samba_dc.admin_dn, "(objectClass=user)", BASE)
                g.unbind()
    finally:
        samba_dc.restart(require_strong_auth=True)
    assert samba_dc.require_strong_auth
    assert not Connection(Server(samba_dc.ldap_url), user=samba_dc.admin_upn, password=samba_dc.admin_password).bind()
    if not has_gssapi:
        pytest.skip("plain simple bind checked; GSSAPI part needs python gssapi (libkrb5-dev + compiler)")


def test_second_dc_on_same_address_waits_then_fails(
    samba_dc: SambaDC, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HVLM_SAMBA_LOCK_TIMEOUT", "1")
    other = SambaDC(tmp_path / "other", ip=samba_dc.ip)
    with pytest.raises(LabError, match="in use by another lab DC"):
        other.start()
    assert not other.running
    assert samba_dc.running


# ------------------------------------------------------------------------------ directory
def test_paged_search_of_seeded_computers(samba_dc: SambaDC, conn: Connection) -> None:
    specs = [
        ComputerSpec(
            f"PG{i:03d}",
            spns=(f"HOST/pg{i:03d}.lab.test", f"{MIGRATION_SPN}/PG{i:03d}"),
            allowed_to_delegate_to=("cifs/pg000.lab.test", f"{MIGRATION_SPN}/PG000"),
            trusted_to_auth_for_delegation=i % 2 == 0,
        )
        for i in range(200)
    ]
    started = time.monotonic()
    samba_dc.add_computers_bulk(specs)
    elapsed = time.monotonic() - started
    assert elapsed < 60, f"seeding 200 computers took {elapsed:.1f} s"

    entries = list(
        conn.extend.standard.paged_search(
            samba_dc.domain_dn,
            "(&(objectClass=computer)(sAMAccountName=PG*))",
            search_scope=SUBTREE,
            attributes=["sAMAccountName", "msDS-AllowedToDelegateTo", "userAccountControl", "servicePrincipalName"],
            paged_size=50,
            generator=True,
        )
    )
    found = {e["attributes"]["sAMAccountName"]: e["attributes"] for e in entries if e["type"] == "searchResEntry"}
    assert len(found) == 200
    pg7, pg8 = found["PG007$"], found["PG008$"]
    assert f"{MIGRATION_SPN}/PG007" in pg7["servicePrincipalName"]
    assert sorted(pg7["msDS-AllowedToDelegateTo"]) == sorted(["cifs/pg000.lab.test", f"{MIGRATION_SPN}/PG000"])
    assert not pg7["userAccountControl"] & UAC_TRUSTED_TO_AUTH_FOR_DELEGATION
    assert pg8["userAccountControl"] & UAC_TRUSTED_TO_AUTH_FOR_DELEGATION
    assert pg8["userAccountControl"] & 0x1000  # workstation trust account, enabled
    assert not pg8["userAccountControl"] & 0x2


def test_add_computer_attributes(samba_dc: SambaDC, conn: Connection) -> None:
    dn = samba_dc.add_computer(
        "HV01",
        dns_host_name="hv01.lab.test",
        spns=[f"{MIGRATION_SPN}/HV01", "HOST/hv01.lab.test"],
        allowed_to_delegate_to=["cifs/hv02.lab.test"],
        trusted_for_delegation=True,
        operating_system="Windows Server 2019 Datacenter",
        operating_system_version="10.0 (17763)",
        enabled=False,
    )
    conn.search(dn, "(objectClass=computer)", BASE, attributes=["*"])
    e = conn.entries[0]
    assert e.dNSHostName.value == "hv01.lab.test"
    assert e.operatingSystem.value == "Windows Server 2019 Datacenter"
    assert e.operatingSystemVersion.value == "10.0 (17763)"
    assert e.userAccountControl.value & UAC_TRUSTED_FOR_DELEGATION
    assert e.userAccountControl.value & 0x2  # disabled
    assert e["msDS-AllowedToDelegateTo"].values == ["cifs/hv02.lab.test"]


def test_rbcd_reads_back_as_security_descriptor(samba_dc: SambaDC, conn: Connection) -> None:
    samba_dc.add_computer("RB01")
    target = samba_dc.add_computer("RB02")
    samba_dc.add_rbcd("RB02", "RB01")
    conn.search(samba_dc.dn_of("RB01"), "(objectClass=*)", BASE, attributes=["objectSid"])
    principal_sid = conn.entries[0].objectSid.raw_values[0]
    conn.search(target, "(objectClass=*)", BASE, attributes=["msDS-AllowedToActOnBehalfOfOtherIdentity"])
    sd = conn.entries[0]["msDS-AllowedToActOnBehalfOfOtherIdentity"].raw_values[0]
    assert isinstance(sd, bytes)
    assert sd[0] == 1  # SECURITY_DESCRIPTOR revision 1, self-relative binary form
    assert principal_sid in sd  # the DACL's ACE grants the principal


def test_token_groups_of_nested_domain_admin(samba_dc: SambaDC, conn: Connection) -> None:
    user = samba_dc.add_user("tg.alice", "Alice-Lab-Pass-1")
    samba_dc.add_group("TG HV Operators")
    samba_dc.add_group("TG Inner")
    samba_dc.add_member("TG Inner", "tg.alice")
    samba_dc.add_member("TG HV Operators", "TG Inner")
    samba_dc.add_member("Domain Admins", "TG HV Operators")
    conn.search(user, "(objectClass=*)", BASE, attributes=["tokenGroups"])
    sids = {sid_to_str(v) for v in conn.entries[0].tokenGroups.raw_values}
    assert f"{samba_dc.domain_sid}-512" in sids  # Domain Admins, through two levels of nesting
    conn.search(samba_dc.dn_of("TG Inner"), "(objectClass=*)", BASE, attributes=["objectSid"])
    assert sid_to_str(conn.entries[0].objectSid.raw_values[0]) in sids
    conn.search(
        samba_dc.domain_dn,
        "(memberOf:1.2.840.113556.1.4.1941:=" + samba_dc.dn_of("Domain Admins") + ")",
        SUBTREE,
        attributes=["sAMAccountName"],
    )
    assert "tg.alice" in {e.sAMAccountName.value for e in conn.entries}


def test_protected_users_and_sensitive_account(samba_dc: SambaDC, conn: Connection) -> None:
    protected = samba_dc.dn_of("Protected Users")
    conn.search(protected, "(objectClass=group)", BASE, attributes=["objectSid"])
    assert sid_to_str(conn.entries[0].objectSid.raw_values[0]) == f"{samba_dc.domain_sid}-525"
    user = samba_dc.add_user("ps.bob", "Bob-Lab-Pass-1", sensitive_not_delegated=True)
    samba_dc.add_member("Protected Users", "ps.bob")
    conn.search(user, "(objectClass=*)", BASE, attributes=["userAccountControl", "memberOf"])
    assert conn.entries[0].userAccountControl.value & UAC_NOT_DELEGATED
    assert protected in conn.entries[0].memberOf.values


# ---------------------------------------------------------------------------------- DNS
def test_dns_srv_a_and_ptr(samba_dc: SambaDC) -> None:
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = [samba_dc.ip]
    srv = res.resolve(f"_ldap._tcp.dc._msdcs.{samba_dc.dns_domain}", "SRV")
    assert {(r.target.to_text(), r.port) for r in srv} == {(samba_dc.fqdn + ".", 389)}
    assert [r.to_text() for r in res.resolve(samba_dc.fqdn, "A")] == [samba_dc.ip]
    samba_dc.add_a("hv21", "127.0.0.21")
    samba_dc.add_ptr("127.0.0.21", "hv21.lab.test")
    samba_dc.add_a("hv22.lab.test", "127.0.0.22")
    samba_dc.add_ptr("127.0.0.22", "hv22.lab.test")
    assert [r.to_text() for r in res.resolve("hv21.lab.test", "A")] == ["127.0.0.21"]
    assert [r.to_text() for r in res.resolve("hv22.lab.test", "A")] == ["127.0.0.22"]
    ptr = res.resolve(dns.reversename.from_address("127.0.0.21"), "PTR")
    assert [r.to_text() for r in ptr] == ["hv21.lab.test."]


def test_kerberos_kdc_issues_tickets(samba_dc: SambaDC, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kinit(samba_dc, tmp_path, monkeypatch)
    klist = subprocess.run(["klist"], check=True, capture_output=True, text=True).stdout
    assert f"krbtgt/{samba_dc.realm}@{samba_dc.realm}" in klist
    kvno = subprocess.run(["kvno", f"ldap/{samba_dc.fqdn}"], check=True, capture_output=True, text=True).stdout
    assert f"ldap/{samba_dc.fqdn}@{samba_dc.realm}" in kvno


def test_kdc_enforces_constrained_delegation(
    samba_dc: SambaDC, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    samba_dc.add_computer("KD02", spns=["cifs/kd02.lab.test", f"{MIGRATION_SPN}/KD02"])
    samba_dc.add_computer(
        "KD01",
        password="Kd01-Machine-Pass-1",
        allowed_to_delegate_to=["cifs/kd02.lab.test"],
        trusted_to_auth_for_delegation=True,
    )
    samba_dc.add_user("kd.carol", "Carol-Lab-Pass-1")
    monkeypatch.setenv("KRB5_CONFIG", str(samba_dc.krb5_conf))
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / 'ccache'}")
    # The host's TGT must be forwardable for S4U2Proxy.
    subprocess.run(
        ["kinit", "-f", f"KD01$@{samba_dc.realm}"],
        input="Kd01-Machine-Pass-1\n",
        text=True,
        check=True,
        capture_output=True,
        timeout=30,
    )

    def s4u(spn: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["kvno", "-U", "kd.carol", "-P", spn], capture_output=True, text=True, timeout=30)

    assert s4u("cifs/kd02.lab.test").returncode == 0  # listed in msDS-AllowedToDelegateTo
    refused = s4u(f"ldap/{samba_dc.fqdn}")
    assert refused.returncode != 0 and "constrained delegation failed" in refused.stderr


# -------------------------------------------------------------------------------- forest
def test_forest_trust_objects_on_both_sides(samba_forest: SambaForest) -> None:
    dc1, dc2 = samba_forest.dc1, samba_forest.dc2
    for here, there in ((dc1, dc2), (dc2, dc1)):
        c = here.admin_connection()
        c.search(
            f"CN=System,{here.domain_dn}",
            "(objectClass=trustedDomain)",
            SUBTREE,
            attributes=["trustPartner", "flatName", "trustDirection", "trustType", "trustAttributes"],
        )
        tdo = {e.trustPartner.value: e for e in c.entries}[there.dns_domain]
        assert tdo.flatName.value == there.netbios_domain
        assert tdo.trustDirection.value == 3  # both ways
        assert tdo.trustType.value == 2  # uplevel (AD)
        assert tdo.trustAttributes.value & 0x8  # forest transitive
        c.unbind()
    res = dc1.resolver()
    assert res.resolve(f"_ldap._tcp.{dc2.dns_domain}", "SRV")  # DC1 forwards lab2.test to DC2
