"""Small builders for fixes, so every check words "where to run it" the same way."""

from __future__ import annotations

from hvlm.audit.facts import HostRef
from hvlm.audit.model import Fix

HOST_ADMIN = "a member of Administrators or Hyper-V Administrators on that host"
LOCAL_ADMIN = "a member of the local Administrators group on that host"
DOMAIN_ADMIN = "a member of Domain Admins"
AD_MACHINE = "a machine with the ActiveDirectory PowerShell module (RSAT-AD-PowerShell)"


def on_host(
    host: HostRef,
    summary: str,
    powershell: str,
    *,
    docs: tuple[str, ...],
    gui: str | None = None,
    run_as: str = HOST_ADMIN,
    requires_vm_off: bool = False,
    kind: str | None = None,
    vms: tuple[str, ...] = (),
    sets: tuple[tuple[str, str], ...] = (),
    also_on: tuple[str, ...] = (),
    cold_move: str = "",
    live_only: bool = False,
) -> Fix:
    """A fix run in an elevated PowerShell on one host. `kind` (see audit.model.Fix) defaults to
    "disruptive" when the VM must be off, else "change"."""
    return Fix(
        summary=summary,
        run_on=host.fqdn,
        run_as=run_as,
        powershell=powershell,
        gui=gui,
        docs=docs,
        target="host",
        requires_vm_off=requires_vm_off,
        kind=kind or ("disruptive" if requires_vm_off else "change"),
        vms=vms,
        sets=sets,
        also_on=also_on,
        cold_move=cold_move,
        live_only=live_only,
    )


def in_ad(summary: str, powershell: str, *, docs: tuple[str, ...], gui: str | None = None,
          kind: str = "change") -> Fix:
    """A fix that changes Active Directory objects."""
    return Fix(
        summary=summary,
        run_on=AD_MACHINE,
        run_as=DOMAIN_ADMIN,
        powershell=powershell,
        gui=gui,
        docs=docs,
        target="ad",
        kind=kind,
    )
