"""HTTP authentication and WinRM message encryption, per TCP connection.

Basic is checked on every request, as HTTP.sys does. Negotiate/NTLM authenticates the
*connection*: once the handshake completes, later requests on that socket carry no Authorization
header, and with HTTP the bodies travel as ``multipart/encrypted`` sealed with that connection's
session keys (MS-WSMV 2.2.9.1). The acceptor is pyspnego's Negotiate server: NTLM with its
pure-Python NTLM server, which only knows users from the file named by the ``NTLM_USER_FILE``
environment variable, and Kerberos with MIT GSSAPI and the keytab named by ``KRB5_KTNAME`` (see
:mod:`.kerberos`). The scheme decides which of the two a lab lets through: ``ntlm``,
``kerberos`` (NTLM refused) or ``negotiate`` (both).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import spnego
import spnego.channel_bindings
from pypsrp.encryption import WinRMEncryption

from .kerberos import accepts

BASIC_CHALLENGE = 'Basic realm="WSMAN"'  # realm as Windows sends it (from memory, not captured)
NEGOTIATE = "Negotiate"
ENCRYPTED_PROTOCOL = WinRMEncryption.SPNEGO
_AUTH_HEADER = re.compile(r"^\s*(Negotiate|NTLM|Basic)\s*(.*)$", re.I)


def split_user(username: str) -> tuple[str, str]:
    """``DOMAIN\\user`` -> (DOMAIN, user); ``user`` and ``user@realm`` keep an empty domain."""
    if "\\" in username:
        domain, user = username.split("\\", 1)
        return domain, user
    return "", username


def _key(username: str) -> tuple[str, str]:
    domain, user = split_user(username)
    return domain.upper(), user.upper()


@dataclass
class _Entry:
    username: str
    password: str
    refs: int = 0


class NtlmUserStore:
    """The process-wide ``NTLM_USER_FILE``, shared by every NTLM lab running in this process.

    pyspnego reads the path from ``os.environ`` at accept time, so two labs cannot each have their
    own file. This store keeps the union of all running labs' users (refusing a user defined with
    two passwords), points the variable at it while any NTLM lab runs and restores the previous
    value after the last one stops. Each lab still only admits its own users: see
    :meth:`Authenticator.admits`. The file is 0600 in a private temporary directory; passwords
    are never logged.
    """

    _lock = threading.Lock()
    _entries: ClassVar[dict[tuple[str, str], _Entry]] = {}
    _dir: ClassVar[tempfile.TemporaryDirectory[str] | None] = None
    _saved_env: ClassVar[str | None] = None

    @classmethod
    def register(cls, users: Mapping[str, str]) -> None:
        for name, password in users.items():
            for ch in ":\r\n":
                if ch in name or ch in password:
                    raise ValueError(f"NTLM_USER_FILE lines are DOMAIN:USER:PASSWORD; {ch!r} is not allowed")
        with cls._lock:
            for name, password in users.items():
                entry = cls._entries.get(_key(name))
                if entry is not None and entry.password != password:
                    raise ValueError(f"user {name!r} is already served by another running lab with another password")
            for name, password in users.items():
                cls._entries.setdefault(_key(name), _Entry(name, password)).refs += 1
            cls._write()

    @classmethod
    def unregister(cls, users: Mapping[str, str]) -> None:
        with cls._lock:
            for name in users:
                entry = cls._entries.get(_key(name))
                if entry is not None:
                    entry.refs -= 1
                    if entry.refs <= 0:
                        del cls._entries[_key(name)]
            cls._write()

    @classmethod
    def _write(cls) -> None:
        if not cls._entries:
            if cls._dir is not None:
                if cls._saved_env is None:
                    os.environ.pop("NTLM_USER_FILE", None)
                else:
                    os.environ["NTLM_USER_FILE"] = cls._saved_env
                cls._dir.cleanup()
                cls._dir = None
            return
        if cls._dir is None:
            cls._saved_env = os.environ.get("NTLM_USER_FILE")
            cls._dir = tempfile.TemporaryDirectory(prefix="hvlm-winrm-ntlm-")
        path = os.path.join(cls._dir.name, "ntlm_users")
        lines = []
        for entry in cls._entries.values():
            domain, user = split_user(entry.username)
            lines.append(f"{domain}:{user}:{entry.password}\n")
        tmp = path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.writelines(lines)
        os.replace(tmp, path)  # atomic: an acceptor reading concurrently never sees half a file
        os.environ["NTLM_USER_FILE"] = path


@dataclass
class AuthOutcome:
    """What the HTTP layer should do with a request after authentication."""

    user: str | None  # authenticated user, None = answer 401
    challenge: str | None = None  # WWW-Authenticate value to send (401 or final token on 200)


@dataclass
class Authenticator:
    """Per-connection authentication state (one instance per accepted socket)."""

    scheme: str  # "basic" | "ntlm" | "kerberos" | "negotiate"
    users: Mapping[str, str]  # who is admitted (Kerberos principals as user@REALM); Basic passwords
    channel_binding: bytes | None = None  # tls-server-end-point data on HTTPS
    user: str | None = None
    encryption: WinRMEncryption | None = None
    _ctx: object | None = field(default=None, repr=False)

    def admits(self, principal: str) -> bool:
        """Whether ``principal`` (as the client named itself) is one of this lab's users."""
        key = _key(principal)
        return any(_key(name) == key for name in self.users)

    def challenge(self) -> str:
        return BASIC_CHALLENGE if self.scheme == "basic" else NEGOTIATE

    def authenticate(self, header: str | None) -> AuthOutcome:
        if self.scheme == "basic":
            return self._basic(header)
        return self._negotiate(header)

    def _basic(self, header: str | None) -> AuthOutcome:
        m = _AUTH_HEADER.match(header or "")
        if not m or m.group(1).lower() != "basic":
            return AuthOutcome(None, BASIC_CHALLENGE)
        try:
            decoded = base64.b64decode(m.group(2).strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return AuthOutcome(None, BASIC_CHALLENGE)
        name, _, password = decoded.partition(":")
        for known, secret in self.users.items():
            if _key(known) == _key(name) and hmac.compare_digest(secret.encode(), password.encode()):
                return AuthOutcome(known)
        return AuthOutcome(None, BASIC_CHALLENGE)

    def _negotiate(self, header: str | None) -> AuthOutcome:
        if not header:
            # Connection-based auth: an authenticated socket needs no header.
            return AuthOutcome(self.user, None if self.user else NEGOTIATE)
        m = _AUTH_HEADER.match(header)
        if not m or m.group(1).lower() == "basic":
            return AuthOutcome(None, NEGOTIATE)
        prefix = m.group(1)
        try:
            token = base64.b64decode(m.group(2).strip(), validate=True)
        except binascii.Error:
            return self._fail()
        if self._ctx is None:
            # A new handshake on this socket discards the old identity and keys.
            self.user, self.encryption = None, None
            cbt = (
                spnego.channel_bindings.GssChannelBindings(application_data=self.channel_binding)
                if self.channel_binding
                else None
            )
            self._ctx = spnego.server(
                protocol="negotiate",
                channel_bindings=cbt,
                options=spnego.NegotiateOptions.wrapping_winrm,
            )
        ctx = self._ctx
        try:
            out = ctx.step(token)  # type: ignore[attr-defined]
        except Exception:  # any refused token (NTLM, SPNEGO or a GSSAPI error) is a 401, never a dropped socket
            return self._fail()
        if not accepts(self.scheme, ctx.negotiated_protocol):  # type: ignore[attr-defined]
            return self._fail()  # e.g. NTLM offered to a Kerberos-only lab
        reply = f"{prefix} {base64.b64encode(out).decode()}" if out else None
        if not ctx.complete:  # type: ignore[attr-defined]
            return AuthOutcome(None, reply or NEGOTIATE)
        self._ctx = None
        principal = str(ctx.client_principal or "")  # type: ignore[attr-defined]
        if not self.admits(principal):
            return AuthOutcome(None, NEGOTIATE)
        self.user = principal
        self.encryption = WinRMEncryption(ctx, ENCRYPTED_PROTOCOL)
        return AuthOutcome(principal, reply)

    def _fail(self) -> AuthOutcome:
        self._ctx = None
        self.user, self.encryption = None, None
        return AuthOutcome(None, NEGOTIATE)
