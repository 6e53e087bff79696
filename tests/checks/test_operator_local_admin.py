"""operator-local-admin: membership of S-1-5-32-578 or -544 by SID, nested through tokenGroups."""

from __future__ import annotations

from typing import Any

from hvlm.audit.model import Status
from tests.checks._identity import CORP, CORP_SID, FAB_SID, H1, HOSTILE, assert_safe, doc, finding
from tests.support.checking import break_fact, drop_fact
from tests.support.powershell import command_names

OP = f"CORP\\hvadmin on {H1}"


def groups(d: dict[str, Any], host: str = H1) -> dict[str, Any]:
    return d["hosts"][host]["local_groups"]["value"]


def test_pass_nested_group_membership() -> None:
    f = finding("operator-local-admin", doc(), OP)
    assert f.status is Status.PASS and "through CORP\\HV-Operators" in f.message
    assert f.evidence["matched_group"] == "S-1-5-32-578"


def test_pass_direct_member_of_administrators() -> None:
    d = doc(h1={"hyperv_admins": [], "administrators": [("CORP\\hvadmin", f"{CORP_SID}-1105")]})
    f = finding("operator-local-admin", d, OP)
    assert f.status is Status.PASS and "directly" in f.message and f.evidence["matched_group"] == "S-1-5-32-544"


def test_pass_matched_by_sid_whatever_the_group_is_called() -> None:
    d = doc()
    groups(d)["S-1-5-32-578"]["Name"] = "Hyper-V-Administratoren"
    groups(d)["S-1-5-32-578"]["Members"][0]["Name"] = "CORP\\HV-Operatoren"
    f = finding("operator-local-admin", d, OP)
    assert f.status is Status.PASS and "Hyper-V-Administratoren (S-1-5-32-578)" in f.message


def test_fail_same_name_other_sid_is_not_membership() -> None:
    d = doc(h1={"hyperv_admins": [("CORP\\HV-Operators", f"{CORP_SID}-9999")]})
    assert finding("operator-local-admin", d, OP).status is Status.FAIL


def test_fail_not_a_member_fix_for_2016_and_later() -> None:
    f = finding("operator-local-admin", doc(h1={"hyperv_admins": []}), OP)
    assert f.status is Status.FAIL and "S-1-5-32-578" in f.message
    assert f.fix is not None and f.fix.run_on == H1
    ps = f.fix.powershell
    assert ps.startswith("$member = 'CORP\\hvadmin'\n$sid = 'S-1-5-32-578'\n")
    # idempotent: a member already in the group is left alone, so the script runs to the end again
    assert "if (-not (Get-LocalGroupMember -SID $sid -Member $member -ErrorAction SilentlyContinue))" in ps
    assert "Add-LocalGroupMember -SID $sid -Member $member" in ps
    assert_safe(ps)


def test_fail_fix_for_2012_r2_finds_the_group_by_sid() -> None:
    f = finding("operator-local-admin", doc(h1={"hyperv_admins": [], "build": 9600}), OP)
    assert f.status is Status.FAIL and f.fix is not None
    ps = f.fix.powershell
    # the host decides at run time: 2012 R2 has no Add-LocalGroupMember, so the SID path runs there
    assert "if (Get-Command -Name 'Add-LocalGroupMember' -ErrorAction SilentlyContinue)" in ps
    assert "SecurityIdentifier($sid)" in ps and "net localgroup $group $member /add" in ps
    assert_safe(ps)


def test_fail_fix_gives_both_forms_when_the_build_is_unknown() -> None:
    d = doc(h1={"hyperv_admins": []})
    break_fact(d, "hosts", H1, "operating_system")
    f = finding("operator-local-admin", d, OP)
    assert f.status is Status.FAIL and f.fix is not None
    assert {"Add-LocalGroupMember", "net"} <= set(command_names(f.fix.powershell))


def test_fail_groups_of_another_domain_make_it_a_warning() -> None:
    d = doc(h1={"hyperv_admins": [("FABRIKAM\\HV-Admins Group", f"{FAB_SID}-1300")]})
    f = finding("operator-local-admin", d, OP)
    assert f.status is Status.WARNING and "FABRIKAM\\HV-Admins Group" in f.message


def test_fail_hostile_operator_name_stays_quoted() -> None:
    d = doc(h1={"hyperv_admins": [], "build": 9600}, operator_name="CORP\\" + HOSTILE)
    f = finding("operator-local-admin", d, f"CORP\\{HOSTILE} on {H1}")
    assert f.status is Status.FAIL and f.fix is not None
    assert_safe(f.fix.powershell)


def test_pass_upn_inventory_name_uses_domain_and_account() -> None:
    d = doc(h1={"hyperv_admins": []}, operator_name=f"hvadmin@{CORP}")
    f = finding("operator-local-admin", d, f"hvadmin@{CORP} on {H1}")
    assert f.fix is not None and f"$member = '{CORP}\\hvadmin'" in f.fix.powershell


def test_missing_operator_lookup() -> None:
    d = doc()
    drop_fact(d, "operator")
    f = finding("operator-local-admin", d, OP)
    assert f.status is Status.ERROR and "not looked up" in f.message


def test_missing_local_groups() -> None:
    d = doc()
    break_fact(d, "hosts", H1, "local_groups")
    assert finding("operator-local-admin", d, OP).status is Status.ERROR


def test_missing_one_group_not_collected_is_an_error_unless_found_in_the_other() -> None:
    d = doc(h1={"hyperv_admins": []})
    del groups(d)["S-1-5-32-578"]
    f = finding("operator-local-admin", d, OP)
    assert f.status is Status.ERROR and "S-1-5-32-578" in f.message
    d = doc()
    del groups(d)["S-1-5-32-544"]
    assert finding("operator-local-admin", d, OP).status is Status.PASS
