"""pair-performance-option: agreed by both hosts; SMB Direct only with RDMA on both (information)."""

from __future__ import annotations

from hvlm.audit.model import Severity, Status
from tests.support.checking import break_fact, only, run_check
from tests.support.fleet import HostModel, build_snapshot


def doc(src: dict, dst: dict) -> tuple[dict, str, str]:
    s, d = HostModel("HV01", index=1, **src), HostModel("HV02", index=2, **dst)
    return build_snapshot([s, d], pairs=[(s.fqdn, d.fqdn)]), s.fqdn, d.fqdn


def test_pass_compression_on_both_is_information() -> None:
    d, s, t = doc({}, {})
    f = only(run_check("pair-performance-option", d), f"{s} -> {t}")
    assert f.status is Status.PASS and f.severity is Severity.INFO and "Compression" in f.message


def test_pass_tcpip_on_both() -> None:
    d, s, t = doc({"performance": "TCPIP"}, {"performance": "TCPIP"})
    assert only(run_check("pair-performance-option", d), f"{s} -> {t}").status is Status.PASS


def test_pass_smb_with_rdma_on_both_is_smb_direct_and_says_smb3() -> None:
    d, s, t = doc({"performance": "SMB", "rdma": True}, {"performance": "SMB", "rdma": True})
    f = only(run_check("pair-performance-option", d), f"{s} -> {t}")
    assert f.status is Status.PASS and "SMB Direct" in f.message and "SMB 3" in f.message


def test_pass_smb_without_rdma_on_either() -> None:
    d, s, t = doc({"performance": "SMB"}, {"performance": "SMB"})
    f = only(run_check("pair-performance-option", d), f"{s} -> {t}")
    assert f.status is Status.PASS and "no SMB Direct" in f.message


def test_fail_smb_with_rdma_on_one_side_is_an_info_warning() -> None:
    d, s, t = doc({"performance": "SMB", "rdma": True}, {"performance": "SMB"})
    f = only(run_check("pair-performance-option", d), f"{s} -> {t}")
    assert f.status is Status.WARNING and f.severity is Severity.INFO
    assert f.fix is not None and f.fix.run_on == t and "Enable-NetAdapterRdma -Name 'LiveMigration'" in f.fix.powershell
    # an adapter without RDMA must not stop the script halfway: enabled only where capable
    assert "if (Get-NetAdapterRdma -Name 'LiveMigration' -ErrorAction SilentlyContinue)" in f.fix.powershell


def test_fail_smb_on_one_side_only_is_a_mismatch() -> None:
    d, s, t = doc({"performance": "SMB"}, {})
    findings = run_check("pair-performance-option", d)
    f = only(findings, f"{s} -> {t}")
    assert f.status is Status.WARNING and f.severity is Severity.LOW
    # no RDMA: align on Compression, on the host that differs, whichever direction is judged
    assert f.fix is not None and f.fix.run_on == s
    assert f.fix.powershell == "Set-VMHost -VirtualMachineMigrationPerformanceOption Compression"
    back = only(findings, f"{t} -> {s}")
    assert back.fix is not None and back.fix.run_on == s


def test_fail_smb_with_rdma_unknown_is_a_warning_not_a_pass() -> None:
    d, s, t = doc({"performance": "SMB", "rdma": True}, {"performance": "SMB"})
    break_fact(d, "hosts", t, "ip_interfaces")
    f = only(run_check("pair-performance-option", d), f"{s} -> {t}")
    assert f.status is Status.WARNING and "unknown" in f.message


def test_missing_vmhost_is_an_error() -> None:
    d, s, t = doc({}, {})
    break_fact(d, "hosts", t, "vmhost")
    assert only(run_check("pair-performance-option", d), f"{s} -> {t}").status is Status.ERROR
