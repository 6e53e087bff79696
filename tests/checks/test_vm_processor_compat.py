"""vm-processor-compat: different processor models need processor compatibility for migration."""

from __future__ import annotations

from hvlm.audit.model import Severity, Status
from tests.support.checking import break_fact, only, run_check
from tests.support.fleet import HostModel, VMModel, build_snapshot

OLD = "Intel(R) Xeon(R) Gold 6138 CPU @ 2.00GHz"
NEW = "Intel(R) Xeon(R) Platinum 8480+ CPU @ 2.00GHz"


def doc(*vms: VMModel, dst_cpu: str = NEW, dst_vendor: str = "GenuineIntel") -> dict:
    s = HostModel("HV01", index=1, cpu_name=OLD, vms=list(vms))
    d = HostModel("HV02", index=2, cpu_name=dst_cpu, cpu_vendor=dst_vendor)
    return build_snapshot([s, d], pairs=[(s.fqdn, d.fqdn)])


def one(findings: list, vm: str):
    return only(findings, vm=vm, source="hv01.corp.contoso.com")


def test_pass_same_model() -> None:
    assert one(run_check("vm-processor-compat", doc(VMModel("app01"), dst_cpu=OLD)), "app01").status is Status.PASS


def test_pass_same_model_ignores_spacing_and_case() -> None:
    d = doc(VMModel("app01"), dst_cpu="intel(r) xeon(r) gold 6138  CPU @ 2.00GHz")
    assert one(run_check("vm-processor-compat", d), "app01").status is Status.PASS


def test_pass_different_models_with_compatibility_on() -> None:
    f = one(run_check("vm-processor-compat", doc(VMModel("app01", compatibility_for_migration=True))), "app01")
    assert f.status is Status.PASS and "enabled" in f.message


def test_fail_different_models_without_compatibility_warns() -> None:
    f = one(run_check("vm-processor-compat", doc(VMModel("app01", compatibility_for_migration=False))), "app01")
    assert f.status is Status.WARNING and f.severity is Severity.HIGH
    assert OLD in f.message and NEW in f.message
    assert f.fix is not None and f.fix.requires_vm_off and f.fix.run_on == "hv01.corp.contoso.com"
    ps = f.fix.powershell
    assert ps.startswith("foreach ($name in @('app01')) {") and f.fix.vms == ("app01",)
    # reads first: skipped when already enabled, then stopped only if running and started again only then
    assert ps.index("(Get-VMProcessor -VM $vm).CompatibilityForMigrationEnabled") < ps.index("Stop-VM -VM $vm")
    assert "    if ($wasRunning) { Stop-VM -VM $vm }\n    Set-VMProcessor -VM $vm -CompatibilityForMigrationEnabled $true\n" \
        "    if ($wasRunning) { Start-VM -VM $vm }" in ps


def test_fail_different_manufacturer_is_left_to_pair_cpu_vendor() -> None:
    d = doc(VMModel("app01"), dst_cpu="AMD EPYC 9454 48-Core Processor", dst_vendor="AuthenticAMD")
    f = one(run_check("vm-processor-compat", d), "app01")
    assert f.status is Status.NOT_APPLICABLE and "pair-cpu-vendor" in f.message


def test_missing_compatibility_setting_is_an_error_when_models_differ() -> None:
    d = doc(VMModel("app01"))
    del d["hosts"]["hv01.corp.contoso.com"]["vms"]["value"][0]["CompatibilityForMigrationEnabled"]
    assert one(run_check("vm-processor-compat", d), "app01").status is Status.ERROR


def test_missing_destination_processor_is_an_error() -> None:
    d = doc(VMModel("app01"))
    break_fact(d, "hosts", "hv02.corp.contoso.com", "processor")
    f = only(run_check("vm-processor-compat", d), source="hv01.corp.contoso.com", destination="hv02.corp.contoso.com")
    assert f.status is Status.ERROR
