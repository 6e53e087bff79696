"""Shared-nothing move: the VM's disks fit on the destination's volume for virtual hard disks."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from hvlm.audit.facts import Facts, RoleFacts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Fix, Outcome, Severity, Status, SubjectKind
from hvlm.audit.registry import check
from hvlm.checks._fixes import on_host
from hvlm.checks._keys import rows_of_vm
from hvlm.checks._vmfacts import gib, is_share, rows_of


def _volume_of(path: str, volumes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The volume whose mount path is the longest prefix of `path` (C:\\, or a folder mount point)."""
    target = path.rstrip("\\").lower() + "\\"
    best: dict[str, Any] | None = None
    best_len = 0
    for vol in volumes:
        name = str(vol.get("Name") or "").lower().rstrip("\\") + "\\"
        if len(name) > 1 and target.startswith(name) and len(name) > best_len:
            best, best_len = vol, len(name)
    return best


def sizes(disks: list[dict[str, Any]]) -> tuple[int, int, list[str], list[str]]:
    """(bytes the files take now, bytes they may grow to, disks left on shares, disks Get-VHD could not read).

    Every file of a differencing chain is copied once; a dynamic or differencing disk may grow up
    to its virtual size, a fixed one is already full size.
    """
    seen: set[str] = set()
    now = most = 0
    shared: list[str] = []
    unread: list[str] = []
    for disk in disks:
        path = disk.get("Path")
        if disk.get("DiskNumber") is not None:
            continue  # a pass-through disk: vm-passthrough-devices
        if is_share(path):
            shared.append(str(path))
            continue
        if disk.get("VhdError") or disk.get("FileSize") is None:
            unread.append(f"{path}: {disk.get('VhdError') or 'no size reported'}")
            continue
        key = str(path).lower()
        if key in seen:
            continue
        seen.add(key)
        file_size = int(disk["FileSize"])
        now += file_size
        most += max(file_size, int(disk.get("Size") or 0))
        for parent in disk.get("Parents") or []:
            pkey = str(parent["Path"]).lower()
            if pkey in seen or is_share(parent["Path"]):
                continue
            seen.add(pkey)
            now += int(parent.get("FileSize") or 0)
            most += int(parent.get("FileSize") or 0)
    return now, most, shared, unread


def _most(src: RoleFacts) -> int:
    """The most any one VM of the source may need (its disks grown to their virtual size)."""
    return max((sizes(rows_of_vm(vm, src, "vm_hard_disks"))[1] for vm in src["vms"]), default=0)


def _target(dst: RoleFacts) -> tuple[str, int | None]:
    """Where the destination keeps new disks: "no target", "share", "no volume", or "volume" and its free bytes."""
    target = dst["vmhost"].get("VirtualHardDiskPath")
    if not target:
        return "no target", None
    if is_share(target):
        return "share", None
    volume = _volume_of(str(target), dst["volumes"])
    if volume is None or volume.get("FreeSpace") is None:
        return "no volume", None
    return "volume", int(volume["FreeSpace"])


def _key(src: RoleFacts, dst: RoleFacts) -> Hashable:
    """With the VM's disks (the VM key), what decides its status: where the destination keeps disks, and
    whether every VM of the source fits there at its largest ("fits": each VM then passes, or is not
    applicable, or errors, by its own disks alone). Otherwise the pair itself."""
    where, free = dst.derived("storage:target", _target)
    if free is None:
        return where
    if src.derived("storage:most", _most) <= free:
        return "fits"
    return src.ref.name, dst.ref.name


def _vm_key(vm: Mapping[str, Any], src: RoleFacts) -> Hashable:
    """What the VM's own disks decide: any disk, the bytes now and at most, any disk Get-VHD could not read."""
    disks = rows_of_vm(vm, src, "vm_hard_disks")
    now, most, _, unread = sizes(disks)
    return bool(disks), now, most, bool(unread)


@check(
    id="vm-storage-fits",
    title="VM disks fit on the destination's virtual hard disk volume",
    severity=Severity.HIGH,
    subject=SubjectKind.VM,
    requires=("source.vms", "source.vm_hard_disks", "destination.vmhost", "destination.volumes"),
    key=_key,
    vm_key=_vm_key,
    rationale="""A shared-nothing live migration (Move-VM -IncludeStorage) copies every virtual disk of
    the VM, with the whole differencing chain of its checkpoints, to the destination before it moves
    the memory. Without -DestinationStoragePath the files go to the destination's default virtual
    hard disk path (Get-VMHost VirtualHardDiskPath). Get-VHD gives each file's current size
    (FileSize) and the size a dynamic or differencing disk may grow to (Size). When the files do not
    fit on that volume now (Win32_Volume FreeSpace at collection time) the move fails part-way:
    a failure. When they fit now but the dynamic disks could outgrow the volume afterwards, a
    warning (BPA rules 58/59). Disks on an SMB share stay there and are not counted; pass-through
    disks are vm-passthrough-devices'. The check is per VM; moving several VMs at once needs their
    sum, given in the evidence.""",
    references=(DOCS["move-vm"], DOCS["compare-vm"], DOCS["get-vhd"]),
    fix_hint="Free space on the destination volume, or move with -DestinationStoragePath on a volume with room.",
)
def run(f: Facts) -> Outcome:
    vm: dict[str, Any] = f.vm or {}
    name = str(vm["Name"])
    dref = f.host("destination")
    disks = rows_of(vm, f["source.vm_hard_disks"])
    now, most, shared, unread = sizes(disks)
    together = sum(sizes(rows_of(v, f["source.vm_hard_disks"]))[0] for v in f["source.vms"])
    target = f["destination.vmhost"].get("VirtualHardDiskPath")
    evidence: dict[str, Any] = {"vm": name, "disks": [d.get("Path") for d in disks], "bytes_now": now,
                                "bytes_at_most": most, "on_shares": shared,
                                "destination.VirtualHardDiskPath": target, "all_source_vms_bytes_now": together}
    if unread:
        return Outcome(Status.ERROR, f"Cannot size {name}'s disks: Get-VHD failed for " + "; ".join(unread),
                       evidence=evidence)
    if not disks or (now == 0 and most == 0):
        what = "on SMB shares, which stay where they are" if shared else "none that a storage move copies"
        return Outcome(Status.NOT_APPLICABLE, f"{name} has no virtual disk to copy ({what}).", evidence=evidence)
    if not target:
        return Outcome(Status.ERROR, f"Cannot compare: the default virtual hard disk path of {dref.fqdn} "
                       "(Get-VMHost VirtualHardDiskPath) was not collected.", evidence=evidence)
    if is_share(target):
        return Outcome(
            Status.WARNING,
            f"{dref.fqdn} keeps virtual hard disks on the share {target}; hvlm cannot see its free space. {name} needs "
            f"{gib(now)} there now, up to {gib(most)}.",
            _fix(f, name, target, now, None),
            evidence,
            severity=Severity.LOW,
        )
    volume = _volume_of(str(target), f["destination.volumes"])
    if volume is None or volume.get("FreeSpace") is None:
        return Outcome(Status.ERROR, f"Cannot compare: no collected volume of {dref.fqdn} holds {target}.",
                       evidence=evidence)
    free = int(volume["FreeSpace"])
    evidence.update({"destination.volume": volume["Name"], "destination.FreeSpace": free})
    where = f"{target} (volume {volume['Name']}) on {dref.fqdn}"
    if now > free:
        return Outcome(
            Status.FAIL,
            f"{name}'s disks take {gib(now)} but {where} had only {gib(free)} free: a move with its storage fails "
            "part-way.",
            _fix(f, name, target, now, volume),
            evidence,
        )
    if most > free:
        return Outcome(
            Status.WARNING,
            f"{name}'s disks take {gib(now)} and fit in the {gib(free)} free at {where}, but its dynamic disks may "
            f"grow to {gib(most)}, more than the volume holds.",
            _fix(f, name, target, most, volume),
            evidence,
            severity=Severity.MEDIUM,
        )
    return Outcome(Status.PASS, f"{name}'s disks ({gib(now)}, at most {gib(most)}) fit in the {gib(free)} free at "
                   f"{where}.", evidence=evidence)


def _fix(f: Facts, name: str, target: str, need: int, volume: dict[str, Any] | None) -> Fix:
    dref = f.host("destination")
    short = f"at least {gib(need - int(volume['FreeSpace']))} more" if volume else f"{gib(need)}"
    return on_host(
        dref,
        f"Make room for {name} on {dref.fqdn}: free {short} on the volume that holds {target}, or move {name} with "
        "Move-VM -IncludeStorage -DestinationStoragePath naming a volume with room. The command lists the "
        "destination's volumes and their free space.",
        "$GiB = 1024 * 1024 * 1024\n"
        "Get-CimInstance -ClassName Win32_Volume | Where-Object -Property 'DriveType' -EQ 3 |\n"
        "    Select-Object -Property 'Name', 'Label',\n"
        "        @{Name = 'FreeGiB'; Expression = { [math]::Round($_.FreeSpace / $GiB, 1) }}\n"
        "(Get-VMHost).VirtualHardDiskPath",
        docs=(DOCS["move-vm"], DOCS["compare-vm"]),
        kind="check",
    )
