"""The machine that starts moves has the Hyper-V management tools of a matching release."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hvlm.audit.facts import Facts, HostRef
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Fix, Outcome, Severity, Status, SubjectKind
from hvlm.audit.registry import check
from hvlm.checks._ad import os_build, unavailable

FIRST_2016_HOST = 14393  # Windows Server 2016: managed by the Hyper-V module 2.x
FIRST_MANAGER_BUILD = 10240  # Windows 10 (Windows Server 2016 is 14393): Microsoft's minimum for the tools
PRODUCT_WORKSTATION = 1

VERIFY_PS = "\n".join([
    "# On the machine that starts the moves (Move-VM, Hyper-V Manager):",
    "[System.Environment]::OSVersion.Version  # build 10240 (Windows 10) / 14393 (Windows Server 2016) or later",
    "Get-Module -ListAvailable -Name 'Hyper-V' | Select-Object -Property 'Name', 'Version'  # 2.x for 2016+ hosts",
    "# Windows Server: Get-WindowsFeature -Name 'RSAT-Hyper-V-Tools', 'Hyper-V-PowerShell'",
    "# Windows 10/11 (elevated): Get-WindowsOptionalFeature -Online -FeatureName "
    "'Microsoft-Hyper-V-Management-PowerShell'",
])


def _versions(win: Mapping[str, Any]) -> list[tuple[int, ...]]:
    out = []
    for text in win.get("HyperVModule") or []:
        parts = str(text).split(".")
        if all(p.isdigit() for p in parts):
            out.append(tuple(int(p) for p in parts))
    return sorted(out)


def _shown(versions: list[tuple[int, ...]]) -> str:
    return ", ".join(".".join(str(p) for p in v) for v in versions) or "none"


@check(
    id="operator-management-tools",
    title="Machine that starts moves has the Hyper-V management tools",
    severity=Severity.HIGH,
    subject=SubjectKind.OPERATOR,
    requires=("management", "host.operating_system?", "host.ad_computer?", "host.vmhost?"),
    rationale="""Microsoft's setup page lists, among the requirements for live migration without
    Failover Clustering, the Hyper-V management tools on the computer that starts the move: Windows
    Server 2016 or Windows 10 or later, unless the tools run on the source or destination itself.
    Hosts of Windows Server 2016 and later are managed by the Hyper-V PowerShell module 2.x. hvlm
    cannot know which machine an operator will start moves from; it describes the machine it
    collected from. When that machine is Windows, it reads its build and the Hyper-V module
    versions installed (Get-Module -ListAvailable, read-only) and judges them against each host's
    release: no module, a release older than Windows 10 / Windows Server 2016, or no 2.x module for
    a 2016+ host fails; a Windows Server 2012 R2 host (build 9600) is managed by module 1.1, which
    Windows 10 and Windows Server 2016 and later install beside 2.0: a machine without a 1.x module
    is a warning (Move-VM of that host's VMs cannot start there), and the fix loads 1.1 where it is
    present or names a machine that has it. Collected from Linux or another system, nothing about the real management
    machine is known: the finding says so (a warning of severity info, never a pass) and gives the
    PowerShell that confirms it on that machine. When the inventory names the management machine
    (management_host) and it is one of the scanned Hyper-V hosts, its own facts decide: Get-VMHost
    answered there, so the Hyper-V module is installed, and its release says which (2.x from
    Windows Server 2016); moves of that host itself may always start there.""",
    references=(DOCS["setup"], DOCS["use"], DOCS["hyperv-module"]),
    fix_hint="Install the Hyper-V management tools (Hyper-V Module for Windows PowerShell) on the machine that "
    "starts the moves, Windows 10 / Windows Server 2016 or later.",
)
def run(f: Facts) -> Outcome:
    host = f.host()
    mgmt = f.optional("management")
    if mgmt is None:
        return unavailable(f, "management")
    build, build_from = os_build(f.optional("host.operating_system"), f.optional("host.ad_computer"))
    computer = str(mgmt["computer"])
    win = mgmt.get("windows")
    evidence: dict[str, Any] = {"collected_on": computer, "platform": mgmt["platform"], "host_build": build,
                                "host_build_from": build_from}
    if win is None and mgmt.get("named_by") == "inventory" and mgmt.get("inventory_host"):
        return _named_host(f, str(mgmt["inventory_host"]), build, evidence)
    if win is None:
        evidence["checked"] = False
        return Outcome(
            Status.WARNING,
            f"Not checked: hvlm ran on {computer} ({mgmt['platform']}), not on the machine that will start moves of "
            f"{host.short}, so it cannot see that machine's Hyper-V management tools. Microsoft requires them there "
            f"(Windows 10 / Windows Server 2016 or later{', module 2.x for this host' if _is_2016(build) else ''}); "
            "confirm it with the PowerShell of the fix on that machine.",
            _verify_fix(),
            evidence,
            severity=Severity.INFO,
        )
    versions = _versions(win)
    mbuild = int(win["BuildNumber"])
    here = mgmt.get("inventory_host") == host.name
    evidence.update({"checked": True, "management_build": mbuild, "hyperv_module": _shown(versions),
                     "tools_feature": win.get("ToolsFeature"), "is_this_host": here})
    where = f"{computer} (where hvlm ran, Windows build {mbuild})"
    if not versions:
        return Outcome(Status.FAIL, f"{where} has no Hyper-V PowerShell module: moves of {host.short} cannot be "
                       "started from it.", _install_fix(win), evidence)
    if mbuild < FIRST_MANAGER_BUILD and not here:
        return Outcome(Status.FAIL, f"{where} is older than Windows 10 / Windows Server 2016, which Microsoft requires "
                       f"of the machine that starts moves; start moves of {host.short} from a newer machine.",
                       _install_fix(win), evidence)
    if _is_2016(build) and not any(v[0] >= 2 for v in versions):
        return Outcome(Status.FAIL, f"{where} has only Hyper-V module {_shown(versions)}; {host.short} (build {build}) "
                       "is managed by module 2.x, of Windows 10 / Windows Server 2016 and later.",
                       _install_fix(win), evidence)
    if build is not None and build < FIRST_2016_HOST and not any(v[0] == 1 for v in versions):
        return Outcome(Status.WARNING, f"{where} has Hyper-V module {_shown(versions)} only; {host.short} runs build "
                       f"{build} ({_release(build)}), which module 2.x does not manage: {_module_1(build)} does, and it is "
                       f"not installed on {computer}, so Move-VM of {host.short}'s VMs cannot start there.",
                       _module_11_fix(host, build), evidence)
    note = "" if build is not None else f" (the release of {host.short} is not known: {build_from})"
    return Outcome(Status.PASS, f"{where} has Hyper-V module {_shown(versions)}, which manages {host.short}{note}. "
                   "If moves are started from another machine, it needs the same.", evidence=evidence)


def _named_host(f: Facts, named: str, build: int | None, evidence: dict[str, Any]) -> Outcome:
    """Moves start on `named`, an inventory host: its Get-VMHost and release tell its Hyper-V module."""
    host = f.host()
    vmhosts = f.across_inventory("host.vmhost")
    os_info = f.across_inventory("host.operating_system").get(named) or {}
    mbuild = int(os_info["BuildNumber"]) if str(os_info.get("BuildNumber") or "").isdigit() else None
    evidence.update({"checked": True, "management_host": named, "management_build": mbuild,
                     "get_vmhost_answered": named in vmhosts})
    if named not in vmhosts or mbuild is None:
        return Outcome(Status.ERROR, f"could not check: moves start on {named} (the inventory's management_host), "
                       "whose Hyper-V module is known from its Get-VMHost and Win32_OperatingSystem facts, and "
                       "those were not collected.", evidence=evidence)
    if named == host.name:
        return Outcome(Status.PASS, f"Moves of {host.short} start on {host.short} itself (the inventory's "
                       "management_host), where Get-VMHost answered: the Hyper-V module is there.", evidence=evidence)
    if mbuild < FIRST_MANAGER_BUILD:
        return Outcome(Status.FAIL, f"Moves start on {named} (the inventory's management_host), Windows build {mbuild}: "
                       "older than Windows 10 / Windows Server 2016, which Microsoft requires of the machine that "
                       f"starts moves of another host such as {host.short}.", _verify_fix(), evidence)
    if build is not None and build < FIRST_2016_HOST:
        return Outcome(Status.WARNING, f"Moves start on {named} (build {mbuild}), whose Hyper-V module is 2.x; "
                       f"{host.short} runs build {build} ({_release(build)}), which module 2.x does not manage: moves "
                       f"of its VMs need {_module_1(build)} on {named}, and whether {named} has it is not among the collected "
                       "facts.", _module_11_fix(host, build), evidence)
    return Outcome(Status.PASS, f"Moves start on {named} (the inventory's management_host, build {mbuild}), where "
                   f"Get-VMHost answered: its Hyper-V module 2.x manages {host.short}.", evidence=evidence)


def _release(build: int) -> str:
    return {9200: "Windows Server 2012", 9600: "Windows Server 2012 R2"}.get(build, "older than Windows Server 2016")


def _module_1(build: int) -> str:
    """Module 1.1 manages Windows Server 2012 R2; for an older host hvlm names no version it has checked."""
    return "module 1.1" if build == 9600 else "a 1.x module"


def _module_11_fix(ref: HostRef, build: int) -> Fix:
    """A 2012 R2 host: module 1.1 (shipped beside 2.0 on Windows 10 / Server 2016 and later) manages it, if present.
    An older host (outside the supported releases): only its own machine is named."""
    host = ref.short
    if build != 9600:
        return Fix(
            summary=f"{host} ({_release(build)}) is not managed by the Hyper-V module 2.x, and hvlm names no other "
            f"module version for it: start moves of its VMs on {host} itself (its own Hyper-V module manages it).",
            run_on=ref.fqdn,
            run_as="a member of Administrators or Hyper-V Administrators on that host",
            powershell="Get-Module -ListAvailable -Name 'Hyper-V' | Select-Object -Property 'Name', 'Version'",
            docs=(DOCS["setup"], DOCS["hyperv-module"]),
            target="session",
            kind="check",
        )
    return Fix(
        summary=f"{host} ({_release(build)}) is managed by the Hyper-V module 1.1, not 2.x. On the machine that "
        "starts its moves, list the Hyper-V modules: if 1.1 is there, load it (Import-Module -Name 'Hyper-V' "
        f"-RequiredVersion 1.1) in the session that moves {host}'s VMs; if it is not, start those moves from a "
        f"machine that has it, or on {host} itself.",
        run_on="your management machine, the one that starts the moves",
        run_as="any user: reading and loading modules needs no right",
        powershell="\n".join([
            "Get-Module -ListAvailable -Name 'Hyper-V' | Select-Object -Property 'Name', 'Version'",
            f"# Only if 1.1 is listed: load it in the session that moves {host}'s VMs (a new session loads 2.x again).",
            "# If it is not listed, this line fails: start the moves from a machine that lists 1.1, or on "
            f"{host} itself.",
            "Import-Module -Name 'Hyper-V' -RequiredVersion 1.1",
        ]),
        docs=(DOCS["setup"], DOCS["hyperv-module"]),
        target="session",
        kind="manual",  # a person decides from the list: Import-Module fails where 1.1 is absent
    )


def _is_2016(build: int | None) -> bool:
    return build is None or build >= FIRST_2016_HOST


def _verify_fix() -> Fix:
    return Fix(
        summary="On the machine that starts the moves, confirm Windows 10 / Windows Server 2016 or later and the "
        "Hyper-V PowerShell module (2.x for Windows Server 2016 and later hosts); install the Hyper-V management "
        "tools there if they are missing.",
        run_on="your management machine, the one that starts the moves",
        run_as="any user to read the modules; a local administrator to install the tools",
        powershell=VERIFY_PS,
        docs=(DOCS["setup"], DOCS["hyperv-module"]),
        target="session",
        kind="check",
    )


def _install_fix(win: Mapping[str, Any]) -> Fix:
    if int(win.get("ProductType") or 0) == PRODUCT_WORKSTATION:
        ps = ("Enable-WindowsOptionalFeature -Online -FeatureName 'Microsoft-Hyper-V-Management-PowerShell', "
              "'Microsoft-Hyper-V-Management-Clients'")
    else:
        ps = "Install-WindowsFeature -Name 'RSAT-Hyper-V-Tools' -IncludeAllSubFeature"
    return Fix(
        summary="Install the Hyper-V management tools (Hyper-V Module for Windows PowerShell) on the machine that "
        "starts the moves, or start them from a machine of Windows 10 / Windows Server 2016 or later that has them.",
        run_on="the machine that starts the moves, where hvlm ran",
        run_as="a local administrator of that machine",
        powershell=ps,
        docs=(DOCS["setup"], DOCS["hyperv-module"]),
        target="session",
    )

