"""operator-domain-admins: where a pair still needs AD delegation, is the operator in Domain Admins?"""

from __future__ import annotations

from hvlm.audit.model import Severity, Status
from hvlm.audit.report import exit_code
from tests.checks._identity import BACK, CORP, CORP_SID, FAB, FAB_SID, H1, PAIR, assert_safe, doc, finding
from tests.support.checking import break_fact, drop_fact

DA = {"tokenGroups": [f"{CORP_SID}-513", f"{CORP_SID}-1201", f"{CORP_SID}-512"]}
X = f"{H1} -> hv02.{FAB}"


def test_pass_nothing_to_change() -> None:
    f = finding("operator-domain-admins", doc(), PAIR)
    assert f.status is Status.PASS and "No AD change is needed" in f.message


def test_pass_change_needed_and_operator_is_domain_admin() -> None:
    f = finding("operator-domain-admins", doc(c1={"delegate_to": []}, op=DA), PAIR)
    assert f.status is Status.PASS and "is in Domain Admins of corp.contoso.com" in f.message
    assert f.evidence["domain_admins_sid"] == f"{CORP_SID}-512"


def test_fail_change_needed_and_operator_is_not_domain_admin() -> None:
    # advice on who runs the fix, not a failure: the missing delegation is what blocks the move
    f = finding("operator-domain-admins", doc(c1={"delegate_to": []}), PAIR)
    assert f.status is Status.WARNING and f.severity is Severity.INFO
    assert exit_code([f], True, Severity.MEDIUM) == 0
    assert "a member of Domain Admins of corp.contoso.com must run the fix" in f.message
    assert f.fix is not None and f.fix.run_as == "a member of Domain Admins of corp.contoso.com"
    assert "Set-ADComputer -Identity 'HV01' -Server 'corp.contoso.com' -Add" in f.fix.powershell
    assert "-TrustedToAuthForDelegation $true" in f.fix.powershell
    assert_safe(f.fix.powershell)
    # the return direction is complete
    assert finding("operator-domain-admins", doc(c1={"delegate_to": []}), BACK).status is Status.PASS


def test_fail_kerberos_only_on_2016_needs_a_domain_admin() -> None:
    f = finding("operator-domain-admins", doc(c1={"any_protocol": False}), PAIR)
    assert f.status is Status.WARNING and '"use any authentication protocol"' in f.message


def test_pass_kerberos_only_on_2012_r2_needs_nothing() -> None:
    f = finding("operator-domain-admins", doc(h1={"build": 9600}, c1={"any_protocol": False}), PAIR)
    assert f.status is Status.PASS


def test_fail_cross_domain_needs_rbcd_by_an_admin_of_the_destination_domain() -> None:
    d = doc(h2={"domain": FAB}, c1={"delegate_to": []}, op=DA)
    f = finding("operator-domain-admins", d, X)
    assert f.status is Status.WARNING and "Domain Admins of lab.fabrikam.com" in f.message
    assert "write access to HV02's computer object" in f.message
    assert f.fix is not None and "-PrincipalsAllowedToDelegateToAccount" in f.fix.powershell
    d = doc(h2={"domain": FAB}, op={"tokenGroups": [f"{FAB_SID}-512"]})
    assert finding("operator-domain-admins", d, X).status is Status.PASS


def test_pass_cross_domain_with_rbcd_needs_nothing() -> None:
    d = doc(h2={"domain": FAB}, c2={"rbcd": [(f"{CORP_SID}-2101", "CORP\\HV01$")]})
    f = finding("operator-domain-admins", d, X)
    assert f.status is Status.PASS and "already lists HV01" in f.message


def test_pass_credssp_pairs_are_not_applicable() -> None:
    d = doc(h1={"auth": "CredSSP"}, h2={"auth": "CredSSP"}, c1={"delegate_to": []})
    assert finding("operator-domain-admins", d, PAIR).status is Status.NOT_APPLICABLE


def test_missing_operator() -> None:
    d = doc()
    drop_fact(d, "operator")
    assert finding("operator-domain-admins", d, PAIR).status is Status.ERROR


def test_missing_source_computer_object() -> None:
    d = doc()
    break_fact(d, "domains", CORP, "computers")
    f = finding("operator-domain-admins", d, PAIR)
    assert f.status is Status.ERROR and "computers" in f.message
