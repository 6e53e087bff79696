"""Documented facts about Windows Server releases and Hyper-V, with their sources.

Sources are in ../shared/docs/hyperv-live-migration-facts.md (sections 2.1 and 5.4).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DOCS",
    "OS_BY_BUILD",
    "SUPPORTED_VM_VERSIONS",
    "OsRelease",
    "os_release",
    "parse_version",
]


@dataclass(frozen=True)
class OsRelease:
    build: int
    name: str  # "Windows Server 2019"
    short: str  # "2019"
    supported: bool  # within the non-clustered live-migration matrix (2012 R2 .. 2025)


OS_BY_BUILD: dict[int, OsRelease] = {
    9200: OsRelease(9200, "Windows Server 2012", "2012", False),
    9600: OsRelease(9600, "Windows Server 2012 R2", "2012 R2", True),
    14393: OsRelease(14393, "Windows Server 2016", "2016", True),
    17763: OsRelease(17763, "Windows Server 2019", "2019", True),
    20348: OsRelease(20348, "Windows Server 2022", "2022", True),
    26100: OsRelease(26100, "Windows Server 2025", "2025", True),
}


def os_release(build: str | int) -> OsRelease | None:
    try:
        return OS_BY_BUILD.get(int(build))
    except (TypeError, ValueError):
        return None


def _versions(*names: str) -> frozenset[str]:
    return frozenset(names)


# "Upgrade virtual machine version in Hyper-V" (ms.date 2025-01-20), LTSC hosts.
SUPPORTED_VM_VERSIONS: dict[int, frozenset[str]] = {
    9600: _versions("5.0"),
    14393: _versions("5.0", "6.2", "7.0", "7.1", "8.0"),
    17763: _versions("5.0", "6.2", "7.0", "7.1", "8.0", "8.1", "8.2", "8.3", "9.0"),
    20348: _versions("8.0", "8.1", "8.2", "8.3", "9.0", "9.1", "9.2", "9.3", "10.0"),
    26100: _versions("8.0", "8.1", "8.2", "8.3", "9.0", "9.1", "9.2", "9.3", "10.0", "11.0", "12.0"),
}


def parse_version(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


_LEARN = "https://learn.microsoft.com"
_HV = f"{_LEARN}/windows-server/virtualization/hyper-v"
DOCS: dict[str, str] = {
    "setup": f"{_HV}/deploy/set-up-hosts-for-live-migration-without-failover-clustering",
    "use": f"{_HV}/manage/use-live-migration-without-failover-clustering-to-move-a-virtual-machine",
    "overview": f"{_HV}/manage/live-migration-overview",
    "vmversion": f"{_HV}/deploy/upgrade-virtual-machine-version-in-hyper-v-on-windows-or-windows-server",
    "install": f"{_HV}/get-started/install-hyper-v",
    "set-vmhost": f"{_LEARN}/powershell/module/hyper-v/set-vmhost",
    "enable-vmmigration": f"{_LEARN}/powershell/module/hyper-v/enable-vmmigration",
    "ts-lm": f"{_LEARN}/troubleshoot/windows-server/virtualization/troubleshoot-live-migration-issues",
    "ts-2026": f"{_LEARN}/troubleshoot/windows-server/virtualization/hyper-v-virtual-machine-live-migration",
    "cg-known-issues": f"{_LEARN}/windows/security/identity-protection/credential-guard/considerations-known-issues",
    "cg-configure": f"{_LEARN}/windows/security/identity-protection/credential-guard/configure",
    "second-hop": f"{_LEARN}/powershell/scripting/security/remoting/ps-remoting-second-hop",
    "kcd-overview": f"{_LEARN}/windows-server/security/kerberos/kerberos-constrained-delegation-overview",
    "uac": f"{_LEARN}/windows/win32/adschema/a-useraccountcontrol",
    "protected-users": f"{_LEARN}/windows-server/security/credentials-protection-and-management/protected-users-security-group",
    "processor-compat": f"{_HV}/manage/processor-compatibility-mode-hyper-v",
    "set-vmprocessor": f"{_LEARN}/powershell/module/hyper-v/set-vmprocessor",
    "update-vmversion": f"{_LEARN}/powershell/module/hyper-v/update-vmversion",
    "migration-network": f"{_LEARN}/powershell/module/hyper-v/add-vmmigrationnetwork",
    "credssp": f"{_LEARN}/powershell/module/microsoft.wsman.management/enable-wsmancredssp",
    "kcd-blog": "https://techcommunity.microsoft.com/t5/virtualization/live-migration-via-constrained-delegation-with-kerberos-in/ba-p/382334",
    "win32-computersystem": f"{_LEARN}/windows/win32/cimwin32prov/win32-computersystem",
    "trusts": f"{_LEARN}/openspecs/windows_protocols/ms-adts/c9efe39c-f5f9-43e9-9479-941c20d0e590",
    "allowed-to-authenticate": f"{_LEARN}/windows/win32/adschema/r-allowed-to-authenticate",
    "selective-auth": f"{_LEARN}/dotnet/api/system.directoryservices.activedirectory.forest.getselectiveauthenticationstatus",
    # migration-network, processor, switch, memory and version checks
    "supported-version": f"{_LEARN}/powershell/module/hyper-v/get-vmhostsupportedversion",
    "move-vm": f"{_LEARN}/powershell/module/hyper-v/move-vm",
    "compare-vm": f"{_LEARN}/powershell/module/hyper-v/compare-vm",
    "new-vmswitch": f"{_LEARN}/powershell/module/hyper-v/new-vmswitch",
    "connect-vmnetworkadapter": f"{_LEARN}/powershell/module/hyper-v/connect-vmnetworkadapter",
    "enable-netfirewallrule": f"{_LEARN}/powershell/module/netsecurity/enable-netfirewallrule",
    "hyperv-networking": f"{_HV}/plan/plan-hyper-v-networking-in-windows-server",
    # domain, name-resolution, operator-rights and authentication checks
    "bpa-domain-membership": f"{_HV}/best-practices-analyzer/domain-membership-is-recommended-for-servers-running-hyper-v",
    "trust-direction": f"{_LEARN}/dotnet/api/system.directoryservices.activedirectory.trustdirection",
    "dns-ptr": f"{_LEARN}/powershell/module/dnsserver/add-dnsserverresourcerecordptr",
    "add-localgroupmember": f"{_LEARN}/powershell/module/microsoft.powershell.localaccounts/add-localgroupmember",
    "set-adcomputer": f"{_LEARN}/powershell/module/activedirectory/set-adcomputer",
    "set-adaccountcontrol": f"{_LEARN}/powershell/module/activedirectory/set-adaccountcontrol",
    "setspn": f"{_LEARN}/windows-server/administration/windows-commands/setspn",
    "credssp-provider": f"{_LEARN}/windows/win32/secauthn/credential-security-support-provider",
    "kerberos-clock-skew": f"{_LEARN}/previous-versions/windows/it-pro/windows-server-2012-r2-and-2012/jj852172(v=ws.11)",
    "w32tm": f"{_LEARN}/windows-server/networking/windows-time-service/windows-time-service-tools-and-settings",
    "dda-plan": f"{_HV}/plan/plan-for-deploying-devices-using-discrete-device-assignment",
    "set-vmdvddrive": f"{_LEARN}/powershell/module/hyper-v/set-vmdvddrive",
    "set-vmfloppydiskdrive": f"{_LEARN}/powershell/module/hyper-v/set-vmfloppydiskdrive",
    "get-vhd": f"{_LEARN}/powershell/module/hyper-v/get-vhd",
    "vtpm-certificates": f"{_LEARN}/virtualization/community/team-blog/2017/"
    "20171214-migrating-local-vm-owner-certificates-for-vms-with-vtpm",
    "get-vmsecurity": f"{_LEARN}/powershell/module/hyper-v/get-vmsecurity",
    "wac-known-issues": f"{_LEARN}/windows-server/manage/windows-admin-center/support/known-issues",
    "kile-enctypes": f"{_LEARN}/openspecs/windows_protocols/ms-kile/6cfc7b50-11ed-4b4d-846d-6f08f0812919",
    "ada2-enctypes": f"{_LEARN}/openspecs/windows_protocols/ms-ada2/a75d1c3f-0bb3-470c-99bd-2bb557119483",
    # host guardian, user rights and the local policy file (issue 14, host side)
    "get-hgsclientconfiguration": f"{_LEARN}/powershell/module/hgsclient/get-hgsclientconfiguration",
    "get-hgsguardian": f"{_LEARN}/powershell/module/hgsclient/get-hgsguardian",
    "hgs-client-configuration": f"{_LEARN}/previous-versions/windows/desktop/hgsclientwmi/msft-hgsclientconfiguration",
    "guarded-fabric": f"{_LEARN}/windows-server/security/guarded-fabric-shielded-vm/guarded-fabric-and-shielded-vms",
    "export-pfxcertificate": f"{_LEARN}/powershell/module/pki/export-pfxcertificate",
    "import-pfxcertificate": f"{_LEARN}/powershell/module/pki/import-pfxcertificate",
    "log-on-as-a-service": f"{_LEARN}/previous-versions/windows/it-pro/windows-10/security/threat-protection/"
    "security-policy-settings/log-on-as-a-service",
    "create-symbolic-links": f"{_LEARN}/previous-versions/windows/it-pro/windows-10/security/threat-protection/"
    "security-policy-settings/create-symbolic-links",
    "ts-guide": f"{_LEARN}/troubleshoot/windows-server/virtualization/troubleshoot-live-migration-guidance",
    "gpupdate": f"{_LEARN}/windows-server/administration/windows-commands/gpupdate",
    "registry-pol-format": f"{_LEARN}/previous-versions/windows/desktop/policy/registry-policy-file-format",
    # GPU partitions, checkpoints and storage on SMB shares (vm-gpu-partition, vm-storage-fits, vm-smb-storage)
    "gpu-partitioning": f"{_HV}/gpu-partitioning",
    "get-vmgpupartitionadapter": f"{_LEARN}/powershell/module/hyper-v/get-vmgpupartitionadapter",
    "get-vmhostpartitionablegpu": f"{_LEARN}/powershell/module/hyper-v/get-vmhostpartitionablegpu",
    "set-vmhostpartitionablegpu": f"{_LEARN}/powershell/module/hyper-v/set-vmhostpartitionablegpu",
    "get-vmsnapshot": f"{_LEARN}/powershell/module/hyper-v/get-vmsnapshot",
    "hyperv-over-smb": f"{_LEARN}/windows-server/storage/file-server/hyper-v-over-smb",
    "get-smbshareaccess": f"{_LEARN}/powershell/module/smbshare/get-smbshareaccess",
    # the management machine (operator-management-tools)
    "hyperv-module": f"{_LEARN}/powershell/module/hyper-v/",
}
