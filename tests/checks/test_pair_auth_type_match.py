"""pair-auth-type-match: VirtualMachineMigrationAuthenticationType agrees on both hosts."""

from __future__ import annotations

from hvlm.audit.model import Status
from tests.checks._identity import BACK, H1, H2, PAIR, assert_safe, doc, finding
from tests.support.checking import break_fact


def test_pass_both_kerberos_and_both_credssp() -> None:
    assert finding("pair-auth-type-match", doc(), PAIR).status is Status.PASS
    d = doc(h1={"auth": "CredSSP"}, h2={"auth": "CredSSP"})
    assert finding("pair-auth-type-match", d, BACK).status is Status.PASS


def test_fail_mismatch_in_both_directions() -> None:
    d = doc(h2={"auth": "CredSSP"})
    for label in (PAIR, BACK):
        f = finding("pair-auth-type-match", d, label)
        assert f.status is Status.FAIL and "CredSSP" in f.message and "Kerberos" in f.message
        assert f.fix is not None and f.fix.run_on == H2  # the CredSSP side moves to Kerberos
        assert "Set-VMHost -VirtualMachineMigrationAuthenticationType Kerberos" in f.fix.powershell
        assert_safe(f.fix.powershell)


def test_missing_vmhost() -> None:
    d = doc()
    break_fact(d, "hosts", H1, "vmhost")
    assert finding("pair-auth-type-match", d, PAIR).status is Status.ERROR
