"""The host's FQDN resolves, and every address it resolves to points back to it (PTR)."""

from __future__ import annotations

import ipaddress
from typing import Any

from hvlm.audit.facts import Facts, HostRef
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Fix, Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_quote
from hvlm.audit.registry import check
from hvlm.audit.words import noun
from hvlm.checks._fixes import LOCAL_ADMIN, on_host

DNS_RUN_AS = "a member of DnsAdmins or Domain Admins"


@check(
    id="host-dns-forward-reverse",
    title="Host name resolves forward and reverse",
    severity=Severity.HIGH,
    subject=SubjectKind.HOST,
    requires=("host.dns", "host.domain_controllers?", "host.ip_interfaces?"),
    rationale="""Hosts must resolve and reach each other by name, and Kerberos service tickets are
    issued for names: the source asks for "Microsoft Virtual System Migration Service/<destination>"
    and "cifs/<destination>" and connects to whatever address the name resolves to. So the FQDN
    must resolve, and to the host's own addresses: each A/AAAA record is compared with the
    addresses the host reports (ip_interfaces). A record pointing at an address the host does not
    have (a stale registration, another machine) fails: high when no record points at the host,
    medium when some do (moves then fail depending on which address a peer picks). Windows does not
    canonicalise names through reverse DNS when it builds SPNs, so a missing or foreign PTR record
    does not break a move: a warning of low severity (the usual trace of a stale or duplicate
    registration, and some tools do canonicalise). Without the host's addresses (a directory-only
    audit) the A records cannot be confirmed: an error (could not check), never a pass; PTR problems
    are still reported. Names are compared case-insensitively without the trailing dot.""",
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
    ifaces = f.optional("host.ip_interfaces")
    own = {_canonical(str(i.get("IPAddress", "")).split("%", 1)[0]) for i in ifaces or []}
    stale = [a for a in addresses if ifaces is not None and _canonical(a) not in own]
    evidence["host_addresses"] = sorted(own) if ifaces is not None else "not collected"
    evidence["stale_records"] = stale
    if stale:
        good = [a for a in addresses if a not in stale]
        where = (f"none of them is {host.fqdn}'s: the name points at another machine" if not good else
                 f"only {', '.join(good)} is the host's: peers that pick another address reach another machine")
        return Outcome(
            Status.FAIL,
            f"{host.fqdn} resolves to {', '.join(addresses)}, but {where} "
            f"({noun(len(stale), 'stale record')}: {', '.join(stale)}; the "
            f"host has {', '.join(sorted(own)) or 'no address'}). Moves to and from it fail or reach the wrong host.",
            _stale_fix(host, stale, f.optional("host.domain_controllers")),
            evidence,
            severity=Severity.HIGH if not good else Severity.MEDIUM,
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
    if not wrong and not absent and ifaces is not None:
        return Outcome(Status.PASS, f"{host.fqdn} resolves to {', '.join(addresses)}, its own address(es), and each "
                       "points back to it.", evidence=evidence)
    evidence["missing_ptr"] = absent
    evidence["wrong_ptr"] = wrong
    if not wrong and not absent:
        err = f.unavailable("host.ip_interfaces")
        return Outcome(
            Status.ERROR,
            f"could not check: {host.fqdn} resolves to {', '.join(addresses)} and each address points back to it, but "
            f"the host's own addresses ({err.path + ': ' + err.message if err else 'ip_interfaces'}) are needed to "
            "rule out a stale A record.",
            evidence=evidence,
        )
    problems = [f"{a} has no PTR record" for a in absent]
    problems += [f"{a} points to {', '.join(n.rstrip('.') for n in names)}" for a, names in wrong.items()]
    return Outcome(
        Status.WARNING,
        f"Reverse DNS of {host.fqdn} does not point back to it: {'; '.join(problems)}. Windows builds the Kerberos "
        "names from the forward name, so moves work; correct it, as it usually marks a stale registration.",
        _ptr_fix(host, absent, wrong, f.optional("host.domain_controllers")),
        evidence,
        severity=Severity.LOW,
    )


def _stale_fix(host: HostRef, stale: list[str], dcs: list[dict[str, Any]] | None) -> Fix:
    dns_server = str(dcs[0]["target"]).rstrip(".") if dcs else None
    on = f" -ComputerName {ps_quote(dns_server)}" if dns_server else ""
    label, _, zone = host.fqdn.partition(".")
    lines = [f"# In the zone {zone or '<the host DNS zone>'}: remove the records that point at other machines."]
    for addr in stale:
        lines += _remove_exact(on, zone, label, "AAAA" if ":" in addr else "A", addr)
    lines.append(f"# Then, on {host.fqdn}, re-register its own addresses: Register-DnsClient")
    return Fix(
        summary=f"Remove the stale address records of {host.fqdn} ({', '.join(stale)}) and let the host register its "
        "own addresses again.",
        run_on=dns_server or "a DNS server of the domain (DnsServer PowerShell module, RSAT-DNS-Server)",
        run_as=DNS_RUN_AS,
        powershell="\n".join(lines),
        gui="DNS Manager > Forward Lookup Zones > the host's zone > the host's A/AAAA records",
        docs=(DOCS["dns-ptr"], DOCS["ts-2026"]),
        target="host",
    )


def _ptr_fix(host: HostRef, absent: list[str], wrong: dict[str, list[str]], dcs: list[dict[str, Any]] | None) -> Fix:
    dns_server = str(dcs[0]["target"]).rstrip(".") if dcs else None
    on = f" -ComputerName {ps_quote(dns_server)}" if dns_server else ""
    lines = ["# ZoneName is the usual reverse zone for the address; use yours if it differs (Get-DnsServerZone)."]
    target = ps_quote(host.fqdn + ".")
    for addr in list(wrong) + absent:
        zone, name = _reverse_zone(addr)
        for old in wrong.get(addr, []):
            lines += _remove_exact(on, zone, name, "Ptr", old)
        lines += _read(on, zone, name, "Ptr", host.fqdn)
        lines += [
            "if ($found.Count -eq 0) {",
            f"    Add-DnsServerResourceRecordPtr{on} -ZoneName {ps_quote(zone)} -Name {ps_quote(name)} "
            f"-PtrDomainName {target}",
            "} else {",
            f"    Write-Output {ps_quote(f'PTR record {name} -> {host.fqdn}. in zone {zone} is already there.')}",
            "}",
        ]
    return Fix(
        summary=f"Make the reverse records of {host.fqdn}'s addresses point to {host.fqdn}, removing stale names.",
        run_on=dns_server or "a DNS server of the domain (DnsServer PowerShell module, RSAT-DNS-Server)",
        run_as=DNS_RUN_AS,
        powershell="\n".join(lines),
        gui="DNS Manager > Reverse Lookup Zones > the address's zone > PTR record",
        docs=(DOCS["dns-ptr"],),
        target="host",
    )


def _read(on: str, zone: str, name: str, rrtype: str, data: str) -> list[str]:
    """$found: the records of that exact name, type and data (none when the name has no record at all;
    any other error, such as access denied, stops the script rather than passing for "not there")."""
    if rrtype == "Ptr":
        match = f"$_.RecordData.PtrDomainName.TrimEnd('.') -eq {ps_quote(data.rstrip('.'))}"
    else:
        field = "IPv6Address" if rrtype == "AAAA" else "IPv4Address"
        match = f"$_.RecordData.{field}.IPAddressToString -eq ([ipaddress]{ps_quote(data)}).IPAddressToString"
    return [
        "try {",
        f"    $found = @(Get-DnsServerResourceRecord{on} -ZoneName {ps_quote(zone)} -Name {ps_quote(name)} "
        f"-RRType {rrtype} -ErrorAction Stop |",
        f"        Where-Object {{ {match} }})",
        "} catch {",
        "    if ($_.CategoryInfo.Category -ne 'ObjectNotFound') { throw }",
        "    $found = @()",
        "}",
    ]


def _remove_exact(on: str, zone: str, name: str, rrtype: str, data: str) -> list[str]:
    """Remove the one record of that name, type and data if it is still there (read first), else say it is gone.
    The record removed is the one read back, so a re-run, or a record changed since, removes nothing else."""
    what = f"{rrtype.upper()} record {name} -> {data} in zone {zone}"
    return [
        *_read(on, zone, name, rrtype, data),
        "if ($found.Count -gt 0) {",
        f"    $found | Remove-DnsServerResourceRecord{on} -ZoneName {ps_quote(zone)} -Force",
        "} else {",
        f"    Write-Output {ps_quote(what + ' is already gone.')}",
        "}",
    ]


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
