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
    assert f.fix.powershell == ("Set-VMHost -UseAnyNetworkForMigration $false\n"
                                "Get-VMMigrationNetwork | Format-Table -Property 'Subnet', 'Priority'")
    assert f.fix.kind == "change" and "The inventory pairs it with no other host." in f.fix.summary


def test_fail_any_network_adds_the_hosts_own_non_management_subnet() -> None:
    f = only(run_check("host-any-network", doc(use_any_network=True, migration_networks=[])), H)
    assert f.status is Status.WARNING and f.fix is not None
    # the LiveMigration NIC's subnet, not the management one (10.0.0.0/24, default gateway)
    # added only when missing (running it again adds nothing), then listed back
    assert f.fix.powershell.splitlines()[:2] == [
        "if (-not (Get-VMMigrationNetwork | Where-Object { $_.Subnet -eq '192.168.50.0/24' })) "
        "{ Add-VMMigrationNetwork '192.168.50.0/24' }",
        "Set-VMHost -UseAnyNetworkForMigration $false"]


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


P = "hv02.corp.contoso.com"


def paired(peer: HostModel) -> dict:
    return build_snapshot([HostModel("HV01", index=1, use_any_network=True), peer], pairs=[(P, H)])


def _live(powershell: str) -> list[str]:
    return [line for line in powershell.splitlines() if not line.lstrip().startswith("#")]


def test_fix_names_every_peer_address_on_the_chosen_network() -> None:
    f = only(run_check("host-any-network", paired(HostModel("HV02", index=2))), H)
    assert f.fix is not None and f.fix.kind == "change"
    assert "Every host it moves VMs with has an address there: hv02.corp.contoso.com (192.168.50.12)." in f.fix.summary
    assert f.evidence["peers"] == {P: ["192.168.50.12"]}


def test_a_peer_without_an_address_there_makes_it_a_manual_step() -> None:
    """Turning 'any network' off would cut the moves from HV02 off: HV02 is not on 192.168.50.0/24."""
    d = paired(HostModel("HV02", index=2))
    d["hosts"][P]["ip_interfaces"]["value"][1]["IPAddress"] = "192.168.60.12"
    f = only(run_check("host-any-network", d), H)
    assert f.fix is not None and f.fix.kind == "manual" and f.fix.sets == ()
    assert "Do not limit hv01.corp.contoso.com's incoming live migrations to 192.168.50.0/24 yet: " \
        "hv02.corp.contoso.com has no address there" in f.fix.summary
    assert _live(f.fix.powershell) == []


def test_a_peer_whose_addresses_were_not_collected_is_not_assumed_reachable() -> None:
    d = paired(HostModel("HV02", index=2))
    break_fact(d, "hosts", P, "ip_interfaces")
    f = only(run_check("host-any-network", d), H)
    assert f.fix is not None and f.fix.kind == "manual"
    assert "the addresses of hv02.corp.contoso.com were not collected" in f.fix.summary


def test_subnets_already_listed_are_named_as_accepted_too() -> None:
    d = build_snapshot([HostModel("HV01", use_any_network=True,
                                  migration_networks=[("192.168.50.0/24", 0), ("10.0.0.0/24", 1)])], pairs=[])
    f = only(run_check("host-any-network", d), H)
    assert f.fix is not None and "10.0.0.0/24 stays listed and is accepted too" in f.fix.summary
