"""pair-kcd-migration-service: both names on the source, per direction; RBCD accepted as a warning."""

from __future__ import annotations

from hvlm.audit.model import Severity, Status
from tests.checks._identity import BACK, CORP, CORP_SID, FAB, H1, HOSTILE, PAIR, assert_safe, doc, finding
from tests.support.checking import break_fact, run_check
from tests.support.fleet import ComputerModel, HostModel, build_snapshot, delegation_entries
from tests.support.powershell import command_names, delegation_adds

MS = "Microsoft Virtual System Migration Service"
X = f"{H1} -> hv02.{FAB}"
RBCD_HV01 = {"rbcd": [(f"{CORP_SID}-2101", "CORP\\HV01$")]}


def test_pass_short_and_fqdn_entries() -> None:
    f = finding("pair-kcd-migration-service", doc(), PAIR)
    assert f.status is Status.PASS
    assert f.evidence["present"] == [f"{MS}/HV02", f"{MS}/hv02.{CORP}"]


def test_pass_entries_compared_case_insensitively() -> None:
    d = doc(c1={"delegate_to": [f"{MS.upper()}/hv02", f"{MS.lower()}/HV02.CORP.CONTOSO.COM"]})
    assert finding("pair-kcd-migration-service", d, PAIR).status is Status.PASS


def test_fail_short_name_only() -> None:
    d = doc(c1={"delegate_to": [f"{MS}/HV02", "cifs/HV02", f"cifs/hv02.{CORP}"]})
    f = finding("pair-kcd-migration-service", d, PAIR)
    assert f.status is Status.FAIL and f.severity is Severity.CRITICAL and "by the FQDN" in f.message
    assert f.fix is not None and f.fix.target == "ad"
    assert delegation_adds(f.fix.powershell) == [("HV01", [f"{MS}/hv02.corp.contoso.com"])]
    assert "Get-ADComputer -Identity 'HV01' -Server 'corp.contoso.com' -Properties 'msDS-AllowedToDelegateTo'" \
        in f.fix.powershell
    assert "klist purge -li 0x3e7" in f.fix.powershell
    assert_safe(f.fix.powershell)


def test_fail_fqdn_only() -> None:
    d = doc(c1={"delegate_to": [f"{MS}/hv02.{CORP}"]})
    f = finding("pair-kcd-migration-service", d, PAIR)
    assert f.status is Status.FAIL and "by the short name" in f.message


def test_fail_no_delegation_fix_adds_any_protocol_on_2016_and_later() -> None:
    f = finding("pair-kcd-migration-service", doc(c1={"delegate_to": []}), PAIR)
    assert f.status is Status.FAIL and "by both names" in f.message
    assert f.fix is not None
    assert command_names(f.fix.powershell) == ["Get-ADComputer", "Where-Object", "Where-Object", "Write-Output",
                                               "Set-ADComputer", "Write-Output", "Set-ADAccountControl",
                                               "Get-ADComputer", "Invoke-Command", "klist"]
    f = finding("pair-kcd-migration-service", doc(h1={"build": 9600}, c1={"delegate_to": []}), PAIR)
    assert f.fix is not None and "Set-ADAccountControl" not in f.fix.powershell


def test_fail_delegation_is_directional() -> None:
    d = doc(c2={"delegate_to": []})
    assert finding("pair-kcd-migration-service", d, PAIR).status is Status.PASS
    back = finding("pair-kcd-migration-service", d, BACK)
    assert back.status is Status.FAIL and back.fix is not None and "-Identity 'HV02'" in back.fix.powershell


def test_fail_rbcd_only_is_reported_as_a_warning() -> None:
    f = finding("pair-kcd-migration-service", doc(c1={"delegate_to": []}, c2=RBCD_HV01), PAIR)
    assert f.status is Status.WARNING and f.severity is Severity.MEDIUM
    assert "resource-based delegation" in f.message and "UNCONFIRMED" in f.message
    assert f.fix is not None and "Set-ADComputer -Identity 'HV01'" in f.fix.powershell  # the documented route


def test_fail_cross_domain_without_rbcd() -> None:
    f = finding("pair-kcd-migration-service", doc(h2={"domain": FAB}), X)
    assert f.status is Status.FAIL and "classic constrained delegation does not cross domains" in f.message
    assert "are of no use" in f.message  # the classic entries on HV01 cannot reach the other domain
    assert f.fix is not None and f.fix.run_as.startswith("a member of Domain Admins of lab.fabrikam.com")
    assert "Set-ADComputer -Identity 'HV02' -Server 'lab.fabrikam.com' -PrincipalsAllowedToDelegateToAccount" \
        in f.fix.powershell
    assert "$source = Get-ADComputer -Identity 'HV01' -Server 'corp.contoso.com'" in f.fix.powershell
    assert_safe(f.fix.powershell)


def test_fail_cross_domain_with_rbcd_is_a_warning() -> None:
    f = finding("pair-kcd-migration-service", doc(h2={"domain": FAB}, c2=RBCD_HV01), X)
    assert f.status is Status.WARNING and "across domains" in f.message
    assert f.fix is not None and "Move-VM" in f.fix.powershell
    assert_safe(f.fix.powershell)


def test_fail_mismatched_auth_still_checks_delegation() -> None:
    d = doc(h2={"auth": "CredSSP"}, c1={"delegate_to": []})
    assert finding("pair-kcd-migration-service", d, PAIR).status is Status.FAIL


def test_pass_credssp_on_both_is_not_applicable() -> None:
    d = doc(h1={"auth": "CredSSP"}, h2={"auth": "CredSSP"}, c1={"delegate_to": []})
    f = finding("pair-kcd-migration-service", d, PAIR)
    assert f.status is Status.NOT_APPLICABLE and "CredSSP" in f.message


def test_fail_hostile_host_names_stay_quoted() -> None:
    a, b = HostModel(HOSTILE, index=1), HostModel("HV02", index=2)
    d = build_snapshot([a, b], computers={CORP: [ComputerModel(a, f"{CORP_SID}-1", []),
                                                 ComputerModel(b, f"{CORP_SID}-2", delegation_entries(a))]},
                       pairs=[(a.fqdn, b.fqdn)])
    f = next(f for f in run_check("pair-kcd-migration-service", d) if f.subject.source == a.fqdn)
    assert f.status is Status.FAIL and f.fix is not None
    # the AD identity is the NetBIOS name (15 characters); the FQDN keeps the whole hostile label, quoted
    assert "-Identity 'HV''01; REMOVE-I'" in f.fix.powershell
    assert "-ComputerName 'hv''01; remove-item c:\\ -recurse.corp.contoso.com'" in f.fix.powershell
    assert_safe(f.fix.powershell)


def test_missing_source_object_not_found() -> None:
    d = doc()
    d["domains"][CORP]["computers"]["value"] = [c for c in d["domains"][CORP]["computers"]["value"]
                                               if c["sAMAccountName"] != "HV01$"]
    f = finding("pair-kcd-migration-service", d, PAIR)
    assert f.status is Status.ERROR and "no computer object for HV01" in f.message


def test_missing_computers_fact() -> None:
    d = doc()
    break_fact(d, "domains", CORP, "computers")
    assert finding("pair-kcd-migration-service", d, PAIR).status is Status.ERROR


def test_missing_cross_domain_destination_object() -> None:
    d = doc(h2={"domain": FAB})
    break_fact(d, "domains", FAB, "computers")
    f = finding("pair-kcd-migration-service", d, X)
    assert f.status is Status.ERROR and "resource-based delegation" in f.message


def test_pass_without_vmhost_judges_the_directory_as_kerberos() -> None:
    # a directory-only collection (no WinRM): the delegation is still audited, and says why
    d = doc()
    break_fact(d, "hosts", H1, "vmhost")
    f = finding("pair-kcd-migration-service", d, PAIR)
    assert f.status is Status.PASS
    assert f.evidence["authentication"]["source"] == "unknown (Get-VMHost not collected)"
