"""A tiny authoritative DNS server on loopback for collector tests that need no Samba.

Answers from a dict {(name, type): [rdata text]}; a value of "NXDOMAIN", "SERVFAIL" or "DROP"
(no answer at all, so the client times out) simulates the failures the collector must report.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

Records = dict[tuple[str, str], list[str] | str]


@contextmanager
def fake_dns(records: Records) -> Iterator[str]:
    """Serve ``records`` over UDP; yields "127.0.0.1:PORT" for --dns-server."""
    table = {(name.lower().rstrip(".") + ".", rtype.upper()): v for (name, rtype), v in records.items()}
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            query = dns.message.from_wire(data)
            q = query.question[0]
            key = (q.name.to_text().lower(), dns.rdatatype.to_text(q.rdtype))
            reply = dns.message.make_response(query)
            reply.flags |= dns.flags.AA
            value = table.get(key)
            if value == "DROP":
                continue
            if value == "SERVFAIL":
                reply.set_rcode(dns.rcode.SERVFAIL)
            elif value == "NXDOMAIN" or (value is None and not any(k[0] == key[0] for k in table)):
                reply.set_rcode(dns.rcode.NXDOMAIN)
            elif isinstance(value, list):
                reply.answer.append(dns.rrset.from_text_list(q.name, 60, "IN", key[1], value))
            sock.sendto(reply.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        sock.close()
