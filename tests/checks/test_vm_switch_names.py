"""vm-switch-names: every switch a VM's adapters use exists by name on the destination."""

from __future__ import annotations

from hvlm.audit.model import Status
from tests.support.checking import break_fact, only, run_check
from tests.support.fleet import HostModel, VMModel, build_snapshot

S, D = "hv01.corp.contoso.com", "hv02.corp.contoso.com"


def doc(vm: VMModel, dst_switches: list[str], src_switches: list[str] | None = None) -> dict:
    s = HostModel("HV01", index=1, vms=[vm], switches=src_switches or ["vSwitch-Prod", "vSwitch-Legacy"])
    d = HostModel("HV02", index=2, switches=dst_switches)
    return build_snapshot([s, d], pairs=[(s.fqdn, d.fqdn)])


def one(findings: list, vm: str):
    return only(findings, vm=vm, source=S)


def test_pass_switch_exists_on_destination() -> None:
    f = one(run_check("vm-switch-names", doc(VMModel("web01"), ["vSwitch-Prod"])), "web01")
    assert f.status is Status.PASS


def test_pass_unconnected_adapter_is_fine() -> None:
    vm = VMModel("iso01", adapters=[("Network Adapter", None)])
    assert one(run_check("vm-switch-names", doc(vm, [])), "iso01").status is Status.PASS


def test_fail_missing_switch() -> None:
    vm = VMModel("legacy01", adapters=[("Network Adapter", "vSwitch-Legacy"), ("Backup", "vSwitch-Prod")])
    f = one(run_check("vm-switch-names", doc(vm, ["vSwitch-Prod"])), "legacy01")
    assert f.status is Status.FAIL and "'vSwitch-Legacy'" in f.message
    assert f.evidence["missing"] == ["vSwitch-Legacy"]
    assert f.fix is not None and f.fix.run_on == D  # switches are created on the destination
    # a manual step: read which adapter carries the management address first; the switch is only described
    assert f.fix.kind == "manual" and "Read-Host" not in f.fix.powershell
    ps = f.fix.powershell
    assert ps.splitlines()[2] == "Get-NetIPConfiguration | Format-Table -Property 'InterfaceAlias', 'IPv4Address', " \
        "'IPv4DefaultGateway'"
    assert "#   New-VMSwitch -Name 'vSwitch-Legacy' -NetAdapterName '<the adapter you chose>' -AllowManagementOS $false" in ps
    assert "# Never bind a new switch with -AllowManagementOS $false to the adapter that carries" in ps
    assert "-AllowManagementOS $true, from the host's console" in ps
    assert not [ln for ln in ps.splitlines() if "New-VMSwitch" in ln and not ln.startswith("#")]
    assert ("Connect-VMNetworkAdapter -VMName 'legacy01' -Name 'Network Adapter' -SwitchName 'vSwitch-Prod'"
            in f.fix.summary)


def test_fail_missing_internal_switch_is_created_internal() -> None:
    d = doc(VMModel("lab01", adapters=[("Network Adapter", "Internal-NAT")]), ["vSwitch-Prod"], ["Internal-NAT"])
    d["hosts"][S]["vm_switches"]["value"][0]["SwitchType"] = "Internal"
    f = one(run_check("vm-switch-names", d), "lab01")
    assert f.status is Status.FAIL and f.fix is not None
    assert f.fix.kind == "change" and f.fix.powershell == (
        "if (-not (Get-VMSwitch | Where-Object { $_.Name -eq 'Internal-NAT' })) {\n"
        "    New-VMSwitch -Name 'Internal-NAT' -SwitchType Internal\n"
        "} else { Write-Output 'Switch Internal-NAT already exists.' }")


def test_fail_name_differing_only_in_case_is_a_warning() -> None:
    f = one(run_check("vm-switch-names", doc(VMModel("web01"), ["vswitch-prod"])), "web01")
    assert f.status is Status.WARNING
    assert f.fix is not None and f.fix.powershell == (
        "Get-VMSwitch | Where-Object { $_.Name -ceq 'vswitch-prod' } | Rename-VMSwitch -NewName 'vSwitch-Prod'")


def test_missing_destination_switches_is_an_error() -> None:
    d = doc(VMModel("web01"), ["vSwitch-Prod"])
    break_fact(d, "hosts", D, "vm_switches")
    f = only(run_check("vm-switch-names", d), source=S, destination=D)
    assert f.status is Status.ERROR and "vm_switches" in f.message


def test_missing_network_adapters_is_an_error_not_a_pass() -> None:
    # The schema makes NetworkAdapters optional: a VM whose adapters were not collected has not been shown
    # to have none, so "no network adapter connected" would be a pass on a missing fact.
    d = doc(VMModel("web01"), [])
    for vm in d["hosts"][S]["vms"]["value"]:
        del vm["NetworkAdapters"]
    f = one(run_check("vm-switch-names", d), "web01")
    assert f.status is Status.ERROR and "NetworkAdapters" in f.message


def test_pass_vm_without_adapters() -> None:
    vm = VMModel("isolated01", adapters=[])
    assert one(run_check("vm-switch-names", doc(vm, [])), "isolated01").status is Status.PASS
