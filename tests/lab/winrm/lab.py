"""The public face of the WinRM lab: start simulated hosts, tell a client how to reach them.

A lab is one process-local server with one 127.0.0.1 port per simulated host, one transport
(HTTP or HTTPS) and one authentication scheme (Basic, NTLM, Kerberos or Negotiate = Kerberos and
NTLM) for all hosts, like a domain where
every host has the same WinRM listener configuration. Hosts differ in what they answer
(responder), how fast (latency) and how they fail (fault).
"""

from __future__ import annotations

import socket
import tempfile
import types
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from .auth import NtlmUserStore
from .kerberos import KeytabStore
from .model import Fault, HostSpec
from .server import LabServer
from .tls import ServerIdentity, make_identity


def closed_port() -> int:
    """A 127.0.0.1 port with nothing listening (a "refused" host). Bound then released: another
    process could grab it in between, which on a test machine is vanishingly rare."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class WinRMLab:
    """Context manager running simulated Windows hosts that speak WS-Management + PSRP.

    ``users`` maps user name (``user`` or ``DOMAIN\\user``) to password; every host accepts all
    of them. ``idle_timeout`` closes keep-alive connections a client left open.

    With ``auth="ntlm"`` the lab also admits the AllowUnencrypted=true case (plain SOAP after
    NTLM over HTTP); real Windows refuses that by default. With ``auth="basic"`` over HTTP the
    client must use ``encryption="never"`` (pypsrp refuses otherwise, before any traffic).

    ``auth="kerberos"`` accepts Kerberos only (an NTLM handshake gets 401, as where NTLM to servers
    is forbidden, even with the right password of one of ``users``) and ``auth="negotiate"``
    Kerberos and NTLM; both need ``keytab`` (the simulated hosts' keys, see
    tests/lab/samba/kerberos.py) and admit the Kerberos ``principals`` (``user@REALM``).
    """

    def __init__(
        self,
        hosts: Iterable[HostSpec],
        *,
        scheme: Literal["http", "https"] = "http",
        auth: Literal["basic", "ntlm", "kerberos", "negotiate"] = "ntlm",
        users: Mapping[str, str] | None = None,
        principals: Iterable[str] = (),
        keytab: str | None = None,
        idle_timeout: float = 30.0,
    ) -> None:
        self.hosts = list(hosts)
        names = [h.name for h in self.hosts]
        if len(set(names)) != len(names):
            raise ValueError("host names must be unique")
        users = dict(users or {})
        principals = [p for p in principals if p]
        if not users and not principals:
            raise ValueError("a lab needs at least one user")
        if auth in ("kerberos", "negotiate") and not keytab:
            raise ValueError(f"auth={auth!r} needs the hosts' keytab")
        if auth not in ("kerberos", "negotiate") and (keytab or principals):
            raise ValueError("keytab and principals are for auth='kerberos' or 'negotiate'")
        if scheme == "http" and any(h.fault is Fault.UNTRUSTED_CERT for h in self.hosts):
            raise ValueError("Fault.UNTRUSTED_CERT needs scheme='https'")
        self.scheme = scheme
        self.auth = auth
        self.users = users
        self.principals = principals
        self.keytab = keytab
        self._idle_timeout = idle_timeout
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._identity: ServerIdentity | None = None
        self._untrusted: ServerIdentity | None = None
        self._server: LabServer | None = None
        self._ntlm_registered = False
        self._keytab_registered = False

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> WinRMLab:
        if self._server is not None:
            return self
        try:
            if self.auth != "basic" and self.users:
                # Also for "kerberos": the accounts exist, NTLM is refused by policy, not for a wrong password.
                NtlmUserStore.register(self.users)
                self._ntlm_registered = True
            if self.keytab is not None:
                KeytabStore.register(self.keytab)
                self._keytab_registered = True
            admitted = {**self.users, **{p: "" for p in self.principals}}
            if self.scheme == "https":
                self._tmp = tempfile.TemporaryDirectory(prefix="hvlm-winrm-lab-")
                self._identity = make_identity(self._tmp.name, "lab")
                self._untrusted = make_identity(self._tmp.name, "untrusted")
            server = LabServer(self._idle_timeout)
            self._server = server
            trusted_ctx = self._identity.server_context() if self._identity else None
            untrusted_ctx = self._untrusted.server_context() if self._untrusted else None
            for spec in self.hosts:
                identity, ctx = self._identity, trusted_ctx
                if spec.fault is Fault.UNTRUSTED_CERT:
                    identity, ctx = self._untrusted, untrusted_ctx
                cbt = identity.channel_binding_data() if identity else None
                server.add_host(spec, self.scheme, self.auth, admitted, ctx, cbt)
            server.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the acceptor, close every socket and join every thread; idempotent."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._ntlm_registered:
            NtlmUserStore.unregister(self.users)
            self._ntlm_registered = False
        if self._keytab_registered:
            KeytabStore.unregister()
            self._keytab_registered = False
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> WinRMLab:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.stop()

    # -- what a client needs -------------------------------------------------------------------
    address = "127.0.0.1"

    def _running(self) -> LabServer:
        if self._server is None:
            raise RuntimeError("the lab is not running")
        return self._server

    def port(self, host: str) -> int:
        """The TCP port of ``host`` on :attr:`address`."""
        return self._running().listeners[host].port

    def endpoint(self, host: str) -> str:
        """``http(s)://127.0.0.1:<port>/wsman``."""
        return self._running().listeners[host].endpoint

    @property
    def ca_cert_path(self) -> str:
        """PEM of the CA that signed every host's certificate (HTTPS labs)."""
        if self._identity is None:
            raise RuntimeError("ca_cert_path exists only while an https lab runs")
        return self._identity.ca_cert_path

    @property
    def untrusted_ca_cert_path(self) -> str:
        """PEM of the CA behind ``Fault.UNTRUSTED_CERT`` hosts (trusting it makes them work)."""
        if self._untrusted is None:
            raise RuntimeError("untrusted_ca_cert_path exists only while an https lab runs")
        return self._untrusted.ca_cert_path

    def client_kwargs(self, host: str, username: str, password: str) -> dict[str, Any]:
        """Keyword arguments for ``pypsrp.wsman.WSMan`` / ``pypsrp.client.Client`` for ``host``.

        Validates the certificate against the lab CA on HTTPS; uses Basic with
        ``encryption="never"`` on HTTP+Basic; NTLM (via negotiate) with message encryption on
        HTTP+NTLM. Timeouts are left at pypsrp's defaults: set them for fault tests.
        """
        kwargs: dict[str, Any] = {
            "server": self.address,
            "port": self.port(host),
            "username": username,
            "password": password,
            "ssl": self.scheme == "https",
            "auth": "basic" if self.auth == "basic" else "negotiate",
            "no_proxy": True,
        }
        if self.scheme == "https":
            kwargs["cert_validation"] = self.ca_cert_path
        elif self.auth == "basic":
            kwargs["encryption"] = "never"
        return kwargs

    # -- assertions ----------------------------------------------------------------------------
    def requests_seen(self, host: str) -> list[str]:
        """WS-Man actions ``host`` answered or refused after authentication, in order
        (``Create``, ``Receive``, ``Command``, ``Send``, ``Signal``, ``Delete``, ``Get``)."""
        return self._running().listeners[host].service.actions()

    def open_shells(self, host: str) -> int:
        """Shells created and not deleted (a Broken pool leaves one behind, as on Windows)."""
        return self._running().listeners[host].service.open_shells()
