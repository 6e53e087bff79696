"""pair-credssp: CredSSP needs a session on the source (warning); with Credential Guard it fails."""

from __future__ import annotations

from hvlm.audit.model import Severity, Status
from tests.checks._identity import BACK, CORP, FAB, H1, H2, PAIR, assert_safe, doc, finding
from tests.support.checking import break_fact
from tests.support.powershell import command_names

CREDSSP = {"auth": "CredSSP"}
CG_2025 = {"auth": "CredSSP", "build": 26100, "credential_guard": True}


def test_pass_kerberos_source() -> None:
    f = finding("pair-credssp", doc(), PAIR)
    assert f.status is Status.PASS and "Kerberos" in f.message


def test_pass_kerberos_source_needs_no_device_guard_fact() -> None:
    d = doc()
    break_fact(d, "hosts", H1, "device_guard")
    assert finding("pair-credssp", d, PAIR).status is Status.PASS


def test_fail_credssp_is_a_warning_naming_the_host_to_sign_in_to() -> None:
    d = doc(h1=CREDSSP, h2=CREDSSP)
    for label, host in ((PAIR, H1), (BACK, H2)):
        f = finding("pair-credssp", d, label)
        assert f.status is Status.WARNING and f.severity is Severity.MEDIUM
        assert f"sign in to {host}" in f.message and "0x8009030E" in f.message
        assert f.fix is not None and "Set-VMHost -VirtualMachineMigrationAuthenticationType Kerberos" in f.fix.powershell
        assert_safe(f.fix.powershell)


def test_fail_credssp_with_credential_guard_on_the_source() -> None:
    f = finding("pair-credssp", doc(h1=CG_2025, h2=CREDSSP), PAIR)
    assert f.status is Status.FAIL and f.severity is Severity.CRITICAL
    assert "Credential Guard runs on HV01 (Windows Server 2025, where it is on by default)" in f.message
    assert f.fix is not None and f.fix.target == "host" and f.fix.run_on == "hv01.corp.contoso.com"
    # run on the source itself: no remote change of another host from an AD script
    assert command_names(f.fix.powershell) == ["Set-VMHost"]
    assert f.fix.powershell.startswith("Set-VMHost -VirtualMachineMigrationAuthenticationType Kerberos")
    assert "constrained delegation to HV02 is already in place" in f.fix.powershell
    assert_safe(f.fix.powershell)
    # Credential Guard on the destination does not decide the outgoing move
    assert finding("pair-credssp", doc(h1=CG_2025, h2=CREDSSP), BACK).status is Status.WARNING


def test_fail_fix_adds_the_missing_delegation() -> None:
    f = finding("pair-credssp", doc(h1=CG_2025, h2=CREDSSP, c1={"delegate_to": []}), PAIR)
    assert f.status is Status.FAIL and f.fix is not None
    # the AD change is shown to the Domain Admin as comments: the host script changes only this host
    assert command_names(f.fix.powershell) == ["Set-VMHost"]
    assert "#       Set-ADComputer -Identity 'HV01'" in f.fix.powershell and "cifs/hv02.corp.contoso.com" in f.fix.powershell


def test_fail_cross_domain_fix_uses_resource_based_delegation() -> None:
    d = doc(h1=CG_2025, h2={"domain": FAB})
    f = finding("pair-credssp", d, f"{H1} -> hv02.{FAB}")
    assert f.status is Status.FAIL and f.fix is not None
    assert "-PrincipalsAllowedToDelegateToAccount" in f.fix.powershell


def test_missing_device_guard_on_a_credssp_source() -> None:
    d = doc(h1=CREDSSP, h2=CREDSSP)
    break_fact(d, "hosts", H1, "device_guard")
    f = finding("pair-credssp", d, PAIR)
    assert f.status is Status.ERROR and "Credential Guard" in f.message


def test_missing_vmhost() -> None:
    d = doc()
    break_fact(d, "hosts", H1, "vmhost")
    assert finding("pair-credssp", d, PAIR).status is Status.ERROR


def test_missing_source_computer_object_still_gives_a_full_fix() -> None:
    d = doc(h1=CG_2025, h2=CREDSSP)
    break_fact(d, "domains", CORP, "computers")
    f = finding("pair-credssp", d, PAIR)
    assert f.status is Status.FAIL and f.fix is not None and "Set-ADComputer" in f.fix.powershell
