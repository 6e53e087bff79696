"""PowerShell for disruptive VM steps (stop, upgrade, reconfigure, cold-move) that are safe to run again.

Each step is a loop over the VMs it acts on. For each VM it first reads the VM's current state:
- a VM this host does not have (moved, renamed or removed since the audit) is skipped with a warning;
- a VM on which the step is already done is skipped with a line saying so (running it twice is harmless);
- a VM in a state the step does not expect (saved, paused, starting, a checkpoint, backup, merge or move
  in progress) is refused with a warning, never acted on.
Only then comes the line ACT, after which the VM is changed. reports/fixscript.py puts the per-VM
confirmation (ShouldProcess, ConfirmImpact High) right there, so that -WhatIf still reads every VM's state
and says which would be skipped, and nothing is asked for a VM that is skipped.

The VM is found by its exact name (Get-VM, then -eq), not by Get-VM -Name, which treats [ ] * ? as
wildcards, and every later command takes the VM object (-VM $vm), never the name again.
"""

from __future__ import annotations

from collections.abc import Sequence

from hvlm.audit.psquote import ps_array, ps_quote

__all__ = ["ACT", "stop_change_start", "vm_loop"]

# The marker after which a VM is changed; fixscript inserts the per-VM confirmation there.
ACT = "    # Its state is as expected: from here on the VM is changed."

_FIND = [
    "    $vm = @(Get-VM | Where-Object { $_.Name -eq $name })",
    "    if ($vm.Count -eq 0) {",
    "        Write-Warning ('{0} is not on this host (moved, renamed or removed since the audit?): skipped.' -f $name)",
    "        continue",
    "    }",
    "    if ($vm.Count -gt 1) {",
    "        Write-Warning ('{0} names {1} VMs on this host: skipped; act on the right one by hand.' -f $name, $vm.Count)",
    "        continue",
    "    }",
    "    $vm = $vm[0]",
]

_STATE = [
    "    if (@('Running', 'Off') -notcontains \"$($vm.State)\") {",
    "        Write-Warning ('{0} is {1}, neither Running nor Off: skipped; run this again once it is.' -f $name, "
    "$vm.State)",
    "        continue",
    "    }",
    "    if (@($vm.OperationalStatus | Where-Object { \"$_\" -ne 'Ok' }).Count -gt 0) {",
    "        Write-Warning ('{0} is busy ({1}): a checkpoint, backup, merge or move is in progress; skipped.' -f "
    "$name, $vm.Status)",
    "        continue",
    "    }",
]

_SAVED_CHECKPOINTS = [
    "    if (@(Get-VMSnapshot -VM $vm | Where-Object { \"$($_.State)\" -ne 'Off' }).Count -gt 0) {",
    "        Write-Warning ('{0} has checkpoints with saved state: skipped; remove or apply them first.' -f $name)",
    "        continue",
    "    }",
]


def _skip_if(condition: str, message: str) -> list[str]:
    """Skip the VM, saying so, when `condition` (PowerShell, may use $vm and $name) holds."""
    return [f"    if ({condition}) {{", f"        Write-Output ({ps_quote(message)} -f $name)", "        continue",
            "    }"]


def vm_loop(over: str, *, done_if: str | None, done: str, act: Sequence[str], before: Sequence[str] = (),
            find: Sequence[str] | None = None, no_saved_checkpoints: bool = False) -> str:
    """A loop over `over` (a PowerShell list, such as ps_array of the names) that reads each VM's state,
    skips it when `done_if` holds (saying `done`, {0} for the name; None: never done), refuses an
    unexpected state, then runs `act` (lines indented by 4 spaces). `before` runs once, ahead of the
    loop (read-only lines); `find` replaces the default lookup of $vm."""
    lines = [*before, f"foreach ($name in {over}) {{", *(find if find is not None else _FIND)]
    if done_if is not None:
        lines += _skip_if(done_if, done)
    lines += _STATE
    if no_saved_checkpoints:
        lines += _SAVED_CHECKPOINTS
    return "\n".join([*lines, ACT, *act, "}"])


def stop_change_start(name: str, change: str, done_if: str, done: str, *, no_saved_checkpoints: bool = False) -> str:
    """Shut the VM down if it runs, make `change` (a command using $vm), start it again only if it ran."""
    return vm_loop(
        ps_array([name]), done_if=done_if, done=done, no_saved_checkpoints=no_saved_checkpoints,
        act=[
            "    $wasRunning = \"$($vm.State)\" -eq 'Running'",
            "    if ($wasRunning) { Stop-VM -VM $vm }",
            f"    {change}",
            "    if ($wasRunning) { Start-VM -VM $vm }",
            "    else { Write-Output ('{0} was off before this step: it is left off.' -f $name) }",
        ],
    )
