"""One Kerberos set-up for WinRM and LDAP: which krb5.conf and ticket cache, and why a ticket failed.

Both paths use MIT Kerberos through GSSAPI (pypsrp via pyspnego for WinRM, ldap3 SASL GSSAPI for
LDAP), and MIT reads its configuration and ticket cache from the environment every time it starts
a context: ``KRB5_CONFIG`` (default /etc/krb5.conf) and ``KRB5CCNAME`` (default
``FILE:/tmp/krb5cc_<uid>`` unless krb5.conf names another). ``--krb5-config`` and
``--krb5-ccache`` set exactly those two variables for this run, before any connection, so the
WinRM probes and the LDAP binds use the same realm settings and the same ticket.

:func:`explain` turns the GSSAPI errors MIT returns for the failures a real domain produces (no
ticket, expired ticket, unknown service principal, clock skew, KDC unreachable, unknown realm)
into one line that names the host and says what to do. The codes were observed against the Samba
lab KDC (tests/collect/test_kerberos_lab.py) and are MIT's krb5 error table (krb5_err.et).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hvlm.audit.collect.chain import causes
from hvlm.audit.errors import UsageError

__all__ = [
    "CCACHE_ENV",
    "CONFIG_ENV",
    "KerberosFailure",
    "add_kerberos_options",
    "apply_kerberos_options",
    "ccache_name",
    "config_path",
    "explain",
    "find_failure",
]

CONFIG_ENV = "KRB5_CONFIG"
CCACHE_ENV = "KRB5CCNAME"

# MIT minor status codes: ERROR_TABLE_BASE_krb5 (-1765328384) plus the error's index, as unsigned 32 bits.
_KRB5_BASE = 2529638912
_PRINCIPAL_UNKNOWN = _KRB5_BASE + 7  # KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN: "Server not found in Kerberos database"
_TKT_EXPIRED = _KRB5_BASE + 32  # KRB5KRB_AP_ERR_TKT_EXPIRED: "Ticket expired"
_SKEW = _KRB5_BASE + 37  # KRB5KRB_AP_ERR_SKEW: "Clock skew too great"
_NO_CREDS = _KRB5_BASE + 141  # "No Kerberos credentials available (default cache: ...)"
_REALM_UNKNOWN = _KRB5_BASE + 154  # KRB5_REALM_UNKNOWN: "Cannot find KDC for realm"
_KDC_UNREACH = _KRB5_BASE + 156  # KRB5_KDC_UNREACH: "Cannot contact any KDC for realm"
# GSSAPI major status routine errors (RFC 2744), shifted as MIT reports them.
_GSS_NO_CRED = 7 << 16
_GSS_CREDENTIALS_EXPIRED = 11 << 16


def add_kerberos_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("Kerberos (WinRM --auth kerberos/negotiate and --ldap-auth gssapi share these)")
    g.add_argument("--krb5-config", metavar="FILE",
                   help=f"krb5.conf to use (sets {CONFIG_ENV}; default: {CONFIG_ENV} or /etc/krb5.conf)")
    g.add_argument("--krb5-ccache", metavar="CCACHE",
                   help=f"ticket cache to use, e.g. FILE:/path (sets {CCACHE_ENV}; default: {CCACHE_ENV} or the "
                   "cache krb5.conf names, as kinit and klist use)")


def apply_kerberos_options(args: argparse.Namespace) -> None:
    """Point MIT Kerberos at --krb5-config / --krb5-ccache for this process (before any connection)."""
    config = getattr(args, "krb5_config", None)
    ccache = getattr(args, "krb5_ccache", None)
    if config:
        path = Path(config).expanduser()
        if not path.is_file():
            raise UsageError(f"--krb5-config {config}: no such file")
        os.environ[CONFIG_ENV] = str(path.resolve())
    if ccache:
        os.environ[CCACHE_ENV] = ccache


def config_path() -> str:
    return os.environ.get(CONFIG_ENV) or "/etc/krb5.conf"


def ccache_name() -> str:
    """The ticket cache MIT uses now: KRB5CCNAME, else the default it reports (krb5 package), else
    the built-in default."""
    if os.environ.get(CCACHE_ENV):
        return os.environ[CCACHE_ENV]
    try:
        import krb5  # type: ignore[import-not-found,unused-ignore]  # comes with gssapi in the kerberos extra

        name: Any = krb5.cc_default_name(krb5.init_context())
        return name.decode() if isinstance(name, bytes) else str(name)
    except Exception:  # the optional package is missing or krb5.conf is unreadable: fall back
        return f"FILE:/tmp/krb5cc_{os.getuid()}"


@dataclass(frozen=True)
class KerberosFailure:
    reason: str  # no_ticket | expired | unknown_spn | clock_skew | kdc_unreachable | realm_unknown
    detail: str  # MIT's own text, e.g. "Clock skew too great"


def _minor_text(err: Any) -> str:
    text = str(err)
    marker = text.rfind("): ")
    return text[marker + 3 :].strip() if "Minor (" in text and marker >= 0 else text.strip()


def find_failure(exc: BaseException) -> KerberosFailure | None:
    """The Kerberos reason behind ``exc`` (a pyspnego, gssapi or ldap3 error), if there is one."""
    for err in causes(exc):
        minor, major = getattr(err, "min_code", None), getattr(err, "maj_code", None)
        if not isinstance(minor, int) or not isinstance(major, int):
            code = getattr(err, "err_code", None)  # python-krb5's Krb5Error (a kinit with a password)
            if not isinstance(code, int) or type(err).__name__ != "Krb5Error":
                continue
            minor, major = code & 0xFFFFFFFF, 0
        detail = _minor_text(err)
        routine = major & 0xFF0000
        if minor == _PRINCIPAL_UNKNOWN:
            return KerberosFailure("unknown_spn", detail)
        if minor == _TKT_EXPIRED or routine == _GSS_CREDENTIALS_EXPIRED:
            return KerberosFailure("expired", detail)
        if minor == _SKEW:
            return KerberosFailure("clock_skew", detail)
        if minor == _KDC_UNREACH:
            return KerberosFailure("kdc_unreachable", detail)
        if minor == _REALM_UNKNOWN:
            return KerberosFailure("realm_unknown", detail)
        if minor == _NO_CREDS or routine == _GSS_NO_CRED:
            return KerberosFailure("no_ticket", detail)
    return None


def explain(failure: KerberosFailure, where: str, spn: str) -> str:
    """One actionable line for ``failure`` while authenticating to ``where`` as service ``spn``."""
    cache, conf = ccache_name(), config_path()
    if failure.reason == "no_ticket":
        return (
            f"no Kerberos ticket to authenticate to {where} ({failure.detail}): run kinit user@REALM first, or point "
            f"--krb5-ccache ({CCACHE_ENV}) at the cache that holds one (for scheduled scans: kinit -k -t KEYTAB "
            "PRINCIPAL before hvlm)"
        )
    if failure.reason == "expired":
        return (
            f"the Kerberos ticket in {cache} has expired, so {where} could not be authenticated: run kinit again "
            "(kinit -R renews a renewable ticket; for scheduled scans kinit -k -t KEYTAB PRINCIPAL before hvlm)"
        )
    if failure.reason == "unknown_spn":
        account = spn.split("/", 1)[-1].split(".", 1)[0].upper()
        return (
            f"the KDC knows no service principal {spn} for {where} (Server not found in Kerberos database): use the "
            f"name the host's computer account is registered under, its FQDN (setspn -L {account}); a DNS alias "
            f"(CNAME) or an IP address is not a Kerberos name: register it (setspn -S {spn} {account}) or use "
            "that FQDN in the inventory"
        )
    if failure.reason == "clock_skew":
        return (
            f"this machine's clock and the KDC's differ by more than the allowed skew (5 minutes by default) while "
            f"authenticating to {where} (Clock skew too great): synchronise this runner's clock with the domain "
            "(chrony or systemd-timesyncd against a domain controller) and run again"
        )
    if failure.reason == "kdc_unreachable":
        return (
            f"no Kerberos KDC answered while authenticating to {where} ({failure.detail}): check the realm's kdc "
            f"lines in {conf} (or DNS SRV records with dns_lookup_kdc = true) and that TCP and UDP 88 to the domain "
            "controllers are open from this machine"
        )
    return (
        f"no KDC is known for a realm needed to authenticate to {where} ({failure.detail}): check the realm of the "
        f"username, or add the realm and its KDCs to {conf} (or --krb5-config FILE) with a [domain_realm] line "
        "for the host's DNS domain"
    )
