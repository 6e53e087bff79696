"""host-migration-subnet-private: migration subnets are private and not the management network."""

from __future__ import annotations

from hvlm.audit.model import Severity, Status
from tests.support.checking import break_fact, drop_fact, only, run_check
from tests.support.fleet import HostModel, build_snapshot

H = "hv01.corp.contoso.com"


def removed(subnet: str) -> str:
    """What the fix runs to take a subnet off: only if listed, else it says so (a second run is harmless)."""
    return (f"if (Get-VMMigrationNetwork | Where-Object {{ $_.Subnet -eq '{subnet}' }}) "
            f"{{ Remove-VMMigrationNetwork '{subnet}' }} else {{ Write-Output '{subnet} is already off the migration list.' }}")


def added(subnet: str) -> str:
    return (f"if (-not (Get-VMMigrationNetwork | Where-Object {{ $_.Subnet -eq '{subnet}' }})) "
            f"{{ Add-VMMigrationNetwork '{subnet}' }}")


def doc(**kw: object) -> dict:
    return build_snapshot([HostModel("HV01", **kw)], pairs=[])  # type: ignore[arg-type]


def test_pass_private_isolated_subnet() -> None:
    f = only(run_check("host-migration-subnet-private", doc()), H)
    assert f.status is Status.PASS and f.evidence["dns"] == "collected"


def test_pass_ipv6_unique_local() -> None:
    d = doc(migration_networks=[("fd12:3456:789a:1::/64", 0)])
    assert only(run_check("host-migration-subnet-private", d), H).status is Status.PASS


def test_fail_non_rfc1918_subnet_is_a_low_warning() -> None:
    # an organisation's own public range can be isolated as well as 10/8: the move works, confirm the isolation
    d = doc(migration_networks=[("192.168.50.0/24", 0), ("203.0.113.0/24", 1)])
    f = only(run_check("host-migration-subnet-private", d), H)
    assert f.status is Status.WARNING and f.severity is Severity.LOW
    assert "outside RFC 1918" in f.message and "203.0.113.0/24" in f.message
    assert f.fix is not None and "Remove-VMMigrationNetwork" not in f.fix.powershell
    assert "isolated" in f.fix.summary
    # carrier-grade NAT space (100.64.0.0/10) likewise
    f = only(run_check("host-migration-subnet-private", doc(migration_networks=[("100.64.50.0/24", 0)])), H)
    assert f.status is Status.WARNING and f.severity is Severity.LOW


def test_fail_public_ipv6() -> None:
    f = only(run_check("host-migration-subnet-private", doc(migration_networks=[("2001:db8:50::/64", 0)])), H)
    assert f.status is Status.WARNING and f.severity is Severity.LOW


def test_fail_public_management_network_is_still_a_failure() -> None:
    # management judged first: a public range that carries the default gateway is the management network
    d = doc(migration_networks=[("10.0.0.0/24", 0), ("203.0.113.0/24", 1)])
    f = only(run_check("host-migration-subnet-private", d), H)
    assert f.status is Status.FAIL and f.severity is Severity.MEDIUM
    assert f.fix is not None and f.fix.powershell == removed('10.0.0.0/24')


def test_fail_management_subnet_by_default_gateway() -> None:
    d = doc(migration_networks=[("10.0.0.0/24", 0)])
    drop_fact(d, "dns", H)
    f = only(run_check("host-migration-subnet-private", d), H)
    assert f.status is Status.FAIL and f.severity is Severity.MEDIUM
    assert "management" in f.message and "default gateway only" in f.evidence["dns"]
    assert f.fix is not None
    assert f.fix.powershell == removed('10.0.0.0/24') + "\n" + added('192.168.50.0/24')


def test_fail_management_subnet_by_dns() -> None:
    # the FQDN resolves to an address on the "LiveMigration" NIC: that NIC is management in fact
    d = doc()
    d["dns"][H]["value"]["A"] = ["192.168.50.11"]
    f = only(run_check("host-migration-subnet-private", d), H)
    assert f.status is Status.FAIL
    assert any("resolves to 192.168.50.11" in m for m in f.evidence["management"])


def test_fail_unreadable_entry_is_a_warning() -> None:
    f = only(run_check("host-migration-subnet-private", doc(migration_networks=[("192.168.50.0/24", 0), ("LM-VLAN", 1)])), H)
    assert f.status is Status.WARNING and "LM-VLAN" in f.message


def test_pass_no_subnets_is_not_applicable() -> None:
    assert only(run_check("host-migration-subnet-private", doc(migration_networks=[])), H).status is Status.NOT_APPLICABLE


def test_missing_interfaces_is_an_error() -> None:
    d = doc()
    break_fact(d, "hosts", H, "ip_interfaces")
    assert only(run_check("host-migration-subnet-private", d), H).status is Status.ERROR
