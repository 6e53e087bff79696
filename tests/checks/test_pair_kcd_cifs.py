"""pair-kcd-cifs: cifs/<dest> by both names; higher severity with the SMB performance option."""

from __future__ import annotations

from hvlm.audit.model import Severity, Status
from tests.checks._identity import CORP, CORP_SID, H1, PAIR, assert_safe, doc, finding
from tests.support.checking import break_fact
from tests.support.powershell import delegation_adds

MS = "Microsoft Virtual System Migration Service"
MS_ONLY = {"delegate_to": [f"{MS}/HV02", f"{MS}/hv02.{CORP}"]}


def test_pass_cifs_by_both_names() -> None:
    f = finding("pair-kcd-cifs", doc(), PAIR)
    assert f.status is Status.PASS and f.evidence["present"] == ["cifs/HV02", f"cifs/hv02.{CORP}"]


def test_fail_missing_cifs_is_medium_without_smb() -> None:
    f = finding("pair-kcd-cifs", doc(c1=MS_ONLY), PAIR)
    assert f.status is Status.FAIL and f.severity is Severity.MEDIUM and "carry storage" in f.message
    assert f.fix is not None
    assert delegation_adds(f.fix.powershell) == [("HV01", ["cifs/HV02", f"cifs/hv02.{CORP}"])]
    assert_safe(f.fix.powershell)


def test_fail_missing_cifs_is_high_with_smb_on_either_host() -> None:
    for kw in ({"h1": {"performance": "SMB"}}, {"h2": {"performance": "SMB"}}):
        f = finding("pair-kcd-cifs", doc(c1=MS_ONLY, **kw), PAIR)  # type: ignore[arg-type]
        assert f.status is Status.FAIL and f.severity is Severity.HIGH and "SMB performance option" in f.message


def test_fail_short_name_only() -> None:
    f = finding("pair-kcd-cifs", doc(c1={"delegate_to": [*MS_ONLY["delegate_to"], "cifs/HV02"]}), PAIR)
    assert f.status is Status.FAIL and "by the FQDN" in f.message


def test_pass_rbcd_serves_cifs() -> None:
    # resource-based delegation serves every service of the destination; Microsoft documents it for file shares
    f = finding("pair-kcd-cifs", doc(c1=MS_ONLY, c2={"rbcd": [(f"{CORP_SID}-2101", "CORP\\HV01$")]}), PAIR)
    assert f.status is Status.PASS and "resource-based delegation" in f.message and f.fix is None


def test_pass_credssp_on_both_is_not_applicable() -> None:
    d = doc(h1={"auth": "CredSSP"}, h2={"auth": "CredSSP"}, c1=MS_ONLY)
    assert finding("pair-kcd-cifs", d, PAIR).status is Status.NOT_APPLICABLE


def test_missing_computers_fact() -> None:
    d = doc()
    break_fact(d, "domains", CORP, "computers")
    assert finding("pair-kcd-cifs", d, PAIR).status is Status.ERROR


def test_pass_without_vmhost_judges_the_directory_as_kerberos() -> None:
    # a directory-only collection (no WinRM): the delegation is still audited, and says why
    d = doc()
    break_fact(d, "hosts", H1, "vmhost")
    f = finding("pair-kcd-cifs", d, PAIR)
    assert f.status is Status.PASS
    assert f.evidence["authentication"]["source"] == "unknown (Get-VMHost not collected)"
