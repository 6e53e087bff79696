"""operator-delegable: not in Protected Users, not "sensitive and cannot be delegated" where that matters."""

from __future__ import annotations

from hvlm.audit.model import Status
from tests.checks._identity import CORP_SID, H1, HOSTILE, assert_safe, doc, finding
from tests.support.checking import break_fact, drop_fact
from tests.support.powershell import command_names

OP = f"CORP\\hvadmin on {H1}"
PROTECTED = {"tokenGroups": [f"{CORP_SID}-513", f"{CORP_SID}-1201", f"{CORP_SID}-525"]}
SENSITIVE = {"userAccountControl": 0x200 | 0x100000}


def test_pass_delegable_operator() -> None:
    f = finding("operator-delegable", doc(), OP)
    assert f.status is Status.PASS and "can be delegated" in f.message


def test_fail_protected_users_with_kerberos() -> None:
    f = finding("operator-delegable", doc(op=PROTECTED), OP)
    assert f.status is Status.FAIL and f"Protected Users ({CORP_SID}-525)" in f.message
    assert f.fix is not None and f.fix.target == "ad"
    assert f"Remove-ADGroupMember -Identity '{CORP_SID}-525' -Server 'corp.contoso.com' -Members 'hvadmin'" in f.fix.powershell
    assert_safe(f.fix.powershell)


def test_fail_protected_users_with_credssp() -> None:
    f = finding("operator-delegable", doc(h1={"auth": "CredSSP"}, op=PROTECTED), OP)
    assert f.status is Status.FAIL and "CredSSP" in f.message


def test_fail_sensitive_account_with_kerberos() -> None:
    f = finding("operator-delegable", doc(op=SENSITIVE), OP)
    assert f.status is Status.FAIL and "sensitive and cannot be delegated" in f.message
    assert f.fix is not None and command_names(f.fix.powershell) == ["Set-ADAccountControl"]
    assert "-AccountNotDelegated $false" in f.fix.powershell


def test_pass_sensitive_account_with_credssp_notes_the_move_to_kerberos() -> None:
    f = finding("operator-delegable", doc(h1={"auth": "CredSSP"}, op=SENSITIVE), OP)
    assert f.status is Status.PASS and "will block moves once this host uses Kerberos" in f.message


def test_fail_both_flags_fix_both() -> None:
    f = finding("operator-delegable", doc(op={**PROTECTED, **SENSITIVE}), OP)
    assert f.status is Status.FAIL and f.fix is not None
    assert command_names(f.fix.powershell) == ["Remove-ADGroupMember", "Set-ADAccountControl"]


def test_fail_hostile_account_name_stays_quoted() -> None:
    f = finding("operator-delegable", doc(op={**SENSITIVE, "sAMAccountName": HOSTILE}), OP)
    assert f.status is Status.FAIL and f.fix is not None
    assert_safe(f.fix.powershell)


def test_missing_operator() -> None:
    d = doc()
    drop_fact(d, "operator")
    assert finding("operator-delegable", d, OP).status is Status.ERROR


def test_missing_vmhost() -> None:
    d = doc()
    break_fact(d, "hosts", H1, "vmhost")
    assert finding("operator-delegable", d, OP).status is Status.ERROR
