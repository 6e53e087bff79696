"""The catalogue of facts: the one place that names every fact hvlm collects or derives.

Each entry says what a fact is called, where it lives in the snapshot (its scope), what fills it
(a probe section's command, LDAP attributes, a DNS query), the snapshot schema `$def` that shapes
it, and one line on what it is. The rest is derived from it or held to it by tests:

- the probe's sections and their provenance (`audit.collect.probe.SECTION_COMMANDS`);
- which facts a check may declare for a role (`audit.registry.CheckMeta.validate`);
- the host views joined from the domain sections (`audit.facts.FactResolver`);
- the snapshot schema's host and domain properties, and the sections the probe writes (tests).

Plug-ins add facts without editing the core: an entry point in the `hvlm.facts` group points at a
module with `FACTS` (an iterable of `FactSpec`, scope "host" or "domain", collected by the
plug-in's own collector) and, for each new `$def` they name, `SCHEMA_DEFS` (a dict of schema
fragments). Their facts are then valid in snapshots and declarable by checks. A name or `$def`
that collides with an existing one is a loud error, never an override.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

from hvlm.audit.errors import CheckDefinitionError
from hvlm.audit.schemas import load_schema

__all__ = [
    "ENTRY_POINT_GROUP",
    "SCOPES",
    "Catalogue",
    "FactDefinitionError",
    "FactSpec",
    "catalogue",
    "load_catalogue",
    "refresh_catalogue",
    "snapshot_schema",
]

ENTRY_POINT_GROUP = "hvlm.facts"
# host: hosts/<host>/<name>, one per probe section (or per plug-in collector);
# domain: domains/<domain>/<name>; dns: dns/<host>; operator: operator;
# view: a host's window on a domain section (ad_computer, domain_info, ...);
# connection: how collecting a host went (no check reads it);
# management: the machine hvlm collected from (a check declares it as "management", like "operator").
SCOPES = ("host", "domain", "dns", "operator", "view", "connection", "management")
_PLUGIN_SCOPES = ("host", "domain")
_TOP = ("operator", "management")  # one fact at the snapshot's top, declared by its bare name


class FactDefinitionError(CheckDefinitionError):
    """A catalogue entry is invalid or collides with another one."""


@dataclass(frozen=True)
class FactSpec:
    name: str
    scope: str
    source: str  # the command, LDAP attributes or query that fills it (provenance)
    schema_def: str  # the snapshot schema $def ("fact_vmhost")
    description: str
    collector: str = "probe"  # probe, ldap, dns, inventory, hvlm, or a plug-in's own
    view_of: str | None = None  # for views: the domain section they read
    plugin: str = ""  # the entry point that added it

    @property
    def probe_section(self) -> bool:
        return self.scope == "host" and self.collector == "probe"


def _host(name: str, source: str, description: str, schema_def: str = "") -> FactSpec:
    return FactSpec(name, "host", source, schema_def or f"fact_{name}", description)


BUILTIN: tuple[FactSpec, ...] = (
    FactSpec("connection", "connection", "WS-Management session", "fact_any",
             "how connecting to the host went", collector="psrp"),
    _host("computer_system", "Get-CimInstance -ClassName Win32_ComputerSystem",
          "name, domain membership and role, hypervisor presence"),
    _host("operating_system", "Get-CimInstance -ClassName Win32_OperatingSystem",
          "Windows release and build, free physical memory"),
    _host("hyperv_feature", "Get-WindowsFeature -Name Hyper-V", "whether the Hyper-V role is installed"),
    _host("vmms_service", "Get-Service -Name vmms", "the Virtual Machine Management service", "fact_service"),
    _host("vmhost", "Get-VMHost",
          "live-migration settings, default VM and VHD paths, dynamic MAC address range"),
    _host("migration_networks", "Get-VMMigrationNetwork", "the subnets live migration may use"),
    _host("ip_interfaces", "Get-NetIPAddress; Get-NetRoute -DestinationPrefix 0.0.0.0/0, ::/0; Get-NetAdapterRdma",
          "addresses, default gateways and RDMA of the host's interfaces"),
    _host("firewall_rules", "Get-NetFirewallRule -Name VIRT-MIGL-In-TCP-NoScope -PolicyStore ActiveStore",
          "the live migration firewall rule in force (TCP 6600)"),
    _host("vm_switches", "Get-VMSwitch", "virtual switch names"),
    _host("supported_versions", "Get-VMHostSupportedVersion", "VM configuration versions the host runs"),
    _host("vms", "Get-VM; Get-VMProcessor", "VMs with version, state, memory, processor compatibility, adapters"),
    _host("processor", "Get-CimInstance -ClassName Win32_Processor", "processor vendor and model"),
    _host("local_groups", "Get-LocalGroupMember -SID S-1-5-32-578, S-1-5-32-544 (or WinNT ADSI)",
          "members of Hyper-V Administrators and Administrators"),
    _host("device_guard",
          "Get-CimInstance -Namespace root\\Microsoft\\Windows\\DeviceGuard -ClassName Win32_DeviceGuard",
          "virtualization-based security services running (Credential Guard)"),
    _host("wsman_credssp", "Get-Item WSMan:\\localhost\\{Client,Service}\\Auth\\CredSSP; AllowFreshCredentials policy",
          "CredSSP client and service settings"),
    _host("clock", "[DateTime]::UtcNow", "the host's UTC time at collection"),
    _host("vm_hard_disks", "Get-VM; Get-VMHardDiskDrive; Get-VHD (and each parent)",
          "each VM's hard disks: virtual disk files with type and sizes, or pass-through disk numbers"),
    _host("vm_media", "Get-VM; Get-VMDvdDrive; Get-VMFloppyDiskDrive", "ISO and floppy images attached to VMs"),
    _host("vm_assigned_devices", "Get-VM; Get-VMAssignableDevice",
          "PCIe devices assigned to VMs (Discrete Device Assignment)"),
    _host("vm_security", "Get-VM; Get-VMSecurity; Get-VMKeyProtector",
          "virtual TPM, shielding and key protector of each VM"),
    _host("volumes", "Get-CimInstance -ClassName Win32_Volume", "volumes with their mount paths, size and free space"),
    _host("pending_reboot",
          "Test-Path Component Based Servicing\\RebootPending, WindowsUpdate\\Auto Update\\RebootRequired; "
          "Session Manager PendingFileRenameOperations",
          "whether the host waits for a restart"),
    _host("hgs_client", "Get-HgsClientConfiguration",
          "Host Guardian client mode (Local or HostGuardianService), whether the host is guarded, its HGS URLs"),
    _host("hgs_guardians", "Get-HgsGuardian; Get-ChildItem Cert:\\LocalMachine\\Shielded VM Local Certificates",
          "guardians with their certificate thumbprints, and the local guardian certificates with private key presence"),
    _host("vm_key_protectors", "Get-VM; Get-VMKeyProtector; ConvertTo-HgsKeyProtector",
          "the owner and guardians named by each vTPM VM's key protector"),
    _host("logon_rights", "Get-CimInstance -Namespace root\\rsop\\computer -ClassName RSOP_GPO, RSOP_UserPrivilegeRight; "
          "secedit /export /areas USER_RIGHTS (read-only, to a temporary file the probe deletes)",
          "who Group Policy grants \"Log on as a service\" and \"Create symbolic links\", and from which GPO, "
          "and who holds them in force"),
    _host("policy_file", "Test-Path; [System.IO.File]::Open (read) of GroupPolicy\\Machine\\Registry.pol, first 8 bytes",
          "whether the local Group Policy file exists and starts with its PReg signature"),
    # storage and GPU partitions of VMs (issue 14: shared-nothing room, SMB storage, GPU-P)
    _host("vm_files", "Get-VM (Path, ConfigurationLocation, SnapshotFileLocation, SmartPagingFilePath); "
          "Get-ChildItem of <ConfigurationLocation>\\Virtual Machines\\<VMId>*",
          "each VM's configuration, checkpoint and smart paging paths and its configuration and state file bytes"),
    _host("vm_checkpoints", "Get-VM; Get-VMSnapshot; Get-ChildItem of <Path>\\Snapshots\\<Id>*; Get-VHD of its disks",
          "each VM's checkpoints with their state file bytes and disks"),
    _host("vm_gpu_partitions", "Get-VM; Get-VMGpuPartitionAdapter",
          "GPU partition adapters of VMs (GPU-P) and whether each supports outgoing live migration"),
    _host("partitionable_gpus", "Get-VMHostPartitionableGpu",
          "the host's partitionable GPUs with their partition counts"),
    FactSpec("info", "domain", "LDAP rootDSE and the domain head: dnsRoot, nETBIOSName, objectSid, currentTime",
             "fact_domain_info", "the domain's names, SID and the DC's time", collector="ldap"),
    FactSpec("domain_controllers", "domain", "DNS SRV _ldap._tcp.dc._msdcs.<domain>", "fact_dcs",
             "the domain controllers DNS advertises", collector="dns"),
    FactSpec("computers", "domain", "LDAP computer objects: sAMAccountName, dNSHostName, servicePrincipalName, "
             "msDS-AllowedToDelegateTo, userAccountControl, msDS-AllowedToActOnBehalfOfOtherIdentity, "
             "msDS-SupportedEncryptionTypes, operatingSystem, whenChanged; nTSecurityDescriptor (DACL: who holds "
             "Allowed to Authenticate) in domains with a selective-authentication trust",
             "fact_computers", "the inventory hosts' computer objects in this domain", collector="ldap"),
    FactSpec("trusts", "domain", "LDAP trustedDomain objects under CN=System", "fact_trusts",
             "the domain's trusts", collector="ldap"),
    FactSpec("dns", "dns", "DNS A/AAAA of the host, PTR of its addresses", "fact_dns_host",
             "the host's forward and reverse DNS records", collector="dns"),
    FactSpec("operator", "operator", "LDAP user object of the inventory's operator, with tokenGroups",
             "fact_operator", "the operator account and every group it is in", collector="ldap"),
    FactSpec("management", "management",
             "hvlm on the machine it runs on: platform; on Windows Get-Module -ListAvailable -Name Hyper-V, "
             "Win32_OperatingSystem, the Hyper-V PowerShell feature's state",
             "fact_management", "the machine hvlm collected from and, on Windows, its Hyper-V management tools",
             collector="hvlm"),
    FactSpec("ad_computer", "view", "the host's object among domains/<its domain>/computers", "fact_computers",
             "the host's own computer object", collector="hvlm", view_of="computers"),
    FactSpec("domain_info", "view", "domains/<its domain>/info", "fact_domain_info",
             "the host's domain", collector="hvlm", view_of="info"),
    FactSpec("trusts", "view", "domains/<its domain>/trusts", "fact_trusts",
             "the trusts of the host's domain", collector="hvlm", view_of="trusts"),
    FactSpec("domain_controllers", "view", "domains/<its domain>/domain_controllers", "fact_dcs",
             "the domain controllers of the host's domain", collector="hvlm", view_of="domain_controllers"),
)


class Catalogue:
    """Facts by scope, with the snapshot schema they make."""

    def __init__(self, specs: Iterable[FactSpec], schema_defs: Mapping[str, dict[str, Any]] | None = None) -> None:
        self._specs: list[FactSpec] = []
        self._schema_defs: dict[str, dict[str, Any]] = dict(schema_defs or {})
        for spec in specs:
            self.add(spec)

    def add(self, spec: FactSpec) -> None:
        where = f" (plug-in {spec.plugin})" if spec.plugin else ""
        if spec.scope not in SCOPES:
            raise FactDefinitionError(f"fact {spec.name!r}{where}: scope must be one of {', '.join(SCOPES)}")
        if not spec.name.isidentifier() or spec.name != spec.name.lower():
            raise FactDefinitionError(f"fact {spec.name!r}{where}: a name is lower-case words joined by '_'")
        if not spec.description.strip() or not spec.source.strip():
            raise FactDefinitionError(f"fact {spec.name!r}{where}: source and description must not be empty")
        clash = self._clash(spec)
        if clash is not None:
            raise FactDefinitionError(
                f"duplicate fact {spec.name!r}: defined by {clash.plugin or 'hvlm'} and {spec.plugin or 'hvlm'}"
            )
        self._specs.append(spec)

    def _clash(self, spec: FactSpec) -> FactSpec | None:
        # names share one namespace per role: host, view and dns facts are all read as "host.<name>"
        role = "domain" if spec.scope == "domain" else spec.scope if spec.scope in _TOP else "host"
        for other in self._specs:
            other_role = "domain" if other.scope == "domain" else other.scope if other.scope in _TOP else "host"
            if other.name == spec.name and other_role == role:
                return other
        return None

    def __iter__(self) -> Iterator[FactSpec]:
        return iter(self._specs)

    def of_scope(self, *scopes: str) -> list[FactSpec]:
        return [s for s in self._specs if s.scope in scopes]

    @property
    def probe_sections(self) -> dict[str, str]:
        """Probe section -> the command it runs, in the probe's order."""
        return {s.name: s.source for s in self._specs if s.probe_section}

    @property
    def host_facts(self) -> frozenset[str]:
        """What a host role (host, source, destination) may declare."""
        return frozenset(s.name for s in self.of_scope("host", "view", "dns"))

    @property
    def domain_facts(self) -> frozenset[str]:
        return frozenset(s.name for s in self.of_scope("domain"))

    @property
    def top_facts(self) -> frozenset[str]:
        """Facts a check of any subject declares by bare name ("operator", "management")."""
        return frozenset(s.name for s in self.of_scope(*_TOP))

    @property
    def domain_views(self) -> dict[str, str]:
        """Host view name -> the domain section it reads."""
        return {s.name: s.view_of for s in self.of_scope("view") if s.view_of}

    def snapshot_schema(self) -> dict[str, Any]:
        """The shipped snapshot schema with the plug-ins' facts added to hosts and domains."""
        schema = load_schema("snapshot")
        plugin = [s for s in self._specs if s.plugin]
        if not plugin:
            return schema
        schema = copy.deepcopy(schema)
        defs = schema["$defs"]
        for name, fragment in self._schema_defs.items():
            if name in defs:
                raise FactDefinitionError(f"schema $def {name!r} of a fact plug-in collides with the snapshot schema's")
            defs[name] = fragment
        for spec in plugin:
            if spec.schema_def not in defs:
                raise FactDefinitionError(
                    f"fact {spec.name!r} (plug-in {spec.plugin}): no schema $def {spec.schema_def!r}; "
                    "give it in the plug-in's SCHEMA_DEFS"
                )
            target = defs["host"] if spec.scope == "host" else defs["domain"]
            target["properties"][spec.name] = {"$ref": f"#/$defs/{spec.schema_def}"}
        return schema


def _plugin_facts(name: str, module: ModuleType) -> tuple[list[FactSpec], dict[str, dict[str, Any]]]:
    facts = getattr(module, "FACTS", None)
    if facts is None:
        raise FactDefinitionError(f"fact plug-in {name!r} has no FACTS")
    specs: list[FactSpec] = []
    for spec in facts:
        if not isinstance(spec, FactSpec):
            raise FactDefinitionError(f"fact plug-in {name!r}: FACTS must hold audit.catalogue.FactSpec entries")
        if spec.scope not in _PLUGIN_SCOPES:
            raise FactDefinitionError(f"fact {spec.name!r} (plug-in {name}): a plug-in adds host or domain facts")
        if spec.collector == "probe":
            raise FactDefinitionError(
                f"fact {spec.name!r} (plug-in {name}): the probe is hvlm's; name the plug-in's own collector"
            )
        specs.append(replace(spec, plugin=name))
    defs = getattr(module, "SCHEMA_DEFS", None) or {}
    if not isinstance(defs, Mapping):
        raise FactDefinitionError(f"fact plug-in {name!r}: SCHEMA_DEFS must be a dict of schema fragments")
    return specs, dict(defs)


def load_catalogue(include_entry_points: bool = True) -> Catalogue:
    """The built-in facts plus every `hvlm.facts` entry point's."""
    cat = Catalogue(BUILTIN)
    if not include_entry_points:
        return cat
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            module = ep.load()
        except Exception as exc:
            raise FactDefinitionError(f"cannot load fact plug-in {ep.name!r} ({ep.value}): {exc}") from exc
        if not isinstance(module, ModuleType):
            raise FactDefinitionError(f"fact plug-in {ep.name!r} must point at a module")
        specs, defs = _plugin_facts(ep.name, module)
        for spec in specs:
            cat.add(spec)
        for def_name, fragment in defs.items():
            if def_name in cat._schema_defs:
                raise FactDefinitionError(f"schema $def {def_name!r} is defined by two fact plug-ins")
            cat._schema_defs[def_name] = fragment
    cat.snapshot_schema()  # a plug-in's schema mistakes surface here, not at the first snapshot
    return cat


_CURRENT: list[Catalogue] = []
_SCHEMA: list[dict[str, Any]] = []


def catalogue() -> Catalogue:
    """The catalogue of this process (built-ins and installed plug-ins), loaded once."""
    if not _CURRENT:
        _CURRENT.append(load_catalogue())
    return _CURRENT[0]


def snapshot_schema() -> dict[str, Any]:
    """The snapshot schema snapshots are validated against (plug-in facts included)."""
    if not _SCHEMA:
        _SCHEMA.append(catalogue().snapshot_schema())
    return _SCHEMA[0]


def refresh_catalogue() -> Catalogue:
    """Read the entry points again (plug-ins installed since, or a test's plug-in gone)."""
    from hvlm.audit.jsonio import clear_validators

    _CURRENT.clear()
    _SCHEMA.clear()
    clear_validators()
    return catalogue()
