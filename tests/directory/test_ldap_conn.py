"""Binding and searching, with a scripted stand-in for ldap3.Connection."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import ldap3
import pytest
from ldap3.core import exceptions as lex

from hvlm.audit.collect.ldap_conn import Credentials, DcEndpoint, DirectoryError, connect
from tests.directory.fakeldap import FakeConnection, FakeScript

DC = DcEndpoint("dc1.corp.test", "10.0.0.2")
SECRET = "S3cret-Pa55!"


def _connect(creds: Credentials, **kw: Any) -> Any:
    return connect(DC, "corp.test", creds, connection_factory=FakeConnection, **kw)


def test_ldaps_simple_bind_validates_the_dc_certificate_by_name(tmp_path: Path) -> None:
    FakeScript()
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n", "ascii")
    session = _connect(Credentials("simple", "CORP\\auditor", SECRET), ca_file=str(ca))
    conn = FakeConnection.instances[-1]
    server = conn.server
    assert (server.host, server.port, server.ssl) == ("10.0.0.2", 636, True)
    assert server.tls.validate == ssl.CERT_REQUIRED
    assert server.tls.ca_certs_file == str(ca)
    assert server.tls.valid_names == ["dc1.corp.test"] and server.tls.sni == "dc1.corp.test"
    assert conn.kwargs["authentication"] == ldap3.SIMPLE and conn.kwargs["user"] == "CORP\\auditor"
    assert conn.kwargs["read_only"] is True and conn.kwargs["auto_referrals"] is False
    assert conn.calls == ["open", "bind"]
    assert conn.password is None  # dropped after the bind
    assert session.user == "CORP\\auditor" and SECRET not in repr(session.__dict__)


def test_starttls_upgrades_before_the_bind() -> None:
    FakeScript()
    _connect(Credentials("simple", "auditor", SECRET), tls_mode="starttls", timeout=2.5)
    conn = FakeConnection.instances[-1]
    assert (conn.server.port, conn.server.ssl) == (389, False)
    assert conn.kwargs["receive_timeout"] == 3  # ldap3 packs it as an integer (struct 'LL')
    assert conn.calls == ["open", "start_tls", "bind"]
    assert conn.kwargs["user"] == "auditor@corp.test"  # a bare name binds as its UPN


def test_refused_starttls_is_a_tls_error() -> None:
    FakeScript(start_tls=False)
    with pytest.raises(DirectoryError) as err:
        _connect(Credentials("simple", "auditor", SECRET), tls_mode="starttls")
    assert err.value.kind == "tls_error"
    assert FakeConnection.instances[-1].calls == ["open", "start_tls"]  # never bound in clear


def test_plain_ldap_is_refused_unless_allowed() -> None:
    FakeScript()
    before = len(FakeConnection.instances)
    with pytest.raises(DirectoryError) as err:
        _connect(Credentials("simple", "auditor", SECRET), tls_mode="plain")
    assert err.value.kind == "plain_refused" and "--allow-plain-ldap" in err.value.message
    assert len(FakeConnection.instances) == before  # nothing was even opened
    _connect(Credentials("simple", "auditor", SECRET), tls_mode="plain", allow_plain=True)
    conn = FakeConnection.instances[-1]
    assert conn.server.tls is None and conn.server.port == 389


def test_missing_ca_file_is_a_config_error(tmp_path: Path) -> None:
    FakeScript()
    with pytest.raises(DirectoryError) as err:
        _connect(Credentials("simple", "auditor", SECRET), ca_file=str(tmp_path / "nope.pem"))
    assert err.value.kind == "config" and "nope.pem" in err.value.message


def test_empty_password_is_never_sent_as_an_unauthenticated_bind() -> None:
    FakeScript()
    for password in (None, ""):
        with pytest.raises(DirectoryError) as err:
            _connect(Credentials("simple", "auditor", password))
        assert err.value.kind == "no_password" and "HVLM_LDAP_PASSWORD" in err.value.message


def test_ntlm_bind_is_built_as_ldap3_wants_it() -> None:
    """Samba does not implement ldap3's Sicily NTLM bind, so this path is checked here only."""
    FakeScript()
    _connect(Credentials("ntlm", "auditor@corp.test", SECRET))
    conn = FakeConnection.instances[-1]
    assert conn.kwargs["authentication"] == ldap3.NTLM
    assert conn.kwargs["user"] == "corp.test\\auditor"
    assert FakeScript.current.bind_password == SECRET
    _connect(Credentials("ntlm", "CORP\\auditor", SECRET))
    assert FakeConnection.instances[-1].kwargs["user"] == "CORP\\auditor"


def test_ntlm_refusal_explains_channel_binding() -> None:
    FakeScript(bind={"result": 49, "description": "invalidCredentials", "message": "data 52e"})
    with pytest.raises(DirectoryError) as err:
        _connect(Credentials("ntlm", "CORP\\auditor", SECRET))
    assert err.value.kind == "bind_refused" and "channel binding" in err.value.message


def test_gssapi_bind_asks_for_the_dc_service_ticket() -> None:
    FakeScript()
    _connect(Credentials("gssapi"))
    conn = FakeConnection.instances[-1]
    assert conn.kwargs["authentication"] == ldap3.SASL and conn.kwargs["sasl_mechanism"] == ldap3.KERBEROS
    assert conn.kwargs["sasl_credentials"] == ("dc1.corp.test",)
    assert "password" not in conn.kwargs


def test_gssapi_refused_for_want_of_sign_and_seal() -> None:
    FakeScript(bind={"result": 8, "description": "strongerAuthRequired", "message": "Sign or Seal are required."})
    with pytest.raises(DirectoryError) as err:
        _connect(Credentials("gssapi"))
    assert err.value.kind == "bind_refused" and "--ldap-auth simple" in err.value.message


def test_gssapi_failure_says_kinit() -> None:
    class GSSError(Exception):
        pass

    FakeScript(bind=GSSError("No Kerberos credentials available"))
    with pytest.raises(DirectoryError) as err:
        _connect(Credentials("gssapi"))
    assert err.value.kind == "bind_refused" and "kinit" in err.value.message


@pytest.mark.parametrize(
    ("exc", "kind", "hint"),
    [
        (
            lex.LDAPSocketOpenError("socket connection error while opening: [Errno 111] Connection refused"),
            "dc_unreachable",
            "firewall",
        ),
        (
            lex.LDAPSocketOpenError(
                "socket ssl wrapping error: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify "
                "failed: self-signed certificate in certificate chain (_ssl.c:1006)"
            ),
            "tls_untrusted",
            "--ldap-ca",
        ),
        (
            lex.LDAPCertificateError("certificate {...} doesn't match any name in ['10.0.0.2', 'dc1.corp.test']"),
            "tls_name_mismatch",
            "--dc NAME",
        ),
        (lex.LDAPPackageUnavailableError("package gssapi (or winkerberos) missing"), "auth_unavailable", "gssapi"),
    ],
)
def test_open_failures_are_classified(exc: Exception, kind: str, hint: str) -> None:
    FakeScript(open=exc)
    with pytest.raises(DirectoryError) as err:
        _connect(Credentials("simple", "auditor", SECRET))
    assert err.value.kind == kind and hint in err.value.message
    assert FakeConnection.instances[-1].unbound


def test_bind_errors_never_echo_the_password() -> None:
    FakeScript(bind={"result": 49, "description": "invalidCredentials", "message": f"bad password {SECRET}"})
    with pytest.raises(DirectoryError) as err:
        _connect(Credentials("simple", "auditor", SECRET))
    assert err.value.kind == "bind_refused"
    assert SECRET not in err.value.message and "***" in err.value.message
    FakeScript(bind={"result": 8, "description": "strongerAuthRequired", "message": ""})
    with pytest.raises(DirectoryError) as err:
        _connect(Credentials("simple", "auditor", SECRET), tls_mode="plain", allow_plain=True)
    assert "--ldap-tls ldaps" in err.value.message
    FakeScript(open=lex.LDAPSocketOpenError(f"oops {SECRET}"))
    with pytest.raises(DirectoryError) as err:
        _connect(Credentials("simple", "auditor", SECRET))
    assert SECRET not in err.value.message


def _paged(pages: list[list[str]]) -> Any:
    def answer(base: str, filt: str, cookie: bytes | None) -> Any:
        index = int(cookie or b"0")
        entries = [(dn, {"cn": [dn.encode()]}) for dn in pages[index]]
        next_cookie = str(index + 1).encode() if index + 1 < len(pages) else b""
        control = {"1.2.840.113556.1.4.319": {"value": {"size": 0, "cookie": next_cookie}}}
        return entries, {"result": 0, "description": "success", "controls": control}

    return answer


def test_paged_search_follows_cookies_and_counts_requests() -> None:
    FakeScript(_paged([["CN=a"], ["CN=b", "CN=c"], ["CN=d"]]))
    session = _connect(Credentials("simple", "auditor", SECRET), page_size=2)
    found = session.search("DC=corp,DC=test", "(objectClass=*)", ["cn"])
    assert [dn for dn, _ in found] == ["CN=a", "CN=b", "CN=c", "CN=d"]  # referrals left out
    assert session.searches == 3
    conn = FakeConnection.instances[-1]
    assert [s["paged_size"] for s in conn.searches] == [2, 2, 2]
    assert [s["paged_cookie"] for s in conn.searches] == [None, b"1", b"2"]


@pytest.mark.parametrize(
    ("code", "kind", "hint"),
    [
        (4, "size_limit", "MaxPageSize"),
        (11, "size_limit", "MaxPageSize"),
        (3, "timeout", "MaxQueryDuration"),
        (50, "not_readable", "read"),
        (32, "not_found", "does not exist"),
        (80, "ldap_error", "LDAP result 80"),
    ],
)
def test_search_result_codes_become_actionable_errors(code: int, kind: str, hint: str) -> None:
    FakeScript(lambda b, f, c: ([("CN=a", {})], {"result": code, "description": "x", "message": "y"}))
    session = _connect(Credentials("simple", "auditor", SECRET))
    with pytest.raises(DirectoryError) as err:
        session.search("DC=corp,DC=test", "(objectClass=*)", ["cn"])
    assert err.value.kind == kind and hint in err.value.message


def test_search_exception_is_classified() -> None:
    def answer(b: str, f: str, c: bytes | None) -> Any:
        raise lex.LDAPSocketReceiveError("connection reset")

    FakeScript(answer)
    session = _connect(Credentials("simple", "auditor", SECRET))
    with pytest.raises(DirectoryError) as err:
        session.search("DC=corp,DC=test", "(objectClass=*)", ["cn"])
    assert err.value.kind == "dc_unreachable"
