"""host-pending-reboot: a host waiting for a restart is a warning."""

from __future__ import annotations

from hvlm.audit.model import Severity, Status
from tests.support.checking import break_fact, only, run_check
from tests.support.fleet import HostModel, build_snapshot

H = "hv01.corp.contoso.com"


def doc(*pending: str) -> dict:
    return build_snapshot([HostModel("HV01", pending_reboot=list(pending))])


def test_pass_no_restart_pending() -> None:
    assert only(run_check("host-pending-reboot", doc()), host=H).status is Status.PASS


def test_fail_servicing_restart_pending() -> None:
    f = only(run_check("host-pending-reboot", doc("ComponentBasedServicing", "WindowsUpdate")), host=H)
    assert f.status is Status.WARNING and f.severity is Severity.MEDIUM and "RebootPending" in f.message
    assert f.fix is not None and f.fix.kind == "manual" and f.fix.powershell.startswith("#")


def test_fail_file_renames_alone_are_low() -> None:
    f = only(run_check("host-pending-reboot", doc("PendingFileRenameOperations")), host=H)
    assert f.status is Status.WARNING and f.severity is Severity.LOW


def test_missing_pending_reboot_is_an_error() -> None:
    d = doc()
    break_fact(d, "hosts", H, "pending_reboot")
    assert only(run_check("host-pending-reboot", d), host=H).status is Status.ERROR


def test_restart_is_run_by_a_local_administrator() -> None:
    # Restart-Computer needs SeShutdownPrivilege, which Hyper-V Administrators do not hold on Windows Server
    f = only(run_check("host-pending-reboot", doc("WindowsUpdate")), host=H)
    assert f.fix is not None and f.fix.run_as == "a member of the local Administrators group on that host"
    assert "Hyper-V Administrators" not in f.fix.run_as
