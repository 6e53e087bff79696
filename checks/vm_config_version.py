"""Each VM's configuration version is one the destination host can run."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from hvlm.audit.facts import Facts, RoleFacts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Fix, Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_array, ps_quote
from hvlm.audit.registry import check
from hvlm.audit.words import noun
from hvlm.checks._fixes import HOST_ADMIN, on_host
from hvlm.checks._keys import nothing
from hvlm.checks._versions import (
    HostVersions,
    host_versions,
    join_or,
    key,
    norm,
    releases_supporting,
    side_versions,
    upgrade_hosts,
)
from hvlm.checks._vmsteps import stop_change_start, vm_loop

_DOCS = (DOCS["vmversion"], DOCS["update-vmversion"])


def _vm_key(vm: Mapping[str, Any], src: RoleFacts) -> Hashable:
    return norm(vm["Version"])


@check(
    id="vm-config-version",
    title="VM configuration version supported by the destination",
    severity=Severity.CRITICAL,
    subject=SubjectKind.VM,
    requires=(
        "source.vms",
        "source.operating_system",
        "source.supported_versions?",
        "destination.operating_system",
        "destination.supported_versions?",
    ),
    rationale="""A host can only run, import or receive a VM whose configuration version is in its
    supported set (Get-VMHostSupportedVersion). Windows Server 2012 R2 runs only 5.0, 2016 runs
    5.0-8.0, 2019 5.0-9.0, 2022 8.0-10.0 and 2025 8.0-12.0, so a 5.0-7.1 VM cannot move to 2022 or
    2025 and a VM is never moved to an older host that lacks its version. Moving does not upgrade a
    VM; Update-VMVersion does, one way, with the VM off, to the version of the host it runs on. The
    destination's live list is used when collected, else Microsoft's documented table, and the
    evidence says which. Version 4.0 (Windows Server 2012) to 2012 R2 is only described by a
    third-party source, so it is a warning. This check gives the verdict and the fix per VM;
    pair-os-direction only summarises a pair and judges whether the two releases share any
    version at all.""",
    references=(DOCS["vmversion"], DOCS["update-vmversion"], DOCS["supported-version"], DOCS["setup"]),
    fix_hint="Update-VMVersion on the source with the VM off (one-way), or plan a destination that runs the version.",
    parts=(nothing, side_versions),
    vm_key=_vm_key,
)
def run(f: Facts) -> Outcome:
    vm: dict[str, Any] = f.vm or {}
    name = str(vm["Name"])
    version = norm(vm["Version"])
    src, dst = host_versions(f, "source"), host_versions(f, "destination")
    dref = f.host("destination")
    evidence: dict[str, Any] = {"vm": name, "Version": version, "destination": dst.evidence()}
    where = f"{dref.fqdn} ({dst.release})"
    if dst.versions is None:
        return Outcome(
            Status.WARNING,
            f"Cannot tell whether {where} runs configuration version {version} of {name}: "
            f"{dst.basis}.",
            _compare(f, name),
            evidence,
        )
    table = "" if dst.basis.startswith("Get-VMHostSupportedVersion on") else f" (from the documented table: {dst.basis})"
    if version in dst.versions:
        return Outcome(
            Status.PASS,
            f"{name} is at configuration version {version}, which {where} runs{table}.",
            evidence=evidence,
        )
    if key(version) < (5, 0) and dst.build == "9600":
        return Outcome(
            Status.WARNING,
            f"{name} is at configuration version {version} (Windows Server 2012). Microsoft does not document "
            f"it for {where}; a third-party source says 2012 R2 accepts such VMs from 2012 and upgrades "
            "them to 5.0. Confirm with Compare-VM before the change window.",
            _compare(f, name),
            evidence,
        )
    span = f"{dst.lowest}-{dst.highest}" if dst.lowest != dst.highest else f"only {dst.lowest}"
    message = f"{name} is at configuration version {version}; {where} runs {span}{table}, so {name} cannot move there."
    candidates = _candidates(f, version)
    evidence["inventory_hosts_that_run_it"] = candidates
    if candidates:
        message += f" Inventory hosts that run {version}: {', '.join(candidates)}."
    return Outcome(Status.FAIL, message, _fix(f, name, version, src, dst, candidates), evidence)


def _candidates(f: Facts, version: str) -> list[str]:
    """Other inventory hosts whose collected Get-VMHostSupportedVersion lists the VM's version."""
    skip = {f.host("source").name, f.host("destination").name}

    def index() -> dict[str, list[str]]:
        by_version: dict[str, list[str]] = {}
        for host, rows in sorted(f.across_inventory("destination.supported_versions").items()):
            for v in {norm(r["Version"]) for r in rows}:
                by_version.setdefault(v, []).append(host)
        return by_version

    return [h for h in f.derived("hosts-by-supported-version", index).get(version, []) if h not in skip]


def _compare(f: Facts, name: str) -> Fix:
    """For an unconfirmed verdict: ask Hyper-V itself, on the source, before the move."""
    dst = f.host("destination")
    return on_host(
        f.host("source"),
        f"Ask Hyper-V on the source whether {dst.fqdn} accepts {name}: Compare-VM lists every "
        "incompatibility (none means the move can start).",
        f"$report = Compare-VM -Name {ps_quote(name)} -DestinationHost {ps_quote(dst.fqdn)}\n"
        "$report.Incompatibilities | Format-Table -Property 'MessageId', 'Message' -AutoSize",
        docs=(DOCS["compare-vm"], DOCS["vmversion"]),
        kind="check",
    )


def _update(name: str) -> str:
    """Update-VMVersion with the VM off: skipped when the VM already has this host's default version."""
    return stop_change_start(
        name, "Update-VMVersion -VM $vm",
        "[version]\"$($vm.Version)\" -ge (Get-VMHostSupportedVersion -Default).Version",
        "{0} already has this host's default configuration version: nothing to do.",
        no_saved_checkpoints=True,
    )


def _shut_down_and_list(name: str) -> str:
    """Shut the VM down (if it runs) and list its disks, to copy them to a new VM on the destination."""
    return vm_loop(
        ps_array([name]), done_if=None, done="",
        act=["    if (\"$($vm.State)\" -eq 'Running') { Stop-VM -VM $vm }",
             "    Get-VMHardDiskDrive -VM $vm | Select-Object -Property 'Path'"],
    )


def _fix(f: Facts, name: str, version: str, src: HostVersions, dst: HostVersions, candidates: list[str]) -> Fix:
    sref, dref = f.host("source"), f.host("destination")
    assert dst.versions is not None and dst.highest is not None
    if key(version) > key(dst.highest) and candidates:
        target = candidates[0]
        return on_host(
            sref,
            f"Configuration versions cannot be lowered. Plan {name} (version {version}) to "
            f"{' or '.join(candidates)}, which {noun(len(candidates), 'runs', 'run')} {version}, "
            f"instead of {dref.fqdn} ({dst.release}, up to "
            f"{dst.highest}). The command checks the move to {target} first.",
            f"$report = Compare-VM -Name {ps_quote(name)} -DestinationHost {ps_quote(target)}\n"
            "$report.Incompatibilities | Format-Table -Property 'MessageId', 'Message' -AutoSize",
            docs=(DOCS["compare-vm"], DOCS["vmversion"]),
            kind="check",
        )
    if key(version) > key(dst.highest):
        others = [r for r in releases_supporting(version) if r != dst.release]
        return Fix(
            summary=f"Configuration versions cannot be lowered. Plan {name} (version {version}) to a host "
            f"running {join_or(others) or 'a newer release'} instead of {dref.fqdn} ({dst.release}, up to "
            f"{dst.highest}); confirm on the candidate host that it runs {version}.",
            run_on=f"the candidate destination ({join_or(others) or 'a newer release'})",
            run_as=HOST_ADMIN,
            powershell=f"(Get-VMHostSupportedVersion).Version -contains [version]{ps_quote(version)}",
            docs=(DOCS["supported-version"], DOCS["vmversion"]),
            kind="check",
        )
    if src.default and src.default in dst.versions and key(src.default) > key(version):
        lost = [r for r in releases_supporting(version) if r not in releases_supporting(src.default)]
        after = f" Afterwards {name} can no longer run on {join_or(lost)}." if lost else ""
        return on_host(
            sref,
            f"Upgrade {name} on {sref.fqdn} ({src.release}) to configuration version {src.default}, which "
            f"{dref.fqdn} runs. Update-VMVersion is one-way and needs the VM shut down (and no checkpoint "
            f"with saved state).{after} The step skips {name} if it already has that version and refuses it "
            "when it is not found, neither Running nor Off, busy, or has checkpoints with saved state.",
            _update(name),
            docs=_DOCS,
            gui="Hyper-V Manager > shut the VM down > Upgrade Configuration Version",
            requires_vm_off=True,
            vms=(name,),
        )
    via = [r for r in upgrade_hosts(version, dst.versions) if r != src.release]
    if via:
        return Fix(
            summary=f"{sref.fqdn} ({src.release}) cannot upgrade {name} beyond {src.default}. Move {name} first "
            f"to a host running {join_or(via)}, upgrade it there with the VM shut down (Update-VMVersion is "
            f"one-way), then move it on to {dref.fqdn}.",
            run_on=f"the {join_or(via)} host that received {name}",
            run_as=HOST_ADMIN,
            powershell=_update(name),
            docs=_DOCS,
            gui="Hyper-V Manager > shut the VM down > Upgrade Configuration Version",
            requires_vm_off=True,
            kind="disruptive",
            vms=(name,),
        )
    return on_host(
        sref,
        f"No documented release runs {name}'s version {version} and upgrades it to a version {dref.fqdn} "
        f"runs. Re-create the VM on {dref.fqdn} and attach copies of its virtual disks (a cold move); "
        "the commands shut it down and list the disks to copy.",
        _shut_down_and_list(name),
        docs=_DOCS,
        requires_vm_off=True,
        vms=(name,),
    )
