"""DNS lookups for the directory collector: DC discovery by SRV, and A/AAAA/PTR facts per host.

Kerberos between Hyper-V hosts depends on DNS: the source host builds the destination's SPN from
the name it resolves, and a stale or missing PTR makes tickets go to the wrong account. The
resolver is explicit: with --dns-server it asks exactly those servers (``configure=False``, no
search list, no /etc/hosts), so a Linux runner that does not use the AD DNS still sees what the
Hyper-V hosts see; without it, it uses the system's resolv.conf.

A name that does not exist is a fact (no records); a server that does not answer is an error.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver
import dns.reversename

__all__ = [
    "DnsLookupError",
    "Srv",
    "addresses",
    "discover_dcs",
    "host_records",
    "make_resolver",
    "parse_dns_server",
    "reverse_names",
]


log = logging.getLogger(__name__)


class DnsLookupError(Exception):
    """A lookup that could not be answered; ``kind`` goes into the error fact."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Srv:
    target: str  # without the trailing dot, lower case
    port: int
    priority: int
    weight: int

    def as_fact(self) -> dict[str, Any]:
        return {"target": self.target, "port": self.port, "priority": self.priority, "weight": self.weight}


def parse_dns_server(text: str) -> tuple[str, int]:
    """``10.0.0.2``, ``10.0.0.2:5353``, ``fd00::2`` or ``[fd00::2]:5353`` -> (address, port)."""
    value = text.strip()
    host, port = value, 53
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"{text!r} is not ADDRESS or [ADDRESS]:PORT")
        port = int(rest[1:]) if rest else 53
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
        if not port_text.isdigit():
            raise ValueError(f"{text!r}: the port must be a number")
        port = int(port_text)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{text!r}: a DNS server is given by IP address") from None
    if not 0 < port < 65536:
        raise ValueError(f"{text!r}: port out of range")
    return host, port


def make_resolver(servers: Sequence[str], timeout: float) -> dns.resolver.Resolver:
    """A resolver asking ``servers`` only, or the system's servers when none are given."""
    if servers:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(*parse_dns_server(s)) for s in servers]
    else:
        try:
            resolver = dns.resolver.Resolver()
        except dns.resolver.NoResolverConfiguration as exc:
            raise DnsLookupError(
                "dns_unconfigured",
                f"this machine has no DNS configuration ({exc}); pass --dns-server with the IP address of an "
                "AD DNS server",
            ) from None
    resolver.timeout = max(0.5, min(timeout, 5.0))
    resolver.lifetime = max(timeout, resolver.timeout)
    resolver.cache = None
    return resolver


def _servers(resolver: dns.resolver.Resolver) -> str:
    names: list[str] = []
    for ns in resolver.nameservers:
        if isinstance(ns, dns.nameserver.Do53Nameserver):
            port = ns.port if isinstance(ns.port, int) else 53
            names.append(ns.address if port == 53 else f"{ns.address}:{port}")
        else:
            names.append(str(ns))
    return ", ".join(names) or "(no DNS server)"


def _last_error(exc: dns.resolver.NoNameservers) -> str:
    text = str(exc)
    return text.split(": ", 1)[1] if "answered" in text and ": " in text else text


def _query(resolver: dns.resolver.Resolver, name: str | dns.name.Name, rdtype: str) -> dns.resolver.Answer | None:
    """The answer, or None when the name or the type does not exist. Raises DnsLookupError otherwise."""
    started = time.monotonic()
    try:
        answer = _ask(resolver, name, rdtype)
    except DnsLookupError as exc:
        log.warning("dns %s %s: %s after %.3f s: %s", rdtype, name, exc.kind, time.monotonic() - started, exc.message)
        raise
    if answer is None:
        outcome = "no such name (NXDOMAIN)"
    else:
        records = [rr.to_text() for rr in answer]
        outcome = f"{len(records)} record(s): {', '.join(records[:8])}{' ...' if len(records) > 8 else ''}"
    log.info("dns %s %s asking %s: %s, %.3f s", rdtype, name, _servers(resolver), outcome, time.monotonic() - started)
    return answer


def _ask(resolver: dns.resolver.Resolver, name: str | dns.name.Name, rdtype: str) -> dns.resolver.Answer | None:
    try:
        return resolver.resolve(name, rdtype, search=False, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return None
    except dns.resolver.NoNameservers as exc:
        raise DnsLookupError(
            "dns_error",
            f"DNS server {_servers(resolver)} could not answer {rdtype} {name} ({_last_error(exc)}); check that it "
            "serves this zone or forwards to a server that does",
        ) from None
    except dns.exception.Timeout:
        raise DnsLookupError(
            "dns_timeout",
            f"DNS query {rdtype} {name} timed out after {resolver.lifetime:g} s asking {_servers(resolver)}; "
            "check that the server is reachable on port 53 or pass --dns-server",
        ) from None
    except dns.exception.DNSException as exc:
        raise DnsLookupError("dns_error", f"DNS query {rdtype} {name} failed: {exc}") from None


def discover_dcs(resolver: dns.resolver.Resolver, domain: str) -> list[Srv]:
    """Domain controllers from ``_ldap._tcp.dc._msdcs.<domain>``, best first (priority, then weight)."""
    qname = f"_ldap._tcp.dc._msdcs.{domain}."
    answer = _query(resolver, qname, "SRV")
    records: list[Srv] = []
    if answer is not None:
        for rr in answer:
            records.append(Srv(str(rr.target).rstrip(".").lower(), int(rr.port), int(rr.priority), int(rr.weight)))
    if not records:
        raise DnsLookupError(
            "no_dc_records",
            f"no SRV records {qname} found asking {_servers(resolver)}: either {domain} is not an Active "
            "Directory domain this DNS server knows, or the runner uses the wrong DNS server (pass --dns-server "
            "with an AD DNS server, or --dc to name a domain controller)",
        )
    records.sort(key=lambda r: (r.priority, -r.weight, r.target))
    return records


def addresses(resolver: dns.resolver.Resolver, name: str) -> list[str]:
    """A then AAAA addresses of ``name`` (for connecting to a DC by the resolver's view)."""
    out: list[str] = []
    for rdtype in ("A", "AAAA"):
        answer = _query(resolver, name.rstrip(".") + ".", rdtype)
        if answer is not None:
            out.extend(rr.to_text() for rr in answer)
    return out


def reverse_names(resolver: dns.resolver.Resolver, address: str) -> list[str]:
    """PTR names of an address, lower case with the trailing dot, sorted."""
    answer = _query(resolver, dns.reversename.from_address(address), "PTR")
    return sorted({rr.to_text().lower() for rr in answer}) if answer is not None else []


def host_records(resolver: dns.resolver.Resolver, fqdn: str) -> dict[str, Any]:
    """The DNS fact value of one host: its A and AAAA records and the PTR names of each address.

    An address whose reverse lookup the server could not answer (typically SERVFAIL when no
    reverse zone exists and the forwarders fail) is left out of ``PTR`` and its reason is listed in
    ``errors``: an absent key means "unknown", an empty list means "no PTR record".
    """
    name = fqdn.rstrip(".") + "."
    value: dict[str, Any] = {"name": fqdn.rstrip("."), "A": [], "AAAA": [], "PTR": {}}
    for rdtype in ("A", "AAAA"):
        answer = _query(resolver, name, rdtype)
        if answer is not None:
            value[rdtype] = sorted({rr.to_text() for rr in answer}, key=ipaddress.ip_address)
    errors: list[str] = []
    for address in [*value["A"], *value["AAAA"]]:
        try:
            answer = _query(resolver, dns.reversename.from_address(address), "PTR")
        except DnsLookupError as exc:
            errors.append(exc.message)
            continue
        value["PTR"][address] = sorted({rr.to_text().lower() for rr in answer}) if answer is not None else []
    if errors:
        value["errors"] = errors
    return value
