"""Shared-nothing move: everything the VM's storage move copies fits on the destination's volumes.

Disks (with the differencing chains of their checkpoints) go to the destination's default virtual hard
disk path; the configuration, the checkpoints' own files and the smart paging file to its default
virtual machine path. Both may be one volume.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hvlm.audit.facts import Facts, RoleFacts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Fix, Outcome, Severity, Status, SubjectKind
from hvlm.audit.registry import check
from hvlm.audit.words import count
from hvlm.checks._fixes import on_host
from hvlm.checks._keys import rows_of_vm
from hvlm.checks._vmfacts import is_share, rows_of


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


@dataclass
class Need:
    """What a storage move of one VM copies, in bytes, and what hvlm could not size."""

    disks_now: int = 0  # virtual disk files (and their chains) as they are now
    disks_most: int = 0  # the same, dynamic and differencing disks grown to their virtual size
    state: int = 0  # configuration, checkpoint state and smart paging: to the VM path
    checkpoints: int = 0
    shared: list[str] = field(default_factory=list)  # files left on SMB shares
    unread: list[str] = field(default_factory=list)  # files hvlm could not size (an error, never a pass)
    seen: set[str] = field(default_factory=set)

    def add_file(self, path: str, now: int, most: int) -> None:
        key = path.lower()
        if key in self.seen:
            return
        self.seen.add(key)
        if is_share(path):
            self.shared.append(path)
            return
        self.disks_now += now
        self.disks_most += most

    @property
    def nothing(self) -> bool:
        return self.disks_most == 0 and self.state == 0


def need_of(vm: Mapping[str, Any], disks: list[dict[str, Any]], files: list[dict[str, Any]],
            checkpoints: list[dict[str, Any]]) -> Need:
    """Every file of the VM a storage move copies. A differencing chain's files are counted once; a dynamic
    or differencing disk may grow up to its virtual size, a fixed one is already full size; a checkpoint's
    disk files outside the current chains (another branch of its tree) as they are."""
    need = Need()
    for disk in disks:
        path = disk.get("Path")
        if disk.get("DiskNumber") is not None:
            continue  # a pass-through disk: vm-passthrough-devices
        if is_share(path):
            need.add_file(str(path), 0, 0)
            continue
        if disk.get("VhdError") or disk.get("FileSize") is None:
            need.unread.append(f"{path}: {disk.get('VhdError') or 'no size reported'}")
            continue
        file_size = int(disk["FileSize"])
        need.add_file(str(path), file_size, max(file_size, int(disk.get("Size") or 0)))
        for parent in disk.get("Parents") or []:
            size = int(parent.get("FileSize") or 0)
            need.add_file(str(parent["Path"]), size, size)
    if not files:
        need.unread.append("its configuration files: Get-VM reported no paths for it")
    for row in files[:1]:
        if is_share(row.get("ConfigurationLocation")):
            need.shared.append(str(row["ConfigurationLocation"]))
        elif row.get("ConfigurationBytes") is None or row.get("FilesError"):
            need.unread.append(f"its configuration files in {row.get('ConfigurationLocation')}: "
                               f"{row.get('FilesError') or 'not listed'}")
        else:
            need.state += int(row["ConfigurationBytes"])
        if row.get("SmartPagingFileInUse") and not is_share(row.get("SmartPagingFilePath")):
            need.state += int(vm.get("MemoryStartup") or 0)  # the file holds at most the startup memory
    for cp in checkpoints:
        need.checkpoints += 1
        if is_share(cp.get("Path")):
            need.shared.append(f"{cp.get('Path')} (checkpoint {cp.get('Name')})")
        elif cp.get("StateBytes") is None or cp.get("FilesError"):
            need.unread.append(f"checkpoint {cp.get('Name')}: {cp.get('FilesError') or 'its files were not listed'}")
        else:
            need.state += int(cp["StateBytes"])
        for drive in cp.get("HardDrives") or []:
            if drive.get("FileSize") is None and not is_share(drive.get("Path")):
                if str(drive["Path"]).lower() not in need.seen:
                    need.unread.append(f"{drive['Path']} (checkpoint {cp.get('Name')}): no size reported")
                continue
            size = int(drive.get("FileSize") or 0)
            need.add_file(str(drive["Path"]), size, size)
    return need


def _need(vm: Mapping[str, Any], src: RoleFacts) -> Need:
    return need_of(vm, rows_of_vm(vm, src, "vm_hard_disks"), rows_of_vm(vm, src, "vm_files"),
                   rows_of_vm(vm, src, "vm_checkpoints"))


Place = tuple[str, str | None, int | None]  # (kind: no target | share | no volume | volume, volume name, free bytes)


def _place(path: str | None, volumes: list[dict[str, Any]]) -> Place:
    if not path:
        return "no target", None, None
    if is_share(path):
        return "share", None, None
    volume = _volume_of(str(path), volumes)
    if volume is None or volume.get("FreeSpace") is None:
        return "no volume", None, None
    return "volume", str(volume["Name"]), int(volume["FreeSpace"])


def _targets(dst: RoleFacts) -> tuple[Place, Place]:
    """Where the destination keeps new disks and new VM files."""
    host, volumes = dst["vmhost"], dst["volumes"]
    return _place(host.get("VirtualHardDiskPath"), volumes), _place(host.get("VirtualMachinePath"), volumes)


def _largest(src: RoleFacts) -> tuple[int, int, int]:
    """The most any one VM of the source needs: disks grown to their virtual size, VM files, both together."""
    needs = [_need(vm, src) for vm in src["vms"]]
    return (max((n.disks_most for n in needs), default=0), max((n.state for n in needs), default=0),
            max((n.disks_most + n.state for n in needs), default=0))


def _key(src: RoleFacts, dst: RoleFacts) -> Hashable:
    """With the VM's own needs (the VM key), what decides its status: whether every VM of the source fits at its
    largest on both of the destination's volumes ("fits": each VM then passes, is not applicable, or errors by
    its own files alone). Otherwise the pair itself."""
    disks, files = dst.derived("storage:targets", _targets)
    if disks[0] == files[0] == "volume":
        most_disks, most_state, most_both = src.derived("storage:largest", _largest)
        if disks[1] == files[1]:
            fits = most_both <= int(disks[2] or 0)
        else:
            fits = most_disks <= int(disks[2] or 0) and most_state <= int(files[2] or 0)
        if fits:
            return "fits"
    return src.ref.name, dst.ref.name


def _vm_key(vm: Mapping[str, Any], src: RoleFacts) -> Hashable:
    """What the VM's own files decide: the bytes now and at most, the VM files' bytes, anything unsized."""
    n = _need(vm, src)
    return n.disks_now, n.disks_most, n.state, bool(n.unread)


@check(
    id="vm-storage-fits",
    title="VM storage fits on the destination's volumes",
    severity=Severity.HIGH,
    subject=SubjectKind.VM,
    requires=("source.vms", "source.vm_hard_disks", "source.vm_files", "source.vm_checkpoints",
              "destination.vmhost", "destination.volumes"),
    key=_key,
    vm_key=_vm_key,
    rationale="""A shared-nothing live migration (Move-VM -IncludeStorage) copies the VM's storage to the
    destination before it moves the memory: every virtual disk with the whole differencing chain of its
    checkpoints (AVHDX files, and those of other branches of the checkpoint tree), the configuration and
    runtime-state files, each checkpoint's own configuration and saved state, and the smart paging file
    when one is in use. Without -DestinationStoragePath the disks go to the destination's default virtual
    hard disk path (Get-VMHost VirtualHardDiskPath) and the rest to its default virtual machine path
    (VirtualMachinePath); both may be on one volume. Get-VHD gives each disk file's current size
    (FileSize) and the size a dynamic or differencing disk may grow to (Size); the probe lists the VM's
    configuration and checkpoint files (Get-VM paths, Get-VMSnapshot) to size them; a smart paging file in
    use is counted at the VM's startup memory, the most it holds. When the files do not fit on a volume now
    (Win32_Volume FreeSpace at collection time) the move fails part-way: a failure. When they fit now but
    the dynamic disks could outgrow the volume afterwards, a warning (BPA rules 58/59). Files on an SMB
    share stay there and are not counted (vm-smb-storage); pass-through disks are vm-passthrough-devices'.
    A file hvlm could not size is an error, never a pass. The check is per VM; moving several VMs at once
    needs their sum, given in the evidence.""",
    references=(DOCS["move-vm"], DOCS["compare-vm"], DOCS["get-vhd"], DOCS["get-vmsnapshot"]),
    fix_hint="Free space on the destination volume, or move with -DestinationStoragePath on a volume with room.",
)
def run(f: Facts) -> Outcome:
    vm: dict[str, Any] = f.vm or {}
    name = str(vm["Name"])
    dref = f.host("destination")
    disks = rows_of(vm, f["source.vm_hard_disks"])
    need = need_of(vm, disks, rows_of(vm, f["source.vm_files"]), rows_of(vm, f["source.vm_checkpoints"]))
    # what all the source's VMs hold now: one sum per source host, not one per VM subject (VMs x rows each time)
    together = f.derived(f"vm-storage-fits:together:{f.host('source').name}", lambda: sum(
        need_of(v, rows_of(v, f["source.vm_hard_disks"]), rows_of(v, f["source.vm_files"]),
                rows_of(v, f["source.vm_checkpoints"])).disks_now for v in f["source.vms"]))
    host = f["destination.vmhost"]
    vhd_path, vm_path = host.get("VirtualHardDiskPath"), host.get("VirtualMachinePath")
    evidence: dict[str, Any] = {
        "vm": name, "disks": [d.get("Path") for d in disks], "bytes_now": need.disks_now,
        "bytes_at_most": need.disks_most, "state_bytes": need.state, "checkpoints": need.checkpoints,
        "on_shares": need.shared, "destination.VirtualHardDiskPath": vhd_path,
        "destination.VirtualMachinePath": vm_path, "all_source_vms_disk_bytes_now": together}
    if need.unread:
        return Outcome(Status.ERROR, f"Cannot size {name}'s storage: " + "; ".join(need.unread), evidence=evidence)
    if need.nothing:
        what = "on SMB shares, which stay where they are" if need.shared else "none that a storage move copies"
        return Outcome(Status.NOT_APPLICABLE, f"{name} has no file to copy ({what}).", evidence=evidence)
    # what goes where: (what, bytes now, bytes at most, the destination path)
    parts = []
    if need.disks_most:
        parts.append((f"{name}'s disks", need.disks_now, need.disks_most, vhd_path, "VirtualHardDiskPath"))
    if need.state:
        files = "configuration" + (f" and {count(need.checkpoints, 'checkpoint')}" if need.checkpoints else "")
        parts.append((f"its {files}", need.state, need.state, vm_path, "VirtualMachinePath"))
    loads: dict[str, dict[str, Any]] = {}
    on_shares: list[str] = []
    for what, now, most, path, setting in parts:
        if not path:
            return Outcome(Status.ERROR, f"Cannot compare: the default path for {what} on {dref.fqdn} (Get-VMHost "
                           f"{setting}) was not collected.", evidence=evidence)
        kind, volume, free = _place(str(path), f["destination.volumes"])
        if kind == "share":
            on_shares.append(f"{what} ({_size(now)} now, up to {_size(most)}) to the share {path}")
            continue
        if kind != "volume" or volume is None or free is None:
            return Outcome(Status.ERROR, f"Cannot compare: no collected volume of {dref.fqdn} holds {path}.",
                           evidence=evidence)
        load = loads.setdefault(volume, {"now": 0, "most": 0, "free": free, "what": []})
        load["now"] += now
        load["most"] += most
        load["what"].append(f"{what} ({_size(now)}) to {path}")
    evidence["destination.volumes"] = {v: {"FreeSpace": x["free"], "bytes_now": x["now"], "bytes_at_most": x["most"]}
                                       for v, x in loads.items()}
    if vhd_path and not is_share(vhd_path):
        evidence["destination.volume"] = _place(str(vhd_path), f["destination.volumes"])[1]
    return _verdict(f, name, loads, on_shares, evidence)


MiB = 1024**2


def _size(n: int) -> str:
    """A size that hides no small part: MiB below 1 GiB; GiB with a second decimal when one would hide a MiB or more
    (1576.05 GiB for 1576 GiB and 48 MiB, not 1576.0 GiB)."""
    if n < 1024**3:
        return f"{n / MiB:.0f} MiB"
    gb = n / 1024**3
    return f"{gb:.1f} GiB" if abs(round(gb, 1) - gb) * 1024**3 < MiB else f"{gb:.2f} GiB"


def _up(n: int) -> str:
    """A shortfall, rounded up (552.05 GiB needed is "552.1 GiB", never "552.0 GiB"): freeing what it says is enough."""
    if n < 1024**3:
        return f"{math.ceil(n / MiB)} MiB"
    return f"{math.ceil(n * 10 / 1024**3) / 10:.1f} GiB"


def _verdict(f: Facts, name: str, loads: dict[str, dict[str, Any]], on_shares: list[str],
             evidence: dict[str, Any]) -> Outcome:
    dref = f.host("destination")
    short = [(v, x) for v, x in loads.items() if x["now"] > x["free"]]
    grow = [(v, x) for v, x in loads.items() if x["now"] <= x["free"] < x["most"]]

    def said(volume: str, x: dict[str, Any]) -> str:
        return f"volume {volume} of {dref.fqdn} ({_size(x['free'])} free) receives " + " and ".join(x["what"])

    if short:
        volume, x = short[0]
        return Outcome(
            Status.FAIL,
            f"{name} does not fit: {said(volume, x)}, {_size(x['now'])} in all, so a move with its storage fails "
            "part-way." + "".join(f" Also {said(v, y)}." for v, y in short[1:]),
            _fix(f, name, volume, x["now"] - x["free"]),
            evidence,
        )
    if grow:
        volume, x = grow[0]
        return Outcome(
            Status.WARNING,
            f"{name} fits now, but {said(volume, x)}, and its dynamic disks may grow to {_size(x['most'])} in all, "
            "more than the volume holds.",
            _fix(f, name, volume, x["most"] - x["free"]),
            evidence,
            severity=Severity.MEDIUM,
        )
    if on_shares:
        return Outcome(
            Status.WARNING,
            f"{dref.fqdn} keeps new VM files on a share: {'; '.join(on_shares)}; hvlm cannot see a share's free space.",
            _fix(f, name, None, None),
            evidence,
            severity=Severity.LOW,
        )
    where = "; ".join(f"{said(v, x)}, {_size(x['now'])} now, at most {_size(x['most'])}" for v, x in loads.items())
    return Outcome(Status.PASS, f"{name} fits: {where}.", evidence=evidence)


def _fix(f: Facts, name: str, volume: str | None, short: int | None) -> Fix:
    dref = f.host("destination")
    room = f"free at least {_up(short)} more on volume {volume}" if volume and short else "make sure the share has room"
    return on_host(
        dref,
        f"Make room for {name} on {dref.fqdn}: {room}, or move {name} with Move-VM -IncludeStorage "
        "-DestinationStoragePath naming a volume with room. The command lists the destination's volumes, their free "
        "space and its default paths.",
        "$GiB = 1024 * 1024 * 1024\n"
        "Get-CimInstance -ClassName Win32_Volume | Where-Object -Property 'DriveType' -EQ 3 |\n"
        "    Select-Object -Property 'Name', 'Label',\n"
        "        @{Name = 'FreeGiB'; Expression = { [math]::Round($_.FreeSpace / $GiB, 1) }}\n"
        "Get-VMHost | Select-Object -Property 'VirtualHardDiskPath', 'VirtualMachinePath'",
        docs=(DOCS["move-vm"], DOCS["compare-vm"]),
        kind="check",
    )
