"""No pass-through disk or assigned device (DDA) stops the VM's live migration."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from hvlm.audit.facts import Facts, RoleFacts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_quote
from hvlm.audit.registry import check
from hvlm.checks._fixes import on_host
from hvlm.checks._keys import nothing, rows_of_vm
from hvlm.checks._vmfacts import rows_of


def _vm_key(vm: Mapping[str, Any], src: RoleFacts) -> Hashable:
    """Whether the VM has a pass-through disk, and whether it has an assigned device."""
    return (any(d.get("DiskNumber") is not None for d in rows_of_vm(vm, src, "vm_hard_disks")),
            bool(rows_of_vm(vm, src, "vm_assigned_devices")))


@check(
    id="vm-passthrough-devices",
    title="No pass-through disk or assigned device on the VM",
    severity=Severity.HIGH,
    subject=SubjectKind.VM,
    requires=("source.vms", "source.vm_hard_disks", "source.vm_assigned_devices"),
    parts=(nothing, nothing),
    vm_key=_vm_key,
    rationale="""A pass-through disk (a physical disk of the host given to the VM, Get-VMHardDiskDrive with
    a DiskNumber) is not virtualized storage: a storage migration cannot move it, so a shared-nothing
    live migration of the VM fails. A device assigned with Discrete Device Assignment
    (Get-VMAssignableDevice: a GPU, an NVMe disk, a NIC) rules out save/restore and live migration
    altogether. Either is a blocker; the way around it is a decision: move the VM while it is shut
    down, or detach the disk or device (which needs the VM off) and give it the equivalent on the
    destination.""",
    references=(DOCS["dda-plan"], DOCS["move-vm"], DOCS["ts-lm"]),
    fix_hint="Shut the VM down and move it offline, or replace the pass-through disk by a VHDX / detach the device.",
)
def run(f: Facts) -> Outcome:
    vm: dict[str, Any] = f.vm or {}
    name = str(vm["Name"])
    passthrough = [d for d in rows_of(vm, f["source.vm_hard_disks"]) if d.get("DiskNumber") is not None]
    devices = rows_of(vm, f["source.vm_assigned_devices"])
    evidence: dict[str, Any] = {
        "vm": name,
        "pass_through_disks": [{"DiskNumber": d["DiskNumber"], "ControllerType": d.get("ControllerType"),
                                "ControllerNumber": d.get("ControllerNumber"),
                                "ControllerLocation": d.get("ControllerLocation")} for d in passthrough],
        "assigned_devices": [d.get("LocationPath") or d.get("InstanceID") for d in devices],
    }
    if not passthrough and not devices:
        return Outcome(Status.PASS, f"{name} has no pass-through disk and no assigned device.", evidence=evidence)
    parts = [f"pass-through disk {d['DiskNumber']}" for d in passthrough]
    parts += [f"assigned device {d.get('LocationPath') or d.get('InstanceID')}" for d in devices]
    src = f.host("source")
    steps = [f"# {name} cannot be live-migrated with: {', '.join(parts)}.",
             "# Either shut it down and move it offline (a cold move), or, with the VM off, detach what blocks",
             "# the move (copy a pass-through disk's data to a VHDX first) and give it the equivalent on the",
             "# destination:",
             f"Stop-VM -Name {ps_quote(name)}"]
    for d in passthrough:
        kind, number, location = d.get("ControllerType"), d.get("ControllerNumber"), d.get("ControllerLocation")
        if kind is None or number is None or location is None:  # the bare command would remove every disk
            steps.append(f"# pass-through disk {d['DiskNumber']}: find its controller with Get-VMHardDiskDrive")
            continue
        steps.append(f"Remove-VMHardDiskDrive -VMName {ps_quote(name)} -ControllerType {kind} "
                     f"-ControllerNumber {int(number)} -ControllerLocation {int(location)}")
    for d in devices:
        loc = d.get("LocationPath")
        if loc:
            steps.append(f"Remove-VMAssignableDevice -VMName {ps_quote(name)} -LocationPath {ps_quote(loc)}")
    return Outcome(
        Status.FAIL,
        f"{name} has {', '.join(parts)}: no live migration is possible with it.",
        on_host(
            src,
            f"Decide how {name} moves: shut down and moved offline, or without its pass-through disk or assigned "
            "device (both need the VM off).",
            "\n".join(steps),
            docs=(DOCS["dda-plan"], DOCS["move-vm"]),
            kind="manual",
            cold_move=f"{name} has {', '.join(parts)}, which no live migration can carry (vm-passthrough-devices)",
        ),
        evidence,
    )
