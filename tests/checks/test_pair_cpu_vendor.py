"""pair-cpu-vendor: no live migration between Intel and AMD."""

from __future__ import annotations

from hvlm.audit.model import Severity, Status
from tests.support.checking import break_fact, only, run_check
from tests.support.fleet import HostModel, VMModel, build_snapshot

INTEL = HostModel("HV01", index=1, vms=[VMModel("app01"), VMModel("app02")])
AMD = HostModel("HV02", index=2, cpu_vendor="AuthenticAMD", cpu_name="AMD EPYC 9454 48-Core Processor",
                vms=[VMModel("lab01")])
OTHER_INTEL = HostModel("HV03", index=3, cpu_name="Intel(R) Xeon(R) Platinum 8480+ CPU @ 2.00GHz")


def test_pass_same_manufacturer_even_with_different_models() -> None:
    doc = build_snapshot([INTEL, OTHER_INTEL], pairs=[(INTEL.fqdn, OTHER_INTEL.fqdn)])
    f = only(run_check("pair-cpu-vendor", doc), f"{INTEL.fqdn} -> {OTHER_INTEL.fqdn}")
    assert f.status is Status.PASS and "GenuineIntel" in f.message


def test_fail_intel_to_amd_both_directions() -> None:
    doc = build_snapshot([INTEL, AMD], pairs=[(INTEL.fqdn, AMD.fqdn), (AMD.fqdn, INTEL.fqdn)])
    findings = run_check("pair-cpu-vendor", doc)
    f = only(findings, f"{INTEL.fqdn} -> {AMD.fqdn}")
    assert f.status is Status.FAIL and f.severity is Severity.CRITICAL
    assert "even with processor compatibility mode" in f.message
    assert f.fix is not None and f.fix.requires_vm_off and f.fix.run_on == INTEL.fqdn
    assert "foreach ($name in @('app01', 'app02'))" in f.fix.powershell
    assert "Stop-VM -VM $vm" in f.fix.powershell and "Move-VM -VM $vm -DestinationHost $destination" in f.fix.powershell
    # a VM already on the destination is done; one on both hosts is refused
    assert "Write-Output ('{0} is already on {1}: nothing to do.' -f $name, $destination)" in f.fix.powershell
    assert "$destination = 'hv02.corp.contoso.com'" in f.fix.powershell
    back = only(findings, f"{AMD.fqdn} -> {INTEL.fqdn}")
    assert back.status is Status.FAIL and back.fix is not None and "@('lab01')" in back.fix.powershell


def test_fail_without_vm_list_moves_every_vm_of_the_source() -> None:
    doc = build_snapshot([INTEL, AMD], pairs=[(INTEL.fqdn, AMD.fqdn)])
    break_fact(doc, "hosts", INTEL.fqdn, "vms")
    f = only(run_check("pair-cpu-vendor", doc), f"{INTEL.fqdn} -> {AMD.fqdn}")
    assert f.status is Status.FAIL and f.fix is not None and "foreach ($name in (Get-VM).Name) {" in f.fix.powershell


def test_missing_processor_is_an_error() -> None:
    doc = build_snapshot([INTEL, AMD], pairs=[(INTEL.fqdn, AMD.fqdn)])
    break_fact(doc, "hosts", AMD.fqdn, "processor")
    f = only(run_check("pair-cpu-vendor", doc), f"{INTEL.fqdn} -> {AMD.fqdn}")
    assert f.status is Status.ERROR and "processor" in f.message


def test_missing_empty_manufacturer_is_an_error_not_a_pass() -> None:
    doc = build_snapshot([INTEL, OTHER_INTEL], pairs=[(INTEL.fqdn, OTHER_INTEL.fqdn)])
    doc["hosts"][OTHER_INTEL.fqdn]["processor"]["value"]["Manufacturer"] = " "
    f = only(run_check("pair-cpu-vendor", doc), f"{INTEL.fqdn} -> {OTHER_INTEL.fqdn}")
    assert f.status is Status.ERROR
