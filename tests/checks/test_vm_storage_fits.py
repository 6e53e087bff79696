"""vm-storage-fits: the VM's disks fit on the destination's virtual hard disk volume."""

from __future__ import annotations

from hvlm.audit.model import Status
from tests.support.checking import break_fact, only, run_check
from tests.support.fleet import CheckpointModel, DiskModel, GiB, HostModel, VMModel, build_snapshot

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
    vm = VMModel("sql01", disks=[DiskModel(disk_number=3), DiskModel(path="\\\\fs01\\vms\\sql01.vhdx")],
                 config_path="\\\\fs01\\vms")
    assert only(run_check("vm-storage-fits", doc(vm)), vm="sql01").status is Status.NOT_APPLICABLE
    # its configuration on a local volume is still copied
    local = VMModel("sql02", disks=[DiskModel(path="\\\\fs01\\vms\\sql02.vhdx")])
    f = only(run_check("vm-storage-fits", doc(local)), vm="sql02")
    assert f.status is Status.PASS and f.evidence["state_bytes"] == 48 * 1024**2 and f.evidence["bytes_now"] == 0


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


def test_fail_configuration_and_checkpoints_count_on_the_vm_path_volume() -> None:
    """The disks fit on D:, but the VM path is on C:, which cannot take the checkpoints' saved memory."""
    vm = VMModel("app03", config_bytes=2 * GiB, checkpoints=[
        CheckpointModel("before-update", state_bytes=50 * GiB), CheckpointModel("after-update", state_bytes=60 * GiB)])
    s = HostModel("HV01", index=1, vms=[vm])
    d = HostModel("HV02", index=2, vm_path="C:\\ProgramData\\Microsoft\\Windows\\Hyper-V",
                  volumes=[("C:\\", 200 * GiB, 100 * GiB), ("D:\\", 1024 * GiB, 900 * GiB)])
    f = only(run_check("vm-storage-fits", build_snapshot([s, d], pairs=[(s.fqdn, d.fqdn)])), vm="app03")
    assert f.status is Status.FAIL, f.message
    assert "volume C:\\ of hv02.corp.contoso.com (100.0 GiB free)" in f.message
    assert "its configuration and 2 checkpoints (112.0 GiB) to C:\\ProgramData" in f.message
    assert f.evidence["state_bytes"] == 112 * GiB and f.evidence["checkpoints"] == 2
    assert f.fix is not None and "VirtualMachinePath" in f.fix.powershell


def test_one_volume_receives_disks_and_vm_files_together() -> None:
    vm = VMModel("db02", disks=[DiskModel(size=480 * GiB, file_size=480 * GiB, vhd_type="Fixed")],
                 config_bytes=1 * GiB, checkpoints=[CheckpointModel("cp", state_bytes=30 * GiB)])
    f = only(run_check("vm-storage-fits", doc(vm)), vm="db02")  # 480 + 31 GiB on D: with 500 GiB free
    assert f.status is Status.FAIL and "511.0 GiB in all" in f.message


def test_checkpoint_disks_of_another_branch_are_counted_once() -> None:
    chain = "D:\\Hyper-V\\app04.vhdx"
    vm = VMModel("app04", disks=[DiskModel(path="D:\\Hyper-V\\app04_B.avhdx", size=100 * GiB, file_size=5 * GiB,
                                           parents=[(chain, 40 * GiB)])],
                 checkpoints=[CheckpointModel("base", disks=[(chain, 40 * GiB)]),
                              CheckpointModel("branch", disks=[("D:\\Hyper-V\\app04_A.avhdx", 7 * GiB)])])
    f = only(run_check("vm-storage-fits", doc(vm)), vm="app04")
    assert f.status is Status.PASS and f.evidence["bytes_now"] == 52 * GiB


def test_smart_paging_file_in_use_counts_the_startup_memory() -> None:
    vm = VMModel("app05", memory_startup=16 * GiB, smart_paging_in_use=True, config_bytes=0)
    f = only(run_check("vm-storage-fits", doc(vm)), vm="app05")
    assert f.status is Status.PASS and f.evidence["state_bytes"] == 16 * GiB


def test_unlisted_configuration_or_checkpoint_files_are_errors() -> None:
    f = only(run_check("vm-storage-fits", doc(VMModel("app06", files_error="Access to the path is denied."))),
             vm="app06")
    assert f.status is Status.ERROR and "Access to the path is denied." in f.message
    vm = VMModel("app07", checkpoints=[CheckpointModel("cp1", error="Get-VHD: the file is in use.")])
    f = only(run_check("vm-storage-fits", doc(vm)), vm="app07")
    assert f.status is Status.ERROR and "checkpoint cp1: Get-VHD: the file is in use." in f.message


def test_missing_checkpoints_fact_is_an_error() -> None:
    d = doc(VMModel("app01"))
    break_fact(d, "hosts", S, "vm_checkpoints")
    assert {f.status for f in run_check("vm-storage-fits", d)} == {Status.ERROR}


def test_a_checkpoint_disk_get_vhd_could_not_read_is_an_error_even_with_its_state_sized() -> None:
    """The probe sizes a checkpoint's state files before its disks: a Get-VHD failure leaves StateBytes set."""
    d = doc(VMModel("app08", checkpoints=[CheckpointModel("cp1")]))
    row = d["hosts"][S]["vm_checkpoints"]["value"][0]
    row["FilesError"] = "Get-VHD: The system cannot find the file specified."
    f = only(run_check("vm-storage-fits", d), vm="app08")
    assert f.status is Status.ERROR and "cannot find the file" in f.message


def test_small_parts_show_and_the_shortfall_rounds_up() -> None:
    # 1576 GiB of disk and 48 MiB of configuration on a volume with 1024 GiB free: 552.05 GiB short
    vm = VMModel("db01", disks=[DiskModel(size=1576 * GiB, file_size=1576 * GiB, vhd_type="Fixed")])
    f = only(run_check("vm-storage-fits", doc(vm, free=1024 * GiB)), vm="db01")
    assert f.status is Status.FAIL and "its configuration (48 MiB)" in f.message
    assert "1576.05 GiB in all" in f.message and "1576.0 GiB in all" not in f.message
    assert f.fix is not None and "free at least 552.1 GiB more on volume D:\\" in f.fix.summary


def test_sizes_and_shortfalls_are_never_rounded_the_wrong_way() -> None:
    from hvlm.checks.vm_storage_fits import _size, _up
    MiB = 1024**2
    assert _size(1576 * GiB) == "1576.0 GiB" and _size(1576 * GiB + 48 * MiB) == "1576.05 GiB"
    assert _size(48 * MiB) == "48 MiB" and _size(10 * GiB + GiB // 2) == "10.5 GiB"
    assert _up(552 * GiB + 48 * MiB) == "552.1 GiB" and _up(552 * GiB) == "552.0 GiB"
    assert _up(48 * MiB + 1) == "49 MiB" and _up(GiB + 1) == "1.1 GiB"
