"""Source and destination have processors from the same manufacturer."""

from __future__ import annotations

from typing import Any

from hvlm.audit.facts import Facts, RoleFacts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_array, ps_quote
from hvlm.audit.registry import check
from hvlm.checks._fixes import on_host


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
    names = ps_array(str(vm["Name"]) for vm in vms) if vms else "(Get-VM).Name"
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
            "started again here. Checkpoints with saved state must be removed first.",
            f"$destination = {ps_quote(dref.fqdn)}\n"
            f"$folder = (Get-VMHost -ComputerName $destination).VirtualMachinePath\n"
            f"foreach ($name in {names}) {{\n"
            "    Stop-VM -Name $name\n"
            "    try {\n"
            "        Move-VM -Name $name -DestinationHost $destination -IncludeStorage "
            "-DestinationStoragePath ($folder + '\\' + $name)\n"
            "    } catch {\n"
            "        Write-Warning ('The move of {0} failed ({1}): it is started again on this host.' -f $name, $_)\n"
            "        Start-VM -Name $name\n"
            "        continue\n"
            "    }\n"
            "    Start-VM -Name $name -ComputerName $destination\n"
            "}",
            docs=(DOCS["processor-compat"], DOCS["move-vm"]),
            requires_vm_off=True,
            vms=tuple(str(vm["Name"]) for vm in vms or ()),
            cold_move=f"{sref.fqdn} has {s_vendor} and {dref.fqdn} has {d_vendor} processors, and no VM moves live "
            "between manufacturers (pair-cpu-vendor)",
        ),
        evidence,
    )
