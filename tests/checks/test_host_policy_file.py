"""host-policy-file: Registry.pol must start with PReg version 1."""

from __future__ import annotations

from hvlm.audit.model import Severity, Status
from tests.support.checking import break_fact, only, run_check
from tests.support.fleet import HostModel, build_snapshot
from tests.support.powershell import assert_parses, command_names

H = "hv01.corp.contoso.com"


def doc(**kw: object) -> dict:
    return build_snapshot([HostModel("HV01", **kw)])  # type: ignore[arg-type]


def test_pass_well_formed_file() -> None:
    assert only(run_check("host-policy-file", doc()), host=H).status is Status.PASS


def test_pass_no_file() -> None:
    f = only(run_check("host-policy-file", doc(registry_pol=None)), host=H)
    assert f.status is Status.PASS and "no local Registry.pol" in f.message


def test_fail_corrupt_file_with_a_rename_and_gpupdate_fix() -> None:
    f = only(run_check("host-policy-file", doc(registry_pol=b"\x00\x00\x00\x00\x00\x00\x00\x00")), host=H)
    assert f.status is Status.FAIL and f.severity is Severity.HIGH and "0x8007274C" in f.message
    assert "00 00 00 00" in f.message
    assert f.fix is not None and f.fix.kind == "change" and f.fix.run_on == H
    assert_parses(f.fix.powershell)
    assert command_names(f.fix.powershell) == ["Join-Path", "Test-Path", "Rename-Item", "Get-Date", "gpupdate"]
    assert "backup" in f.fix.summary


def test_fail_wrong_version_and_empty_file() -> None:
    assert only(run_check("host-policy-file", doc(registry_pol=b"PReg\x02\x00\x00\x00")), host=H).status is Status.FAIL
    d = doc()
    d["hosts"][H]["policy_file"]["value"].update(Header="", Length=0)
    f = only(run_check("host-policy-file", d), host=H)
    assert f.status is Status.FAIL and "the file is empty" in f.message


def test_unreadable_file_is_an_error() -> None:
    d = doc()
    d["hosts"][H]["policy_file"]["value"].update(Header=None, ReadError="The process cannot access the file.")
    f = only(run_check("host-policy-file", d), host=H)
    assert f.status is Status.ERROR and "cannot access" in f.message


def test_missing_policy_file_fact_is_an_error() -> None:
    d = doc()
    break_fact(d, "hosts", H, "policy_file")
    assert only(run_check("host-policy-file", d), host=H).status is Status.ERROR
