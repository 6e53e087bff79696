"""vm-config-version: each VM's configuration version is one the destination runs."""

from __future__ import annotations

import pytest

from hvlm.audit.model import Status
from tests.support.checking import break_fact, drop_fact, only, run_check
from tests.support.fleet import HostModel, VMModel, build_snapshot


def pair(src_build: int, dst_build: int, *vms: VMModel, src_versions: list[str] | None = None,
         **dst: object) -> tuple[dict, HostModel, HostModel]:
    s = HostModel("HV01", index=1, build=src_build, vms=list(vms), supported_versions=src_versions)
    d = HostModel("HV02", index=2, build=dst_build, **dst)  # type: ignore[arg-type]
    return build_snapshot([s, d], pairs=[(s.fqdn, d.fqdn)]), s, d


def finding(findings: list, s: HostModel, d: HostModel, vm: str):
    return only(findings, vm=vm, source=s.fqdn, destination=d.fqdn)


def test_pass_5_0_vm_from_2012r2_to_2016() -> None:
    doc, s, d = pair(9600, 14393, VMModel("sql01", "5.0"))
    f = finding(run_check("vm-config-version", doc), s, d, "sql01")
    assert f.status is Status.PASS
    assert f.evidence["destination"]["basis"] == "Get-VMHostSupportedVersion on the host"
    # the return direction is not planned: HV02's own VMs are not judged for a move to HV01
    assert not [f for f in run_check("vm-config-version", doc) if f.subject.source == d.fqdn]
    # planned, it has no VMs on HV02: nothing to judge, not a pass
    doc["inventory"]["pairs"].append([d.fqdn, s.fqdn])
    back = only(run_check("vm-config-version", doc), source=d.fqdn, destination=s.fqdn)
    assert back.status is Status.NOT_APPLICABLE


def test_pass_newer_vm_on_newer_host() -> None:
    doc, s, d = pair(20348, 26100, VMModel("db01", "10.0"))
    assert finding(run_check("vm-config-version", doc), s, d, "db01").status is Status.PASS


@pytest.mark.parametrize("dst_build", [20348, 26100])
@pytest.mark.parametrize("version", ["5.0", "6.2", "7.0", "7.1"])
def test_fail_old_vm_to_2022_or_2025(version: str, dst_build: int) -> None:
    doc, s, d = pair(17763, dst_build, VMModel("app01", version))
    f = finding(run_check("vm-config-version", doc), s, d, "app01")
    assert f.status is Status.FAIL and "cannot move" in f.message
    assert f.fix is not None
    # Windows Server 2019 upgrades it to 9.0, which both 2022 and 2025 run: fix on the source, VM off
    assert f.fix.run_on == s.fqdn and f.fix.requires_vm_off
    ps = f.fix.powershell
    assert ps.startswith("foreach ($name in @('app01')) {") and "    Update-VMVersion -VM $vm\n" in ps
    assert ps.index("(Get-VMHostSupportedVersion -Default).Version") < ps.index("Update-VMVersion")
    assert ps.index("Get-VMSnapshot -VM $vm") < ps.index("Update-VMVersion")
    assert "one-way" in f.fix.summary and "9.0" in f.fix.summary


def test_fail_5_0_vm_from_2016_to_2022_names_what_is_lost() -> None:
    doc, s, d = pair(14393, 20348, VMModel("app01", "5.0"))
    f = finding(run_check("vm-config-version", doc), s, d, "app01")
    assert f.status is Status.FAIL and f.fix is not None
    assert "8.0" in f.fix.summary and "Windows Server 2012 R2" in f.fix.summary


def test_fail_5_0_vm_from_2012r2_to_2022_needs_an_intermediate_host() -> None:
    doc, s, d = pair(9600, 20348, VMModel("sql01", "5.0"))
    f = finding(run_check("vm-config-version", doc), s, d, "sql01")
    assert f.status is Status.FAIL and f.fix is not None
    assert "Windows Server 2016 or Windows Server 2019" in f.fix.run_on
    assert f.fix.requires_vm_off and "@('sql01')" in f.fix.powershell and "Update-VMVersion -VM $vm" in f.fix.powershell


def test_fail_9_0_vm_to_2016() -> None:
    doc, s, d = pair(17763, 14393, VMModel("web01", "9.0"))
    f = finding(run_check("vm-config-version", doc), s, d, "web01")
    assert f.status is Status.FAIL
    assert "5.0-8.0" in f.message
    assert f.fix is not None and "cannot be lowered" in f.fix.summary
    assert "Windows Server 2019" in f.fix.summary and "Windows Server 2016" not in f.fix.run_on
    assert f.fix.powershell == "(Get-VMHostSupportedVersion).Version -contains [version]'9.0'"


def test_fail_8_0_vm_to_2012r2() -> None:
    doc, s, d = pair(14393, 9600, VMModel("app02", "8.0"))
    f = finding(run_check("vm-config-version", doc), s, d, "app02")
    assert f.status is Status.FAIL and "only 5.0" in f.message


def test_fail_uses_documented_table_when_supported_versions_missing_and_says_so() -> None:
    doc, s, d = pair(14393, 20348, VMModel("app01", "5.0"))
    drop_fact(doc, "hosts", d.fqdn, "supported_versions")
    f = finding(run_check("vm-config-version", doc), s, d, "app01")
    assert f.status is Status.FAIL
    assert "documented table" in f.message
    basis = f.evidence["destination"]["basis"]
    assert "not collected" in basis and "documented table for Windows Server 2022" in basis


def test_pass_uses_documented_table_when_supported_versions_errored_and_says_so() -> None:
    doc, s, d = pair(9600, 14393, VMModel("sql01", "5.0"))
    break_fact(doc, "hosts", d.fqdn, "supported_versions", kind="probe_error",
               message="The term 'Get-VMHostSupportedVersion' is not recognized")
    f = finding(run_check("vm-config-version", doc), s, d, "sql01")
    assert f.status is Status.PASS and "documented table" in f.message
    assert "not recognized" in f.evidence["destination"]["basis"]


def test_pass_live_list_wins_over_the_table() -> None:
    # a host that reports fewer versions than the table (e.g. a trimmed build) is believed
    doc, s, d = pair(17763, 17763, VMModel("app01", "7.0"), supported_versions=["8.0", "9.0"])
    assert finding(run_check("vm-config-version", doc), s, d, "app01").status is Status.FAIL


def test_fail_unknown_build_without_list_is_a_warning_not_a_pass() -> None:
    doc, s, d = pair(17763, 27000, VMModel("app01", "9.0"))
    drop_fact(doc, "hosts", d.fqdn, "supported_versions")
    f = finding(run_check("vm-config-version", doc), s, d, "app01")
    assert f.status is Status.WARNING
    assert f.fix is not None and "Compare-VM -Name 'app01' -DestinationHost 'hv02.corp.contoso.com'" in f.fix.powershell


def test_fail_version_4_to_2012r2_is_a_warning() -> None:
    doc, s, d = pair(9200, 9600, VMModel("print01", "4.0"), src_versions=["4.0"])
    f = finding(run_check("vm-config-version", doc), s, d, "print01")
    assert f.status is Status.WARNING and "third-party" in f.message


def test_fail_version_4_to_2016_has_no_documented_path() -> None:
    doc, s, d = pair(9200, 14393, VMModel("print01", "4.0"), src_versions=["4.0"])
    f = finding(run_check("vm-config-version", doc), s, d, "print01")
    assert f.status is Status.FAIL and f.fix is not None
    assert "@('print01')" in f.fix.powershell and "Get-VMHardDiskDrive -VM $vm" in f.fix.powershell
    assert f.fix.requires_vm_off


def test_missing_source_vms_is_an_error() -> None:
    doc, s, d = pair(14393, 20348, VMModel("app01", "5.0"))
    break_fact(doc, "hosts", s.fqdn, "vms")
    f = only(run_check("vm-config-version", doc), source=s.fqdn, destination=d.fqdn)
    assert f.status is Status.ERROR and "vms" in f.message


def test_missing_destination_os_is_an_error() -> None:
    doc, s, d = pair(14393, 20348, VMModel("app01", "5.0"))
    drop_fact(doc, "hosts", d.fqdn, "operating_system")
    f = only(run_check("vm-config-version", doc), source=s.fqdn, destination=d.fqdn)
    assert f.status is Status.ERROR and "operating_system" in f.message


def test_fail_too_new_names_an_inventory_host_that_runs_it() -> None:
    s = HostModel("HV01", index=1, build=26100, vms=[VMModel("ai01", "12.0")])
    d = HostModel("HV02", index=2, build=20348)
    other = HostModel("HV03", index=3, build=26100)
    old = HostModel("HV04", index=4, build=17763)
    doc = build_snapshot([s, d, other, old], pairs=[(s.fqdn, d.fqdn)])
    f = finding(run_check("vm-config-version", doc), s, d, "ai01")
    assert f.status is Status.FAIL
    assert f.evidence["inventory_hosts_that_run_it"] == [other.fqdn]
    assert f.fix is not None and other.fqdn in f.fix.summary and "cannot be lowered" in f.fix.summary
    assert f.fix.powershell.startswith(f"$report = Compare-VM -Name 'ai01' -DestinationHost '{other.fqdn}'")
    assert f.fix.run_on == s.fqdn
