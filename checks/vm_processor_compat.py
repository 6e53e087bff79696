"""A VM moving between different processor models has processor compatibility for migration on."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from hvlm.audit.facts import Facts, RoleFacts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.registry import check
from hvlm.checks._fixes import on_host
from hvlm.checks._versions import is_off, norm, side_versions, too_new_for
from hvlm.checks._vmsteps import stop_change_start


def _model(name: object) -> str:
    return " ".join(str(name).split()).lower()


def _cpu(side: RoleFacts) -> tuple[str, str]:
    p = side["processor"]
    return str(p["Manufacturer"]).strip().lower(), _model(p["Name"])


def _dst_part(dst: RoleFacts) -> Hashable:
    return _cpu(dst), None if dst["operating_system"] is None else side_versions(dst)


def _vm_key(vm: Mapping[str, Any], src: RoleFacts) -> Hashable:
    """CompatibilityForMigrationEnabled (not collected, on, or anything else), Off or not, and the version."""
    compat = vm.get("CompatibilityForMigrationEnabled")
    return None if compat is None else compat is True, is_off(dict(vm)), norm(vm["Version"])


@check(
    id="vm-processor-compat",
    title="Processor compatibility for migration between different CPU models",
    severity=Severity.HIGH,
    subject=SubjectKind.VM,
    requires=(
        "source.vms",
        "source.processor",
        "destination.processor",
        "destination.operating_system?",
        "destination.supported_versions?",
    ),
    rationale="""Before a live migration Hyper-V compares the processor features the VM sees with
    those of the destination and cancels the move on a mismatch ("The hardware on the destination
    computer is not compatible..."). Processor compatibility for migration limits the VM to a common
    feature set; it can only be changed with the VM off and costs some performance, so Microsoft
    suggests enabling it around migrations. Identical models pass. Different models with the setting
    off give a warning rather than a failure: the model name is only a proxy, since two models of
    one generation can expose the same features and a move to a newer processor often succeeds while
    the way back fails; Compare-VM or the move itself is the proof. Different manufacturers are
    pair-cpu-vendor's finding (compatibility mode cannot bridge them), so this check does not apply
    there. Nor does it apply to a VM that is Off (it is moved cold and starts on the destination's
    processor: no running state to match) or to a VM whose configuration version is newer than the
    destination runs (it cannot move there at all: vm-config-version's failure).""",
    references=(DOCS["processor-compat"], DOCS["set-vmprocessor"], DOCS["use"]),
    fix_hint="With the VM off: Set-VMProcessor -CompatibilityForMigrationEnabled $true.",
    parts=(_cpu, _dst_part),
    vm_key=_vm_key,
)
def run(f: Facts) -> Outcome:
    vm: dict[str, Any] = f.vm or {}
    name = str(vm["Name"])
    sref, dref = f.host("source"), f.host("destination")
    sp, dp = f["source.processor"], f["destination.processor"]
    compat = vm.get("CompatibilityForMigrationEnabled")
    evidence: dict[str, Any] = {
        "vm": name,
        "CompatibilityForMigrationEnabled": compat,
        "source.processor": sp["Name"],
        "destination.processor": dp["Name"],
    }
    if is_off(vm):
        return Outcome(
            Status.NOT_APPLICABLE,
            f"{name} is Off: it is not live-migrated but moved cold, and starts on {dref.fqdn}'s processor, so "
            "processor compatibility does not matter for this move.",
            evidence={**evidence, "State": vm.get("State")},
        )
    blocked = too_new_for(f, "destination", str(vm["Version"]))
    if blocked is not None:
        return Outcome(
            Status.NOT_APPLICABLE,
            f"{name} (configuration version {norm(vm['Version'])}) cannot move to {dref.fqdn} ({blocked.release}, up "
            f"to {blocked.highest}) at all: vm-config-version reports that; processor compatibility is moot.",
            evidence={**evidence, "Version": norm(vm["Version"]), "see": "vm-config-version"},
        )
    if str(sp["Manufacturer"]).strip().lower() != str(dp["Manufacturer"]).strip().lower():
        return Outcome(
            Status.NOT_APPLICABLE,
            f"{sref.fqdn} ({sp['Manufacturer']}) and {dref.fqdn} ({dp['Manufacturer']}) differ in manufacturer; "
            "compatibility mode cannot bridge that (see pair-cpu-vendor).",
            evidence=evidence,
        )
    if _model(sp["Name"]) == _model(dp["Name"]):
        return Outcome(Status.PASS, f"{sref.fqdn} and {dref.fqdn} have the same processor model.", evidence=evidence)
    if compat is None:
        return Outcome(
            Status.ERROR,
            f"The processors differ and CompatibilityForMigrationEnabled of {name} was not collected.",
            evidence=evidence,
        )
    if compat is True:
        return Outcome(
            Status.PASS,
            f"The processors differ and {name} has processor compatibility for migration enabled.",
            evidence=evidence,
        )
    return Outcome(
        Status.WARNING,
        f"{name} moves between different processor models ({sp['Name']} -> {dp['Name']}) without processor "
        "compatibility for migration; Hyper-V cancels the move if the destination lacks a feature the VM uses.",
        on_host(
            sref,
            f"Shut {name} down, enable processor compatibility for migration, start it again (if it was running). "
            "Skips it when already enabled; refuses it when it is not found, neither Running nor Off, or busy.",
            stop_change_start(name, "Set-VMProcessor -VM $vm -CompatibilityForMigrationEnabled $true",
                              "(Get-VMProcessor -VM $vm).CompatibilityForMigrationEnabled",
                              "{0} already has processor compatibility for migration: nothing to do."),
            docs=(DOCS["processor-compat"], DOCS["set-vmprocessor"]),
            gui="Hyper-V Manager > VM Settings > Processor > Compatibility > "
            "Migrate to a physical computer with a different processor version",
            requires_vm_off=True,
            vms=(name,),
            live_only=True,  # a VM moved shut down starts on the destination's processor: nothing to match
        ),
        evidence,
    )
