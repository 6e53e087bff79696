"""Issue 11 verdicts for VM checks: a VM that cannot move or is Off is not judged on what only a live move needs."""

from __future__ import annotations

from hvlm.audit.model import Severity, Status
from tests.support.checking import only, run_check
from tests.support.fleet import GiB, HostModel, VMModel, build_snapshot

OLD = "Intel(R) Xeon(R) Gold 6138 CPU @ 2.00GHz"
NEW = "Intel(R) Xeon(R) Platinum 8480+ CPU @ 2.00GHz"


def doc(*vms: VMModel, src_build: int = 17763, dst_build: int = 17763, free: int = 256 * GiB) -> dict:
    s = HostModel("HV01", index=1, build=src_build, cpu_name=OLD, vms=list(vms))
    d = HostModel("HV02", index=2, build=dst_build, cpu_name=NEW, free_memory=free)
    return build_snapshot([s, d], pairs=[(s.fqdn, d.fqdn)])


def one(check_id: str, d: dict, vm: str):
    return only(run_check(check_id, d), vm=vm, source="hv01.corp.contoso.com")


def test_pass_vm_too_new_for_the_destination_is_not_a_processor_warning() -> None:
    d = doc(VMModel("new01", "10.0"), VMModel("ok01", "9.0"), src_build=20348, dst_build=17763)
    f = one("vm-processor-compat", d, "new01")
    assert f.status is Status.NOT_APPLICABLE and "vm-config-version" in f.message and f.fix is None
    assert one("vm-config-version", d, "new01").status is Status.FAIL  # the one failure for that cause
    assert one("vm-processor-compat", d, "ok01").status is Status.WARNING  # a VM that can move is still judged


def test_fail_off_vm_is_not_judged_on_processor_compatibility() -> None:
    d = doc(VMModel("cold01", state="Off"), VMModel("live01"))
    f = one("vm-processor-compat", d, "cold01")
    assert f.status is Status.NOT_APPLICABLE and "Off" in f.message and "not live-migrated" in f.message
    assert one("vm-processor-compat", d, "live01").status is Status.WARNING


def test_fail_off_vm_memory_is_at_most_a_low_warning() -> None:
    d = doc(VMModel("cold01", state="Off", memory_startup=64 * GiB), free=32 * GiB)
    f = one("vm-memory-fit", d, "cold01")
    assert f.status is Status.WARNING and f.severity is Severity.LOW and "would not start" in f.message
    assert f.fix is not None
    d = doc(VMModel("cold01", state="Off", memory_startup=8 * GiB), free=32 * GiB)
    f = one("vm-memory-fit", d, "cold01")
    assert f.status is Status.NOT_APPLICABLE and "copies no memory" in f.message
    # a running VM that does not fit still warns at the check's severity
    d = doc(VMModel("live01", memory_startup=64 * GiB), free=32 * GiB)
    f = one("vm-memory-fit", d, "live01")
    assert f.status is Status.WARNING and f.severity is Severity.MEDIUM
