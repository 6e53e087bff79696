"""host-domain-member: member server passes, workgroup fails, a DC or workstation role warns."""

from __future__ import annotations

from typing import Any

from hvlm.audit.model import Severity, Status
from tests.checks._identity import CORP, HOSTILE, assert_safe
from tests.support.checking import break_fact, only, run_check
from tests.support.fleet import HostModel, build_snapshot

H = f"hv01.{CORP}"


def doc(**kw: Any) -> dict[str, Any]:
    return build_snapshot([HostModel("HV01", **kw)], pairs=[])


def test_pass_member_server() -> None:
    f = only(run_check("host-domain-member", doc()), H)
    assert f.status is Status.PASS and "member server of corp.contoso.com" in f.message
    assert f.fix is None


def test_fail_workgroup_host() -> None:
    f = only(run_check("host-domain-member", doc(part_of_domain=False, domain_role=2)), H)
    assert f.status is Status.FAIL and f.severity is Severity.HIGH
    assert "WORKGROUP" in f.message
    assert f.fix is not None and f.fix.run_on == H
    assert "Add-Computer -DomainName 'corp.contoso.com' -Credential (Get-Credential) -Restart" in f.fix.powershell
    assert_safe(f.fix.powershell)


def test_fail_domain_controller_is_a_warning() -> None:
    f = only(run_check("host-domain-member", doc(domain_role=5)), H)
    assert f.status is Status.WARNING and f.severity is Severity.MEDIUM
    assert "domain controller" in f.message and "Credential Guard" in f.message
    assert f.fix is not None and "Uninstall-ADDSDomainController" in f.fix.powershell
    assert "-Identity 'HV01' -Server 'corp.contoso.com'" in f.fix.powershell
    assert_safe(f.fix.powershell)


def test_fail_backup_dc_and_workstation_role_warn() -> None:
    assert only(run_check("host-domain-member", doc(domain_role=4)), H).status is Status.WARNING
    f = only(run_check("host-domain-member", doc(domain_role=1)), H)
    assert f.status is Status.WARNING and "DomainRole 1" in f.message


def test_fail_fix_with_hostile_name_stays_quoted() -> None:
    d = build_snapshot([HostModel(HOSTILE, domain_role=5)], pairs=[])
    f = run_check("host-domain-member", d)[0]
    assert f.status is Status.WARNING and f.fix is not None
    assert "'HV''01; REMOVE-ITEM C:\\ -RECURSE'" in f.fix.powershell
    assert_safe(f.fix.powershell)


def test_missing_computer_system() -> None:
    d = doc()
    break_fact(d, "hosts", H, "computer_system")
    f = only(run_check("host-domain-member", d), H)
    assert f.status is Status.ERROR and "computer_system" in f.message
