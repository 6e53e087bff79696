"""A planned move between two Windows Server releases is possible for the VMs on the source."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from hvlm.audit.facts import Facts, RoleFacts
from hvlm.audit.knowledge import DOCS, OS_BY_BUILD, os_release
from hvlm.audit.model import Fix, Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_array, ps_quote
from hvlm.audit.registry import check
from hvlm.checks._fixes import on_host
from hvlm.checks._versions import HostVersions, host_versions, join_or, key, norm, releases_supporting, side_versions


def _vm_versions(src: RoleFacts) -> frozenset[str] | None:
    vms = src["vms"]  # optional: None when not collected
    return None if vms is None else frozenset(norm(vm["Version"]) for vm in vms)


def _source_part(src: RoleFacts) -> Hashable:
    return side_versions(src), _vm_versions(src)


@check(
    id="pair-os-direction",
    title="Move between OS releases possible for the source's VMs",
    severity=Severity.HIGH,
    subject=SubjectKind.PAIR,
    requires=(
        "source.operating_system",
        "source.supported_versions?",
        "destination.operating_system",
        "destination.supported_versions?",
        "source.vms?",
    ),
    rationale="""Microsoft documents live migration between hosts running Windows Server 2012 R2 and
    later, but only for a VM whose configuration version the destination runs: a move to an older
    release works only while the VM has not been upgraded past what that release runs, and 2022 and
    2025 dropped 5.0-7.1. This check judges the pair of releases itself: it fails only when the two
    releases share no configuration version (no VM could ever make that move, e.g. 2022 to 2012
    R2), and passes a supported pair (2019 to 2022) however many of today's VMs are blocked: it
    names them in the message and evidence, but each blocked VM is vm-config-version's failure,
    with its fix (one cause, one failure). A host outside the documented matrix (Windows Server
    2012, an unknown build) gives a warning: the direction cannot be confirmed. The VM list is
    optional: without it the pair is still judged.""",
    references=(DOCS["setup"], DOCS["vmversion"], DOCS["supported-version"]),
    fix_hint="Plan the blocked VMs to a release that runs their version; see vm-config-version for each VM.",
    parts=(_source_part, side_versions),
)
def run(f: Facts) -> Outcome:
    sref, dref = f.host("source"), f.host("destination")
    src, dst = host_versions(f, "source"), host_versions(f, "destination")
    listed = f.optional("source.vms")
    vms = [(str(vm["Name"]), norm(vm["Version"])) for vm in listed or []]
    direction = _direction(src, dst)
    evidence: dict[str, Any] = {
        "direction": direction, "source": src.evidence(), "destination": dst.evidence(),
        "vms": [{"Name": n, "Version": v} for n, v in vms],
    }
    label = f"{sref.fqdn} ({src.release}) -> {dref.fqdn} ({dst.release})"
    outside = [h for h in (src, dst) if not ((r := os_release(h.build)) and r.supported)]
    if outside or src.versions is None or dst.versions is None:
        why = ", ".join(h.release for h in outside) or "the supported versions are unknown"
        return Outcome(
            Status.WARNING,
            f"{label}: cannot confirm this direction ({why} is outside Microsoft's documented matrix for "
            "non-clustered live migration).",
            _compare(f, [n for n, _ in vms]),
            evidence,
        )
    shared = sorted(src.versions & dst.versions, key=key)
    evidence["shared_versions"] = shared
    blocked = [(n, v) for n, v in vms if v not in dst.versions]
    evidence["blocked"] = [{"Name": n, "Version": v} for n, v in blocked]
    if not shared:
        return Outcome(
            Status.FAIL,
            f"{label}: the two releases share no VM configuration version, so no VM of {sref.fqdn} can ever "
            f"move to {dref.fqdn}.",
            _replan(f, src, dst, blocked),
            evidence,
        )
    span = f"{shared[0]}-{shared[-1]}" if len(shared) > 1 else shared[0]
    if blocked:
        names = ", ".join(f"{n} ({v})" for n, v in blocked)
        return Outcome(
            Status.PASS,
            f"{label} ({direction}) is a supported pair: the releases share configuration versions {span}. "
            f"{len(blocked)} of {len(vms)} VMs are at a version {dref.fqdn} does not run ({names}); "
            "vm-config-version fails each of them with its fix.",
            evidence=evidence,
        )
    note = ""
    if direction == "to a newer release":
        note = f" Keep them at their versions (no Update-VMVersion) while they may need to move back to {sref.fqdn}."
    if vms:
        versions = ", ".join(sorted({v for _, v in vms}, key=key))
        message = f"{label} ({direction}): all {len(vms)} VMs (versions {versions}) run on {dref.fqdn}.{note}"
    elif listed is None:
        err = f.unavailable("source.vms")
        evidence["vms"] = f"not collected ({err.message if err else 'unknown'})"
        message = (f"{label} ({direction}) is a supported pair: the releases share configuration versions {span} "
                   f"({sref.fqdn}'s VMs were not collected; vm-config-version judges each VM).")
    else:
        message = f"{label} ({direction}): {sref.fqdn} has no VMs now; the releases share versions {span}."
    return Outcome(
        Status.PASS,
        message,
        evidence=evidence,
    )


def _build(release: str) -> int:
    return next(b for b, r in OS_BY_BUILD.items() if r.name == release)


def _direction(src: HostVersions, dst: HostVersions) -> str:
    if not (src.build.isdigit() and dst.build.isdigit()) or src.build == dst.build:
        return "same release" if src.build == dst.build else "unknown"
    return "to a newer release" if int(dst.build) > int(src.build) else "to an older release"


def _compare(f: Facts, names: list[str]) -> Fix:
    dst = f.host("destination")
    return on_host(
        f.host("source"),
        f"Ask Hyper-V on the source whether {dst.fqdn} accepts each VM: Compare-VM lists every incompatibility.",
        f"foreach ($name in {ps_array(names) if names else '(Get-VM).Name'}) {{\n"
        f"    (Compare-VM -Name $name -DestinationHost {ps_quote(dst.fqdn)}).Incompatibilities |\n"
        "        Format-Table -Property 'MessageId', 'Message' -AutoSize\n"
        "}",
        docs=(DOCS["compare-vm"], DOCS["setup"]),
        kind="check",
    )


def _replan(f: Facts, src: HostVersions, dst: HostVersions, blocked: list[tuple[str, str]]) -> Fix:
    sref, dref = f.host("source"), f.host("destination")
    homes = sorted({r for _, v in blocked for r in releases_supporting(v)} - {dst.release})
    # an upgrade project is not sent back to older releases unless nothing newer runs the VMs
    onward = [r for r in homes if src.build.isdigit() and _build(r) >= int(src.build)]
    homes = onward or homes
    where = f" to hosts running {join_or(homes)}" if homes else ""
    return on_host(
        sref,
        f"Re-plan the VMs {dref.fqdn} ({dst.release}) cannot run{where}, or upgrade their configuration versions "
        "on the source with the VM off (one-way; vm-config-version gives the exact commands per VM). The command "
        "lists each VM's version.",
        "Get-VM | Select-Object -Property 'Name', 'Version', 'State'",
        docs=(DOCS["vmversion"], DOCS["update-vmversion"]),
        kind="check",
    )
