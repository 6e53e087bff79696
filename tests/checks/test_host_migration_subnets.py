"""host-migration-subnets: each configured migration subnet exists on an interface of the host."""

from __future__ import annotations

from hvlm.audit.model import Severity, Status
from tests.support.checking import break_fact, only, run_check
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


def test_pass_subnet_on_interface() -> None:
    f = only(run_check("host-migration-subnets", doc()), H)
    assert f.status is Status.PASS and "LiveMigration" in f.message


def test_pass_bare_address_and_ipv6_entries() -> None:
    v6 = {"InterfaceAlias": "LM6", "IPAddress": "fd00:50::11", "PrefixLength": 64, "AddressFamily": "IPv6",
          "DefaultGateway": None, "RdmaEnabled": False}
    d = doc(migration_networks=[("192.168.50.11", 0), ("fd00:50::/64", 1)], extra_interfaces=[v6])
    assert only(run_check("host-migration-subnets", d), H).status is Status.PASS


def test_fail_subnet_not_on_any_interface() -> None:
    d = doc(migration_networks=[("192.168.50.0/24", 0), ("192.168.150.0/24", 1)])
    f = only(run_check("host-migration-subnets", d), H)
    # 192.168.50.0/24 still takes moves: the stale entry is clutter, a low warning, not a blocked host
    assert f.status is Status.WARNING and f.severity is Severity.LOW and "192.168.150.0/24" in f.message
    assert "Moves still arrive on 192.168.50.0/24" in f.message
    assert f.fix is not None and f.fix.powershell == removed('192.168.150.0/24')


def test_fail_only_a_wrong_subnet_replaces_it_with_the_hosts_own() -> None:
    f = only(run_check("host-migration-subnets", doc(migration_networks=[("192.168.51.0/24", 0)])), H)
    assert f.status is Status.FAIL and f.fix is not None
    assert f.fix.powershell == removed('192.168.51.0/24') + "\n" + added('192.168.50.0/24')


def test_fail_unparseable_entry() -> None:
    f = only(run_check("host-migration-subnets", doc(migration_networks=[("192.168.50.0/24", 0), ("LM-VLAN", 1)])), H)
    assert f.status is Status.WARNING and "LM-VLAN" in f.message


def test_fail_empty_list_without_any_network_accepts_nothing() -> None:
    f = only(run_check("host-migration-subnets", doc(migration_networks=[])), H)
    assert f.status is Status.FAIL and "accepts no live migration" in f.message
    assert f.fix is not None and f.fix.powershell == added('192.168.50.0/24')


def test_pass_empty_list_with_any_network_is_not_applicable() -> None:
    f = only(run_check("host-migration-subnets", doc(migration_networks=[], use_any_network=True)), H)
    assert f.status is Status.NOT_APPLICABLE


def test_missing_interfaces_is_an_error() -> None:
    d = doc()
    break_fact(d, "hosts", H, "ip_interfaces")
    assert only(run_check("host-migration-subnets", d), H).status is Status.ERROR


def test_missing_migration_networks_is_an_error() -> None:
    d = doc()
    del d["hosts"][H]["migration_networks"]
    assert only(run_check("host-migration-subnets", d), H).status is Status.ERROR
