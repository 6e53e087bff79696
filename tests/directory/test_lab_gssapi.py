"""Kerberos (SASL GSSAPI) binds of the directory collector against the Samba lab DC, from a ticket
cache made with kinit. Needs python-gssapi (the `kerberos` extra, built in CI by tests/lab/setup.sh):
missing in CI is a failure, elsewhere a skip that says why."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.directory import labsetup as lab
from tests.lab.samba import SambaDC

pytestmark = pytest.mark.lab
pytest_plugins = ["tests.lab.samba.fixtures"]  # samba_dc, samba_forest


def _need_gssapi() -> None:
    if importlib.util.find_spec("gssapi") is None:
        message = "python-gssapi is not installed (pip install -e '.[kerberos]' with libkrb5-dev)"
        if os.environ.get("CI"):
            pytest.fail(message + ": tests/lab/setup.sh installs it in CI", pytrace=False)
        pytest.skip(message)


@pytest.fixture
def ticket(samba_dc: SambaDC, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Administrator's TGT in a private cache, as an admin would have after kinit."""
    _need_gssapi()
    monkeypatch.setenv("KRB5_CONFIG", str(samba_dc.krb5_conf))
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / 'ccache'}")
    subprocess.run(
        ["kinit", f"{samba_dc.admin_user}@{samba_dc.realm}"],
        input=samba_dc.admin_password + "\n",
        text=True,
        check=True,
        capture_output=True,
        timeout=30,
    )
    yield


def _collect(dc: SambaDC, **kw: Any) -> dict[str, Any]:
    # no password anywhere: the bind uses the ticket
    return lab.collect(
        dc,
        [lab.fqdn(dc, "DXOK1")],
        operator=f"{dc.netbios_domain}\\Administrator",
        secret="",
        auth="gssapi",
        username=None,
        **kw,
    )


def test_gssapi_bind_from_the_ticket_cache(samba_dc: SambaDC, seeded: Any, ticket: None) -> None:
    # Samba with "ldap server require strong auth = yes" (the lab default) wants SASL sign/seal even
    # inside TLS, which ldap3 does not negotiate: the collector says so instead of failing vaguely.
    refused = _collect(samba_dc)["domains"][samba_dc.dns_domain]["info"]["error"]
    assert refused["kind"] == "bind_refused" and "sign or seal" in refused["message"].lower(), refused
    assert "--ldap-auth simple" in refused["message"]
    samba_dc.restart(require_strong_auth=False)  # as Windows DCs accept GSSAPI inside TLS
    try:
        for tls in ("ldaps", "starttls"):
            result = _collect(samba_dc, tls=tls)
            dom = result["domains"][samba_dc.dns_domain]
            assert [c["sAMAccountName"] for c in dom["computers"]["value"]] == ["DXOK1$"], tls
            assert dom["info"]["value"]["objectSid"] == samba_dc.domain_sid
            assert result["operator"]["value"]["objectSid"] == f"{samba_dc.domain_sid}-500"
    finally:
        samba_dc.restart(require_strong_auth=True)


def test_gssapi_without_a_ticket_says_kinit(samba_dc: SambaDC, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _need_gssapi()
    monkeypatch.setenv("KRB5_CONFIG", str(samba_dc.krb5_conf))
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / 'empty-ccache'}")
    err = _collect(samba_dc)["domains"][samba_dc.dns_domain]["info"]["error"]
    assert err["kind"] == "bind_refused" and "kinit" in err["message"]
