"""host-dns-forward-reverse: the FQDN resolves, and each address's PTR points back to it."""

from __future__ import annotations

from typing import Any

from hvlm.audit.model import Severity, Status
from tests.checks._identity import CORP, HOSTILE, assert_safe
from tests.support.checking import drop_fact, only, run_check
from tests.support.fleet import HostModel, build_snapshot

H = f"hv01.{CORP}"
IP = "10.0.0.11"
DCS = {CORP: {"domain_controllers": [{"target": f"dc01.{CORP}.", "port": 389, "priority": 0, "weight": 100}]}}


V6 = "fd00:50::11"
V6_IFACE = {"InterfaceAlias": "Management", "IPAddress": V6, "PrefixLength": 64, "AddressFamily": "IPv6",
            "DefaultGateway": None, "RdmaEnabled": False}


def doc(dns: dict[str, Any] | tuple[str, str] | None = None, dcs: bool = True, v6: bool = False) -> dict[str, Any]:
    host = HostModel("HV01", extra_interfaces=[V6_IFACE] if v6 else [])
    return build_snapshot([host], pairs=[], dns={H: dns} if dns is not None else None, domains=DCS if dcs else None)


def rec(a: list[str], ptr: dict[str, list[str]], aaaa: list[str] | None = None) -> dict[str, Any]:
    return {"name": H, "A": a, "AAAA": aaaa or [], "PTR": ptr}


def test_pass_forward_and_reverse() -> None:
    f = only(run_check("host-dns-forward-reverse", doc()), H)
    assert f.status is Status.PASS and IP in f.message


def test_pass_ptr_compared_without_case_or_trailing_dot() -> None:
    d = doc(rec([IP], {IP: ["HV01.Corp.Contoso.COM"]}))
    assert only(run_check("host-dns-forward-reverse", d), H).status is Status.PASS


def test_pass_ipv6_address_points_back() -> None:
    v6 = "fd00:50::11"
    d = doc(rec([IP], {IP: [H + "."], "FD00:0050:0000::0011": [H + "."]}, aaaa=[v6]), v6=True)
    assert only(run_check("host-dns-forward-reverse", d), H).status is Status.PASS


def test_fail_no_forward_record() -> None:
    f = only(run_check("host-dns-forward-reverse", doc(rec([], {}))), H)
    assert f.status is Status.FAIL and f.severity is Severity.HIGH and "does not resolve" in f.message
    assert f.fix is not None and f.fix.run_on == H and "Register-DnsClient" in f.fix.powershell
    assert_safe(f.fix.powershell)


def test_fail_reverse_points_to_another_name() -> None:
    # Windows does not canonicalise names through reverse DNS: a foreign PTR is a low warning, not a failure
    f = only(run_check("host-dns-forward-reverse", doc(rec([IP], {IP: ["hv01-old.corp.contoso.com."]}))), H)
    assert f.status is Status.WARNING and f.severity is Severity.LOW
    assert "points to hv01-old.corp.contoso.com" in f.message
    assert f.fix is not None and f.fix.run_on == f"dc01.{CORP}"
    ps = f.fix.powershell
    # the stale record is read first (exact name, type and data) and only what was read is removed
    assert ("    $found = @(Get-DnsServerResourceRecord -ComputerName 'dc01.corp.contoso.com' -ZoneName '0.0.10.in-addr.arpa' "
            "-Name '11' -RRType Ptr -ErrorAction Stop |\n"
            "        Where-Object { $_.RecordData.PtrDomainName.TrimEnd('.') -eq 'hv01-old.corp.contoso.com' })") in ps
    assert ("if ($found.Count -gt 0) {\n    $found | Remove-DnsServerResourceRecord -ComputerName 'dc01.corp.contoso.com' "
            "-ZoneName '0.0.10.in-addr.arpa' -Force\n} else {\n"
            "    Write-Output 'PTR record 11 -> hv01-old.corp.contoso.com. in zone 0.0.10.in-addr.arpa is already gone.'"
            "\n}") in ps
    assert "if ($found.Count -eq 0) {\n    Add-DnsServerResourceRecordPtr -ComputerName 'dc01.corp.contoso.com' " \
           "-ZoneName '0.0.10.in-addr.arpa' -Name '11' -PtrDomainName 'hv01.corp.contoso.com.'\n} else {" in ps
    assert_safe(ps)


def test_fail_missing_ptr_and_ipv6_zone() -> None:
    v6 = "fd00:50::11"
    f = only(run_check("host-dns-forward-reverse", doc(rec([IP], {IP: [H]}, aaaa=[v6]), dcs=False, v6=True)), H)
    assert f.status is Status.WARNING and f.severity is Severity.LOW and f"{v6} has no PTR record" in f.message
    assert f.fix is not None and "-ComputerName" not in f.fix.powershell  # no DC known: the user picks the server
    assert "-ZoneName '0.0.0.0.0.0.0.0.0.5.0.0.0.0.d.f.ip6.arpa' -Name '1.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0'" in f.fix.powershell
    assert_safe(f.fix.powershell)


def test_fail_hostile_ptr_data_stays_quoted() -> None:
    f = only(run_check("host-dns-forward-reverse", doc(rec([IP], {IP: [HOSTILE]}))), H)
    assert f.status is Status.WARNING and f.fix is not None
    assert_safe(f.fix.powershell)


def test_missing_dns_error_fact() -> None:
    f = only(run_check("host-dns-forward-reverse", doc(("timeout", "DNS server did not answer"))), H)
    assert f.status is Status.ERROR and "DNS server did not answer" in f.message


def test_missing_dns_not_collected() -> None:
    d = doc()
    del d["dns"][H]
    f = only(run_check("host-dns-forward-reverse", d), H)
    assert f.status is Status.ERROR and "dns/hv01.corp.contoso.com" in f.message


def test_fail_stale_a_record_pointing_at_another_machine() -> None:
    # the name resolves, and the PTR even points back, but 10.0.0.99 is not an address of HV01
    f = only(run_check("host-dns-forward-reverse", doc(rec(["10.0.0.99"], {"10.0.0.99": [H + "."]}))), H)
    assert f.status is Status.FAIL and f.severity is Severity.HIGH and "another machine" in f.message
    assert f.evidence["stale_records"] == ["10.0.0.99"]
    assert f.fix is not None and ("Get-DnsServerResourceRecord -ComputerName 'dc01.corp.contoso.com' "
                                  "-ZoneName 'corp.contoso.com' -Name 'hv01' -RRType A -ErrorAction Stop |\n        "
                                  "Where-Object { $_.RecordData.IPv4Address.IPAddressToString -eq "
                                  "([ipaddress]'10.0.0.99').IPAddressToString })") in f.fix.powershell
    assert "    $found | Remove-DnsServerResourceRecord -ComputerName 'dc01.corp.contoso.com' -ZoneName 'corp.contoso.com' " \
        "-Force\n" in f.fix.powershell
    assert_safe(f.fix.powershell)


def test_fail_one_stale_record_among_good_ones_is_medium() -> None:
    d = doc(rec([IP, "10.0.0.99"], {IP: [H + "."], "10.0.0.99": [H + "."]}))
    f = only(run_check("host-dns-forward-reverse", d), H)
    assert f.status is Status.FAIL and f.severity is Severity.MEDIUM and f.evidence["stale_records"] == ["10.0.0.99"]


def test_missing_host_addresses_is_never_a_pass() -> None:
    d = doc()
    drop_fact(d, "hosts", H, "ip_interfaces")
    f = only(run_check("host-dns-forward-reverse", d), H)
    assert f.status is Status.ERROR and "stale A record" in f.message and "ip_interfaces" in f.message
