"""The VM's memory fits in the destination's free physical memory."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from hvlm.audit.facts import Facts, RoleFacts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Fix, Outcome, Severity, Status, SubjectKind
from hvlm.audit.registry import check
from hvlm.checks._fixes import on_host
from hvlm.checks._versions import is_off

GiB = 1024**3


def _gib(n: int) -> str:
    return f"{n / GiB:.1f} GiB"


def needed(vm: Mapping[str, Any]) -> tuple[int | None, str]:
    """What the destination must hold: the assigned memory of a running VM, else its startup memory."""
    assigned, startup = vm.get("MemoryAssigned"), vm.get("MemoryStartup")
    if str(vm.get("State", "")).startswith("Running") and assigned:
        return int(assigned), "MemoryAssigned (running)"
    return (int(startup) if startup is not None else None), f"MemoryStartup ({vm.get('State')})"


def _largest(src: RoleFacts) -> int:
    return max((n for n, _ in (needed(vm) for vm in src["vms"]) if n is not None), default=0)


def _key(src: RoleFacts, dst: RoleFacts) -> Hashable:
    """"fits" when every VM of the source fits the destination's free memory (the usual case, shared by
    every such pair), else the free memory in bytes, or "unknown" when it was not collected."""
    free_kib = dst["operating_system"].get("FreePhysicalMemory")
    if free_kib is None:
        return "unknown"
    free = int(free_kib) * 1024
    return "fits" if src.derived("largest", _largest) <= free else free


def _vm_key(vm: Mapping[str, Any], src: RoleFacts) -> Hashable:
    """The memory the destination must hold (None: not collected), and whether the VM is Off (not live-migrated)."""
    return needed(vm)[0], is_off(dict(vm))


@check(
    id="vm-memory-fit",
    title="VM memory fits the destination's free memory",
    severity=Severity.MEDIUM,
    subject=SubjectKind.VM,
    requires=("source.vms", "destination.operating_system"),
    rationale="""A live migration copies the VM's memory into memory reserved on the destination;
    without enough free memory it fails before 10% with 0x800705AA or 0x8007000E. A running VM needs
    its currently assigned memory, a saved VM its startup memory to resume there. Free memory
    changes by the minute (FreePhysicalMemory of Win32_OperatingSystem, in KiB, at collection time),
    so a shortfall is a warning, not a failure. A VM that is Off is not live-migrated: its move
    copies no memory, so the check does not apply; if its startup memory would not fit, a low
    warning says it would not start there. The check is per VM: moving several VMs at once needs
    their sum, given in the evidence.""",
    references=(DOCS["ts-lm"], DOCS["ts-2026"]),
    fix_hint="Free memory on the destination (move or stop VMs there) or lower the VM's memory.",
    key=_key,
    vm_key=_vm_key,
)
def run(f: Facts) -> Outcome:
    vm: dict[str, Any] = f.vm or {}
    name = str(vm["Name"])
    dref = f.host("destination")
    free_kib = f["destination.operating_system"].get("FreePhysicalMemory")
    need, basis = needed(vm)
    together = sum(n for n, _ in (needed(v) for v in f["source.vms"]) if n)
    evidence: dict[str, Any] = {"vm": name, "needed_bytes": need, "basis": basis,
                                "destination.FreePhysicalMemory_KiB": free_kib, "all_source_vms_bytes": together}
    if free_kib is None or need is None:
        what = "FreePhysicalMemory of the destination" if free_kib is None else f"the memory size of {name}"
        return Outcome(Status.ERROR, f"Cannot compare memory: {what} was not collected.", evidence=evidence)
    free = int(free_kib) * 1024
    if is_off(vm):
        if need <= free:
            return Outcome(Status.NOT_APPLICABLE, f"{name} is Off: its move copies no memory (it is not live-migrated); "
                           f"its startup memory ({_gib(need)}) fits in {dref.fqdn}'s {_gib(free)} free.", evidence=evidence)
        return Outcome(
            Status.WARNING,
            f"{name} is Off, so its move copies no memory and works, but it would not start on {dref.fqdn}: it needs "
            f"{_gib(need)} ({basis}) and {dref.fqdn} had {_gib(free)} free when collected.",
            _free_fix(f, name, need, free),
            evidence,
            severity=Severity.LOW,
        )
    if need <= free:
        return Outcome(
            Status.PASS,
            f"{name} needs {_gib(need)} ({basis}); {dref.fqdn} has {_gib(free)} free.",
            evidence=evidence,
        )
    return Outcome(
        Status.WARNING,
        f"{name} needs {_gib(need)} ({basis}) but {dref.fqdn} had only {_gib(free)} free when collected.",
        _free_fix(f, name, need, free),
        evidence,
    )


def _free_fix(f: Facts, name: str, need: int, free: int) -> Fix:
    dref = f.host("destination")
    return on_host(
        dref,
        f"Free at least {_gib(need - free)} more on {dref.fqdn} (move, stop or shrink VMs there), or lower "
        f"{name}'s memory on the source before the move. The command lists the destination's VMs by "
        "assigned memory and its free memory now.",
        "$GiB = 1024 * 1024 * 1024\n"
        "Get-VM | Sort-Object -Property 'MemoryAssigned' -Descending |\n"
        "    Select-Object -Property 'Name', 'State',\n"
        "        @{Name = 'AssignedGiB'; Expression = { [math]::Round($_.MemoryAssigned / $GiB, 1) }}\n"
        "$freeKiB = (Get-CimInstance -ClassName Win32_OperatingSystem).FreePhysicalMemory\n"
        "'Free GiB: ' + [math]::Round($freeKiB * 1024 / $GiB, 1)",
        docs=(DOCS["ts-lm"],),
        kind="check",
    )
