"""Source and destination have processors from the same manufacturer."""

from __future__ import annotations

from typing import Any

from hvlm.audit.facts import Facts, RoleFacts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_array, ps_quote
from hvlm.audit.registry import check
from hvlm.checks._fixes import on_host
from hvlm.checks._vmsteps import vm_loop


def _vendor(side: RoleFacts) -> str:
    return str(side["processor"]["Manufacturer"]).strip().lower()


@check(
    id="pair-cpu-vendor",
    title="Same processor manufacturer on both hosts",
    severity=Severity.CRITICAL,
    subject=SubjectKind.PAIR,
    requires=("source.processor", "destination.processor", "source.vms?"),
    rationale="""A running or saved VM cannot move between an Intel (GenuineIntel) and an AMD
    (AuthenticAMD) host: Microsoft's processor compatibility documentation says live migration and
    save/restore across manufacturers is never possible, even with processor compatibility mode.
    The only way is a cold move: shut the VM down (not save it) and move or export/import it while
    it is off. vm-processor-compat handles different models of the same manufacturer.""",
    references=(DOCS["processor-compat"], DOCS["move-vm"], DOCS["use"]),
    fix_hint="Shut the VMs down and move them while off (Move-VM or Export-VM/Import-VM).",
    parts=(_vendor, _vendor),
)
def run(f: Facts) -> Outcome:
    sref, dref = f.host("source"), f.host("destination")
    s_vendor = str(f["source.processor"]["Manufacturer"]).strip()
    d_vendor = str(f["destination.processor"]["Manufacturer"]).strip()
    evidence: dict[str, Any] = {"source.Manufacturer": s_vendor, "destination.Manufacturer": d_vendor}
    if not s_vendor or not d_vendor:
        return Outcome(
            Status.ERROR,
            "The processor manufacturer was collected empty on "
            + " and ".join(h.fqdn for h, v in ((sref, s_vendor), (dref, d_vendor)) if not v) + ".",
            evidence=evidence,
        )
    if s_vendor.lower() == d_vendor.lower():
        return Outcome(
            Status.PASS, f"{sref.fqdn} and {dref.fqdn} both have {s_vendor} processors.", evidence=evidence
        )
    vms = f.optional("source.vms")
    return Outcome(
        Status.FAIL,
        f"{sref.fqdn} has {s_vendor} and {dref.fqdn} has {d_vendor} processors: no live migration between "
        "Intel and AMD, even with processor compatibility mode.",
        on_host(
            sref,
            f"Cold-move each VM: shut it down (not save: saved state cannot be restored on the other "
            f"manufacturer), move it to {dref.fqdn} with its storage into that host's default VM folder, and "
            "start it there. Run it after this move's other problems are fixed (a move while off still "
            "authenticates like a live one); a VM whose move fails is "
            "started again here. A VM already on the destination is skipped; one not found, neither Running nor Off, "
            "busy, or with checkpoints with saved state is refused. A VM that was off stays off.",
            _cold_move(dref.fqdn, [str(vm["Name"]) for vm in vms] if vms else None),
            docs=(DOCS["processor-compat"], DOCS["move-vm"]),
            requires_vm_off=True,
            vms=tuple(str(vm["Name"]) for vm in vms or ()),
            cold_move=f"{sref.fqdn} has {s_vendor} and {dref.fqdn} has {d_vendor} processors, and no VM moves live "
            "between manufacturers (pair-cpu-vendor)",
        ),
        evidence,
    )


def _cold_move(destination: str, names: list[str] | None) -> str:
    """Shut each VM down (if it runs), move it with its storage, start it on the destination (if it ran)."""
    find = [
        "    $vm = @(Get-VM | Where-Object { $_.Name -eq $name })",
        "    $there = @(Get-VM -ComputerName $destination | Where-Object { $_.Name -eq $name })",
        "    if ($vm.Count -eq 0) {",
        "        if ($there.Count -gt 0) { Write-Output ('{0} is already on {1}: nothing to do.' -f $name, $destination) }",
        "        else { Write-Warning ('{0} is neither on this host nor on {1}: skipped.' -f $name, $destination) }",
        "        continue",
        "    }",
        "    if ($vm.Count -gt 1) {",
        "        Write-Warning ('{0} names {1} VMs on this host: skipped; move the right one by hand.' -f $name, $vm.Count)",
        "        continue",
        "    }",
        "    if ($there.Count -gt 0) {",
        "        Write-Warning ('{0} is on this host and a VM of that name is on {1} too: skipped; sort it out by hand.' "
        "-f $name, $destination)",
        "        continue",
        "    }",
        "    $vm = $vm[0]",
    ]
    act = [
        "    $wasRunning = \"$($vm.State)\" -eq 'Running'",
        "    if ($wasRunning) { Stop-VM -VM $vm }",
        "    try {",
        "        Move-VM -VM $vm -DestinationHost $destination -IncludeStorage "
        "-DestinationStoragePath ($folder + '\\' + $name)",
        "    } catch {",
        "        Write-Warning ('The move of {0} failed ({1}): it stays on this host.' -f $name, $_)",
        "        if ($wasRunning) { Start-VM -VM $vm }",
        "        continue",
        "    }",
        "    if ($wasRunning) { Get-VM -ComputerName $destination -Id $vm.Id | Start-VM }",
    ]
    before = [f"$destination = {ps_quote(destination)}",
              "$folder = (Get-VMHost -ComputerName $destination).VirtualMachinePath"]
    # the VMs not collected: every VM of the host, read when the script runs
    over = ps_array(names) if names is not None else "(Get-VM).Name"
    return vm_loop(over, done_if=None, done="", before=before, find=find, act=act, no_saved_checkpoints=True)
