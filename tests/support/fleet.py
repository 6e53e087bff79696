"""Models of Hyper-V hosts, VMs and AD objects that build snapshot documents.

One model serves the shipped example (tools/make_example.py), the check tests (small fixtures
that change one thing) and the simulated hosts of the WinRM lab. Defaults describe a healthy,
correctly configured Kerberos host; tests override what they need with dataclasses.replace.
"""

from __future__ import annotations

import copy
import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

from hvlm.audit.knowledge import OS_BY_BUILD, SUPPORTED_VM_VERSIONS
from hvlm.audit.snapshot import error_fact, value_fact

GiB = 1024**3
WHEN = "2026-11-20T09:00:00Z"
CAPTIONS = {
    9200: "Microsoft Windows Server 2012 Datacenter",
    9600: "Microsoft Windows Server 2012 R2 Datacenter",
    14393: "Microsoft Windows Server 2016 Datacenter",
    17763: "Microsoft Windows Server 2019 Datacenter",
    20348: "Microsoft Windows Server 2022 Datacenter",
    26100: "Microsoft Windows Server 2025 Datacenter",
}
VERSIONS = {9200: "6.2.9200", 9600: "6.3.9600"}
WORKSTATION_TRUST_ACCOUNT = 0x1000
SERVER_TRUST_ACCOUNT = 0x2000
TRUSTED_FOR_DELEGATION = 0x80000
NOT_DELEGATED = 0x100000
TRUSTED_TO_AUTH_FOR_DELEGATION = 0x1000000
MIGRATION_SERVICE = "Microsoft Virtual System Migration Service"
VIRTUAL_MACHINES = ("NT VIRTUAL MACHINE\\Virtual Machines", "S-1-5-83-0")
ALL_SERVICES = ("NT SERVICE\\ALL SERVICES", "S-1-5-80-0")
REGISTRY_POL_HEADER = b"PReg\x01\x00\x00\x00"
FIRST_HGS_CLIENT_BUILD = 14393  # the HgsClient module and virtual TPMs came with Windows Server 2016


def guardian_thumbprints(host: str) -> tuple[str, str]:
    """The (encryption, signing) certificate thumbprints of a host's local UntrustedGuardian: one pair per
    host name, as each host generates its own."""
    return tuple(hashlib.sha1(f"{host.upper()}/{use}".encode()).hexdigest().upper()  # type: ignore[return-value]
                 for use in ("encryption", "signing"))


def untrusted_guardian(host: str) -> dict[str, Any]:
    """The UntrustedGuardian of a host as a key protector names it."""
    enc, sig = guardian_thumbprints(host)
    return {"Name": "UntrustedGuardian", "EncryptionCertificateThumbprint": enc, "SigningCertificateThumbprint": sig}


@dataclass
class DiskModel:
    """One hard disk drive of a VM: a virtual disk file (sizes in bytes) or a pass-through disk."""

    path: str | None = None  # default: <host's VHD path>\<vm>.vhdx
    size: int = 127 * GiB  # the virtual size (Get-VHD Size)
    file_size: int = 40 * GiB  # what the file takes now (Get-VHD FileSize)
    vhd_type: str = "Dynamic"
    disk_number: int | None = None  # a pass-through disk
    parents: list[tuple[str, int]] = field(default_factory=list)  # (path, file size) of a differencing chain
    error: str | None = None  # Get-VHD failed for this file


@dataclass
class CheckpointModel:
    """One checkpoint of a VM (Get-VMSnapshot): its own state files and the disk files it holds."""

    name: str
    state_bytes: int = 64 * 1024**2  # its configuration and saved memory (<Path>\\Snapshots\\<Id>*)
    disks: list[tuple[str, int]] = field(default_factory=list)  # (path, file size) of the disks it holds
    kind: str = "Standard"
    error: str | None = None  # its files could not be read


@dataclass
class VMModel:
    name: str
    version: str = "9.0"
    state: str = "Running"
    generation: int = 2
    memory_startup: int = 8 * GiB
    memory_assigned: int | None = None
    dynamic_memory: bool = False
    compatibility_for_migration: bool = False
    adapters: list[tuple[str, str | None]] = field(default_factory=lambda: [("Network Adapter", "vSwitch-Prod")])
    disks: list[DiskModel] = field(default_factory=lambda: [DiskModel()])
    iso: str | None = None  # the ISO in its DVD drive
    floppy: str | None = None  # the virtual floppy of a generation 1 VM
    assigned_devices: list[str] = field(default_factory=list)  # LocationPath of DDA devices
    tpm: bool = False
    shielded: bool = False
    guardian: str | None = None  # the host whose UntrustedGuardian owns its key protector (default: its own host)
    # paths, checkpoints and GPU partitions (vm_files, vm_checkpoints, vm_gpu_partitions)
    config_path: str | None = None  # default: the host's VM path
    config_bytes: int = 48 * 1024**2  # its configuration and runtime-state files
    smart_paging_in_use: bool = False
    checkpoints: list[CheckpointModel] = field(default_factory=list)
    files_error: str | None = None  # its configuration folder could not be listed
    gpu_partitions: list[tuple[str | None, bool]] = field(default_factory=list)  # (InstancePath, outgoing LM)

    def vm_id(self, host: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{host}/{self.name}"))

    def hard_disks(self, host: str, vhd_path: str) -> list[dict[str, Any]]:
        out = []
        for n, d in enumerate(self.disks):
            ident = {"VMName": self.name, "VMId": self.vm_id(host),
                     "ControllerType": "IDE" if self.generation == 1 else "SCSI",
                     "ControllerNumber": 0, "ControllerLocation": n}
            if d.disk_number is not None:
                out.append({**ident, "Path": f"Disk {d.disk_number} {d.size // GiB}.00 GB Bus 0 Lun {n} Target 0",
                            "DiskNumber": d.disk_number, "VhdType": None, "VhdFormat": None, "FileSize": None,
                            "Size": None, "ParentPath": None, "Parents": [], "VhdError": None})
                continue
            path = d.path or f"{vhd_path}\\{self.name}{'' if n == 0 else f'-{n}'}.vhdx"
            vhd: dict[str, Any] = {"VhdType": d.vhd_type, "VhdFormat": "VHDX", "FileSize": d.file_size,
                                   "Size": d.size, "ParentPath": d.parents[0][0] if d.parents else None,
                                   "Parents": [{"Path": p, "VhdType": "Dynamic" if i == len(d.parents) - 1 else "Differencing",
                                                "FileSize": fs, "Size": d.size} for i, (p, fs) in enumerate(d.parents)]}
            if d.error is not None:
                vhd = {"VhdType": None, "VhdFormat": None, "FileSize": None, "Size": None, "ParentPath": None,
                       "Parents": []}
            out.append({**ident, "Path": path, "DiskNumber": None, **vhd, "VhdError": d.error})
        return out

    def media(self, host: str) -> list[dict[str, Any]]:
        ident = {"VMName": self.name, "VMId": self.vm_id(host)}
        out: list[dict[str, Any]] = [{**ident, "DriveType": "DvdDrive", "ControllerNumber": 1 if self.generation == 1 else 0,
                                      "ControllerLocation": 0 if self.generation == 1 else len(self.disks),
                                      "Path": self.iso, "DvdMediaType": "ISO" if self.iso else "None"}]
        if self.generation == 1:
            out.append({**ident, "DriveType": "FloppyDiskDrive", "ControllerNumber": None, "ControllerLocation": None,
                        "Path": self.floppy, "DvdMediaType": None})
        return out

    def devices(self, host: str) -> list[dict[str, Any]]:
        return [{"VMName": self.name, "VMId": self.vm_id(host), "InstanceID": f"PCIP\\VEN_10DE&DEV_20B5\\{n}",
                 "LocationPath": loc} for n, loc in enumerate(self.assigned_devices)]

    def security(self, host: str) -> dict[str, Any]:
        return {"VMName": self.name, "VMId": self.vm_id(host), "TpmEnabled": self.tpm, "Shielded": self.shielded,
                "EncryptStateAndVmMigrationTraffic": self.shielded, "KeyProtectorPresent": self.tpm or self.shielded}

    def key_protector(self, host: str) -> dict[str, Any] | None:
        """Its key protector as Get-VMKeyProtector and ConvertTo-HgsKeyProtector show it (generation 2, vTPM)."""
        if self.generation != 2 or not (self.tpm or self.shielded):
            return None
        return {"VMName": self.name, "VMId": self.vm_id(host), "Owner": untrusted_guardian(self.guardian or host),
                "Guardians": [], "ReadError": None}
    def files(self, host: str, vm_path: str) -> dict[str, Any]:
        where = self.config_path or vm_path
        return {"VMName": self.name, "VMId": self.vm_id(host), "Path": where, "ConfigurationLocation": where,
                "SnapshotFileLocation": where, "SmartPagingFilePath": where,
                "SmartPagingFileInUse": self.smart_paging_in_use,
                "ConfigurationBytes": None if self.files_error else self.config_bytes, "FilesError": self.files_error}

    def checkpoint_rows(self, host: str, vm_path: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        parent: str | None = None
        for c in self.checkpoints:
            ident = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{host}/{self.name}/{c.name}"))
            out.append({"VMName": self.name, "VMId": self.vm_id(host), "Name": c.name, "Id": ident,
                        "SnapshotType": c.kind, "ParentSnapshotId": parent, "CreationTime": WHEN,
                        "Path": self.config_path or vm_path,
                        "HardDrives": [] if c.error else [{"Path": p, "FileSize": fs} for p, fs in c.disks],
                        "StateBytes": None if c.error else c.state_bytes, "FilesError": c.error})
            parent = ident
        return out

    def gpu_rows(self, host: str) -> list[dict[str, Any]]:
        return [{"VMName": self.name, "VMId": self.vm_id(host), "Id": f"gpu-p-{n}", "InstancePath": path,
                 "SupportsOutgoingLiveMigration": outgoing} for n, (path, outgoing) in enumerate(self.gpu_partitions)]

    def to_fact_value(self, host: str) -> dict[str, Any]:
        running = self.state == "Running"
        assigned = self.memory_assigned if self.memory_assigned is not None else (self.memory_startup if running else 0)
        return {
            "Name": self.name,
            "Id": self.vm_id(host),
            "Version": self.version,
            "State": self.state,
            "Generation": self.generation,
            "MemoryStartup": self.memory_startup,
            "MemoryAssigned": assigned,
            "DynamicMemoryEnabled": self.dynamic_memory,
            "CompatibilityForMigrationEnabled": self.compatibility_for_migration,
            "NetworkAdapters": [{"Name": n, "SwitchName": s} for n, s in self.adapters],
        }


@dataclass
class HostModel:
    """A Hyper-V host as the probe would see it. `index` picks its addresses."""

    name: str  # short name, e.g. "HV01"
    domain: str = "corp.contoso.com"
    index: int = 1
    build: int = 17763
    part_of_domain: bool = True
    domain_role: int = 3
    cpu_vendor: str = "GenuineIntel"
    cpu_name: str = "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz"
    hyperv_state: str = "Installed"
    vmms_status: str = "Running"
    vmms_start: str = "Automatic"
    migration_enabled: bool = True
    auth: str = "Kerberos"
    performance: str = "Compression"
    max_vm_migrations: int = 2
    max_storage_migrations: int = 2
    use_any_network: bool = False
    migration_networks: list[tuple[str, int | None]] | None = None  # default: the LM subnet
    extra_interfaces: list[dict[str, Any]] = field(default_factory=list)
    rdma: bool = False
    firewall_enabled: bool = True
    switches: list[str] = field(default_factory=lambda: ["vSwitch-Prod"])
    vms: list[VMModel] = field(default_factory=list)
    total_memory: int = 512 * GiB
    free_memory: int = 256 * GiB
    hyperv_admins: list[tuple[str, str]] = field(default_factory=list)  # (name, SID)
    administrators: list[tuple[str, str]] = field(default_factory=list)
    credential_guard: bool = False
    credssp_client: bool = False
    credssp_service: bool = False
    allow_fresh_credentials: list[str] = field(default_factory=list)
    utc_time: str = WHEN
    supported_versions: list[str] | None = None  # default: the documented table for the build
    vm_path: str = "D:\\Hyper-V"
    vhd_path: str = "D:\\Hyper-V\\Virtual Hard Disks"
    # (mount path, capacity, free space); default: a system volume C: and a VM volume D:
    volumes: list[tuple[str, int, int]] = field(
        default_factory=lambda: [("C:\\", 200 * GiB, 120 * GiB), ("D:\\", 4096 * GiB, 2048 * GiB)])
    mac_range: tuple[str, str] | None = None  # default: Hyper-V's, from the host's management address
    pending_reboot: list[str] = field(default_factory=list)  # ComponentBasedServicing, WindowsUpdate, ...
    # host guardian: the HGS client's mode, and the hosts whose UntrustedGuardian certificates this host also holds
    hgs_mode: str = "Local"
    guarded: bool = False
    kps_url: str | None = None
    guardians_from: list[str] = field(default_factory=list)
    guardian_private_keys: bool = True
    # a GPO that sets "Log on as a service": (GPO name, [(account, SID)]); None: no GPO sets it
    service_logon_gpo: tuple[str, list[tuple[str, str | None]]] | None = None
    # the same for "Create symbolic links" (SeCreateSymbolicLinkPrivilege); None: no GPO sets it
    symlink_gpo: tuple[str, list[tuple[str, str | None]]] | None = None
    rsop_gpos: int = 2  # GPOs in the host's Resultant Set of Policy (0: no RSoP data)
    # the effective rights (secedit /export): Windows' and Hyper-V's local lists, or the GPO's where one sets the
    # right; False takes NT VIRTUAL MACHINE\Virtual Machines out of that right's local list (removed by hand)
    local_service_logon_vms: bool = True
    local_symlink_vms: bool = True
    effective_rights_error: str | None = None  # secedit failed (e.g. not elevated): Effective is null
    registry_pol: bytes | None = REGISTRY_POL_HEADER  # Registry.pol's first bytes; None: no file
    # partitionable GPUs: (Name, the device instance path; PartitionCount; ValidPartitionCounts)
    gpus: list[tuple[str, int, list[int]]] = field(default_factory=list)
    errors: dict[str, tuple[str, str]] = field(default_factory=dict)  # section -> (kind, message)

    @property
    def fqdn(self) -> str:
        return f"{self.name.lower()}.{self.domain}"

    @property
    def mgmt_ip(self) -> str:
        return f"10.0.0.{10 + self.index}"

    @property
    def lm_ip(self) -> str:
        return f"192.168.50.{10 + self.index}"

    @property
    def macs(self) -> tuple[str, str]:
        """Hyper-V's default range: 00-15-5D, then the last two bytes of the host's address."""
        if self.mac_range is not None:
            return self.mac_range
        octets = [int(x) for x in self.mgmt_ip.split(".")]
        stem = f"00155D{octets[2]:02X}{octets[3]:02X}"
        return stem + "00", stem + "FF"

    def sections(self) -> dict[str, Any]:
        """The host's facts as plain values keyed by snapshot section (probe output shape)."""
        networks = self.migration_networks
        if networks is None:
            networks = [("192.168.50.0/24", 0)]
        versions = self.supported_versions or sorted(
            SUPPORTED_VM_VERSIONS.get(self.build, {"5.0"}), key=lambda v: tuple(int(x) for x in v.split("."))
        )
        release = OS_BY_BUILD.get(self.build)
        return {
            "computer_system": {
                "Name": self.name,
                "DNSHostName": self.name.lower(),
                "Domain": self.domain if self.part_of_domain else "WORKGROUP",
                "PartOfDomain": self.part_of_domain,
                "DomainRole": self.domain_role,
                "HypervisorPresent": self.hyperv_state == "Installed",
                "TotalPhysicalMemory": self.total_memory,
            },
            "operating_system": {
                "Caption": CAPTIONS.get(self.build, f"Microsoft Windows Server (build {self.build})"),
                "Version": VERSIONS.get(self.build, f"10.0.{self.build}"),
                "BuildNumber": str(self.build),
                "ProductType": 3,
                "FreePhysicalMemory": self.free_memory // 1024,
                "TotalVisibleMemorySize": self.total_memory // 1024,
            },
            "hyperv_feature": {"Name": "Hyper-V", "InstallState": self.hyperv_state},
            "vmms_service": {"Name": "vmms", "Status": self.vmms_status, "StartType": self.vmms_start},
            "vmhost": {
                "ComputerName": self.name,
                "FullyQualifiedDomainName": self.fqdn if self.part_of_domain else self.name,
                "VirtualMachineMigrationEnabled": self.migration_enabled,
                "VirtualMachineMigrationAuthenticationType": self.auth,
                "VirtualMachineMigrationPerformanceOption": self.performance,
                "MaximumVirtualMachineMigrations": self.max_vm_migrations,
                "MaximumStorageMigrations": self.max_storage_migrations,
                "UseAnyNetworkForMigration": self.use_any_network,
                "MemoryCapacity": self.total_memory,
                "LogicalProcessorCount": 64,
                "VirtualMachinePath": self.vm_path,
                "VirtualHardDiskPath": self.vhd_path,
                "MacAddressMinimum": self.macs[0],
                "MacAddressMaximum": self.macs[1],
            },
            "migration_networks": [{"Subnet": s, "Priority": p} for s, p in networks],
            "ip_interfaces": [
                {"InterfaceAlias": "Management", "IPAddress": self.mgmt_ip, "PrefixLength": 24,
                 "AddressFamily": "IPv4", "DefaultGateway": "10.0.0.1", "RdmaEnabled": False},
                {"InterfaceAlias": "LiveMigration", "IPAddress": self.lm_ip, "PrefixLength": 24,
                 "AddressFamily": "IPv4", "DefaultGateway": None, "RdmaEnabled": self.rdma},
                *copy.deepcopy(self.extra_interfaces),
            ],
            "firewall_rules": [
                {"Name": "VIRT-MIGL-In-TCP-NoScope", "DisplayName": "Hyper-V (MIG-TCP-In)",
                 "Enabled": self.firewall_enabled, "Direction": "Inbound", "Action": "Allow", "Profile": "Any"}
            ],
            "vm_switches": [{"Name": s, "SwitchType": "External"} for s in self.switches],
            "supported_versions": [
                {"Name": f"Microsoft Windows Server {release.short if release else ''}".strip(),
                 "Version": v, "IsDefault": v == versions[-1]}
                for v in versions
            ],
            "vms": [vm.to_fact_value(self.name) for vm in self.vms],
            "processor": {"Manufacturer": self.cpu_vendor, "Name": self.cpu_name, "NumberOfLogicalProcessors": 64},
            "local_groups": {
                "S-1-5-32-578": {"Name": "Hyper-V Administrators", "Members": [
                    {"Name": n, "SID": sid, "ObjectClass": "Group" if "Group" in n or "Admins" in n else "User",
                     "PrincipalSource": "ActiveDirectory"} for n, sid in self.hyperv_admins]},
                "S-1-5-32-544": {"Name": "Administrators", "Members": [
                    {"Name": n, "SID": sid, "ObjectClass": "Group" if "Admins" in n else "User",
                     "PrincipalSource": "ActiveDirectory" if "\\" in n else "Local"} for n, sid in self.administrators]},
            },
            "device_guard": {
                "SecurityServicesRunning": [1, 2] if self.credential_guard else [0],
                "SecurityServicesConfigured": [1, 2] if self.credential_guard else [0],
                "VirtualizationBasedSecurityStatus": 2 if self.credential_guard else 0,
            },
            "wsman_credssp": {
                "ClientCredSSP": self.credssp_client,
                "ServiceCredSSP": self.credssp_service,
                "AllowFreshCredentials": list(self.allow_fresh_credentials),
            },
            "clock": {"UtcTime": self.utc_time},
            "vm_hard_disks": [d for vm in self.vms for d in vm.hard_disks(self.name, self.vhd_path)],
            "vm_media": [m for vm in self.vms for m in vm.media(self.name)],
            "vm_assigned_devices": [d for vm in self.vms for d in vm.devices(self.name)],
            "vm_security": [vm.security(self.name) for vm in self.vms],
            "volumes": [{"Name": name, "DriveLetter": name[:2] if name[1:3] == ":\\" and len(name) == 3 else None,
                         "Label": "System" if name.upper() == "C:\\" else "VMs", "FileSystem": "NTFS",
                         "DriveType": 3, "Capacity": cap, "FreeSpace": free}
                        for name, cap, free in self.volumes],
            "pending_reboot": {k: k in self.pending_reboot
                               for k in ("ComponentBasedServicing", "WindowsUpdate", "PendingFileRenameOperations")},
            "vm_files": [vm.files(self.name, self.vm_path) for vm in self.vms],
            "vm_checkpoints": [c for vm in self.vms for c in vm.checkpoint_rows(self.name, self.vm_path)],
            "vm_gpu_partitions": [g for vm in self.vms for g in vm.gpu_rows(self.name)],
            "partitionable_gpus": [{"Name": name, "PartitionCount": count, "ValidPartitionCounts": list(valid),
                                    "TotalVRAM": 16 * GiB, "AvailableVRAM": 16 * GiB} for name, count, valid in self.gpus],
            **self.guardian_and_policy_sections(),
        }

    def guardian_and_policy_sections(self) -> dict[str, Any]:
        """hgs_client, hgs_guardians, vm_key_protectors, logon_rights and policy_file."""
        holders = [self.name, *self.guardians_from]
        certificates = []
        for holder in holders:
            for use, thumbprint in zip(("Encryption", "Signing"), guardian_thumbprints(holder), strict=True):
                certificates.append({"Subject": f"CN=Shielded VM {use} Certificate (UntrustedGuardian) ({holder.upper()})",
                                     "Thumbprint": thumbprint, "HasPrivateKey": self.guardian_private_keys,
                                     "NotAfter": "2036-11-20T09:00:00Z"})
        own = untrusted_guardian(self.name)
        rights = []
        for right, setting in (("SeServiceLogonRight", self.service_logon_gpo),
                               ("SeCreateSymbolicLinkPrivilege", self.symlink_gpo)):
            if setting is None:
                continue
            gpo, accounts = setting
            base = ",".join(f"DC={p}" for p in self.domain.split("."))
            rights.append({"UserRight": right, "Precedence": 1,
                           "GPOID": f"cn={{{uuid.uuid5(uuid.NAMESPACE_DNS, gpo)}}},cn=policies,cn=system,{base}".upper(),
                           "GPOName": gpo, "Accounts": [{"Name": n, "SID": sid} for n, sid in accounts]})
        pol = self.registry_pol
        client: dict[str, Any] = {
            "Installed": True, "Mode": self.hgs_mode, "IsHostGuarded": self.guarded, "KeyProtectionServerUrl": self.kps_url,
            "AttestationServerUrl": self.kps_url.replace("KeyProtection", "Attestation") if self.kps_url else None,
            "AttestationStatus": ("Passed" if self.guarded else "InsecureHostConfiguration")
            if self.hgs_mode == "HostGuardianService" else "NotConfigured"}
        guardians: dict[str, Any] = {"Guardians": [{**own, "HasPrivateSigningKey": self.guardian_private_keys}],
                                     "LocalCertificates": certificates}
        if self.build < FIRST_HGS_CLIENT_BUILD:  # no HgsClient module, no store, no vTPM before 2016
            client = dict.fromkeys(client, None) | {"Installed": False}
            guardians = {"Guardians": [], "LocalCertificates": []}
        return {
            "hgs_client": client,
            "hgs_guardians": guardians,
            "vm_key_protectors": [] if self.build < FIRST_HGS_CLIENT_BUILD else
            [kp for vm in self.vms if (kp := vm.key_protector(self.name)) is not None],
            "logon_rights": {"GroupPolicyObjects": self.rsop_gpos, "Rights": rights, **self.effective_rights()},
            "policy_file": {"Path": "C:\\Windows\\System32\\GroupPolicy\\Machine\\Registry.pol",
                            "Exists": pol is not None, "Length": None if pol is None else max(len(pol), 8 + 64 * 3),
                            "Header": None if pol is None else pol[:8].hex().upper(), "ReadError": None},
        }

    def effective_rights(self) -> dict[str, Any]:
        """Effective and EffectiveError of logon_rights, as secedit exports them: SIDs written *S-1-..."""
        if self.effective_rights_error is not None:
            return {"Effective": None, "EffectiveError": self.effective_rights_error}
        local = {"SeServiceLogonRight": ([ALL_SERVICES[1]], self.local_service_logon_vms),
                 "SeCreateSymbolicLinkPrivilege": (["S-1-5-32-544"], self.local_symlink_vms)}
        effective: dict[str, Any] = {}
        for right, gpo in (("SeServiceLogonRight", self.service_logon_gpo),
                           ("SeCreateSymbolicLinkPrivilege", self.symlink_gpo)):
            sids, vms = local[right]
            if gpo is not None:  # the GPO's list replaces the local one
                effective[right] = [{"Name": f"*{sid}" if sid else name, "SID": sid} for name, sid in gpo[1]]
                continue
            effective[right] = [{"Name": f"*{sid}", "SID": sid} for sid in [*sids, *([VIRTUAL_MACHINES[1]] if vms else [])]]
        return {"Effective": effective, "EffectiveError": None}

    def facts(self, collector: str = "example") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for section, value in self.sections().items():
            if section in self.errors:
                kind, message = self.errors[section]
                out[section] = error_fact(kind, message, collector, self.fqdn, f"probe section {section}", WHEN)
            else:
                out[section] = value_fact(value, collector, self.fqdn, f"probe section {section}", WHEN)
        return out


@dataclass
class ComputerModel:
    """A host's computer object in AD."""

    host: HostModel
    sid: str
    delegate_to: list[str] = field(default_factory=list)
    any_protocol: bool = True
    unconstrained: bool = False
    rbcd: list[tuple[str, str]] = field(default_factory=list)  # (SID, name) of principals
    spns: list[str] | None = None
    when_changed: str | None = None  # whenChanged as the DC reports it
    # msDS-SupportedEncryptionTypes: what Windows Server writes for itself (RC4, AES128, AES256)
    encryption_types: int | None = 0x1C

    def value(self) -> dict[str, Any]:
        h = self.host
        short, fqdn = h.name.upper(), h.fqdn
        spns = self.spns
        if spns is None:
            spns = [f"{svc}/{n}" for svc in ("HOST", "RestrictedKrbHost", MIGRATION_SERVICE,
                                            "Microsoft Virtual Console Service") for n in (short, fqdn)]
        # a domain controller (DomainRole 4 or 5) has a server trust account in OU=Domain Controllers
        dc = h.domain_role >= 4
        uac = SERVER_TRUST_ACCOUNT if dc else WORKSTATION_TRUST_ACCOUNT
        if self.any_protocol and self.delegate_to:
            uac |= TRUSTED_TO_AUTH_FOR_DELEGATION
        if self.unconstrained:
            uac |= TRUSTED_FOR_DELEGATION
        base = ",".join(f"DC={p}" for p in h.domain.split("."))
        release = OS_BY_BUILD.get(h.build)
        return {
            "distinguishedName": f"CN={short},OU={'Domain Controllers' if dc else 'Hyper-V'},{base}",
            "dNSHostName": fqdn,
            "sAMAccountName": f"{short}$",
            "objectSid": self.sid,
            "servicePrincipalName": spns,
            "msDS-AllowedToDelegateTo": list(self.delegate_to),
            "userAccountControl": uac,
            "msDS-SupportedEncryptionTypes": self.encryption_types,
            "msDS-AllowedToActOnBehalfOfOtherIdentity": [{"sid": s, "name": n} for s, n in self.rbcd],
            "operatingSystem": (CAPTIONS.get(h.build, "Windows Server").replace("Microsoft ", "")),
            "operatingSystemVersion": f"{VERSIONS.get(h.build, '10.0')} ({h.build})" if release else None,
            **({"whenChanged": self.when_changed} if self.when_changed else {}),
        }


def delegation_entries(dest: HostModel, services: tuple[str, ...] = (MIGRATION_SERVICE, "cifs")) -> list[str]:
    """The four SPNs ADUC writes for one destination: each service by short name and FQDN."""
    return [f"{svc}/{n}" for svc in services for n in (dest.name.upper(), dest.fqdn)]


def build_snapshot(
    hosts: list[HostModel],
    *,
    computers: dict[str, list[ComputerModel]] | None = None,
    domains: dict[str, dict[str, Any]] | None = None,
    operator: dict[str, Any] | None = None,
    operator_name: str | None = "CORP\\hvadmin",
    pairs: list[tuple[str, str]] | None = None,
    groups: dict[str, list[str]] | None = None,
    dns: dict[str, dict[str, Any] | tuple[str, str]] | None = None,
    collector: str = "example",
) -> dict[str, Any]:
    """A whole snapshot document. Hosts are keyed by FQDN. DNS defaults to consistent A/PTR."""
    names = [h.fqdn for h in hosts]
    if pairs is None:
        members = list(groups.values()) if groups else [names]
        pairs = list(dict.fromkeys((a, b) for group in members for a in group for b in group if a != b))
    doc: dict[str, Any] = {
        "schema_version": 1,
        "created": WHEN,
        "complete": True,
        "tool": {"name": "hvlm", "version": "0.1.0"},
        "inventory": {"path": None, "operator": operator_name, "hosts": names,
                      "pairs": [list(p) for p in pairs], "groups": groups or {}},
        "hosts": {h.fqdn: h.facts(collector) for h in hosts},
        "domains": {},
        "dns": {},
    }
    for dom, sections in (domains or {}).items():
        doc["domains"][dom] = {k: (v if "source" in v else value_fact(v, "ldap", None, f"domain {k}", WHEN))
                               for k, v in sections.items()}
    for dom, objs in (computers or {}).items():
        doc["domains"].setdefault(dom, {})["computers"] = value_fact(
            [c.value() for c in objs], "ldap", None, "(&(objectCategory=computer)(|(dNSHostName=...)))", WHEN)
    overrides = dns or {}
    for h in hosts:
        o = overrides.get(h.fqdn)
        if isinstance(o, tuple):
            doc["dns"][h.fqdn] = error_fact(o[0], o[1], "dns", None, f"A {h.fqdn}", WHEN)
        else:
            value = o if o is not None else {"name": h.fqdn, "A": [h.mgmt_ip], "AAAA": [],
                                             "PTR": {h.mgmt_ip: [h.fqdn + "."]}}
            doc["dns"][h.fqdn] = value_fact(value, "dns", None, f"A/AAAA {h.fqdn}; PTR", WHEN)
    if operator is not None:
        doc["operator"] = operator if "source" in operator else value_fact(operator, "ldap", None, "operator", WHEN)
    doc["management"] = management_fact()
    return doc


def management_fact(build: int = 20348, modules: tuple[str, ...] = ("1.1", "2.0.0.0")) -> dict[str, Any]:
    """The machine hvlm collected from (audit/collect/management.py): by default a Windows Server 2022
    management server with both Hyper-V PowerShell modules, so every host can be managed from it."""
    value = {"computer": "admin01.corp.contoso.com", "platform": "Windows", "inventory_host": None,
             "windows": {"BuildNumber": build, "Caption": "Microsoft Windows Server 2022 Datacenter", "ProductType": 3,
                         "HyperVModule": list(modules), "ToolsFeature": "Installed", "ToolsFeatureError": None}}
    return value_fact(value, "hvlm", "admin01.corp.contoso.com", "Get-Module -ListAvailable -Name Hyper-V", WHEN)
