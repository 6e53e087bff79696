"""The machine hvlm collects from, as a candidate management machine (the one that starts moves).

Microsoft's setup page requires the machine that starts live migrations to have the Hyper-V
management tools, on Windows Server 2016 or Windows 10 or later for hosts of 2016 and later.
hvlm cannot know which machine an operator will start moves from. What it can read is the
machine it runs on: on Windows, the Hyper-V PowerShell module versions installed
(`Get-Module -ListAvailable -Name Hyper-V`), the Windows build, and the management tools
feature's state; everywhere else (a Linux runner, the usual case) only that it is not Windows,
which the check turns into a manual verification, never a pass. Read-only: nothing is installed
or changed.

Tests replace PLATFORM and RUN_POWERSHELL to simulate a Windows machine.
"""

from __future__ import annotations

import base64
import json
import logging
import platform
import socket
import subprocess
from collections.abc import Callable
from typing import Any

from hvlm.audit.inventory import Inventory
from hvlm.audit.snapshot import error_fact, value_fact

__all__ = ["COMMAND", "PS_SCRIPT", "collect_management"]

log = logging.getLogger(__name__)

# Read-only: lists modules, reads Win32_OperatingSystem and a feature's install state.
PS_SCRIPT = r"""$ErrorActionPreference = 'Stop'
$os = Get-CimInstance -ClassName Win32_OperatingSystem
$modules = @(Get-Module -ListAvailable -Name Hyper-V | ForEach-Object { $_.Version.ToString() } | Sort-Object -Unique)
$feature = $null
$featureError = $null
try {
    if ($os.ProductType -eq 1) {
        $feature = [string](Get-WindowsOptionalFeature -Online -FeatureName Microsoft-Hyper-V-Management-PowerShell).State
    } else {
        $feature = [string](Get-WindowsFeature -Name Hyper-V-PowerShell).InstallState
    }
} catch { $featureError = $_.Exception.Message }
[ordered]@{
    BuildNumber = [int]$os.BuildNumber; Caption = [string]$os.Caption; ProductType = [int]$os.ProductType
    HyperVModule = $modules; ToolsFeature = $feature; ToolsFeatureError = $featureError
} | ConvertTo-Json -Compress
"""
COMMAND = (
    "hvlm on the machine it runs on: platform; on Windows Get-Module -ListAvailable -Name Hyper-V, "
    "Win32_OperatingSystem, Get-WindowsOptionalFeature Microsoft-Hyper-V-Management-PowerShell (Windows client) "
    "or Get-WindowsFeature Hyper-V-PowerShell (Windows Server)"
)
TIMEOUT = 60.0


def _run_powershell(script: str) -> str:
    """Windows PowerShell 5.1, no profile, the script as -EncodedCommand (hvlm's own text, no secret in it;
    `-Command -` would read stdin line by line and split the multi-line blocks)."""
    encoded = base64.b64encode(script.encode("utf-16-le")).decode("ascii")
    done = subprocess.run(
        ["powershell.exe", "-NoProfile", "-NonInteractive", "-EncodedCommand", encoded],
        capture_output=True, text=True, timeout=TIMEOUT, check=False, stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise RuntimeError(f"powershell.exe exited with {done.returncode}: {done.stderr.strip()[:500]}")
    return done.stdout


PLATFORM: Callable[[], str] = platform.system
RUN_POWERSHELL: Callable[[str], str] = _run_powershell
HOSTNAME: Callable[[], str] = socket.getfqdn


def _inventory_host(inventory: Inventory, name: str) -> str | None:
    """The inventory host that is this machine (by FQDN or first label), if any."""
    low = name.lower().rstrip(".")
    short = low.split(".", 1)[0]
    for host in inventory.host_names:
        h = host.lower().rstrip(".")
        if h == low or (("." not in h or "." not in low) and h.split(".", 1)[0] == short):
            return host
    return None


def collect_management(inventory: Inventory) -> dict[str, Any]:
    """The `management` fact: this machine, and on Windows its Hyper-V management tools."""
    system = PLATFORM()
    name = HOSTNAME()
    named, here = inventory.management_host, _inventory_host(inventory, name)
    value: dict[str, Any] = {
        "computer": name,
        "platform": system,
        # the inventory host moves start from: named by the inventory, else this machine if it is one
        "inventory_host": named or here,
        "named_by": "inventory" if named else "hostname" if here else None,
        "windows": None,
    }
    if system != "Windows" or (named is not None and named != here):  # not the machine that starts moves
        return value_fact(value, "hvlm", name, COMMAND)
    try:
        raw = json.loads(RUN_POWERSHELL(PS_SCRIPT))
        modules = raw.get("HyperVModule") or []
        value["windows"] = {
            "BuildNumber": int(raw["BuildNumber"]),
            "Caption": str(raw.get("Caption") or ""),
            "ProductType": int(raw.get("ProductType") or 0),
            "HyperVModule": [str(m) for m in (modules if isinstance(modules, list) else [modules])],
            "ToolsFeature": raw.get("ToolsFeature"),
            "ToolsFeatureError": raw.get("ToolsFeatureError"),
        }
    except Exception as exc:  # the fact says why; collection goes on
        log.warning("management tools of %s could not be read: %s", name, exc)
        return error_fact("probe_error", f"the Hyper-V management tools of {name} could not be read: {exc}",
                          "hvlm", name, COMMAND)
    return value_fact(value, "hvlm", name, COMMAND)
