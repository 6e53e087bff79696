"""pair-domain-trust: same domain, two-way and one-way trusts by direction, missing trusts."""

from __future__ import annotations

from typing import Any

from hvlm.audit.facts import HostRef
from hvlm.audit.model import Status
from hvlm.checks.pair_domain_trust import _trust_fix
from tests.checks._identity import CORP, FAB, H1, HOSTILE, PAIR, assert_safe, doc, finding
from tests.support.checking import break_fact

H2F = f"hv02.{FAB}"
X, BACKX = f"{H1} -> {H2F}", f"{H2F} -> {H1}"


def trust(partner: str, direction: int, attributes: int = 8, flat: str | None = None) -> dict[str, Any]:
    return {"trustPartner": partner, "flatName": flat, "trustDirection": direction, "trustType": 2,
            "trustAttributes": attributes}


def cross(corp_trusts: list[dict[str, Any]], fab_trusts: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    """HV01 in corp, HV02 in the lab forest, with the given trustedDomain objects on each side."""
    return doc(h2={"domain": FAB, **kw.pop("h2", {})}, domains={CORP: {"trusts": corp_trusts}, FAB: {"trusts": fab_trusts}},
               **kw)


def test_pass_same_domain() -> None:
    f = finding("pair-domain-trust", doc(), PAIR)
    assert f.status is Status.PASS and "both in corp.contoso.com" in f.message


def test_pass_two_way_forest_trust_says_rbcd_is_needed_with_kerberos() -> None:
    d = cross([trust(FAB, 3)], [trust(CORP, 3)])
    for label in (X, BACKX):
        f = finding("pair-domain-trust", d, label)
        assert f.status is Status.PASS and "two-way, forest trust" in f.message
        assert "classic constrained delegation does not cross domains" in f.message
        assert "resource-based delegation" in f.message
    held = {o["held_by"] for o in finding("pair-domain-trust", d, X).evidence["trust_objects"]}
    assert held == {CORP, FAB}


def test_pass_cross_domain_credssp_has_no_delegation_note() -> None:
    d = cross([trust(FAB, 3)], [trust(CORP, 3)], h1={"auth": "CredSSP"}, h2={"auth": "CredSSP"})
    f = finding("pair-domain-trust", d, X)
    assert f.status is Status.PASS and "resource-based" not in f.message


def test_fail_one_way_trust_pointing_the_wrong_way() -> None:
    # the lab trusts corp (corp object: inbound; lab object: outbound), corp does not trust the lab
    d = cross([trust(FAB, 1)], [trust(CORP, 2)])
    right = finding("pair-domain-trust", d, X)  # corp -> lab: the lab must accept corp's accounts: it does
    assert right.status is Status.PASS and "one-way" in right.message
    assert "Moves back from HV02 to HV01 need" in right.message
    wrong = finding("pair-domain-trust", d, BACKX)  # lab -> corp: corp would have to trust the lab
    assert wrong.status is Status.FAIL and "points the wrong way" in wrong.message
    assert wrong.fix is not None and wrong.fix.target == "ad"
    assert "UpdateTrustRelationship($partner, 'Bidirectional')" in wrong.fix.powershell
    assert "[System.DirectoryServices.ActiveDirectory.Forest]::GetForest($context)" in wrong.fix.powershell
    assert "Get-Credential" in wrong.fix.powershell
    assert_safe(wrong.fix.powershell)


def test_fail_one_way_seen_from_one_side_only() -> None:
    # only the lab's object was collected: outbound from the lab = the lab trusts corp
    d = cross([], [trust(CORP, 2)])
    break_fact(d, "domains", CORP, "trusts")
    assert finding("pair-domain-trust", d, X).status is Status.PASS
    f = finding("pair-domain-trust", d, BACKX)
    assert f.status is Status.FAIL
    assert "destination.trusts unavailable" in f.evidence or "source.trusts unavailable" in f.evidence


def test_fail_no_trust_at_all() -> None:
    f = finding("pair-domain-trust", cross([], []), X)
    assert f.status is Status.FAIL and "No trust between" in f.message
    assert f.fix is not None and "CreateTrustRelationship($partner, 'Bidirectional')" in f.fix.powershell
    assert "[System.DirectoryServices.ActiveDirectory.Domain]::GetDomain($context)" in f.fix.powershell
    assert_safe(f.fix.powershell)


def test_fail_no_trust_object_but_intra_forest_trusts_is_a_warning() -> None:
    d = cross([trust("contoso.com", 3, 0x20)], [])
    f = finding("pair-domain-trust", d, X)
    assert f.status is Status.WARNING and "intra-forest" in f.message


def test_pass_forest_trust_covers_a_domain_under_the_partner_root() -> None:
    d = cross([trust("fabrikam.com", 3)], [])
    f = finding("pair-domain-trust", d, X)
    assert f.status is Status.PASS and f.evidence["forest_trust"] is True


def test_fail_external_trust_is_not_stretched_to_child_domains() -> None:
    # without the forest-transitive attribute a trust with fabrikam.com says nothing about lab.fabrikam.com
    f = finding("pair-domain-trust", cross([trust("fabrikam.com", 3, 0)], []), X)
    assert f.status is Status.FAIL


def test_workgroup_host_is_host_domain_members_finding() -> None:
    # one cause, one failure: host-domain-member fails the workgroup host; the trust does not apply
    f = finding("pair-domain-trust", doc(h2={"part_of_domain": False, "domain_role": 2}), PAIR)
    assert f.status is Status.NOT_APPLICABLE and "not joined to a domain" in f.message
    assert "host-domain-member" in f.message and f.fix is None


def test_selective_authentication_is_a_trust_and_leaves_the_right_to_its_own_check() -> None:
    # forest trust, two-way, with selective authentication (0x8 | 0x10): the trust is there; whether the
    # source holds "Allowed to Authenticate" is pair-trust-selective-auth's finding, not reported twice
    f = finding("pair-domain-trust", cross([trust(FAB, 3, 0x18)], [trust(CORP, 3, 0x18)]), X)
    assert f.status is Status.PASS and "pair-trust-selective-auth checks it" in f.message
    assert f.evidence["selective_authentication"] is True
    plain = finding("pair-domain-trust", cross([trust(FAB, 3, 0x8)], [trust(CORP, 3, 0x8)]), X)
    assert plain.status is Status.PASS and "selective" not in plain.message


def test_fail_fix_with_hostile_domain_names_stays_quoted() -> None:
    evil = HOSTILE + ".example"
    src = HostRef("a", "hv01." + evil, "HV01", evil)
    dst = HostRef("b", f"hv02.{FAB}", "HV02", FAB)
    for existing in (None, (FAB, trust(evil, 1)), (evil, trust(FAB, 2, 0))):
        fix = _trust_fix(src, dst, existing)
        assert_safe(fix.powershell)
        assert "''01; Remove-Item" in fix.powershell


def test_missing_both_trust_facts_is_an_error() -> None:
    d = cross([trust(FAB, 3)], [trust(CORP, 3)])
    break_fact(d, "domains", CORP, "trusts")
    break_fact(d, "domains", FAB, "trusts")
    f = finding("pair-domain-trust", d, X)
    assert f.status is Status.ERROR and "could not check the trust" in f.message


def test_missing_computer_system() -> None:
    d = doc()
    break_fact(d, "hosts", H1, "computer_system")
    assert finding("pair-domain-trust", d, PAIR).status is Status.ERROR
