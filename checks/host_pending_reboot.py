"""The host does not wait for a restart."""

from __future__ import annotations

from hvlm.audit.facts import Facts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.registry import check
from hvlm.checks._fixes import LOCAL_ADMIN, on_host

_MARKERS = {
    "ComponentBasedServicing": "a feature or update install (Component Based Servicing\\RebootPending)",
    "WindowsUpdate": "Windows Update (Auto Update\\RebootRequired)",
    "PendingFileRenameOperations": "files to replace at boot (Session Manager PendingFileRenameOperations)",
}


@check(
    id="host-pending-reboot",
    title="Host not waiting for a restart",
    severity=Severity.MEDIUM,
    subject=SubjectKind.HOST,
    requires=("host.pending_reboot",),
    rationale="""A host that waits for a restart after a Hyper-V feature, update or driver install runs a
    mix of old and new binaries; moves to or from it behave unpredictably, and Windows Admin Center
    names a pending restart among its known causes of failed operations. Servicing and Windows Update
    markers make a warning; files merely queued for replacement at boot (which many installers leave
    behind) make a low one. Restarting a host stops or moves its VMs, so the fix is a decision for a
    maintenance window, never run by a script.""",
    references=(DOCS["wac-known-issues"], DOCS["ts-2026"]),
    fix_hint="Move or shut down the host's VMs and restart it in a maintenance window.",
)
def run(f: Facts) -> Outcome:
    host = f.host()
    flags = f["host.pending_reboot"]
    pending = [k for k in _MARKERS if flags.get(k)]
    evidence = {k: flags.get(k) for k in _MARKERS}
    if not pending:
        return Outcome(Status.PASS, f"{host.fqdn} does not wait for a restart.", evidence=evidence)
    only_renames = pending == ["PendingFileRenameOperations"]
    return Outcome(
        Status.WARNING,
        f"{host.fqdn} waits for a restart: " + "; ".join(_MARKERS[k] for k in pending) + ".",
        on_host(
            host,
            f"Restart {host.fqdn} in a maintenance window, after moving its VMs away or shutting them down, and "
            "before the planned moves.",
            f"# Move or shut down the VMs of {host.fqdn} first; these still run:\n"
            "Get-VM | Where-Object -Property 'State' -EQ 'Running' | Select-Object -Property 'Name'\n"
            "Restart-Computer",
            docs=(DOCS["wac-known-issues"],),
            run_as=LOCAL_ADMIN,  # Restart-Computer needs SeShutdownPrivilege: Hyper-V Administrators lack it
            kind="manual",
        ),
        evidence,
        severity=Severity.LOW if only_renames else Severity.MEDIUM,
    )
