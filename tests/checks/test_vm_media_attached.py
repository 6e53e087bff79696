"""vm-media-attached: no ISO or floppy image goes with the VM."""

from __future__ import annotations

from hvlm.audit.model import Status
from tests.support.checking import break_fact, only, run_check
from tests.support.fleet import HostModel, VMModel, build_snapshot

S = "hv01.corp.contoso.com"


def doc(*vms: VMModel) -> dict:
    s, d = HostModel("HV01", index=1, vms=list(vms)), HostModel("HV02", index=2)
    return build_snapshot([s, d], pairs=[(s.fqdn, d.fqdn)])


def test_pass_empty_drives() -> None:
    findings = run_check("vm-media-attached", doc(VMModel("app01"), VMModel("old01", generation=1)))
    assert only(findings, vm="old01").status is Status.PASS


def test_fail_iso_attached_warns_with_an_eject() -> None:
    f = only(run_check("vm-media-attached", doc(VMModel("web01", iso="C:\\ISO\\it's.iso"))), vm="web01")
    assert f.status is Status.WARNING and "C:\\ISO\\it's.iso" in f.message
    # the owner confirms first: a manual step, never run by the script's plain Apply
    assert f.fix is not None and f.fix.run_on == S and f.fix.kind == "manual"
    assert f.fix.powershell == ("# Only after web01's owner confirms that nothing in the guest still reads the media:\n"
                                "Set-VMDvdDrive -VMName 'web01' -ControllerNumber 0 -ControllerLocation 1 -Path $null")


def test_fail_floppy_of_a_generation_1_vm() -> None:
    f = only(run_check("vm-media-attached", doc(VMModel("nt01", generation=1, floppy="D:\\drivers.vfd"))), vm="nt01")
    assert f.status is Status.WARNING
    assert f.fix is not None and "Set-VMFloppyDiskDrive -VMName 'nt01' -Path $null" in f.fix.powershell


def test_missing_media_fact_is_an_error() -> None:
    d = doc(VMModel("web01"))
    break_fact(d, "hosts", S, "vm_media")
    assert {f.status for f in run_check("vm-media-attached", d)} == {Status.ERROR}


def _pass_through(d: dict, vm: str) -> None:
    """web01's DVD drive holds the host's physical drive (DvdMediaType PassThrough, no Path), as Get-VMDvdDrive shows."""
    for row in d["hosts"][S]["vm_media"]["value"]:
        if row["VMName"] == vm and row["DriveType"] == "DvdDrive":
            row.update({"Path": None, "DvdMediaType": "PassThrough"})


def test_fail_pass_through_drive_fails_and_only_ejects() -> None:
    d = doc(VMModel("web01"))
    _pass_through(d, "web01")
    f = only(run_check("vm-media-attached", d), vm="web01")
    assert f.status is Status.FAIL and "physical drive" in f.message and "0xC03A0014" not in f.message
    assert f.fix is not None and "same image" not in f.fix.summary and "same path" not in f.fix.summary
    assert f.fix.powershell == ("# Only after web01's owner confirms that nothing in the guest still reads the media:\n"
                                "Set-VMDvdDrive -VMName 'web01' -ControllerNumber 0 -ControllerLocation 1 -Path $null")
    assert f.fix.kind == "manual"  # the owner's word first: a plain Apply never ejects


def test_pass_counts_drives_without_a_plural_marker() -> None:
    one = only(run_check("vm-media-attached", doc(VMModel("app01"))), vm="app01")
    two = only(run_check("vm-media-attached", doc(VMModel("old01", generation=1))), vm="old01")
    assert "1 DVD or floppy drive, all empty" in one.message and "(s)" not in one.message
    assert "2 DVD or floppy drives, all empty" in two.message
