"""One authenticated, read-only LDAP session to one domain controller, and why it failed if not.

Security choices, each because a directory audit must not weaken what it audits:
- TLS is the default (LDAPS on 636, or StartTLS on 389) and the certificate is validated against
  the system store or --ldap-ca, and its name checked against the DC's DNS name even when we
  connect by an address the configured DNS server gave us.
- A simple bind never travels in clear text: plain ldap:// is refused unless --allow-plain-ldap is
  given, and an empty password is refused because AD treats it as an unauthenticated bind that
  "succeeds" with no identity.
- The password is held only by ldap3 during the bind and dropped right after; ldap3's Connection
  repr prints it, so no message here is ever built from the connection object, and every message
  that reaches a fact passes through redaction.

Every failure becomes a DirectoryError whose ``kind`` is stable (for the error fact) and whose
message tells an administrator what to do next.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ldap3
from ldap3.core import exceptions as lex

from hvlm.audit.collect.credentials import LDAP_KEYRING_SERVICE, LDAP_PASSWORD_ENV, Secret
from hvlm.audit.collect.kerberos import explain, find_failure

__all__ = [
    "AUTH_METHODS",
    "TLS_MODES",
    "Credentials",
    "DcEndpoint",
    "DirectoryError",
    "LdapSession",
    "connect",
    "is_address",
]

log = logging.getLogger(__name__)
AUTH_METHODS = ("gssapi", "simple", "ntlm")
TLS_MODES = ("ldaps", "starttls", "plain")

# LDAP result codes (RFC 4511 appendix A) that say something an administrator can act on.
_SIZE_LIMIT = 4
_TIME_LIMIT = 3
_STRONGER_AUTH = 8
_ADMIN_LIMIT = 11
_CONFIDENTIALITY = 13
_NO_SUCH_OBJECT = 32
_INVALID_CREDENTIALS = 49
_INSUFFICIENT_ACCESS = 50
_UNWILLING = 53


class DirectoryError(Exception):
    """Why a directory operation failed; ``kind`` names the failure for the error fact."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Credentials:
    """How to bind. The password is held as a masked Secret (a plain string given is wrapped) and
    revealed only to ldap3 for the bind; it never appears in repr() or in any message."""

    auth: str  # gssapi | simple | ntlm
    user: str | None = None
    password: Secret | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        value: Any = self.password
        if isinstance(value, str):
            object.__setattr__(self, "password", Secret(value) if value else None)
        elif value is not None and not isinstance(value, Secret):
            raise TypeError("Credentials.password must be a Secret, a string or None")

    def reveal(self) -> str | None:
        return self.password.reveal() if self.password is not None else None


@dataclass(frozen=True)
class DcEndpoint:
    """A domain controller: ``name`` is its DNS name (checked against its certificate, used for
    the Kerberos service ticket), ``address`` what we connect to (the name, or an address our
    DNS server returned for it)."""

    name: str
    address: str
    port: int | None = None  # None: 636 for LDAPS, 389 otherwise


ConnectionFactory = Callable[..., Any]


class StrictTls(ldap3.Tls):  # type: ignore[misc]
    """TLS that checks the certificate against the DC's DNS name only, the way HTTPS does.

    ldap3's own check also accepts a certificate that names the address it connected to; since we
    connect by an address that unauthenticated DNS gave us, that would let any certificate carrying
    that IP stand in for the DC. Python's ssl does the full check (chain and name) here.
    """

    def __init__(self, name: str, ca_file: str | None) -> None:
        super().__init__(validate=ssl.CERT_REQUIRED, ca_certs_file=ca_file, valid_names=[name], sni=name)
        self.expected_name = name

    def wrap_socket(self, connection: Any, do_handshake: bool = False) -> None:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_certs_file)
        context.check_hostname = True
        context.verify_mode = ssl.CERT_REQUIRED
        connection.socket = context.wrap_socket(
            connection.socket,
            server_side=False,
            do_handshake_on_connect=do_handshake,
            server_hostname=self.expected_name,
        )


def _redactor(secret: str | None) -> Callable[[str], str]:
    def redact(text: str) -> str:
        return text.replace(secret, "***") if secret else text

    return redact


def describe_filter(search_filter: str, limit: int = 120) -> str:
    """A filter short enough for a log line: the whole filter when short, else its start and how
    many clauses it has (a filter naming 2,000 hosts is 60 KB)."""
    if len(search_filter) <= limit:
        return search_filter
    clauses = len(re.findall(r"\((?![&|!])", search_filter))
    return f"{search_filter[:80]}... ({clauses} clauses, {len(search_filter)} characters)"


class LdapSession:
    """A bound connection. ``searches`` counts LDAP search requests sent (one per page)."""

    def __init__(self, conn: Any, dc: DcEndpoint, user: str, redact: Callable[[str], str], page_size: int) -> None:
        self._conn = conn
        self.dc = dc
        self.user = user
        self._redact = redact
        self.page_size = page_size
        self.searches = 0
        self._pages = 0

    def search(
        self,
        base: str,
        search_filter: str,
        attributes: Sequence[str],
        *,
        scope: str = "subtree",
        paged: bool = True,
        controls: Sequence[Any] = (),
    ) -> list[tuple[str, dict[str, list[bytes]]]]:
        """Entries (dn, raw attribute values) of a search; referrals are ignored. ``controls``: LDAP
        controls sent with every page (ldap3's form, such as the SD flags control).

        Raw bytes, not ldap3's formatted values: without the schema (never downloaded: it costs
        megabytes and a search per run) ldap3's formatting guesses, and SIDs and security
        descriptors must be decoded exactly.
        """
        started = time.monotonic()
        try:
            out = self._search(base, search_filter, attributes, scope, paged, controls)
        except DirectoryError as exc:
            log.warning(
                "ldap search on %s: base %r, scope %s, filter %s: %s after %.3f s", self.dc.name, base, scope,
                describe_filter(search_filter), exc.kind, time.monotonic() - started,
            )
            raise
        log.info(
            "ldap search on %s: base %r, scope %s, filter %s: %d entries in %d page(s), %.3f s", self.dc.name, base,
            scope, describe_filter(search_filter), len(out), self._pages, time.monotonic() - started,
        )
        return out

    def _search(
        self, base: str, search_filter: str, attributes: Sequence[str], scope: str, paged: bool,
        controls: Sequence[Any] = (),
    ) -> list[tuple[str, dict[str, list[bytes]]]]:
        ldap_scope = {"base": ldap3.BASE, "one": ldap3.LEVEL, "subtree": ldap3.SUBTREE}[scope]
        cookie: bytes | None = None
        out: list[tuple[str, dict[str, list[bytes]]]] = []
        self._pages = 0
        while True:
            kwargs: dict[str, Any] = {}
            if paged:
                kwargs = {"paged_size": self.page_size, "paged_cookie": cookie}
            if controls:
                kwargs["controls"] = list(controls)
            self.searches += 1
            self._pages += 1
            try:
                self._conn.search(base, search_filter, ldap_scope, attributes=list(attributes), **kwargs)
            except lex.LDAPException as exc:
                raise self._failure(exc, f"searching {base}") from None
            result = self._conn.result or {}
            code = int(result.get("result", 0) or 0)
            for entry in self._conn.response or []:
                if entry.get("type") == "searchResEntry":
                    out.append((str(entry.get("dn", "")), dict(entry.get("raw_attributes", {}))))
            if code not in (0, _NO_SUCH_OBJECT):
                raise self._result_error(result, f"searching {base} for {search_filter[:200]}", len(out))
            if code == _NO_SUCH_OBJECT:
                raise DirectoryError("not_found", f"{base} does not exist on {self.dc.name} (LDAP noSuchObject)")
            if not paged:
                return out
            control = (result.get("controls") or {}).get("1.2.840.113556.1.4.319") or {}
            cookie = (control.get("value") or {}).get("cookie") or None
            if not cookie:
                return out

    def close(self) -> None:
        with contextlib.suppress(lex.LDAPException):
            self._conn.unbind()

    def _result_error(self, result: dict[str, Any], what: str, got: int) -> DirectoryError:
        code = int(result.get("result", 0) or 0)
        detail = self._redact(f"{result.get('description', '')}: {result.get('message', '')}".strip(": "))
        dc = self.dc.name
        if code in (_SIZE_LIMIT, _ADMIN_LIMIT):
            return DirectoryError(
                "size_limit",
                f"{dc} stopped {what} at its size limit after {got} entries ({detail}). The search is paged, so "
                "the DC's MaxPageSize/MaxResultSetSize policy (ntdsutil > LDAP policies) is lower than the page "
                "size: raise it, or lower --ldap-page-size.",
            )
        if code == _TIME_LIMIT:
            return DirectoryError(
                "timeout", f"{dc} stopped {what} at its time limit ({detail}); raise MaxQueryDuration or retry."
            )
        if code == _INSUFFICIENT_ACCESS:
            return DirectoryError(
                "not_readable",
                f"{self.user} may not read what {what} needs on {dc} ({detail}); bind with an account that can "
                "read computer and user objects (any domain user can, unless permissions were tightened).",
            )
        return DirectoryError("ldap_error", f"{dc} refused {what}: LDAP result {code} ({detail})")

    def _failure(self, exc: Exception, what: str) -> DirectoryError:
        return classify_exception(exc, self.dc, what, self._redact)


def classify_exception(exc: BaseException, dc: DcEndpoint, what: str, redact: Callable[[str], str]) -> DirectoryError:
    """Turn an ldap3/ssl/socket exception into an actionable DirectoryError."""
    text = redact(str(exc))
    low = text.lower()
    if (
        isinstance(exc, lex.LDAPCertificateError)
        or "doesn't match any name" in low
        or "hostname mismatch" in low
        or "ip address mismatch" in low
    ):
        return DirectoryError(
            "tls_name_mismatch",
            f"the TLS certificate presented at {dc.address} does not carry the name {dc.name}. Connect by a name "
            "the certificate carries (--dc NAME, usually the DC's FQDN), or reissue the DC's certificate.",
        )
    if "certificate verify failed" in low or "certificate_verify_failed" in low:
        return DirectoryError(
            "tls_untrusted",
            f"the TLS certificate of {dc.name} is not trusted ({_ssl_reason(text)}). Pass the certificate of the "
            "CA that issued the domain controllers' certificates with --ldap-ca FILE (PEM), or add it to the "
            "system trust store; do not turn validation off.",
        )
    if isinstance(exc, ssl.SSLError) or "ssl" in low or "tls" in low:
        return DirectoryError(
            "tls_error",
            f"TLS with {dc.name} failed while {what} ({text[:300]}). Does the DC have a certificate for LDAPS "
            "(port 636) / StartTLS? Try --ldap-tls starttls or --ldap-tls ldaps.",
        )
    if isinstance(exc, lex.LDAPSocketOpenError | lex.LDAPSocketReceiveError | lex.LDAPSocketSendError | OSError):
        port = dc.port or "636/389"
        reason = "timed out" if "timed out" in low else "refused" if "refused" in low else text[:200]
        where = dc.name if dc.address == dc.name else f"{dc.name} ({dc.address})"
        return DirectoryError(
            "dc_unreachable",
            f"cannot reach {where} on TCP {port}: {reason}. Check the network path and firewall from this machine "
            "to the DC, or name another DC with --dc.",
        )
    if isinstance(exc, lex.LDAPResponseTimeoutError):
        return DirectoryError("timeout", f"{dc.name} did not answer while {what}; raise --ldap-timeout.")
    if isinstance(exc, lex.LDAPPackageUnavailableError | ImportError):
        return DirectoryError(
            "auth_unavailable",
            f"{text}. For --ldap-auth gssapi install the python 'gssapi' package (apt-get install libkrb5-dev "
            "gcc; pip install gssapi), or use --ldap-auth simple over TLS.",
        )
    return DirectoryError("ldap_error", f"{what} on {dc.name} failed: {type(exc).__name__}: {text[:300]}")


def _ssl_reason(text: str) -> str:
    marker = "certificate verify failed:"
    idx = text.lower().find(marker)
    if idx < 0:
        return "certificate verify failed"
    return text[idx + len(marker) :].split("(_ssl")[0].strip(" )") or "certificate verify failed"


def _bind_user(creds: Credentials, domain: str) -> str | None:
    """The bind name: ``user@domain`` for a bare user name (AD does not accept a bare name for a
    simple bind), ``DOMAIN\\user`` for NTLM, which ldap3 requires in that form."""
    user = creds.user
    if not user:
        return None
    if creds.auth == "ntlm":
        if "\\" in user:
            return user
        name, _, dom = user.partition("@")
        return f"{dom or domain}\\{name}"
    if "@" not in user and "\\" not in user and "=" not in user:
        return f"{user}@{domain}"
    return user


def _gssapi_failure(exc: BaseException, dc: DcEndpoint) -> DirectoryError:
    failure = find_failure(exc)
    if failure is not None:  # the same reading of GSSAPI errors as the WinRM side (audit/collect/kerberos.py)
        return DirectoryError("bind_refused", explain(failure, dc.name, f"ldap/{dc.name}"))
    return DirectoryError(
        "bind_refused",
        f"Kerberos (GSSAPI) bind to {dc.name} failed: {str(exc)[:300]}. Get a ticket first (kinit "
        f"user@REALM; klist shows it), check that ldap/{dc.name} resolves and that the clocks agree, or use "
        "--ldap-auth simple.",
    )


def connect(
    dc: DcEndpoint,
    domain: str,
    creds: Credentials,
    *,
    tls_mode: str = "ldaps",
    allow_plain: bool = False,
    ca_file: str | None = None,
    timeout: float = 10.0,
    page_size: int = 500,
    connection_factory: ConnectionFactory | None = None,
) -> LdapSession:
    """Open, secure and bind a read-only connection to ``dc``; raise DirectoryError if any step fails."""
    if tls_mode not in TLS_MODES:
        raise DirectoryError("config", f"unknown LDAP TLS mode {tls_mode!r} (use one of {', '.join(TLS_MODES)})")
    if creds.auth not in AUTH_METHODS:
        raise DirectoryError("config", f"unknown LDAP auth {creds.auth!r} (use one of {', '.join(AUTH_METHODS)})")
    if tls_mode == "plain" and not allow_plain:
        raise DirectoryError(
            "plain_refused",
            f"refusing to bind to {dc.name} over plain ldap://: the bind and every answer would cross the network "
            "unencrypted. Use --ldap-tls ldaps or starttls; pass --allow-plain-ldap only on an isolated lab network.",
        )
    user = _bind_user(creds, domain)
    if creds.auth in ("simple", "ntlm"):
        if not user:
            raise DirectoryError(
                "config",
                f"--ldap-auth {creds.auth} needs a user name: set [ad] username, --ldap-user, or an operator "
                "account in the inventory",
            )
        if not creds.reveal():
            raise DirectoryError(
                "no_password",
                f"--ldap-auth {creds.auth} needs the password of {user}: {password_sources(user)}. An empty "
                "password would be an anonymous bind.",
            )
    redact = _redactor(creds.reveal())
    port = dc.port or (636 if tls_mode == "ldaps" else 389)
    endpoint = DcEndpoint(dc.name, dc.address, port)
    tls = None
    if tls_mode != "plain":
        try:
            tls = StrictTls(dc.name, ca_file)
        except lex.LDAPException as exc:
            raise DirectoryError("config", f"the CA file {ca_file} cannot be used: {exc}") from None
    server = ldap3.Server(
        dc.address, port=port, use_ssl=tls_mode == "ldaps", tls=tls, get_info=ldap3.NONE, connect_timeout=timeout
    )
    kwargs: dict[str, Any] = {
        "read_only": True,
        "raise_exceptions": False,
        "auto_referrals": False,
        "receive_timeout": max(1, math.ceil(timeout)),  # ldap3 packs it into SO_RCVTIMEO as an integer
        "auto_bind": ldap3.AUTO_BIND_NONE,
        "client_strategy": ldap3.SYNC,
        "return_empty_attributes": True,
    }
    if creds.auth == "gssapi":
        kwargs.update(authentication=ldap3.SASL, sasl_mechanism=ldap3.KERBEROS, sasl_credentials=(dc.name,))
    elif creds.auth == "simple":
        kwargs.update(authentication=ldap3.SIMPLE, user=user, password=creds.reveal())
    else:
        kwargs.update(authentication=ldap3.NTLM, user=user, password=creds.reveal())
    factory = connection_factory or ldap3.Connection
    conn = factory(server, **kwargs)
    started = time.monotonic()
    log.info(
        "ldap %s: connecting to %s at %s:%d, TLS %s%s, bind %s as %s", domain, dc.name, dc.address, port, tls_mode,
        f" (CA file {ca_file})" if ca_file else "", creds.auth, user or "the Kerberos ticket's principal",
    )
    try:
        return _open_and_bind(conn, dc, endpoint, creds, user, tls_mode, redact, page_size)
    except DirectoryError as exc:
        log.warning("ldap %s: %s: %s after %.2f s: %s", domain, dc.name, exc.kind, time.monotonic() - started,
                    exc.message)
        raise
    finally:
        conn.password = None  # ldap3 keeps it for re-binds; we never re-bind


def _open_and_bind(
    conn: Any,
    dc: DcEndpoint,
    endpoint: DcEndpoint,
    creds: Credentials,
    user: str | None,
    tls_mode: str,
    redact: Callable[[str], str],
    page_size: int,
) -> LdapSession:
    started = time.monotonic()
    what = "connecting"
    try:
        conn.open()
        if tls_mode == "starttls":
            what = "starting TLS"
            if not conn.start_tls():
                raise DirectoryError(
                    "tls_error",
                    f"{dc.name} refused StartTLS ({redact(str(conn.result))[:200]}); try --ldap-tls ldaps",
                )
        what = "binding"
        ok = conn.bind()
    except DirectoryError:
        _drop(conn)
        raise
    except lex.LDAPException as exc:
        _drop(conn)
        if what == "binding" and not isinstance(exc, lex.LDAPPackageUnavailableError):
            if creds.auth == "gssapi":
                raise _gssapi_failure(exc, endpoint) from None
            if creds.auth == "ntlm":
                raise DirectoryError(
                    "bind_refused",
                    f"the NTLM bind to {dc.name} failed ({redact(str(exc))[:200]}). ldap3 sends the Sicily NTLM "
                    "bind, which Samba DCs do not implement and Windows DCs enforcing LDAP channel binding refuse; "
                    "use --ldap-auth gssapi, or simple over TLS.",
                ) from None
        raise classify_exception(exc, endpoint, what, redact) from None
    except (OSError, ImportError) as exc:
        _drop(conn)
        raise classify_exception(exc, endpoint, what, redact) from None
    except Exception as exc:  # gssapi raises its own GSSError family, not an LDAPException
        _drop(conn)
        if creds.auth == "gssapi":
            raise _gssapi_failure(exc, endpoint) from None
        raise
    finally:
        conn.password = None  # ldap3 keeps it for re-binds; we never re-bind
    if not ok:
        result = conn.result or {}
        _drop(conn)
        raise _bind_error(result, endpoint, creds.auth, user or "(Kerberos ticket)", redact)
    log.info("ldap: bound to %s (%s, %s) in %.2f s", dc.name, tls_mode, creds.auth, time.monotonic() - started)
    return LdapSession(conn, endpoint, user or "the Kerberos ticket's principal", redact, page_size)


def _bind_error(
    result: dict[str, Any], dc: DcEndpoint, auth: str, user: str, redact: Callable[[str], str]
) -> DirectoryError:
    code = int(result.get("result", -1) if result.get("result") is not None else -1)
    detail = redact(f"{result.get('description', '')} {result.get('message', '')}".strip())
    if code in (_STRONGER_AUTH, _CONFIDENTIALITY) and auth == "gssapi":
        return DirectoryError(
            "bind_refused",
            f"{dc.name} wants Kerberos signing or sealing (SASL sign/seal) for this bind ({detail}); the GSSAPI bind "
            "of ldap3 negotiates neither. Samba DCs ask for it even inside TLS when 'ldap server require strong "
            "auth = yes'; use --ldap-auth simple over LDAPS/StartTLS with such a DC.",
        )
    if code in (_STRONGER_AUTH, _CONFIDENTIALITY):
        return DirectoryError(
            "bind_refused",
            f"{dc.name} requires an encrypted or signed connection for this bind ({detail}); use --ldap-tls ldaps "
            "or starttls (the default), or --ldap-auth gssapi.",
        )
    if code == _INVALID_CREDENTIALS:
        hint = (
            " ldap3's NTLM sends no channel binding token, so a DC that enforces LDAP channel binding refuses it:"
            " use gssapi or simple over TLS."
            if auth == "ntlm"
            else ""
        )
        return DirectoryError(
            "bind_refused",
            f"{dc.name} refused the {auth} bind as {user}: invalid credentials ({detail}). Check the user name "
            f"and the password ({LDAP_PASSWORD_ENV}, keyring {LDAP_KEYRING_SERVICE} or the prompt); the account may be "
            f"locked, disabled or its password expired.{hint}",
        )
    if code == _UNWILLING:
        return DirectoryError(
            "bind_refused", f"{dc.name} is unwilling to perform the {auth} bind as {user} ({detail})."
        )
    return DirectoryError("bind_refused", f"{dc.name} refused the {auth} bind as {user}: {detail or code}")


def password_sources(user: str) -> str:
    """Where a bind password may come from, for messages."""
    return (
        f"set {LDAP_PASSWORD_ENV} (or HVLM_PASSWORD), store it with `keyring set {LDAP_KEYRING_SERVICE} {user}` "
        "(keyring package), or run hvlm on a terminal to be asked"
    )


def _drop(conn: Any) -> None:
    """Close a connection that failed; closing a broken socket may fail too, with nothing to report."""
    with contextlib.suppress(Exception):
        conn.unbind()


def is_address(name: str) -> bool:
    """True for an IPv4 or IPv6 address literal (no SNI, and the certificate must carry the IP)."""
    import ipaddress

    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
