"""No ISO or floppy image is attached to the VM."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from hvlm.audit.facts import Facts, RoleFacts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_quote
from hvlm.audit.registry import check
from hvlm.audit.words import count
from hvlm.checks._fixes import on_host
from hvlm.checks._keys import nothing, rows_of_vm
from hvlm.checks._vmfacts import rows_of


def _eject(vm: str, drive: dict[str, Any]) -> str:
    if drive["DriveType"] == "FloppyDiskDrive":
        return f"Set-VMFloppyDiskDrive -VMName {ps_quote(vm)} -Path $null"
    where = ""
    if drive.get("ControllerNumber") is not None and drive.get("ControllerLocation") is not None:
        where = f" -ControllerNumber {int(drive['ControllerNumber'])} -ControllerLocation {int(drive['ControllerLocation'])}"
    return f"Set-VMDvdDrive -VMName {ps_quote(vm)}{where} -Path $null"


def _attached(drive: dict[str, Any]) -> bool:
    return bool(drive.get("Path")) or _passthrough(drive)


def _passthrough(drive: dict[str, Any]) -> bool:
    """The host's physical DVD drive passed through: nothing the destination could hold instead."""
    return drive.get("DvdMediaType") == "PassThrough"


def _what(d: dict[str, Any]) -> str:
    where = "floppy drive" if d["DriveType"] == "FloppyDiskDrive" else "DVD drive"
    if _passthrough(d):
        return f"the source host's physical drive{' ' + str(d['Path']) if d.get('Path') else ''} in its {where}"
    return f"{d.get('Path')} in its {where}"


def _vm_key(vm: Mapping[str, Any], src: RoleFacts) -> Hashable:
    """Whether any of the VM's drives holds media, and a pass-through one (the status; the rest is wording)."""
    drives = rows_of_vm(vm, src, "vm_media")
    return any(_attached(d) for d in drives), any(_passthrough(d) for d in drives)


@check(
    id="vm-media-attached",
    title="No ISO or floppy image attached to the VM",
    severity=Severity.MEDIUM,
    subject=SubjectKind.VM,
    requires=("source.vms", "source.vm_media"),
    parts=(nothing, nothing),
    vm_key=_vm_key,
    rationale="""A VM moves with its DVD and floppy drives, and the destination must open whatever is in
    them. An ISO on a local path the destination does not have, or on a share its computer account
    may not read, fails the move at the destination with 0xC03A0014 ("A virtual disk support provider
    for the specified file was not found"); a mounted vmguest.iso has been reported to block Move-VM
    although it exists on both hosts, and a host's physical drive passed through cannot follow at
    all. Ejecting the media before the move avoids all of it. Ejecting changes what the guest sees
    (an installation reading the disc would stop), so it is a change to agree with the VM's owner,
    and an attached image is a warning, not a failure.""",
    references=(DOCS["ts-lm"], DOCS["set-vmdvddrive"], DOCS["set-vmfloppydiskdrive"]),
    fix_hint="Eject the media (Set-VMDvdDrive -Path $null, Set-VMFloppyDiskDrive -Path $null) before the move.",
)
def run(f: Facts) -> Outcome:
    vm: dict[str, Any] = f.vm or {}
    name = str(vm["Name"])
    drives = rows_of(vm, f["source.vm_media"])
    attached = [d for d in drives if _attached(d)]
    evidence: dict[str, Any] = {
        "vm": name,
        "drives": [{"DriveType": d["DriveType"], "Path": d.get("Path"), "DvdMediaType": d.get("DvdMediaType")}
                   for d in drives],
    }
    if not attached:
        what = f"{count(len(drives), 'DVD or floppy drive')}, all empty" if drives else "no DVD or floppy drive"
        return Outcome(Status.PASS, f"{name} has {what}.", evidence=evidence)
    media = "; ".join(_what(d) for d in attached)
    src = f.host("source")
    eject = "\n".join(_eject(name, d) for d in attached)
    docs = (DOCS["set-vmdvddrive"], DOCS["set-vmfloppydiskdrive"], DOCS["ts-lm"])
    gui = f"Hyper-V Manager > {name} > Settings > DVD Drive > Media: None"
    owner_first = f"# Only after {name}'s owner confirms that nothing in the guest still reads the media:\n"
    if any(_passthrough(d) for d in attached):
        return Outcome(
            Status.FAIL,
            f"{name} has media attached ({media}): a drive of the source host passed through cannot follow the VM, "
            "so the move fails.",
            on_host(src, f"Eject the pass-through drive from {name} on {src.fqdn} (set the drive to None) before the "
                    "move, once its owner confirms nothing in the guest still reads it.",
                    owner_first + eject, docs=docs, gui=gui, kind="manual"),
            evidence,
        )
    return Outcome(
        Status.WARNING,
        f"{name} has media attached ({media}): the destination must open it, or the move fails there "
        "(0xC03A0014).",
        on_host(
            src,
            f"Eject the media from {name} on {src.fqdn} before the move, once its owner confirms nothing in the guest "
            "still reads it (or put the same image at the same path on the destination).",
            owner_first + eject, docs=docs, gui=gui,
            kind="manual",  # the owner's word comes first: never run by a plain Apply
        ),
        evidence,
    )
