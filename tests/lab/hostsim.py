"""A simulated Hyper-V host for the WinRM lab: answers hvlm's probe from a fleet HostModel.

The facts come from ``tests.support.fleet.HostModel.sections()``, so what a scan collects can be
compared with what the model holds. The simulator interprets the probe only as far as needed: it
checks that the pipeline is exactly the shipped probe and prints the JSON document the real probe
would print on that host, with what differs on Windows Server 2012 R2 (documented behaviour, as
the probe's own comments describe it):

- Get-VMHostSupportedVersion does not exist (it came with 2016): a ``not_found`` section error
  with the message Windows PowerShell gives for an unknown command;
- the root\\Microsoft\\Windows\\DeviceGuard namespace does not exist: the probe reports no
  security service running and a null VBS status;
- Get-LocalGroupMember does not exist: members come from the WinNT ADSI provider, which has no
  PrincipalSource;
- Get-VMAssignableDevice and Get-VMSecurity do not exist (DDA and virtual TPMs came with 2016): no
  assigned device, and no VM with a vTPM, shielding or a key protector;
- the HgsClient module does not exist (Get-HgsClientConfiguration, Get-HgsGuardian,
  ConvertTo-HgsKeyProtector, all 2016): Installed false with a null mode, no guardian, no local
  guardian certificate (the store is absent), no key protector.

GPU partitioning differs by release too (the probe asks Get-Command first, as for DDA):
Get-VMGpuPartitionAdapter does not exist before Windows Server 2019 (no VM has a partition: an empty
list), its SupportsOutgoingLiveMigration property not before 2025 (null), and
Get-VMHostPartitionableGpu not before 2022 (the host offers no partitionable GPU: an empty list).
Get-VMSnapshot and the Get-VM paths exist on every release.

Per-section failures come from ``HostModel.errors`` (section -> (kind, message)), exactly as the
probe reports a caught error. Pipeline-level misbehaviour (Write-Error, throw, malformed JSON, a
partial or missing section) is a :class:`Behaviour`; transport faults are the lab's ``Fault``.
"""

from __future__ import annotations

import copy
import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hvlm.audit.collect.probe import HOST_SECTIONS, PROBE_VERSION, probe_script
from hvlm.audit.schemas import load_schema
from tests.lab.winrm import Fault, HostSpec, PipelineResult
from tests.support.fleet import HostModel

__all__ = ["ANSIBLE_RAW_SUFFIX", "Behaviour", "SimHost", "command_not_found", "is_probe"]

WS2012R2 = 9600
WS2019, WS2022, WS2025 = 17763, 20348, 26100


def command_not_found(command: str) -> str:
    """Windows PowerShell 5.1's message for an unknown command (the probe adds no prefix: the
    error record of a command that does not exist has no InvocationInfo.MyCommand)."""
    return (
        f"The term '{command}' is not recognized as the name of a cmdlet, function, script file, or "
        "operable program. Check the spelling of the name, or if a path was included, verify that the "
        "path is correct and try again."
    )


ANSIBLE_RAW_SUFFIX = "\nexit $LASTEXITCODE"


def is_probe(script: str) -> bool:
    """Whether a pipeline's script is the shipped probe, exactly as hvlm sends it, or exactly as
    Ansible's psrp connection plugin sends it for the ``raw`` action: ansible-core 2.19's
    ``Connection.exec_command`` runs ``f"{cmd}\\nexit $LASTEXITCODE"`` with ``add_script`` (so the
    exit code reaches Ansible), where ``cmd`` is the raw text. The shipped playbook
    (contrib/ansible/hvlm-collect.yml) sends the probe unchanged, trailing newline included. No
    other wrapping is accepted: anything else is not the probe."""
    probe = probe_script()
    return script in (probe, probe + ANSIBLE_RAW_SUFFIX)


class Behaviour(enum.Enum):
    """How the probe pipeline itself misbehaves on a host (transport faults are the lab's)."""

    NORMAL = "normal"
    WRITE_ERROR = "write_error"  # a non-terminating error and no document (the probe failed early)
    WRITE_ERROR_WITH_OUTPUT = "write_error_with_output"  # a non-terminating error besides the document
    THROW = "throw"  # a terminating error: pipeline Failed, no output
    MALFORMED_JSON = "malformed_json"  # the document cut short
    PARTIAL_SECTION = "partial_section"  # one section's value lacks a required field
    MISSING_SECTION = "missing_section"  # one section absent from the document


def _drop_required(section: str, value: Any) -> None:
    """Remove the first required property (of the object, or of the first item of a list), as if
    the cmdlet had returned an object without it."""
    schema = load_schema("snapshot")
    ref = schema["$defs"]["host"]["properties"][section]["$ref"].rsplit("/", 1)[1]
    shape = schema["$defs"][ref]["properties"]["value"]
    target = value
    if shape.get("type") == "array":
        shape, target = shape["items"], (value[0] if value else None)
    if isinstance(target, dict):
        for name in shape.get("required", []):
            if name in target:
                del target[name]
                return
    raise ValueError(f"cannot make {section} partial: nothing required to remove")


_WRITE_ERROR = "Cannot bind argument to parameter 'InputObject' because it is null."
_THROWN = "The WinRM client cannot process the request: probe aborted by the simulated host."


@dataclass
class SimHost:
    """One simulated host: a fleet model plus how its probe and its transport behave."""

    model: HostModel
    behaviour: Behaviour = Behaviour.NORMAL
    broken_section: str = "vmhost"  # for PARTIAL_SECTION / MISSING_SECTION
    fault: Fault | None = None
    latency: float = 0.0
    calls: list[tuple[str, dict[str, object]]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.model.fqdn

    # -- what the real probe would report on this host ---------------------------------------
    def _os_adjusted(self) -> dict[str, Any]:
        sections = self.model.sections()
        if self.model.build <= WS2012R2:
            sections["device_guard"] = {
                "SecurityServicesRunning": [],
                "SecurityServicesConfigured": [],
                "VirtualizationBasedSecurityStatus": None,
            }
            for group in sections["local_groups"].values():
                for member in group["Members"]:
                    member["PrincipalSource"] = None
            sections["vm_assigned_devices"] = []
            for vm in sections["vm_security"]:
                vm.update(TpmEnabled=False, Shielded=False, EncryptStateAndVmMigrationTraffic=None,
                          KeyProtectorPresent=False)
            sections["hgs_client"] = {"Installed": False, "Mode": None, "IsHostGuarded": None,
                                      "KeyProtectionServerUrl": None, "AttestationServerUrl": None,
                                      "AttestationStatus": None}
            sections["hgs_guardians"] = {"Guardians": [], "LocalCertificates": []}
            sections["vm_key_protectors"] = []
            # logon_rights as on later releases: RSoP and secedit /export /areas USER_RIGHTS both exist on 2012 R2
        self._gpu_adjusted(sections)
        return sections

    def _gpu_adjusted(self, sections: dict[str, Any]) -> None:
        build = self.model.build
        if build < WS2019:
            sections["vm_gpu_partitions"] = []
        elif build < WS2025:
            for adapter in sections["vm_gpu_partitions"]:
                adapter["SupportsOutgoingLiveMigration"] = None
        if build < WS2022:
            sections["partitionable_gpus"] = []

    def expected(self) -> dict[str, tuple[str, Any]]:
        """Per section: ("value", value) or ("error", (kind, message)) as the probe reports it."""
        out: dict[str, tuple[str, Any]] = {}
        values = self._os_adjusted()
        for section in HOST_SECTIONS:
            if section in self.model.errors:
                out[section] = ("error", self.model.errors[section])
            elif section == "supported_versions" and self.model.build <= WS2012R2:
                out[section] = ("error", ("not_found", command_not_found("Get-VMHostSupportedVersion")))
            else:
                out[section] = ("value", values[section])
        return out

    def document(self) -> dict[str, Any]:
        sections: dict[str, Any] = {}
        for section, (what, payload) in self.expected().items():
            if what == "value":
                sections[section] = {"value": copy.deepcopy(payload)}
            else:
                kind, message = payload
                sections[section] = {"error": {"kind": kind, "message": message}}
        if self.behaviour is Behaviour.PARTIAL_SECTION and "value" in sections.get(self.broken_section, {}):
            _drop_required(self.broken_section, sections[self.broken_section]["value"])
        if self.behaviour is Behaviour.MISSING_SECTION:
            sections.pop(self.broken_section, None)
        m = self.model
        return {
            "hvlm_probe": PROBE_VERSION,
            "computer": {"name": m.name, "fqdn": m.fqdn if m.part_of_domain else m.name.lower()},
            "powershell": {"version": "5.1.14393.7428" if m.build > WS2012R2 else "5.1.14409.1018", "edition": "Desktop"},
            "collected_at": m.utc_time,
            "sections": sections,
        }

    def output_text(self) -> str:
        """What `powershell -File probe.ps1` prints on this host (one compressed JSON line)."""
        return json.dumps(self.document(), separators=(",", ":"))

    # -- the responder the lab calls ---------------------------------------------------------
    def __call__(self, script: str, params: Mapping[str, object]) -> PipelineResult:
        self.calls.append((script, dict(params)))
        if not is_probe(script):
            return PipelineResult(terminating_error="hostsim: this simulated host only runs the hvlm probe")
        b = self.behaviour
        if b is Behaviour.THROW:
            return PipelineResult(terminating_error=_THROWN)
        if b is Behaviour.WRITE_ERROR:
            return PipelineResult(errors=[_WRITE_ERROR])
        text = self.output_text()
        if b is Behaviour.MALFORMED_JSON:
            return PipelineResult(output=[text[: len(text) // 2]])
        if b is Behaviour.WRITE_ERROR_WITH_OUTPUT:
            return PipelineResult(output=[text], errors=[_WRITE_ERROR])
        return PipelineResult(output=[text])

    def spec(self) -> HostSpec:
        return HostSpec(self.name, self, fault=self.fault, latency=self.latency)
