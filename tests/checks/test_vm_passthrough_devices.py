"""vm-passthrough-devices: pass-through disks and DDA devices block live migration."""

from __future__ import annotations

from hvlm.audit.model import Status
from tests.support.checking import break_fact, only, run_check
from tests.support.fleet import DiskModel, HostModel, VMModel, build_snapshot

S = "hv01.corp.contoso.com"


def doc(*vms: VMModel) -> dict:
    s, d = HostModel("HV01", index=1, build=20348, vms=list(vms)), HostModel("HV02", index=2, build=20348)
    return build_snapshot([s, d], pairs=[(s.fqdn, d.fqdn)])


def test_pass_virtual_disks_only() -> None:
    assert only(run_check("vm-passthrough-devices", doc(VMModel("app01"))), vm="app01").status is Status.PASS


def test_fail_pass_through_disk() -> None:
    vm = VMModel("sql01", disks=[DiskModel(), DiskModel(disk_number=2)])
    f = only(run_check("vm-passthrough-devices", doc(vm)), vm="sql01")
    assert f.status is Status.FAIL and "pass-through disk 2" in f.message
    assert f.fix is not None and f.fix.kind == "manual" and "Remove-VMHardDiskDrive -VMName 'sql01'" in f.fix.powershell


def test_fail_assigned_device() -> None:
    vm = VMModel("gpu01", assigned_devices=["PCIROOT(0)#PCI(0300)#PCI(0000)"])
    f = only(run_check("vm-passthrough-devices", doc(vm)), vm="gpu01")
    assert f.status is Status.FAIL and "PCIROOT(0)#PCI(0300)#PCI(0000)" in f.message
    assert f.fix is not None and "-LocationPath 'PCIROOT(0)#PCI(0300)#PCI(0000)'" in f.fix.powershell


def test_missing_assigned_devices_is_an_error() -> None:
    d = doc(VMModel("app01"))
    break_fact(d, "hosts", S, "vm_assigned_devices")
    assert {f.status for f in run_check("vm-passthrough-devices", d)} == {Status.ERROR}


def test_missing_hard_disks_is_an_error() -> None:
    d = doc(VMModel("app01"))
    break_fact(d, "hosts", S, "vm_hard_disks")
    assert {f.status for f in run_check("vm-passthrough-devices", d)} == {Status.ERROR}
