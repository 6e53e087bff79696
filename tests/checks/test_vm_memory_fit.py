"""vm-memory-fit: the VM's memory fits the destination's free memory (a warning when not)."""

from __future__ import annotations

from hvlm.audit.model import Status
from tests.support.checking import break_fact, only, run_check
from tests.support.fleet import GiB, HostModel, VMModel, build_snapshot

S, D = "hv01.corp.contoso.com", "hv02.corp.contoso.com"


def doc(*vms: VMModel, free: int = 64 * GiB) -> dict:
    s = HostModel("HV01", index=1, vms=list(vms))
    d = HostModel("HV02", index=2, free_memory=free)
    return build_snapshot([s, d], pairs=[(s.fqdn, d.fqdn)])


def one(findings: list, vm: str):
    return only(findings, vm=vm, source=S)


def test_pass_fits() -> None:
    f = one(run_check("vm-memory-fit", doc(VMModel("app01", memory_startup=16 * GiB))), "app01")
    assert f.status is Status.PASS and "64.0 GiB free" in f.message


def test_fail_too_big_warns() -> None:
    f = one(run_check("vm-memory-fit", doc(VMModel("db01", memory_startup=96 * GiB))), "db01")
    assert f.status is Status.WARNING
    assert "96.0 GiB" in f.message and "64.0 GiB" in f.message
    assert f.fix is not None and f.fix.run_on == D and "32.0 GiB" in f.fix.summary


def test_fail_running_vm_is_judged_by_assigned_memory() -> None:
    # dynamic memory grew to 80 GiB although it starts with 4 GiB
    vm = VMModel("dyn01", memory_startup=4 * GiB, memory_assigned=80 * GiB, dynamic_memory=True)
    f = one(run_check("vm-memory-fit", doc(vm)), "dyn01")
    assert f.status is Status.WARNING and f.evidence["basis"].startswith("MemoryAssigned")


def test_pass_off_vm_is_not_applicable_with_its_startup_memory() -> None:
    # a VM that is Off is not live-migrated: no memory is copied; the message still says it would start
    f = one(run_check("vm-memory-fit", doc(VMModel("cold01", state="Off", memory_startup=8 * GiB))), "cold01")
    assert f.status is Status.NOT_APPLICABLE and f.evidence["basis"] == "MemoryStartup (Off)"
    assert "fits" in f.message


def test_pass_evidence_gives_the_sum_for_moving_everything() -> None:
    f = one(run_check("vm-memory-fit", doc(VMModel("a", memory_startup=40 * GiB), VMModel("b", memory_startup=40 * GiB))), "a")
    assert f.status is Status.PASS and f.evidence["all_source_vms_bytes"] == 80 * GiB


def test_missing_destination_os_is_an_error() -> None:
    d = doc(VMModel("app01"))
    break_fact(d, "hosts", D, "operating_system")
    assert only(run_check("vm-memory-fit", d), source=S, destination=D).status is Status.ERROR


def test_missing_free_memory_value_is_an_error() -> None:
    d = doc(VMModel("app01"))
    d["hosts"][D]["operating_system"]["value"]["FreePhysicalMemory"] = None
    assert one(run_check("vm-memory-fit", d), "app01").status is Status.ERROR
