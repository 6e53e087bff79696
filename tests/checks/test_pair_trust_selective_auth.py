"""pair-trust-selective-auth: across a trust with selective authentication, the source's computer account
must hold "Allowed to Authenticate" on the destination's computer object."""

from __future__ import annotations

from typing import Any

from hvlm.audit.model import Severity, Status
from tests.checks._identity import CORP, CORP_SID, FAB, FAB_SID, H1, HOSTILE, assert_safe, doc, finding
from tests.support.checking import break_fact

H2F = f"hv02.{FAB}"
X, BACKX = f"{H1} -> {H2F}", f"{H2F} -> {H1}"
HV01_SID, HV02_SID = f"{CORP_SID}-2101", f"{FAB_SID}-2102"
RIGHT = "68b1d179-0d15-4d4f-ab71-46152e79a7bc"


def trust(partner: str, attributes: int = 0x18, direction: int = 3) -> dict[str, Any]:
    return {"trustPartner": partner, "flatName": None, "trustDirection": direction, "trustType": 2,
            "trustAttributes": attributes}


OPS = f"{CORP_SID}-1201"  # CORP\\HV-Operators, in the operator's tokenGroups (tests/checks/_identity.py)


def acl(allowed: list[str] | None = None, denied: list[str] | None = None, readable: bool = True,
        reason: str | None = None, operators: bool = True) -> dict[str, Any]:
    """The destination's DACL as collected. The default DACL of a computer object grants Domain Admins full
    control (all extended rights); `operators` also grants the operator's group, as a finished set-up does."""
    return {"readable": readable, "reason": reason,
            "allowed": [f"{FAB_SID}-512", *(allowed or []), *([OPS] if operators else [])], "denied": denied or []}


def cross(fab_acl: dict[str, Any] | None = None, corp_acl: dict[str, Any] | None = None,
          fab_attributes: int = 0x18, corp_attributes: int = 0x18, **kw: Any) -> dict[str, Any]:
    """HV01 in corp, HV02 in the lab forest; each domain trusts the other (forest trust) with these attributes."""
    d = doc(h2={"domain": FAB, **kw.pop("h2", {})},
            domains={CORP: {"trusts": [trust(FAB, corp_attributes)]}, FAB: {"trusts": [trust(CORP, fab_attributes)]}},
            **kw)
    for dom, value in ((FAB, fab_acl), (CORP, corp_acl)):
        if value is not None:
            (comp,) = d["domains"][dom]["computers"]["value"]
            comp["allowedToAuthenticate"] = value
    return d


def test_pass_when_the_source_account_holds_the_right() -> None:
    f = finding("pair-trust-selective-auth", cross(acl([HV01_SID])), X)
    assert f.status is Status.PASS and f"HV01$ ({HV01_SID})" in f.message
    assert f.evidence["source_sid"] == HV01_SID


def test_pass_through_groups_every_account_of_the_forest_is_in() -> None:
    for sid in ("S-1-5-1000", "S-1-5-11", f"{CORP_SID}-515"):
        assert finding("pair-trust-selective-auth", cross(acl([sid])), X).status is Status.PASS, sid


def test_pass_without_selective_authentication_needs_no_acl() -> None:
    f = finding("pair-trust-selective-auth", cross(fab_attributes=0x8, corp_attributes=0x8), X)
    assert f.status is Status.PASS and "without selective authentication" in f.message


def test_pass_in_one_domain() -> None:
    f = finding("pair-trust-selective-auth", doc(), f"{H1} -> hv02.{CORP}")
    assert f.status is Status.PASS and "no trust between domains is crossed" in f.message


def test_not_applicable_without_a_trust_toward_the_source() -> None:
    d = cross(acl([HV01_SID]), fab_attributes=0x18)
    d["domains"][FAB]["trusts"]["value"][0]["trustDirection"] = 1  # the lab does not trust corp
    f = finding("pair-trust-selective-auth", d, X)
    assert f.status is Status.NOT_APPLICABLE and "pair-domain-trust" in f.message


def test_fail_without_the_right_with_the_fix_for_domain_admins() -> None:
    # admins' grants do not cover the source
    f = finding("pair-trust-selective-auth", cross(acl([f"{FAB_SID}-519"], operators=False)), X)
    assert f.status is Status.FAIL and f.severity is Severity.HIGH
    assert "HV01$ does not hold \"Allowed to Authenticate\" on HV02's computer object" in f.message
    assert f.fix is not None and f.fix.target == "ad"
    assert "Domain Admins of lab.fabrikam.com" in f.fix.run_as
    assert RIGHT in f.fix.powershell
    assert "Get-ADComputer -Identity 'HV01' -Server 'corp.contoso.com'" in f.fix.powershell
    assert "Get-ADComputer -Identity 'HV02' -Server 'lab.fabrikam.com'" in f.fix.powershell
    assert_safe(f.fix.powershell)


def test_fail_on_a_deny_even_with_a_grant() -> None:
    f = finding("pair-trust-selective-auth", cross(acl([HV01_SID], denied=["S-1-5-1000"])), X)
    assert f.status is Status.FAIL and "denies" in f.message and "Other Organization" in f.message
    assert f.fix is not None and f.fix.powershell.startswith("# A deny entry wins")


def test_warning_when_only_a_group_holds_it() -> None:
    f = finding("pair-trust-selective-auth", cross(acl([f"{CORP_SID}-3001"])), X)
    assert f.status is Status.WARNING and f.severity is Severity.MEDIUM and f"{CORP_SID}-3001" in f.message


def test_return_direction_is_judged_on_the_other_object() -> None:
    # HV02 may reach HV01 only if CORP's object for HV01 grants HV02$ the right
    d = cross(acl([HV01_SID]), acl([], operators=False))
    assert finding("pair-trust-selective-auth", d, X).status is Status.PASS
    back = finding("pair-trust-selective-auth", d, BACKX)
    assert back.status is Status.FAIL and "moves from HV02 to HV01 fail" in back.message


def test_unreadable_acl_is_an_error_with_the_reason() -> None:
    why = "the domain controller returned no nTSecurityDescriptor for CN=HV02 ..."
    f = finding("pair-trust-selective-auth", cross(acl(readable=False, reason=why)), X)
    assert f.status is Status.ERROR and why in f.message


def test_missing_facts_are_errors() -> None:
    assert finding("pair-trust-selective-auth", cross(None), X).status is Status.ERROR  # the ACL was never collected
    d = cross(acl([HV01_SID]))
    break_fact(d, "domains", FAB, "trusts")
    f = finding("pair-trust-selective-auth", d, X)
    assert f.status is Status.ERROR and "could not check" in f.message
    d = cross(acl([HV01_SID]))
    break_fact(d, "domains", CORP, "computers")
    assert finding("pair-trust-selective-auth", d, X).status is Status.ERROR


def test_hostile_names_stay_quoted_in_the_fix() -> None:
    from hvlm.audit.facts import HostRef
    from hvlm.checks.pair_trust_selective_auth import _fix

    evil = HostRef("a", f"x.{HOSTILE}.example", HOSTILE, HOSTILE + ".example")
    dst = HostRef("b", f"hv02.{FAB}", "HV02", FAB)
    for fix in (_fix(evil, dst, []), _fix(dst, evil, ["x"])):
        assert_safe(fix.powershell)


def test_fail_when_the_operator_of_the_trusted_forest_lacks_it() -> None:
    f = finding("pair-trust-selective-auth", cross(acl([HV01_SID], operators=False)), X)
    assert f.status is Status.FAIL and "the operator CORP\\hvadmin" in f.message and "does not hold" in f.message
    assert f.evidence["operator"] == "CORP\\hvadmin"


def test_warning_when_the_operator_may_hold_it_through_a_destination_group() -> None:
    f = finding("pair-trust-selective-auth", cross(acl([HV01_SID, f"{FAB_SID}-4001"], operators=False)), X)
    assert f.status is Status.WARNING and f"{FAB_SID}-4001" in f.message


def test_pass_without_the_operator_fact_judges_the_source_alone() -> None:
    d = cross(acl([HV01_SID], operators=False))
    del d["operator"]
    assert finding("pair-trust-selective-auth", d, X).status is Status.PASS
