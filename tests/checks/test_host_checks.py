"""Passing, failing and missing-facts tests for the host-level checks."""

from __future__ import annotations

from hvlm.audit.model import Severity, Status
from tests.support.checking import break_fact, only, run_check
from tests.support.fleet import HostModel, build_snapshot

H = "hv01.corp.contoso.com"


def doc(**kw: object) -> dict:
    return build_snapshot([HostModel("HV01", **kw)], pairs=[])  # type: ignore[arg-type]


# host-hyperv-role -----------------------------------------------------------------------------

def test_pass_hyperv_role() -> None:
    f = only(run_check("host-hyperv-role", doc()), H)
    assert f.status is Status.PASS


def test_fail_hyperv_role_not_installed() -> None:
    f = only(run_check("host-hyperv-role", doc(hyperv_state="Available")), H)
    assert f.status is Status.FAIL and f.severity is Severity.CRITICAL
    assert f.fix is not None and "Install-WindowsFeature -Name Hyper-V" in f.fix.powershell
    assert f.fix.run_on == H


def test_fail_hyperv_role_vmms_stopped() -> None:
    f = only(run_check("host-hyperv-role", doc(vmms_status="Stopped", vmms_start="Disabled")), H)
    assert f.status is Status.FAIL
    assert f.fix is not None and "Start-Service -Name vmms" in f.fix.powershell


def test_fail_hyperv_role_vmms_manual_is_warning() -> None:
    f = only(run_check("host-hyperv-role", doc(vmms_start="Manual")), H)
    assert f.status is Status.WARNING


def test_missing_hyperv_role() -> None:
    d = doc()
    break_fact(d, "hosts", H, "vmms_service")
    f = only(run_check("host-hyperv-role", d), H)
    assert f.status is Status.ERROR
    assert "hosts/hv01.corp.contoso.com/vmms_service" in f.message and "Access is denied" in f.message


# host-os-supported ----------------------------------------------------------------------------

def test_pass_os_supported_every_release() -> None:
    for build in (9600, 14393, 17763, 20348, 26100):
        f = only(run_check("host-os-supported", doc(build=build)), H)
        assert f.status is Status.PASS, build


def test_fail_os_supported_2012() -> None:
    f = only(run_check("host-os-supported", doc(build=9200)), H)
    assert f.status is Status.FAIL and "Windows Server 2012 " in f.message


def test_fail_os_unknown_build_is_warning_not_pass() -> None:
    f = only(run_check("host-os-supported", doc(build=27000)), H)
    assert f.status is Status.WARNING


def test_missing_os_supported() -> None:
    d = doc()
    del d["hosts"][H]["operating_system"]
    f = only(run_check("host-os-supported", d), H)
    assert f.status is Status.ERROR and "not collected" in f.message


# host-migration-enabled -----------------------------------------------------------------------

def test_pass_migration_enabled() -> None:
    assert only(run_check("host-migration-enabled", doc()), H).status is Status.PASS


def test_fail_migration_enabled() -> None:
    f = only(run_check("host-migration-enabled", doc(migration_enabled=False)), H)
    assert f.status is Status.FAIL and f.fix is not None and f.fix.powershell == "Enable-VMMigration"


def test_missing_migration_enabled() -> None:
    d = doc()
    break_fact(d, "hosts", H, "vmhost", kind="probe_error", message="The term 'Get-VMHost' is not recognized")
    assert only(run_check("host-migration-enabled", d), H).status is Status.ERROR


# host-simultaneous-migrations -----------------------------------------------------------------

def test_pass_simultaneous_migrations() -> None:
    assert only(run_check("host-simultaneous-migrations", doc(max_vm_migrations=1)), H).status is Status.PASS


def test_fail_simultaneous_migrations_zero() -> None:
    f = only(run_check("host-simultaneous-migrations", doc(max_vm_migrations=0)), H)
    assert f.status is Status.FAIL and f.fix is not None
    assert "Set-VMHost -MaximumVirtualMachineMigrations 2" in f.fix.powershell


def test_missing_simultaneous_migrations() -> None:
    d = doc()
    break_fact(d, "hosts", H, "vmhost")
    assert only(run_check("host-simultaneous-migrations", d), H).status is Status.ERROR


def test_fail_hyperv_role_not_installed_even_without_vmms_facts() -> None:
    # no role: Get-Service vmms finds nothing; the verdict is still a fail, not an error
    d = doc(hyperv_state="Available")
    break_fact(d, "hosts", H, "vmms_service", kind="not_found", message="Cannot find any service with service name 'vmms'.")
    f = only(run_check("host-hyperv-role", d), H)
    assert f.status is Status.FAIL and "not installed" in f.message


def test_missing_vmms_with_role_installed_is_an_error() -> None:
    d = doc()
    break_fact(d, "hosts", H, "vmms_service", kind="access_denied", message="Access is denied.")
    f = only(run_check("host-hyperv-role", d), H)
    assert f.status is Status.ERROR and "Access is denied." in f.message
