"""A VM with a virtual TPM can be unlocked on the destination (its guardian's keys are there)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from hvlm.audit.facts import Facts, RoleFacts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.registry import check
from hvlm.checks._fixes import on_host
from hvlm.checks._keys import nothing, rows_of_vm
from hvlm.checks._vmfacts import rows_of

STORE = "Cert:\\LocalMachine\\Shielded VM Local Certificates"


def _vm_key(vm: Mapping[str, Any], src: RoleFacts) -> Hashable:
    """No Get-VMSecurity row (an error), else whether the VM has a vTPM and whether it is shielded."""
    rows = rows_of_vm(vm, src, "vm_security")
    return None if not rows else (bool(rows[0]["TpmEnabled"]), bool(rows[0]["Shielded"]))


@check(
    id="vm-vtpm-guardian",
    title="vTPM VM: the destination holds its guardian",
    severity=Severity.HIGH,
    subject=SubjectKind.VM,
    requires=("source.vms", "source.vm_security"),
    parts=(nothing, nothing),
    vm_key=_vm_key,
    rationale="""The state of a VM with a virtual TPM is encrypted with a key protector wrapped for a
    guardian. On hosts not guarded by a Host Guardian Service that is the local "UntrustedGuardian",
    whose two certificates ("Shielded VM Encryption/Signing Certificate (UntrustedGuardian) (<host>)")
    live in the host's "Shielded VM Local Certificates" store. The destination must hold the source's
    certificates with their private keys, or the move fails with "The key protector for the virtual
    machine could not be unwrapped". A shielded VM moves only to a guarded host attested by the same
    HGS. hvlm reads the VM's vTPM and shielding (Get-VMSecurity) but not the hosts' guardians yet, so
    a vTPM VM is a warning to confirm by hand; a VM without vTPM passes.""",
    references=(DOCS["vtpm-certificates"], DOCS["get-vmsecurity"], DOCS["ts-2026"]),
    fix_hint="Compare the guardian certificates of both hosts; import the source's UntrustedGuardian on the destination.",
)
def run(f: Facts) -> Outcome:
    vm: dict[str, Any] = f.vm or {}
    name = str(vm["Name"])
    rows = rows_of(vm, f["source.vm_security"])
    if not rows:
        return Outcome(Status.ERROR, f"Get-VMSecurity reported nothing for {name}.", evidence={"vm": name})
    sec = rows[0]
    evidence = {"vm": name, "TpmEnabled": sec["TpmEnabled"], "Shielded": sec["Shielded"],
                "KeyProtectorPresent": sec.get("KeyProtectorPresent")}
    if not sec["TpmEnabled"] and not sec["Shielded"]:
        return Outcome(Status.PASS, f"{name} has no virtual TPM and is not shielded: no guardian is needed.",
                       evidence=evidence)
    src, dst = f.host("source"), f.host("destination")
    if sec["Shielded"]:
        message = (f"{name} is a shielded VM: it runs only on guarded hosts attested by the same Host Guardian "
                   f"Service; hvlm cannot confirm that {dst.fqdn} is one.")
    else:
        message = (f"{name} has a virtual TPM: {dst.fqdn} must hold the guardian certificates of {src.fqdn} "
                   "(UntrustedGuardian) with their private keys, which hvlm cannot confirm.")
    return Outcome(
        Status.WARNING,
        message,
        on_host(
            dst,
            f"On {dst.fqdn} and on {src.fqdn}, list the guardian certificates and compare the thumbprints: every "
            f"UntrustedGuardian certificate of {src.fqdn} must be on {dst.fqdn} with HasPrivateKey True. If not, "
            f"export them on {src.fqdn} (Get-HgsGuardian -Name 'UntrustedGuardian', Export-PfxCertificate) and import "
            f"them into '{STORE}' on {dst.fqdn}.",
            f"Get-ChildItem -Path '{STORE}' |\n"
            "    Select-Object -Property 'Subject', 'Thumbprint', 'HasPrivateKey', 'NotAfter'",
            docs=(DOCS["vtpm-certificates"], DOCS["get-vmsecurity"]),
            kind="check",
        ),
        evidence,
        severity=Severity.HIGH if sec["Shielded"] else Severity.MEDIUM,
    )
