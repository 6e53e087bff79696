"""Addresses, subnets and migration networks, judged with the standard `ipaddress` module.

The migration-network checks share these so that "on an interface", "private" and "management"
mean the same thing in every finding.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from hvlm.audit.psquote import ps_quote

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# RFC 1918 private IPv4 ranges and the IPv6 unique local range (RFC 4193).
PRIVATE: tuple[Network, ...] = (
    ipaddress.ip_network("10.0.0.0/8"),
    ipaddress.ip_network("172.16.0.0/12"),
    ipaddress.ip_network("192.168.0.0/16"),
    ipaddress.ip_network("fc00::/7"),
)


@dataclass(frozen=True)
class Interface:
    alias: str
    ip: Address
    network: Network
    has_gateway: bool
    rdma: bool | None

    @property
    def usable(self) -> bool:
        """Not loopback or link-local (169.254/16, fe80::/10): those never carry a planned migration."""
        return not (self.ip.is_loopback or self.ip.is_link_local)


def interfaces(value: list[dict[str, Any]] | None) -> list[Interface]:
    """ip_interfaces as parsed addresses; entries that do not parse are left out."""
    out: list[Interface] = []
    for item in value or []:
        try:
            ip = ipaddress.ip_address(str(item["IPAddress"]).split("%", 1)[0])
            net = ipaddress.ip_network(f"{ip}/{int(item['PrefixLength'])}", strict=False)
        except (KeyError, TypeError, ValueError):
            continue
        out.append(Interface(str(item.get("InterfaceAlias", "")), ip, net,
                             bool(item.get("DefaultGateway")), item.get("RdmaEnabled")))
    return out


def listed(subnet: str) -> str:
    """PowerShell: true when the host's migration list holds that exact subnet."""
    return f"Get-VMMigrationNetwork | Where-Object {{ $_.Subnet -eq {ps_quote(subnet)} }}"


def add_network_ps(subnet: str) -> str:
    """Add a migration subnet unless it is listed already (running it again adds nothing)."""
    return f"if (-not ({listed(subnet)})) {{ Add-VMMigrationNetwork {ps_quote(subnet)} }}"


def remove_network_ps(subnet: str) -> str:
    """Take a migration subnet off the list if it is there, else say it is gone (running it again is harmless)."""
    gone = ps_quote(f"{subnet} is already off the migration list.")
    return f"if ({listed(subnet)}) {{ Remove-VMMigrationNetwork {ps_quote(subnet)} }} else {{ Write-Output {gone} }}"


def parse_subnet(text: str) -> Network | None:
    """A migration network entry: CIDR ("192.168.10.0/24") or a bare address (a /32 or /128)."""
    try:
        return ipaddress.ip_network(str(text).strip(), strict=False)
    except ValueError:
        return None


def is_private(net: Network) -> bool:
    return any(net.version == p.version and net.subnet_of(p) for p in PRIVATE)  # type: ignore[arg-type]


def overlaps(a: Network, b: Network) -> bool:
    return a.version == b.version and a.overlaps(b)


def on_interface(net: Network, ifaces: list[Interface]) -> list[Interface]:
    """Interfaces with an address inside the subnet."""
    return [i for i in ifaces if i.ip.version == net.version and i.ip in net]


def management(ifaces: list[Interface], dns: dict[str, Any] | None) -> list[tuple[Network, str]]:
    """The management network(s): interfaces with a default gateway, and where the FQDN resolves."""
    out: list[tuple[Network, str]] = [
        (i.network, f"interface {i.alias} has the default gateway") for i in ifaces if i.has_gateway
    ]
    if dns:
        for text in [*dns.get("A", []), *dns.get("AAAA", [])]:
            try:
                addr = ipaddress.ip_address(str(text))
            except ValueError:
                continue
            nets = [i.network for i in ifaces if i.ip == addr] or [ipaddress.ip_network(addr)]
            out.extend((n, f"the host's FQDN resolves to {addr}") for n in nets)
    return out


def candidates(ifaces: list[Interface], mgmt: list[tuple[Network, str]]) -> list[Network]:
    """Private, non-management networks this host has an address in: where migration belongs."""
    out: list[Network] = []
    for i in ifaces:
        if not i.usable or i.has_gateway or not is_private(i.network):
            continue
        if any(overlaps(i.network, m) for m, _ in mgmt) or i.network in out:
            continue
        out.append(i.network)
    return out


def shared_candidates(src: list[Interface], dst: list[Interface]) -> list[Network]:
    """Private networks without a gateway on which both hosts have an address."""
    theirs = candidates(dst, [])
    return [n for n in candidates(src, []) if n in theirs]
