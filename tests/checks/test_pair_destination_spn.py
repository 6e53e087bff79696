"""pair-destination-spn: the destination registers the migration service SPN by both names."""

from __future__ import annotations

from hvlm.audit.model import Status
from tests.checks._identity import BACK, CORP, H1, PAIR, assert_safe, doc, finding
from tests.support.checking import break_fact
from tests.support.powershell import command_names

MS = "Microsoft Virtual System Migration Service"
BASE = ["HOST/HV02", f"HOST/hv02.{CORP}"]


def test_pass_both_spns_registered() -> None:
    f = finding("pair-destination-spn", doc(), PAIR)
    assert f.status is Status.PASS and f"{MS}/HV02" in f.message


def test_pass_spns_compared_case_insensitively() -> None:
    d = doc(c2={"spns": [*BASE, f"{MS.lower()}/hv02", f"{MS.upper()}/HV02.CORP.CONTOSO.COM"]})
    assert finding("pair-destination-spn", d, PAIR).status is Status.PASS


def test_fail_fqdn_spn_missing() -> None:
    d = doc(c2={"spns": [*BASE, f"{MS}/HV02"]})
    f = finding("pair-destination-spn", d, PAIR)
    assert f.status is Status.FAIL and f"{MS}/hv02.{CORP}" in f.message
    assert f.fix is not None
    assert f.fix.powershell.splitlines() == ["setspn -L 'HV02'", f"setspn -S '{MS}/hv02.{CORP}' 'HV02'"]
    assert command_names(f.fix.powershell) == ["setspn", "setspn"]
    assert_safe(f.fix.powershell)
    # the other direction asks HV01's object, which is complete
    assert finding("pair-destination-spn", d, BACK).status is Status.PASS


def test_fail_no_migration_spn() -> None:
    f = finding("pair-destination-spn", doc(c2={"spns": BASE}), PAIR)
    assert f.status is Status.FAIL and f.fix is not None and f.fix.powershell.count("setspn -S") == 2


def test_pass_credssp_on_both_is_not_applicable() -> None:
    d = doc(h1={"auth": "CredSSP"}, h2={"auth": "CredSSP"}, c2={"spns": BASE})
    assert finding("pair-destination-spn", d, PAIR).status is Status.NOT_APPLICABLE


def test_missing_destination_object() -> None:
    d = doc()
    break_fact(d, "domains", CORP, "computers")
    f = finding("pair-destination-spn", d, PAIR)
    assert f.status is Status.ERROR and "computers" in f.message


def test_pass_without_vmhost_judges_the_directory_as_kerberos() -> None:
    # a directory-only collection (no WinRM): the delegation is still audited, and says why
    d = doc()
    break_fact(d, "hosts", H1, "vmhost")
    f = finding("pair-destination-spn", d, PAIR)
    assert f.status is Status.PASS
    assert f.evidence["authentication"]["source"] == "unknown (Get-VMHost not collected)"
