"""The host's FQDN resolves, and every address it resolves to points back to it (PTR)."""

from __future__ import annotations

import ipaddress
from typing import Any

from audit.facts import Facts, HostRef
from audit.knowledge import DOCS
from audit.model import Fix, Outcome, Severity, Status, SubjectKind
from audit.psquote import ps_quote
from audit.registry import check
from checks._fixes import LOCAL_ADMIN, on_host

DNS_RUN_AS = "a member of DnsAdmins or Domain Admins"


@check(
    id="host-dns-forward-reverse",
    title="Host name resolves forward and reverse",
    severity=Severity.HIGH,
    subject=SubjectKind.HOST,
    requires=("host.dns", "host.domain_controllers?"),
    rationale="""Hosts must resolve and reach each other by name, and Kerberos service tickets are
    issued for names: the source asks for "Microsoft Virtual System Migration Service/<destination>"
    and "cifs/<destination>", so the destination's FQDN must resolve to its addresses, or there is
    no Kerberos at all (high). The reverse record must point back to the same FQDN (medium):
    Windows builds SPNs from the name it was given, but clients and tools that canonicalise a name
    through a reverse lookup then ask for a ticket for another principal (SEC_E_WRONG_PRINCIPAL,
    0x80090322, is the documented symptom of a name that does not match the SPN), and a PTR naming
    another host is the usual trace of a stale or duplicate registration. A missing PTR fails too.
    Names are compared case-insensitively without the trailing dot.""",
    references=(DOCS["ts-2026"], DOCS["ts-lm"], DOCS["kcd-overview"], DOCS["dns-ptr"]),
    fix_hint="Register the host's A record (Register-DnsClient) and correct its PTR records on the DNS server.",
)
def run(f: Facts) -> Outcome:
    host = f.host()
    dns = f["host.dns"]
    fqdn = host.fqdn.rstrip(".").lower()
    addresses = [str(a) for a in list(dns["A"]) + list(dns["AAAA"])]
    evidence: dict[str, Any] = {"queried": dns["name"], "A": dns["A"], "AAAA": dns["AAAA"], "PTR": dns["PTR"]}
    if not addresses:
        return Outcome(
            Status.FAIL,
            f"{host.fqdn} does not resolve: no A or AAAA record. Peers cannot reach it by name and Kerberos "
            "cannot issue tickets for its services by name.",
            on_host(
                host,
                "Register the host's addresses in DNS (dynamic update), then check the record from another host.",
                "Register-DnsClient\n"
                "Get-DnsClient | Select-Object -Property 'InterfaceAlias', 'ConnectionSpecificSuffix', "
                "'RegisterThisConnectionsAddress'\n"
                f"Resolve-DnsName -Name {ps_quote(host.fqdn)} -Type A",
                docs=(DOCS["ts-2026"],),
                run_as=LOCAL_ADMIN,
            ),
            evidence,
        )
    wrong: dict[str, list[str]] = {}
    absent: list[str] = []
    ptr = {_canonical(k): v for k, v in dns["PTR"].items()}  # "fd00:0050::0011" and "fd00:50::11" are one address
    for addr in addresses:
        names = [str(n).rstrip(".").lower() for n in ptr.get(_canonical(addr)) or []]
        if not names:
            absent.append(addr)
        elif fqdn not in names:
            wrong[addr] = list(ptr[_canonical(addr)])
    if not wrong and not absent:
        return Outcome(Status.PASS, f"{host.fqdn} resolves to {', '.join(addresses)} and each address points back to it.",
                       evidence=evidence)
    problems = [f"{a} has no PTR record" for a in absent]
    problems += [f"{a} points to {', '.join(n.rstrip('.') for n in names)}" for a, names in wrong.items()]
    evidence["missing_ptr"] = absent
    evidence["wrong_ptr"] = wrong
    return Outcome(
        Status.FAIL,
        f"Reverse DNS of {host.fqdn} does not point back to it: {'; '.join(problems)}.",
        _ptr_fix(host, absent, wrong, f.optional("host.domain_controllers")),
        evidence,
        severity=Severity.MEDIUM,
    )


def _ptr_fix(host: HostRef, absent: list[str], wrong: dict[str, list[str]], dcs: list[dict[str, Any]] | None) -> Fix:
    dns_server = str(dcs[0]["target"]).rstrip(".") if dcs else None
    on = f" -ComputerName {ps_quote(dns_server)}" if dns_server else ""
    lines = ["# ZoneName is the usual reverse zone for the address; use yours if it differs (Get-DnsServerZone)."]
    target = ps_quote(host.fqdn + ".")
    for addr in list(wrong) + absent:
        zone, name = _reverse_zone(addr)
        for old in wrong.get(addr, []):
            lines.append(
                f"Remove-DnsServerResourceRecord{on} -ZoneName {ps_quote(zone)} -RRType Ptr -Name {ps_quote(name)} "
                f"-RecordData {ps_quote(old)} -Force"
            )
        lines.append(
            f"Add-DnsServerResourceRecordPtr{on} -ZoneName {ps_quote(zone)} -Name {ps_quote(name)} -PtrDomainName {target}"
        )
    return Fix(
        summary=f"Make the reverse records of {host.fqdn}'s addresses point to {host.fqdn}, removing stale names.",
        run_on=dns_server or "a DNS server of the domain (DnsServer PowerShell module, RSAT-DNS-Server)",
        run_as=DNS_RUN_AS,
        powershell="\n".join(lines),
        gui="DNS Manager > Reverse Lookup Zones > the address's zone > PTR record",
        docs=(DOCS["dns-ptr"],),
        target="host",
    )


def _canonical(addr: str) -> str:
    try:
        return str(ipaddress.ip_address(addr.strip()))
    except ValueError:
        return addr.strip().lower()


def _reverse_zone(addr: str) -> tuple[str, str]:
    """A /24 (IPv4) or /64 (IPv6) reverse zone and the record name inside it."""
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return "<reverse zone of the address>", addr
    labels = ip.reverse_pointer.split(".")
    cut = 1 if ip.version == 4 else 16
    return ".".join(labels[cut:]), ".".join(labels[:cut])
