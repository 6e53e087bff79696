"""HTTP(S) front end: listeners, connection threads, HTTP/1.1 keep-alive, auth and encryption.

One acceptor thread watches every host's listening socket (a selector, not a thread per port), so
a lab of hundreds of hosts costs one thread plus one thread per *open client connection*. Measured
pitfalls from the design notes are handled here: TCP_NODELAY on accepted sockets (else ~40 ms
Nagle/delayed-ACK stalls per request), a large listen backlog (else SYN drops and 1 s stalls),
exact Content-Length, and the request body is always read, also before a 401.
"""

from __future__ import annotations

import contextlib
import email.utils
import http.server
import logging
import re
import select
import selectors
import socket
import ssl
import struct
import threading
from dataclasses import dataclass

from . import soap
from .auth import Authenticator
from .model import Fault, HostSpec
from .psrp import LabStopping
from .service import Hang, HostService

log = logging.getLogger(__name__)

_BACKLOG = 1024
_SERVER = "Microsoft-HTTPAPI/2.0"  # what HTTP.sys, and so WinRM, puts in Server:
_SOAP_TYPE = "application/soap+xml;charset=UTF-8"
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.I)
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass
class Listener:
    """One simulated host's listening socket and its service."""

    spec: HostSpec
    service: HostService
    sock: socket.socket
    port: int
    scheme: str
    tls: ssl.SSLContext | None
    channel_binding: bytes | None

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/wsman"


@dataclass
class ConnContext:
    """What one connection's handler needs (passed where socketserver passes ``server``)."""

    listener: Listener
    auth: Authenticator
    stopping: threading.Event
    idle_timeout: float


class _Handler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1 request loop for one connection; state (auth, keys) lives for the connection."""

    protocol_version = "HTTP/1.1"
    server: ConnContext  # type: ignore[assignment]

    def setup(self) -> None:
        # Idle keep-alive connections are dropped after the lab's idle timeout.
        self.request.settimeout(self.server.idle_timeout)
        super().setup()

    def log_message(self, format: str, *args: object) -> None:
        # Quiet by default; never includes headers, so no credentials can leak into logs.
        log.debug("%s %s", self.address_string(), format % args)

    def version_string(self) -> str:
        return _SERVER

    def _respond(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        lines = [
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}",
            f"Server: {_SERVER}",
            f"Date: {email.utils.formatdate(usegmt=True)}",
        ]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + body)  # one write: header and body leave in the same segments

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding"):
            return None  # pypsrp always sends Content-Length; chunked bodies are not modelled
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _not_post(self) -> None:
        self._read_body()
        self._respond(405, headers={"Allow": "POST"})

    do_GET = do_PUT = do_DELETE = do_HEAD = _not_post

    def do_POST(self) -> None:
        ctx = self.server
        listener = ctx.listener
        body = self._read_body()
        if body is None:
            self.close_connection = True
            self._respond(411)
            return
        if listener.spec.fault is Fault.CONNECTION_RESET:
            # SO_LINGER 0 makes close() send RST: the client sees "connection reset by peer".
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if listener.spec.fault is Fault.SERVICE_UNAVAILABLE:
            self._respond(503)
            return
        if self.path.split("?", 1)[0].rstrip("/").lower() != "/wsman":
            self._respond(404)
            return

        outcome = ctx.auth.authenticate(self.headers.get("Authorization"))
        if outcome.user is None:
            self._respond(401, headers={"WWW-Authenticate": outcome.challenge or ctx.auth.challenge()})
            return
        extra = {"WWW-Authenticate": outcome.challenge} if outcome.challenge else {}

        content_type = self.headers.get("Content-Type", "")
        encrypted = content_type.lower().startswith("multipart/encrypted")
        if encrypted:
            boundary = _BOUNDARY.search(content_type)
            if ctx.auth.encryption is None or boundary is None:
                self._respond(400, headers=extra)
                return
            try:
                soap_bytes = ctx.auth.encryption.unwrap_message(body, boundary.group(1))
            except Exception:
                log.warning("undecryptable request on %s", listener.spec.name)
                self.close_connection = True
                self._respond(400, headers=extra)
                return
        else:
            soap_bytes = body
        if not soap_bytes:
            # The empty POST pypsrp sends to set up the security context before encrypting.
            self._respond(200, headers=extra)
            return

        try:
            req = soap.parse_request(soap_bytes)
        except soap.BadRequest as exc:
            fault = soap.fault_invalid(str(exc)).to_xml("uuid:00000000-0000-0000-0000-000000000000", listener.spec.name)
            self._send_soap(500, fault, encrypted, extra)
            return
        try:
            status, xml = listener.service.handle(req, outcome.user, self.client_address[0], listener.endpoint)
        except Hang:
            self._hang()
            return
        except LabStopping:
            self.close_connection = True
            return
        self._send_soap(status, xml, encrypted, extra)

    def _send_soap(self, status: int, xml: bytes, encrypted: bool, extra: dict[str, str]) -> None:
        headers = dict(extra)
        if encrypted and self.server.auth.encryption is not None:
            kind, payload = self.server.auth.encryption.wrap_message(xml)
            protocol = self.server.auth.encryption.protocol
            headers["Content-Type"] = f'{kind};protocol="{protocol}";boundary="Encrypted Boundary"'
            self._respond(status, payload, headers)
        else:
            headers["Content-Type"] = _SOAP_TYPE
            self._respond(status, xml, headers)

    def _hang(self) -> None:
        """Hold the request unanswered until the client gives up (closes) or the lab stops."""
        self.close_connection = True
        sock = self.connection
        while not self.server.stopping.wait(0.2):
            try:
                readable, _, _ = select.select([sock], [], [], 0)
                if not readable:
                    continue
                if isinstance(sock, ssl.SSLSocket):
                    return  # readable while we owe an answer: close_notify or FIN
                if sock.recv(1, socket.MSG_PEEK) == b"":
                    return
            except (OSError, ValueError):
                return


class LabServer:
    """All listeners of a lab, the acceptor thread and the connection threads."""

    def __init__(self, idle_timeout: float) -> None:
        self.stopping = threading.Event()
        self.idle_timeout = idle_timeout
        self.listeners: dict[str, Listener] = {}
        self._auth_factory: dict[str, tuple[str, dict[str, str]]] = {}
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._conns: dict[threading.Thread, socket.socket] = {}  # live connection -> its socket
        self._conns_lock = threading.Lock()
        self._acceptor: threading.Thread | None = None

    def add_host(
        self,
        spec: HostSpec,
        scheme: str,
        auth_scheme: str,
        users: dict[str, str],
        tls: ssl.SSLContext | None,
        channel_binding: bytes | None,
    ) -> Listener:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(_BACKLOG)
        sock.setblocking(False)
        listener = Listener(
            spec, HostService(spec, self.stopping), sock, sock.getsockname()[1], scheme, tls, channel_binding
        )
        self.listeners[spec.name] = listener
        self._auth_factory[spec.name] = (auth_scheme, users)
        self._selector.register(sock, selectors.EVENT_READ, listener)
        return listener

    def start(self) -> None:
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._acceptor = threading.Thread(target=self._accept_loop, name="winrm-lab-acceptor", daemon=True)
        self._acceptor.start()

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            for key, _ in self._selector.select(timeout=1.0):
                listener = key.data
                if listener is None:
                    return  # woken by stop()
                while True:
                    try:
                        conn, addr = listener.sock.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break
                    self._spawn(conn, addr, listener)

    def _spawn(self, conn: socket.socket, addr: tuple[str, int], listener: Listener) -> None:
        conn.setblocking(True)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        thread = threading.Thread(
            target=self._serve, args=(conn, addr, listener), name=f"winrm-{listener.spec.name}", daemon=True
        )
        with self._conns_lock:
            if self.stopping.is_set():
                conn.close()
                return
            self._conns[thread] = conn
        thread.start()

    def _serve(self, conn: socket.socket, addr: tuple[str, int], listener: Listener) -> None:
        sock: socket.socket = conn
        try:
            if listener.tls is not None:
                conn.settimeout(self.idle_timeout)
                sock = listener.tls.wrap_socket(conn, server_side=True)  # detaches ``conn``
                with self._conns_lock:
                    if threading.current_thread() in self._conns:
                        self._conns[threading.current_thread()] = sock
            scheme, users = self._auth_factory[listener.spec.name]
            auth = Authenticator(scheme, users, listener.channel_binding)
            _Handler(sock, addr, ConnContext(listener, auth, self.stopping, self.idle_timeout))  # type: ignore[arg-type]
        except (OSError, ssl.SSLError, ValueError):
            pass  # client went away, TLS refused, or lab stopping: nothing to answer
        finally:
            with self._conns_lock:
                self._conns.pop(threading.current_thread(), None)
            for s in {sock, conn}:
                with contextlib.suppress(OSError):
                    s.close()

    def stop(self) -> None:
        self.stopping.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if self._acceptor is not None:
            self._acceptor.join(timeout=5)
        for listener in self.listeners.values():
            listener.service.wake_all()
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(listener.sock)
            listener.sock.close()
        with self._conns_lock:
            conns = dict(self._conns)
        for conn in conns.values():
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in conns:
            thread.join(timeout=5)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()
