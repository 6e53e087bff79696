"""vm-storage-fits: the VM's disks fit on the destination's virtual hard disk volume."""

from __future__ import annotations

from hvlm.audit.model import Status
from tests.support.checking import break_fact, only, run_check
from tests.support.fleet import DiskModel, GiB, HostModel, VMModel, build_snapshot

S, D = "hv01.corp.contoso.com", "hv02.corp.contoso.com"


def doc(*vms: VMModel, free: int = 500 * GiB, vhd_path: str = "D:\\Hyper-V\\Virtual Hard Disks") -> dict:
    s = HostModel("HV01", index=1, vms=list(vms))
    d = HostModel("HV02", index=2, vhd_path=vhd_path,
                  volumes=[("C:\\", 200 * GiB, 100 * GiB), ("D:\\", 1024 * GiB, free),
                           ("D:\\Hyper-V\\Big\\", 8192 * GiB, 8000 * GiB)])
    return build_snapshot([s, d], pairs=[(s.fqdn, d.fqdn)])


def test_pass_dynamic_disk_fits_even_when_full() -> None:
    f = only(run_check("vm-storage-fits", doc(VMModel("app01"))), vm="app01")
    assert f.status is Status.PASS and f.evidence["destination.volume"] == "D:\\"


def test_fail_disks_do_not_fit_now() -> None:
    vm = VMModel("db01", disks=[DiskModel(size=600 * GiB, file_size=600 * GiB, vhd_type="Fixed")])
    f = only(run_check("vm-storage-fits", doc(vm)), vm="db01")
    assert f.status is Status.FAIL and "600.0 GiB" in f.message and "500.0 GiB" in f.message
    assert f.fix is not None and f.fix.run_on == D and f.fix.kind == "check"


def test_fail_checkpoint_chain_counts_and_dynamic_growth_warns() -> None:
    vm = VMModel("app02", disks=[DiskModel(size=700 * GiB, file_size=10 * GiB,
                                           parents=[("D:\\Hyper-V\\app02.vhdx", 300 * GiB)])])
    f = only(run_check("vm-storage-fits", doc(vm)), vm="app02")
    assert f.status is Status.WARNING and f.evidence["bytes_now"] == 310 * GiB
    assert f.evidence["bytes_at_most"] == 1000 * GiB


def test_pass_longest_mount_point_wins_and_shares_are_not_copied() -> None:
    vm = VMModel("big01", disks=[DiskModel(size=3000 * GiB, file_size=3000 * GiB, vhd_type="Fixed"),
                                 DiskModel(path="\\\\fs01\\vms\\big01-data.vhdx", size=9000 * GiB)])
    f = only(run_check("vm-storage-fits", doc(vm, vhd_path="D:\\Hyper-V\\Big\\Disks")), vm="big01")
    assert f.status is Status.PASS and f.evidence["destination.volume"] == "D:\\Hyper-V\\Big\\"
    assert f.evidence["on_shares"] == ["\\\\fs01\\vms\\big01-data.vhdx"]


def test_pass_only_shared_or_passthrough_disks_is_not_applicable() -> None:
    vm = VMModel("sql01", disks=[DiskModel(disk_number=3), DiskModel(path="\\\\fs01\\vms\\sql01.vhdx")])
    assert only(run_check("vm-storage-fits", doc(vm)), vm="sql01").status is Status.NOT_APPLICABLE


def test_missing_disks_fact_is_an_error() -> None:
    d = doc(VMModel("app01"))
    break_fact(d, "hosts", S, "vm_hard_disks")
    assert {f.status for f in run_check("vm-storage-fits", d)} == {Status.ERROR}


def test_missing_disk_size_is_an_error_not_a_pass() -> None:
    vm = VMModel("app01", disks=[DiskModel(error="Get-VHD: Access is denied.")])
    f = only(run_check("vm-storage-fits", doc(vm)), vm="app01")
    assert f.status is Status.ERROR and "Access is denied" in f.message


def test_missing_destination_vhd_path_is_an_error() -> None:
    d = doc(VMModel("app01"))
    del d["hosts"][D]["vmhost"]["value"]["VirtualHardDiskPath"]
    assert only(run_check("vm-storage-fits", d), vm="app01").status is Status.ERROR
