"""What a person checks or runs by hand, with this move's host names in it (always through ps_quote).

Some causes of a failed move cannot be seen in configuration (a corrupt Registry.pol, a ticket the
source still caches, a router in the way); a healthy configuration still leaves these to check. The
commands only read, except where a step says it changes something (klist purge, gpupdate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hvlm.audit.facts import HostRef
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Fix
from hvlm.audit.psquote import ps_quote

__all__ = ["VMMS_LOG", "ManualCheck", "manual_checks", "on_both", "on_one", "sign_in_fix"]

VMMS_LOG = "Microsoft-Windows-Hyper-V-VMMS-Admin"
OPERATOR = "the operator: a member of Hyper-V Administrators (or Administrators) on both hosts"


@dataclass(frozen=True)
class ManualCheck:
    title: str
    run_on: str
    powershell: str
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "run_on": self.run_on, "powershell": self.powershell, "note": self.note}


def on_one(host: HostRef, script: str) -> str:
    return f"Invoke-Command -ComputerName {ps_quote(host.fqdn)} -ScriptBlock {{ {script} }}"


def on_both(src: HostRef, dst: HostRef, script: str) -> str:
    return f"Invoke-Command -ComputerName {ps_quote(src.fqdn)}, {ps_quote(dst.fqdn)} -ScriptBlock {{ {script} }}"


def purge_tickets(src: HostRef) -> str:
    return on_one(src, "klist purge -li 0x3e7")


def event_logs(src: HostRef, dst: HostRef) -> str:
    return on_both(src, dst, f"Get-WinEvent -LogName {ps_quote(VMMS_LOG)} -MaxEvents 500 | "
                   "Where-Object { $_.Id -in 20306, 21502 } | Select-Object -First 20 -Property "
                   "'TimeCreated', 'Id', 'Message'")


def test_port(src: HostRef, dst: HostRef) -> str:
    return on_one(src, f"Test-NetConnection -ComputerName {ps_quote(dst.fqdn)} -Port 6600")


def listener(dst: HostRef) -> str:
    return on_one(dst, "netstat -ano | findstr 6600")


def registry_pol(host: HostRef) -> str:
    return on_one(host, "$pol = Join-Path -Path $env:SystemRoot -ChildPath 'System32\\GroupPolicy\\Machine\\"
                  "Registry.pol'; if (Test-Path -Path $pol) { [System.Text.Encoding]::ASCII.GetString("
                  "[System.IO.File]::ReadAllBytes($pol), 0, 4) } else { 'no Registry.pol' }")


def replication(src: HostRef) -> str:
    return "\n".join([
        "# Which DC the source uses, then read its computer object there (what the source's tickets come from):",
        on_one(src, f"$domain = {ps_quote(src.domain or '<domain>')}; nltest \"/dsgetdc:$domain\""),
        f"Get-ADComputer -Identity {ps_quote(src.short)} -Server '<the DC nltest named>' -Properties "
        "'msDS-AllowedToDelegateTo', 'userAccountControl', 'whenChanged'",
        "# On a domain controller: inbound replication of every partner",
        "repadmin /showrepl",
    ])


def setspn(dst: HostRef) -> str:
    return f"setspn -L {ps_quote(dst.short)}\nsetspn -X"


def credential_guard(src: HostRef) -> str:
    return on_one(src, "(Get-CimInstance -ClassName 'Win32_DeviceGuard' -Namespace 'root\\Microsoft\\Windows\\"
                  "DeviceGuard').SecurityServicesRunning")


def user_rights(host: HostRef) -> str:
    return on_one(host, "$inf = Join-Path -Path $env:TEMP -ChildPath 'hvlm-rights.inf'; secedit /export /cfg $inf "
                  "/areas USER_RIGHTS | Out-Null; Select-String -Path $inf -Pattern "
                  "'SeCreateSymbolicLinkPrivilege', 'SeServiceLogonRight'; [System.IO.File]::Delete($inf)")


def dvd_drives(src: HostRef) -> str:
    return on_one(src, "Get-VMDvdDrive -VMName '<VM name>' | Select-Object -Property 'VMName', 'Path'")


def test_path(host: HostRef, path: str) -> str:
    """Whether a file exists on the host, as the host sees it (True or False)."""
    return on_one(host, f"Test-Path -LiteralPath {ps_quote(path)}")


def free_memory(host: HostRef) -> str:
    """The host's free physical memory now, in GiB (Win32_OperatingSystem FreePhysicalMemory is in KiB)."""
    return on_one(host, "$freeKiB = (Get-CimInstance -ClassName 'Win32_OperatingSystem').FreePhysicalMemory; "
                  "'Free GiB: ' + [math]::Round($freeKiB / 1024 / 1024, 1)")


def vhd_paths(host: HostRef) -> str:
    return on_one(host, "Get-VMHardDiskDrive -VMName '<VM name>' | ForEach-Object { Get-VHD -Path $_.Path } | "
                  "Select-Object -Property 'Path', 'ParentPath', 'VhdType'")


def guardian_certificates(host: HostRef) -> str:
    return on_one(host, "Get-ChildItem -Path 'Cert:\\LocalMachine\\Shielded VM Local Certificates' | "
                  "Select-Object -Property 'Subject', 'Thumbprint', 'HasPrivateKey'")


def dc_lookup(src: HostRef, domain: str | None) -> str:
    dom = domain or src.domain or "<domain>"
    return on_one(src, f"$domain = {ps_quote(dom)}; nltest \"/dsgetdc:$domain\"; "
                  "Resolve-DnsName -Name \"_kerberos._tcp.$domain\" -Type SRV; "
                  "Test-NetConnection -ComputerName '<a DC it named>' -Port 88")


def sign_in_fix(src: HostRef, dst: HostRef) -> Fix:
    """CredSSP's own way: start the move from a session on the source."""
    return Fix(
        summary=f"Sign in to {src.short} ({src.fqdn}) by console, RDP or a CredSSP PowerShell session and start "
        f"the move there: CredSSP needs the operator's credentials on {src.short} itself.",
        run_on=src.fqdn,
        run_as=OPERATOR,
        powershell=f"Move-VM -Name '<VM name>' -DestinationHost {ps_quote(dst.fqdn)} -IncludeStorage "
        f"-DestinationStoragePath '<path on {dst.short}>'",
        gui=f"Hyper-V Manager on {src.short} > the VM > Move...",
        docs=(DOCS["use"], DOCS["setup"]),
        target="host",
    )


def manual_checks(src: HostRef, dst: HostRef, family: str) -> list[ManualCheck]:
    """What remains to check by hand when the configuration shows nothing (or to confirm what it shows)."""
    logs = ManualCheck(
        "Read the Hyper-V VMMS event log on both hosts around the failure (event 21502: live migration failed; "
        "the full error is in its text). Event 20306 is often reported with these failures, but no Microsoft "
        "source ties it to authentication.",
        f"a management machine, reaching {src.fqdn} and {dst.fqdn}",
        event_logs(src, dst),
    )
    port = ManualCheck(f"Check that {src.short} reaches {dst.short} on the live-migration port TCP 6600.",
                       src.fqdn, test_port(src, dst))
    if family == "socket":
        return [
            port,
            ManualCheck(f"Check that {dst.short} listens on TCP 6600 (VMMS opens it while live migration is enabled).",
                        dst.fqdn, listener(dst)),
            ManualCheck(f"Check that {dst.short}'s local Group Policy file is intact: it must start with PReg, or VMMS "
                        "can disable its migration listener (then run gpupdate /force).", dst.fqdn, registry_pol(dst)),
            logs,
        ]
    if family != "kerberos":
        return [logs, port]
    return [
        ManualCheck(f"Purge {src.short}'s cached Kerberos tickets (the computer's logon session) and retry: a "
                    "delegation change reaches a move only with a new ticket, a ticket obtained before the change "
                    "stays valid for up to 10 hours (the default lifetime), and the KDC caches a refusal for 15 "
                    "minutes. This changes nothing but the ticket cache.", src.fqdn, purge_tickets(src)),
        ManualCheck(f"Check that the delegation on {src.short}'s computer object has replicated to the domain "
                    "controller the source uses.", "a machine with the ActiveDirectory PowerShell module",
                    replication(src)),
        ManualCheck(f"List {dst.short}'s SPNs and look for duplicates in the forest.",
                    "a machine with the AD DS tools: RSAT-AD-Tools", setspn(dst)),
        logs,
        port,
        ManualCheck("Check which account started the move: the operator account checked here is the snapshot's; "
                    "another account may be in Protected Users or marked sensitive.",
                    "the machine the move was started from", "whoami /user /groups"),
    ]
