"""vm-vtpm-guardian: a vTPM VM needs its guardian on the destination (warned: not yet confirmable)."""

from __future__ import annotations

from hvlm.audit.model import Severity, Status
from tests.support.checking import break_fact, only, run_check
from tests.support.fleet import HostModel, VMModel, build_snapshot

S, D = "hv01.corp.contoso.com", "hv02.corp.contoso.com"


def doc(*vms: VMModel) -> dict:
    s, d = HostModel("HV01", index=1, build=20348, vms=list(vms)), HostModel("HV02", index=2, build=20348)
    return build_snapshot([s, d], pairs=[(s.fqdn, d.fqdn)])


def test_pass_no_vtpm() -> None:
    assert only(run_check("vm-vtpm-guardian", doc(VMModel("app01"))), vm="app01").status is Status.PASS


def test_fail_vtpm_warns_to_confirm_the_guardian() -> None:
    f = only(run_check("vm-vtpm-guardian", doc(VMModel("db02", tpm=True))), vm="db02")
    assert f.status is Status.WARNING and f.severity is Severity.MEDIUM and "UntrustedGuardian" in f.message
    assert f.fix is not None and f.fix.kind == "check" and f.fix.run_on == D
    assert "Shielded VM Local Certificates" in f.fix.powershell


def test_fail_shielded_vm_is_a_high_warning() -> None:
    f = only(run_check("vm-vtpm-guardian", doc(VMModel("hgs01", tpm=True, shielded=True))), vm="hgs01")
    assert f.status is Status.WARNING and f.severity is Severity.HIGH and "Host Guardian Service" in f.message


def test_missing_security_fact_is_an_error() -> None:
    d = doc(VMModel("db02", tpm=True))
    break_fact(d, "hosts", S, "vm_security")
    assert {f.status for f in run_check("vm-vtpm-guardian", d)} == {Status.ERROR}


def test_missing_row_for_the_vm_is_an_error() -> None:
    d = doc(VMModel("db02"))
    d["hosts"][S]["vm_security"]["value"] = []
    assert only(run_check("vm-vtpm-guardian", d), vm="db02").status is Status.ERROR
