"""vm-gpu-partition: a GPU-P VM moves live only when both hosts meet Windows Server 2025's requirements."""

from __future__ import annotations

from typing import Any

from hvlm.audit.model import Status
from tests.support.checking import break_fact, only, run_check
from tests.support.fleet import HostModel, VMModel, build_snapshot
from tests.support.powershell import assert_parses

S, D = "hv01.corp.contoso.com", "hv02.corp.contoso.com"
A16 = "\\\\?\\PCI#VEN_10DE&DEV_25B6&SUBSYS_157E10DE&REV_A1#4&2e3b5d9&0&0010#{064092b3-625e-43bf-9eb5-dc845897dd59}"
A2 = "\\\\?\\PCI#VEN_10DE&DEV_25B6&SUBSYS_157E10DE&REV_A1#4&19a1b2c&0&0008#{064092b3-625e-43bf-9eb5-dc845897dd59}"
L4 = "\\\\?\\PCI#VEN_10DE&DEV_27B8&SUBSYS_16CA10DE&REV_A1#4&1f2e3d4&0&0010#{064092b3-625e-43bf-9eb5-dc845897dd59}"


def doc(vm: VMModel, *, src: dict[str, Any] | None = None, dst: dict[str, Any] | None = None) -> dict[str, Any]:
    s = HostModel("HV01", index=1, vms=[vm], **{"build": 26100, "gpus": [(A16, 4, [1, 2, 4, 8])], **(src or {})})
    d = HostModel("HV02", index=2, **{"build": 26100, "gpus": [(A2, 4, [1, 2, 4, 8])], **(dst or {})})
    return build_snapshot([s, d], pairs=[(s.fqdn, d.fqdn)])


def gpu_vm(**kw: Any) -> VMModel:
    return VMModel("vdi01", **{"version": "12.0", "gpu_partitions": [(A16, True)], **kw})


def test_pass_without_a_gpu_partition_even_on_older_hosts() -> None:
    d = doc(VMModel("app01", version="9.0"), src={"build": 17763, "gpus": []}, dst={"build": 14393, "gpus": []})
    f = only(run_check("vm-gpu-partition", d), vm="app01")
    assert f.status is Status.PASS and "no GPU partition" in f.message


def test_pass_when_both_2025_hosts_have_the_same_gpu_and_partition_count() -> None:
    f = only(run_check("vm-gpu-partition", doc(gpu_vm())), vm="vdi01")
    assert f.status is Status.PASS, f.message
    assert "VEN_10DE&DEV_25B6" in str(f.evidence["destination.gpus"])


def test_fail_older_destination_and_version_below_12() -> None:
    f = only(run_check("vm-gpu-partition", doc(gpu_vm(version="10.0"), dst={"build": 20348})), vm="vdi01")
    assert f.status is Status.FAIL
    assert "Windows Server 2025 on both hosts" in f.message and "hv02.corp.contoso.com runs Windows Server 2022" in f.message
    assert "configuration version is 10.0" in f.message
    assert f.fix is not None and f.fix.kind == "manual" and f.fix.run_on == S
    assert_parses(f.fix.powershell)
    assert "Invoke-Command -ComputerName 'hv02.corp.contoso.com'" in f.fix.powershell


def test_fail_when_the_source_does_not_support_outgoing_migration() -> None:
    f = only(run_check("vm-gpu-partition", doc(gpu_vm(gpu_partitions=[(A16, False)]))), vm="vdi01")
    assert f.status is Status.FAIL and "SupportsOutgoingLiveMigration False" in f.message


def test_fail_other_gpu_model_or_partition_count_on_the_destination() -> None:
    other = only(run_check("vm-gpu-partition", doc(gpu_vm(), dst={"gpus": [(L4, 4, [1, 2, 4])]})), vm="vdi01")
    assert other.status is Status.FAIL and "no partitionable VEN_10DE&DEV_25B6 GPU" in other.message
    assert "VEN_10DE&DEV_27B8" in other.message
    count = only(run_check("vm-gpu-partition", doc(gpu_vm(), dst={"gpus": [(A2, 8, [1, 2, 4, 8])]})), vm="vdi01")
    assert count.status is Status.FAIL and "set to 8 partitions" in count.message
    assert count.fix is not None and f"#   Set-VMHostPartitionableGpu -Name '{A2}' -PartitionCount 4" in count.fix.powershell
    assert "configuration version" not in count.fix.powershell  # only what is unmet
    none = only(run_check("vm-gpu-partition", doc(gpu_vm(), dst={"gpus": []})), vm="vdi01")
    assert none.status is Status.FAIL and "its partitionable GPUs: none" in none.message


def test_fail_when_running_vms_hold_every_partition_of_the_destination_gpu() -> None:
    holders = [VMModel(f"vdi-b{n}", version="12.0", gpu_partitions=[(A2, True)]) for n in range(4)]
    full = only(run_check("vm-gpu-partition", doc(gpu_vm(), dst={"vms": holders})), vm="vdi01")
    assert full.status is Status.FAIL and "all 4 partitions" in full.message and "vdi-b3" in full.message
    holders[0].state = "Off"  # an off VM holds no partition
    free = only(run_check("vm-gpu-partition", doc(gpu_vm(), dst={"vms": holders})), vm="vdi01")
    assert free.status is Status.PASS and free.evidence["destination.partitions_in_use"]["VEN_10DE&DEV_25B6"] == [
        "vdi-b1", "vdi-b2", "vdi-b3"]


def test_missing_facts_are_errors_never_passes() -> None:
    d = doc(gpu_vm())
    break_fact(d, "hosts", S, "vm_gpu_partitions")
    assert {f.status for f in run_check("vm-gpu-partition", d)} == {Status.ERROR}
    d = doc(gpu_vm())
    break_fact(d, "hosts", D, "partitionable_gpus")
    f = only(run_check("vm-gpu-partition", d), vm="vdi01")
    assert f.status is Status.ERROR and "partitionable_gpus" in f.message
    d = doc(gpu_vm())
    d["hosts"][S]["vm_gpu_partitions"]["value"][0]["SupportsOutgoingLiveMigration"] = None
    assert only(run_check("vm-gpu-partition", d), vm="vdi01").status is Status.ERROR


def test_hostile_vm_and_gpu_names_stay_quoted() -> None:
    from tests.support.powershell import HOSTILE, command_names

    hostile_gpu = "\\\\?\\PCI#VEN_10DE&DEV_25B6#' ; Remove-Item C:\\ -Recurse ; '"
    vm = VMModel(HOSTILE, version="12.0", gpu_partitions=[(hostile_gpu, True)])
    f = only(run_check("vm-gpu-partition", doc(vm, dst={"gpus": [(hostile_gpu, 8, [4, 8])]})), vm=HOSTILE)
    assert f.status is Status.FAIL and f.fix is not None
    assert_parses(f.fix.powershell)
    assert "Remove-Item" not in command_names(f.fix.powershell)
