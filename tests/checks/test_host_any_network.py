"""host-any-network: UseAnyNetworkForMigration is off."""

from __future__ import annotations

from hvlm.audit.model import Status
from tests.support.checking import break_fact, only, run_check
from tests.support.fleet import HostModel, build_snapshot

H = "hv01.corp.contoso.com"


def doc(**kw: object) -> dict:
    return build_snapshot([HostModel("HV01", **kw)], pairs=[])  # type: ignore[arg-type]


def test_pass_chosen_networks_only() -> None:
    assert only(run_check("host-any-network", doc()), H).status is Status.PASS


def test_fail_any_network_with_a_configured_isolated_network() -> None:
    f = only(run_check("host-any-network", doc(use_any_network=True)), H)
    assert f.status is Status.WARNING and "not encrypted" in f.message
    assert f.fix is not None and f.fix.run_on == H
    assert f.fix.powershell == "Set-VMHost -UseAnyNetworkForMigration $false"


def test_fail_any_network_adds_the_hosts_own_non_management_subnet() -> None:
    f = only(run_check("host-any-network", doc(use_any_network=True, migration_networks=[])), H)
    assert f.status is Status.WARNING and f.fix is not None
    # the LiveMigration NIC's subnet, not the management one (10.0.0.0/24, default gateway)
    assert f.fix.powershell == "Add-VMMigrationNetwork '192.168.50.0/24'\nSet-VMHost -UseAnyNetworkForMigration $false"


def test_fail_any_network_without_an_isolated_network_does_not_cut_migration_off() -> None:
    d = doc(use_any_network=True, migration_networks=[])
    d["hosts"][H]["ip_interfaces"]["value"] = d["hosts"][H]["ip_interfaces"]["value"][:1]  # management only
    f = only(run_check("host-any-network", d), H)
    assert f.status is Status.WARNING and f.fix is not None
    assert "no private, non-management network" in f.fix.summary
    live = [line for line in f.fix.powershell.splitlines() if not line.startswith("#")]
    assert not any("Set-VMHost" in line for line in live)


def test_missing_vmhost_is_an_error() -> None:
    d = doc()
    break_fact(d, "hosts", H, "vmhost")
    assert only(run_check("host-any-network", d), H).status is Status.ERROR


def test_missing_interfaces_still_judges_the_setting() -> None:
    d = doc(use_any_network=True)
    break_fact(d, "hosts", H, "ip_interfaces")
    assert only(run_check("host-any-network", d), H).status is Status.WARNING
