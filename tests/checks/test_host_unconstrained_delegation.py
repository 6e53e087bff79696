"""host-unconstrained-delegation: userAccountControl 0x80000 on a Hyper-V host is a security finding."""

from __future__ import annotations

from hvlm.audit.model import Severity, Status
from tests.checks._identity import CORP, H1, assert_safe, doc, finding
from tests.support.checking import break_fact


def test_pass_constrained_only() -> None:
    f = finding("host-unconstrained-delegation", doc(), H1)
    assert f.status is Status.PASS and f.evidence["TrustedForDelegation"] is False


def test_fail_unconstrained_member_server() -> None:
    f = finding("host-unconstrained-delegation", doc(c1={"unconstrained": True}), H1)
    assert f.status is Status.WARNING and f.severity is Severity.HIGH  # a security finding: moves still work
    assert "0x80000" in f.message
    assert f.fix is not None and f.fix.target == "ad"
    assert ("Set-ADAccountControl -Identity (Get-ADComputer -Identity 'HV01' -Server 'corp.contoso.com') "
            "-Server 'corp.contoso.com' -TrustedForDelegation $false") in f.fix.powershell
    assert_safe(f.fix.powershell)


def test_fail_domain_controller_is_a_warning_and_keeps_its_flag() -> None:
    f = finding("host-unconstrained-delegation", doc(h1={"domain_role": 5}, c1={"unconstrained": True}), H1)
    assert f.status is Status.WARNING and "domain controller" in f.message
    assert f.fix is not None and "TrustedForDelegation $false" not in f.fix.powershell
    assert_safe(f.fix.powershell)


def test_missing_computer_object() -> None:
    d = doc()
    break_fact(d, "domains", CORP, "computers")
    assert finding("host-unconstrained-delegation", d, H1).status is Status.ERROR
