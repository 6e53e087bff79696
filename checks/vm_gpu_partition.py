"""A VM with a GPU partition (GPU-P) can be live-migrated: Windows Server 2025 on both hosts, VM version
12.0, the source's adapter supports outgoing live migration, the destination has the same GPU."""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from typing import Any

from hvlm.audit.facts import Facts, HostRef, RoleFacts
from hvlm.audit.knowledge import DOCS, os_release, parse_version
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_quote
from hvlm.audit.registry import check
from hvlm.checks._ad import os_build, unavailable
from hvlm.checks._fixes import on_host
from hvlm.checks._keys import rows_of_vm
from hvlm.checks._vmfacts import rows_of

FIRST_BUILD = 26100  # Windows Server 2025: live migration of GPU-P VMs
FIRST_VERSION = (12, 0)
_MODEL = re.compile(r"VEN_([0-9A-F]{4})&DEV_([0-9A-F]{4})", re.IGNORECASE)

Gpu = tuple[str | None, int]  # (model "VEN_10DE&DEV_25B6" or None, partition count)


def model(instance_path: str | None) -> str | None:
    """The GPU model in a device instance path: its PCI vendor and device IDs."""
    match = _MODEL.search(instance_path or "")
    return f"VEN_{match.group(1).upper()}&DEV_{match.group(2).upper()}" if match else None


def _gpus(side: RoleFacts) -> tuple[Gpu, ...] | None:
    rows = side["partitionable_gpus"]
    return None if rows is None else tuple((model(g.get("Name")), int(g.get("PartitionCount") or 0)) for g in rows)


def _build(side: RoleFacts) -> int | None:
    return os_build(side["operating_system"], None)[0]


def in_use(vms: list[dict[str, Any]] | None, adapters: list[dict[str, Any]] | None,
           gpus: tuple[Gpu, ...]) -> dict[str | None, list[str]] | None:
    """GPU model -> the running (or paused) VMs of a host that hold a partition of it; an adapter without an
    instance path counts for the host's only model. None when either table is missing."""
    if vms is None or adapters is None:
        return None
    running = {str(v.get("Id", "")).lower(): str(v["Name"]) for v in vms if v.get("State") in ("Running", "Paused")}
    models = {g[0] for g in gpus if g[0] is not None}
    only_model = next(iter(models)) if len(models) == 1 else None
    out: dict[str | None, list[str]] = {}
    for a in adapters:
        holder = running.get(str(a.get("VMId", "")).lower())
        if holder is not None:
            out.setdefault(model(a.get("InstancePath")) or only_model, []).append(holder)
    return out


def _part(side: RoleFacts) -> Hashable:
    """One end's build, partitionable GPUs and partitions in use, once per host."""
    def compute(s: RoleFacts) -> Hashable:
        gpus = _gpus(s)
        used = in_use(s["vms"], s["vm_gpu_partitions"], gpus or ())
        return _build(s), gpus, None if used is None else tuple(sorted((str(k), len(v)) for k, v in used.items()))

    return side.derived("gpu:part", compute)


def _vm_key(vm: Mapping[str, Any], src: RoleFacts) -> Hashable:
    """The VM's version and each adapter's GPU model and outgoing-migration support; none: it passes."""
    adapters = rows_of_vm(vm, src, "vm_gpu_partitions")
    if not adapters:
        return None
    return str(vm.get("Version")), tuple((model(a.get("InstancePath")), a.get("SupportsOutgoingLiveMigration"))
                                         for a in adapters)


def _release(build: int | None) -> str:
    release = os_release(build) if build is not None else None
    return release.name if release else f"build {build}"


def _source_gpu(adapter: Mapping[str, Any], src_gpus: tuple[Gpu, ...]) -> Gpu | None:
    """The source GPU the adapter's partition comes from: by its instance path's model, else the source's only model."""
    wanted = model(adapter.get("InstancePath"))
    if wanted is not None:
        return next((g for g in src_gpus if g[0] == wanted), (wanted, 0))
    models = {g for g in src_gpus if g[0] is not None}
    return next(iter(models)) if len(models) == 1 else None


@check(
    id="vm-gpu-partition",
    title="VM with a GPU partition: both hosts can live-migrate it",
    severity=Severity.HIGH,
    subject=SubjectKind.VM,
    requires=("source.vms", "source.vm_gpu_partitions", "source.operating_system?", "source.partitionable_gpus?",
              "destination.operating_system?", "destination.partitionable_gpus?", "destination.vms?",
              "destination.vm_gpu_partitions?"),
    parts=(_part, _part),
    vm_key=_vm_key,
    rationale="""A VM with a GPU partition adapter (GPU-P, Get-VMGpuPartitionAdapter) can be live-migrated from
    Windows Server 2025 on: both hosts must run 2025, the VM must be at configuration version 12.0, and both
    hosts need processors with IOMMU DMA bit tracking (Intel VT-d, AMD-Vi) and a GPU driver that supports
    migration. Windows Server 2025 reports the source's side as the adapter's SupportsOutgoingLiveMigration,
    which Microsoft says "can be used to pre-validate a live migration". The destination must offer a
    partition of the same GPU: Microsoft asks for the same make and model with the same partition count
    (Get-VMHostPartitionableGpu) on every host, and a partition the VM can take: when running VMs of the
    destination hold every partition of that GPU, the VM has no partition to land on. hvlm compares the
    GPU model (the PCI vendor and device IDs of the device instance path), the partition count and the
    partitions held by the destination's running VMs; it cannot read whether the destination's driver
    supports migration. Any unmet requirement is a failure: the VM then moves only shut down (a cold move)
    or without its partition. Such a move also runs over TCP/IP with compression whatever the performance
    option says. VMs without a GPU partition pass.""",
    references=(DOCS["gpu-partitioning"], DOCS["get-vmgpupartitionadapter"], DOCS["get-vmhostpartitionablegpu"],
                DOCS["vmversion"]),
    fix_hint="Meet each GPU-P requirement (2025 on both hosts, version 12.0, driver and IOMMU, same GPU), or cold-move.",
)
def run(f: Facts) -> Outcome:
    vm: dict[str, Any] = f.vm or {}
    name = str(vm["Name"])
    adapters = rows_of(vm, f["source.vm_gpu_partitions"])
    evidence: dict[str, Any] = {"vm": name, "Version": vm.get("Version"), "adapters": [
        {"InstancePath": a.get("InstancePath"), "SupportsOutgoingLiveMigration": a.get("SupportsOutgoingLiveMigration")}
        for a in adapters]}
    if not adapters:
        return Outcome(Status.PASS, f"{name} has no GPU partition adapter.", evidence=evidence)
    for fact in ("source.operating_system", "destination.operating_system", "source.partitionable_gpus",
                 "destination.partitionable_gpus", "destination.vms", "destination.vm_gpu_partitions"):
        if f.optional(fact) is None:
            return unavailable(f, fact)
    src, dst = f.host("source"), f.host("destination")
    builds = {role: os_build(f.optional(f"{role}.operating_system"), None)[0] for role in ("source", "destination")}
    src_gpus = tuple((model(g.get("Name")), int(g.get("PartitionCount") or 0)) for g in f["source.partitionable_gpus"])
    dst_gpus = tuple((model(g.get("Name")), int(g.get("PartitionCount") or 0))
                     for g in f["destination.partitionable_gpus"])
    dst_names = {model(g.get("Name")): str(g.get("Name")) for g in f["destination.partitionable_gpus"]}
    busy = in_use(f["destination.vms"], f["destination.vm_gpu_partitions"], dst_gpus) or {}
    evidence["destination.partitions_in_use"] = {str(k): v for k, v in busy.items()}
    evidence.update({"source.build": builds["source"], "destination.build": builds["destination"],
                     "source.gpus": [list(g) for g in src_gpus], "destination.gpus": [list(g) for g in dst_gpus]})
    problems: list[str] = []
    unmet: list[str] = []
    repartition: tuple[str | None, int | None] = (None, None)
    old = [f"{ref.fqdn} runs {_release(builds[role])}" for role, ref in (("source", src), ("destination", dst))
           if (builds[role] or 0) < FIRST_BUILD]
    if old:
        problems.append("live migration with a GPU partition needs Windows Server 2025 on both hosts, and "
                        + " and ".join(old))
        unmet.append("Windows Server 2025 on both hosts (an in-place upgrade or a new host)")
    try:
        version_ok = parse_version(str(vm.get("Version"))) >= FIRST_VERSION
    except ValueError:
        version_ok = False
    if not version_ok:
        problems.append(f"its configuration version is {vm.get('Version')}, and live migration with a GPU partition "
                        "needs 12.0")
        unmet.append(f"configuration version 12.0 (now {vm.get('Version')}): Update-VMVersion -Name {ps_quote(name)} "
                     "with the VM off, on a 2025 host; one way only")
    for a in adapters:
        outgoing = a.get("SupportsOutgoingLiveMigration")
        label = a.get("InstancePath") or a.get("Id") or "its GPU partition adapter"
        if outgoing is False:
            problems.append(f"{src.fqdn} reports SupportsOutgoingLiveMigration False for {label}: its GPU driver or "
                            "processor (IOMMU DMA bit tracking) does not support the migration")
            unmet.append(f"SupportsOutgoingLiveMigration True on {src.fqdn}: a GPU driver with live migration support "
                         "and IOMMU (Intel VT-d, AMD-Vi) enabled in the firmware")
        elif outgoing is None and not old:
            return Outcome(Status.ERROR, f"could not check: {src.fqdn} runs Windows Server 2025 but did not report "
                           f"SupportsOutgoingLiveMigration for {name}'s {label}.", evidence=evidence)
        gpu = _source_gpu(a, src_gpus)
        same = [g for g in dst_gpus if gpu is None or g[0] == gpu[0]]
        if not same:
            offered = ", ".join(sorted({str(g[0]) for g in dst_gpus})) or "none"
            wanted = f"partitionable {gpu[0]} GPU" if gpu else "partitionable GPU"
            problems.append(f"{dst.fqdn} has no {wanted} (its partitionable GPUs: {offered})")
            unmet.append(f"a {wanted} on {dst.fqdn}, with the same partition count as on {src.fqdn}")
        elif gpu is not None and gpu[1] and not any(g[1] == gpu[1] for g in same):
            problems.append(f"{dst.fqdn}'s {gpu[0]} GPU is set to {same[0][1]} partitions, {src.fqdn}'s to {gpu[1]}")
            unmet.append(f"the same partition count on both hosts: {gpu[1]} on {src.fqdn}, {same[0][1]} on {dst.fqdn}")
            repartition = (dst_names.get(gpu[0]), gpu[1])
        else:
            capacity = sum(g[1] for g in same)
            holders = [vm_name for m, names in busy.items() if gpu is None or m == gpu[0] for vm_name in names]
            if capacity and len(holders) >= capacity:
                which = f"{gpu[0]} GPU" if gpu else "partitionable GPU"
                problems.append(f"all {capacity} partitions of {dst.fqdn}'s {which} are held by running VMs "
                                f"({', '.join(sorted(holders))})")
                unmet.append(f"a free partition on {dst.fqdn}: shut down or move one of "
                             f"{', '.join(sorted(holders))} first")
    if not problems:
        return Outcome(Status.PASS, f"{name}'s GPU partition can move live: both hosts run Windows Server 2025, "
                       f"version {vm.get('Version')}, outgoing migration supported, the same GPU with the same "
                       f"partition count on {dst.fqdn} (its driver's migration support is not visible to hvlm).",
                       evidence=evidence)
    evidence["problems"] = problems
    return Outcome(
        Status.FAIL,
        f"{name} has a GPU partition and cannot be live-migrated to {dst.fqdn}: " + "; ".join(problems) + ".",
        on_host(src, f"Decide how {name} moves: shut down (a cold move), or once each GPU partitioning requirement "
                "is met on both hosts.", _steps(name, dst, unmet, *repartition), docs=(
                    DOCS["gpu-partitioning"], DOCS["get-vmgpupartitionadapter"], DOCS["set-vmhostpartitionablegpu"]),
                kind="manual", live_only=True,
                cold_move=f"{name}'s GPU partition does not meet the requirements of a live move (vm-gpu-partition)"),
        evidence,
    )


def _steps(name: str, dst: HostRef, unmet: list[str], gpu_name: str | None, count: int | None) -> str:
    """Comments naming each unmet requirement with what meets it, then read-only commands that show both sides."""
    lines = [f"# {name} moves live with its GPU partition only when every requirement holds; until then shut it down",
             "# and move it offline, or remove its partition adapter (VM off) and add one on the destination. To meet:"]
    lines += [f"# - {item}" for item in unmet]
    if gpu_name is not None and count:
        lines += [f"#   on {dst.fqdn}, once no running VM uses a partition of that GPU:",
                  f"#   Set-VMHostPartitionableGpu -Name {ps_quote(gpu_name)} -PartitionCount {int(count)}"]
    lines += [
        f"Get-VMGpuPartitionAdapter -VMName {ps_quote(name)} |",
        "    Format-List -Property 'InstancePath', 'SupportsOutgoingLiveMigration'",
        "Get-VMHostPartitionableGpu | Format-List -Property 'Name', 'PartitionCount', 'ValidPartitionCounts'",
        f"Invoke-Command -ComputerName {ps_quote(dst.fqdn)} -ScriptBlock {{",
        "    Get-VMHostPartitionableGpu | Format-List -Property 'Name', 'PartitionCount', 'ValidPartitionCounts'",
        "}",
    ]
    return "\n".join(lines)
