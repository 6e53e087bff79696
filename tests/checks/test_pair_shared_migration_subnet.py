"""pair-shared-migration-subnet: the destination's migration subnets are reachable from the source."""

from __future__ import annotations

from hvlm.audit.model import Severity, Status
from tests.support.checking import break_fact, only, run_check
from tests.support.fleet import HostModel, build_snapshot
from tests.support.powershell import assert_parses

RDMA = {"InterfaceAlias": "LM-RDMA", "IPAddress": "192.168.55.12", "PrefixLength": 24, "AddressFamily": "IPv4",
        "DefaultGateway": None, "RdmaEnabled": True}


def doc(**dst: object) -> tuple[dict, str, str]:
    s, d = HostModel("HV01", index=1), HostModel("HV02", index=2, **dst)  # type: ignore[arg-type]
    return build_snapshot([s, d], pairs=[(s.fqdn, d.fqdn)]), s.fqdn, d.fqdn


def test_pass_shared_subnet() -> None:
    d, s, t = doc()
    f = only(run_check("pair-shared-migration-subnet", d), f"{s} -> {t}")
    assert f.status is Status.PASS and "192.168.50.0/24" in f.message and "192.168.50.11" in f.message


def test_fail_no_shared_subnet_may_be_routed() -> None:
    # a routed migration network works: the facts hold no routes, so a medium warning with the test to run
    d, s, t = doc(migration_networks=[("192.168.55.0/24", 0)], extra_interfaces=[RDMA])
    f = only(run_check("pair-shared-migration-subnet", d), f"{s} -> {t}")
    assert f.status is Status.WARNING and f.severity is Severity.MEDIUM and "192.168.55.0/24" in f.message
    assert "routed" in f.message
    assert f.fix is not None and f.fix.run_on == s
    assert f.fix.powershell.startswith("Test-NetConnection -ComputerName '192.168.55.12' -Port 6600")
    # both hosts are on 192.168.50.0/24: accept migrations there on the destination if the test fails
    assert "# Add-VMMigrationNetwork '192.168.50.0/24'" in f.fix.powershell
    assert_parses(f.fix.powershell)
    # the reverse direction: HV01 lists 192.168.50.0/24 and HV02 has an address in it
    assert only(run_check("pair-shared-migration-subnet", d), f"{t} -> {s}").status is Status.PASS


def test_fail_no_address_of_the_family_cannot_be_routed() -> None:
    d, s, t = doc(migration_networks=[("fd00:55::/64", 0)])
    f = only(run_check("pair-shared-migration-subnet", d), f"{s} -> {t}")
    assert f.status is Status.FAIL and "no IPv6 address" in f.message


def test_fail_empty_destination_list() -> None:
    d, s, t = doc(migration_networks=[])
    f = only(run_check("pair-shared-migration-subnet", d), f"{s} -> {t}")
    assert f.status is Status.FAIL and "(none)" in f.message


def test_pass_destination_with_any_network_is_not_applicable() -> None:
    d, s, t = doc(use_any_network=True, migration_networks=[("192.168.99.0/24", 0)])
    assert only(run_check("pair-shared-migration-subnet", d), f"{s} -> {t}").status is Status.NOT_APPLICABLE


def test_missing_source_interfaces_is_an_error() -> None:
    d, s, t = doc()
    break_fact(d, "hosts", s, "ip_interfaces")
    f = only(run_check("pair-shared-migration-subnet", d), f"{s} -> {t}")
    assert f.status is Status.ERROR and "ip_interfaces" in f.message


def test_missing_destination_networks_is_an_error() -> None:
    d, s, t = doc()
    break_fact(d, "hosts", t, "migration_networks")
    assert only(run_check("pair-shared-migration-subnet", d), f"{s} -> {t}").status is Status.ERROR
