"""host-kcd-any-protocol: "Use any authentication protocol" on 2016+ Kerberos hosts with delegation."""

from __future__ import annotations

from hvlm.audit.model import Status
from tests.checks._identity import CORP, H1, HOSTILE, assert_safe, doc, finding
from tests.support.checking import break_fact
from tests.support.powershell import command_names


def test_pass_any_protocol_on_2019() -> None:
    f = finding("host-kcd-any-protocol", doc(), H1)
    assert f.status is Status.PASS and f.evidence["TrustedToAuthForDelegation"] is True


def test_fail_kerberos_only_on_2016_and_later() -> None:
    for build in (14393, 17763, 20348, 26100):
        f = finding("host-kcd-any-protocol", doc(h1={"build": build}, c1={"any_protocol": False}), H1)
        assert f.status is Status.FAIL and '"Kerberos only"' in f.message and "0x8009030E" in f.message, build
        assert f.fix is not None and f.fix.target == "ad"
        assert ("Set-ADAccountControl -Identity (Get-ADComputer -Identity 'HV01' -Server 'corp.contoso.com') "
                "-Server 'corp.contoso.com' -TrustedToAuthForDelegation $true") in f.fix.powershell
        assert_safe(f.fix.powershell)


def test_pass_kerberos_only_on_2012_r2() -> None:
    f = finding("host-kcd-any-protocol", doc(h1={"build": 9600}, c1={"any_protocol": False}), H1)
    assert f.status is Status.PASS and "documented" in f.message


def test_pass_not_applicable_for_credssp_or_without_delegation() -> None:
    f = finding("host-kcd-any-protocol", doc(h1={"auth": "CredSSP"}, c1={"any_protocol": False}), H1)
    assert f.status is Status.NOT_APPLICABLE
    f = finding("host-kcd-any-protocol", doc(c1={"delegate_to": []}), H1)
    assert f.status is Status.NOT_APPLICABLE and "pair-kcd-migration-service" in f.message


def test_fail_hostile_name_stays_quoted() -> None:
    from tests.support.fleet import ComputerModel, HostModel, build_snapshot, delegation_entries

    a, b = HostModel(HOSTILE, index=1), HostModel("HV02", index=2)
    d = build_snapshot([a, b], computers={CORP: [ComputerModel(a, "S-1-5-21-1-2-3-1", delegation_entries(b),
                                                               any_protocol=False)]}, pairs=[])
    f = finding("host-kcd-any-protocol", d, a.fqdn)
    assert f.status is Status.FAIL and f.fix is not None
    assert command_names(f.fix.powershell)[:2] == ["Set-ADAccountControl", "Get-ADComputer"]
    assert_safe(f.fix.powershell)


def test_missing_computer_object() -> None:
    d = doc()
    break_fact(d, "domains", CORP, "computers")
    assert finding("host-kcd-any-protocol", d, H1).status is Status.ERROR


def test_missing_operating_system() -> None:
    d = doc()
    break_fact(d, "hosts", H1, "operating_system")
    f = finding("host-kcd-any-protocol", d, H1)  # the build falls back on AD's operatingSystemVersion
    assert f.status is Status.PASS and "AD" in f.evidence["build_from"]
    for comp in d["domains"][CORP]["computers"]["value"]:
        comp["operatingSystemVersion"] = None
    assert finding("host-kcd-any-protocol", d, H1).status is Status.ERROR
