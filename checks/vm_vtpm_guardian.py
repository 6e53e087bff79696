"""A VM with a virtual TPM can be unlocked on the destination (its guardian's keys are there)."""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from typing import Any

from hvlm.audit.facts import Facts, HostRef, RoleFacts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Fix, Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_array, ps_quote
from hvlm.audit.registry import check
from hvlm.checks._ad import unavailable
from hvlm.checks._fixes import on_host
from hvlm.checks._guardians import (
    HGS_MODE,
    client_state,
    kps_url,
    named_guardians,
    protector_thumbprints,
    thumbprint,
    usable_certificates,
)
from hvlm.checks._keys import rows_of_vm
from hvlm.checks._vmfacts import rows_of

STORE = "Cert:\\LocalMachine\\Shielded VM Local Certificates"
_CLIENT_QUERY = ("Get-HgsClientConfiguration |\n"
                 "    Select-Object -Property 'Mode', 'IsHostGuarded', 'AttestationStatus', 'KeyProtectionServerUrl'")


def _src_part(src: RoleFacts) -> Hashable:
    return client_state(src["hgs_client"])


def _destination(dst: RoleFacts) -> Hashable:
    guardians = dst["hgs_guardians"]
    return client_state(dst["hgs_client"]), None if guardians is None else usable_certificates(guardians)


def _dst_part(dst: RoleFacts) -> Hashable:
    return dst.derived("keys:guardians", _destination)


def _vm_key(vm: Mapping[str, Any], src: RoleFacts) -> Hashable:
    """No Get-VMSecurity row (an error), else its vTPM and shielding, and what its key protector names."""
    rows = rows_of_vm(vm, src, "vm_security")
    if not rows:
        return None
    protectors: Hashable = None if src["vm_key_protectors"] is None else tuple(
        (protector_thumbprints(r), bool(r.get("ReadError"))) for r in rows_of_vm(vm, src, "vm_key_protectors"))
    return bool(rows[0]["TpmEnabled"]), bool(rows[0]["Shielded"]), protectors


@check(
    id="vm-vtpm-guardian",
    title="vTPM VM: the destination holds its guardian",
    severity=Severity.HIGH,
    subject=SubjectKind.VM,
    requires=("source.vms", "source.vm_security", "source.vm_key_protectors?", "source.hgs_client?",
              "destination.hgs_client?", "destination.hgs_guardians?", "source.hgs_guardians?"),
    parts=(_src_part, _dst_part),
    vm_key=_vm_key,
    rationale="""The state of a VM with a virtual TPM is encrypted with a key protector wrapped for one or
    more guardians (Get-VMKeyProtector, read with ConvertTo-HgsKeyProtector). On hosts in the Host
    Guardian client's Local mode the destination unwraps it with a local guardian's private key: the
    source's "UntrustedGuardian" certificates ("Shielded VM Encryption/Signing Certificate
    (UntrustedGuardian) (<host>)" in the "Shielded VM Local Certificates" store) must be on the
    destination with their private keys, or the move fails with "The key protector for the virtual
    machine could not be unwrapped". In HostGuardianService mode the destination must be guarded
    (attested) by a Host Guardian Service that holds a guardian of the key protector; a shielded VM
    runs only on such a guarded host. hvlm compares the certificate thumbprints the key protector
    names with the destination's local certificates; for HGS mode it can confirm only that both hosts
    use the same HGS. A VM without vTPM or shielding passes.""",
    references=(DOCS["vtpm-certificates"], DOCS["get-vmsecurity"], DOCS["get-hgsclientconfiguration"],
                DOCS["get-hgsguardian"], DOCS["guarded-fabric"], DOCS["ts-2026"]),
    fix_hint="Import the source's UntrustedGuardian certificates (with their private keys) on the destination; "
             "shielded VMs only to hosts guarded by the same HGS.",
)
def run(f: Facts) -> Outcome:
    vm: dict[str, Any] = f.vm or {}
    name = str(vm["Name"])
    rows = rows_of(vm, f["source.vm_security"])
    if not rows:
        return Outcome(Status.ERROR, f"Get-VMSecurity reported nothing for {name}.", evidence={"vm": name})
    sec = rows[0]
    evidence: dict[str, Any] = {"vm": name, "TpmEnabled": sec["TpmEnabled"], "Shielded": sec["Shielded"]}
    if not sec["TpmEnabled"] and not sec["Shielded"]:
        return Outcome(Status.PASS, f"{name} has no virtual TPM and is not shielded: no guardian is needed.",
                       evidence=evidence)
    src, dst = f.host("source"), f.host("destination")
    if f["source.vm_key_protectors"] is None:
        return unavailable(f, "source.vm_key_protectors")
    protectors = rows_of(vm, f["source.vm_key_protectors"])
    if not protectors:
        return Outcome(Status.ERROR, f"Get-VMKeyProtector on {src.fqdn} gave no key protector for {name}, which has "
                       "a virtual TPM.", evidence=evidence)
    row = protectors[0]
    if row.get("ReadError"):
        return Outcome(Status.ERROR, f"The key protector of {name} on {src.fqdn} could not be read: "
                       f"{row['ReadError']}", evidence=evidence)
    client = f["destination.hgs_client"]
    if client is None:
        return unavailable(f, "destination.hgs_client")
    named = protector_thumbprints(row)
    evidence |= {"guardians": [g.get("Name") for g in named_guardians(row)],
                 "EncryptionCertificateThumbprints": sorted(named),
                 "destination": {k: client.get(k) for k in ("Installed", "Mode", "IsHostGuarded", "AttestationStatus",
                                                            "KeyProtectionServerUrl")}}
    if not client.get("Installed"):
        return _no_client(name, dst, evidence)
    if sec["Shielded"] or client.get("Mode") == HGS_MODE:
        return _guarded(f, name, bool(sec["Shielded"]), client, evidence)
    guardians = f["destination.hgs_guardians"]
    if guardians is None:
        return unavailable(f, "destination.hgs_guardians")
    private, every = usable_certificates(guardians)
    evidence["destination"]["LocalCertificates"] = [
        {k: c.get(k) for k in ("Subject", "Thumbprint", "HasPrivateKey")} for c in guardians.get("LocalCertificates") or []]
    if named & private:
        return Outcome(Status.PASS, f"{dst.fqdn} holds, with its private key, a guardian certificate that {name}'s "
                       f"key protector names ({sorted(named & private)[0]}).", evidence=evidence)
    owner = named_guardians(row)[0] if named_guardians(row) else {}
    label = _guardian_label(owner, f.optional("source.hgs_guardians"))
    enc = thumbprint(owner.get("EncryptionCertificateThumbprint")) or ", ".join(sorted(named)) or "unknown"
    if named & every:
        message = (f"{dst.fqdn} holds the certificate of {label} (encryption certificate thumbprint {enc}), which "
                   f"protects {name}, but not its private key: it cannot unwrap the VM's key protector, and the move "
                   "fails (\"The key protector for the virtual machine could not be unwrapped\").")
    else:
        message = (f"{dst.fqdn} does not hold {label} (encryption certificate thumbprint {enc}), which protects "
                   f"{name}: the move fails (\"The key protector for the virtual machine could not be unwrapped\").")
    return Outcome(Status.FAIL, message, _copy_certificates(name, src, dst, owner), evidence)


_HOLDER = re.compile(r"\(([^()]+)\)\s*$")


def _guardian_label(owner: Mapping[str, Any], source_guardians: Mapping[str, Any] | None) -> str:
    """ "HV04's UntrustedGuardian": every Local-mode host's guardian has that name, so the host that owns it
    (the last parenthesis of its certificate's subject, "... (UntrustedGuardian) (HV04)") tells them apart."""
    guardian = str(owner.get("Name") or "UntrustedGuardian")
    enc = thumbprint(owner.get("EncryptionCertificateThumbprint"))
    for cert in (source_guardians or {}).get("LocalCertificates") or []:
        if enc and thumbprint(cert.get("Thumbprint")) == enc:
            found = _HOLDER.search(str(cert.get("Subject") or ""))
            if found and found.group(1) != guardian:
                return f"{found.group(1)}'s {guardian}"
    return f"the guardian {guardian} of the key protector"


def _no_client(name: str, dst: HostRef, evidence: dict[str, Any]) -> Outcome:
    return Outcome(
        Status.FAIL,
        f"{dst.fqdn} has no Host Guardian client (Get-HgsClientConfiguration does not exist there): it cannot unlock "
        f"{name}'s virtual TPM.",
        on_host(
            dst,
            f"Move {name} only to hosts that run Windows Server 2016 or later with the Host Guardian Hyper-V Support "
            f"feature; on {dst.fqdn}, install the feature if its release has it.",
            "# Windows Server 2016 and later only:\nInstall-WindowsFeature -Name 'HostGuardian'",
            docs=(DOCS["guarded-fabric"], DOCS["get-hgsclientconfiguration"]),
            kind="manual",
        ),
        evidence,
    )


def _guarded(f: Facts, name: str, shielded: bool, client: Mapping[str, Any], evidence: dict[str, Any]) -> Outcome:
    """A shielded VM, or a destination in HostGuardianService mode: the HGS unwraps the key, after attestation."""
    src, dst = f.host("source"), f.host("destination")
    what = "a shielded VM" if shielded else "a VM with a virtual TPM"
    if client.get("Mode") != HGS_MODE or not client.get("IsHostGuarded"):
        state = ("in Local mode, not guarded by a Host Guardian Service" if client.get("Mode") != HGS_MODE
                 else f"not guarded: its attestation status is {client.get('AttestationStatus') or 'unknown'}")
        return Outcome(
            Status.FAIL,
            f"{name} is {what} that only a guarded host can unlock, and {dst.fqdn} is {state}.",
            on_host(
                dst,
                f"Move {name} only to hosts guarded by the Host Guardian Service that protects it, or have {dst.fqdn} "
                "attested by that HGS (its administrators approve the host, then Set-HgsClientConfiguration points "
                "it at the HGS). Check the result with this command.",
                _CLIENT_QUERY,
                docs=(DOCS["guarded-fabric"], DOCS["get-hgsclientconfiguration"]),
                kind="manual",
            ),
            evidence,
        )
    source_url = kps_url(f["source.hgs_client"])
    if source_url is not None and source_url == kps_url(client):
        return Outcome(Status.PASS, f"{dst.fqdn} is guarded by the same Host Guardian Service as {src.fqdn} "
                       f"({client.get('KeyProtectionServerUrl')}), which unwraps {name}'s key protector.",
                       evidence=evidence)
    return Outcome(
        Status.WARNING,
        f"{dst.fqdn} is guarded by {client.get('KeyProtectionServerUrl') or 'a Host Guardian Service'}, not by the "
        f"HGS {src.fqdn} uses: {name}'s key protector must name that HGS's guardian, which hvlm cannot see.",
        on_host(
            dst,
            f"Confirm that {name}'s key protector grants the guardian of the HGS {dst.fqdn} uses (on {src.fqdn}: "
            "ConvertTo-HgsKeyProtector of Get-VMKeyProtector lists its guardians), and compare both hosts' HGS.",
            _CLIENT_QUERY,
            docs=(DOCS["guarded-fabric"], DOCS["get-hgsguardian"]),
            kind="check",
        ),
        evidence,
        severity=Severity.MEDIUM,
    )


# The PFX files hold private keys: they go in a new folder only Administrators and SYSTEM can open (a file in
# C:\ inherits Users:Read, so any local user could copy it and guess its password offline), in the
# administrator's own profile (where no other user can create it first), deleted after the import.
FOLDER = "hvlm-guardian-transfer"
_PRIVATE_FOLDER = (
    f"$folder = Join-Path -Path $env:USERPROFILE -ChildPath {ps_quote(FOLDER)}\n"
    "if (Test-Path -LiteralPath $folder) {\n"
    "    throw ($folder + ' already exists: see what is in it, delete it, then start this step again.')\n"
    "}\n"
    "New-Item -ItemType Directory -Path $folder | Out-Null\n"
    "# Only Administrators and SYSTEM, nothing inherited (so no Users:Read), for the folder and what goes in it:\n"
    "icacls $folder /inheritance:r /grant:r '*S-1-5-32-544:(OI)(CI)F' '*S-1-5-18:(OI)(CI)F' | Out-Null\n"
    "if ($LASTEXITCODE -ne 0) { throw ('icacls could not restrict ' + $folder + ': do not put the keys in it.') }"
)
_PFX_PROMPT = (
    "# Type the password (never on a command line); use the same one on both hosts and share it apart from "
    "the files.\n$password = Read-Host -AsSecureString -Prompt 'Password for the guardian certificate files'")


def _copy_certificates(name: str, src: HostRef, dst: HostRef, owner: Mapping[str, Any]) -> Fix:
    thumbprints = [t for t in (thumbprint(owner.get("EncryptionCertificateThumbprint")),
                               thumbprint(owner.get("SigningCertificateThumbprint"))) if t]
    listed = ps_array(thumbprints)
    store = ps_quote(STORE + "\\")
    folder = f"%USERPROFILE%\\{FOLDER}"
    return on_host(
        src,
        f"Copy the guardian certificates that protect {name} (with their private keys) from {src.fqdn} to {dst.fqdn}: "
        f"step 1 on {src.fqdn} exports them into password-protected PFX files in a folder only Administrators can "
        f"read, step 2 on {dst.fqdn} imports them into '{STORE}' and deletes its copy, step 3 deletes the folder on "
        f"{src.fqdn}. They unlock every VM this guardian protects: copy them only to hosts you trust as much.",
        f"# 1. On {src.fqdn}: a folder only Administrators and SYSTEM can read, then the export into it.\n"
        f"{_PRIVATE_FOLDER}\n{_PFX_PROMPT}\n"
        f"foreach ($thumbprint in {listed}) {{\n"
        f"    $certificate = Get-Item -LiteralPath ({store} + $thumbprint)\n"
        "    Export-PfxCertificate -Cert $certificate -FilePath (Join-Path -Path $folder -ChildPath ($thumbprint + "
        "'.pfx')) -Password $password\n"
        "}\n"
        f"# 2. On {dst.fqdn}: the same Administrators-only folder; copy the .pfx files from {folder} on {src.fqdn}\n"
        "#    into it over a channel you trust (an administrative share, for example), then import and delete them.\n"
        f"{_PRIVATE_FOLDER}\n{_PFX_PROMPT}\n"
        f"foreach ($thumbprint in {listed}) {{\n"
        "    $file = Join-Path -Path $folder -ChildPath ($thumbprint + '.pfx')\n"
        f"    Import-PfxCertificate -FilePath $file -CertStoreLocation {ps_quote(STORE)} -Password $password\n"
        "}\n"
        "Remove-Item -LiteralPath $folder -Recurse\n"
        f"# 3. On {src.fqdn}, once step 2 is done: delete the exported files.\n"
        f"Remove-Item -LiteralPath (Join-Path -Path $env:USERPROFILE -ChildPath {ps_quote(FOLDER)}) -Recurse",
        docs=(DOCS["vtpm-certificates"], DOCS["export-pfxcertificate"], DOCS["import-pfxcertificate"]),
        run_as="a member of the local Administrators group on both hosts",
        kind="manual",
        also_on=(dst.fqdn,),
    )
