"""VM configuration versions: what a host supports, read live or from Microsoft's table.

Shared by pair-os-direction (the pair summary) and vm-config-version (the per-VM verdict) so that
both judge a VM against the same supported set, described the same way in the evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from hvlm.audit.facts import Facts, RoleFacts
from hvlm.audit.knowledge import OS_BY_BUILD, SUPPORTED_VM_VERSIONS, os_release


@cache
def norm(version: str) -> str:
    """'9' and '9.00' read as '9.0', so that collected and documented spellings compare equal."""
    major, _, minor = str(version).strip().partition(".")
    return f"{int(major)}.{int(minor or 0)}"


def key(version: str) -> tuple[int, int]:
    major, _, minor = norm(version).partition(".")
    return int(major), int(minor)


@dataclass(frozen=True)
class HostVersions:
    """The configuration versions one host can run, and where that knowledge came from."""

    release: str  # "Windows Server 2022", or "build 27000" for a build this tool does not know
    build: str
    versions: frozenset[str] | None  # None: neither collected nor documented
    default: str | None  # what Update-VMVersion upgrades to on this host
    basis: str  # said in the evidence: live query or documented table

    @property
    def highest(self) -> str | None:
        return max(self.versions, key=key) if self.versions else None

    @property
    def lowest(self) -> str | None:
        return min(self.versions, key=key) if self.versions else None

    def evidence(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "BuildNumber": self.build,
            "supported_versions": sorted(self.versions, key=key) if self.versions is not None else None,
            "default_version": self.default,
            "basis": self.basis,
        }


def host_versions(f: Facts, role: str) -> HostVersions:
    """The supported set of one role's host: Get-VMHostSupportedVersion if collected, else the table.

    The check must declare f"{role}.operating_system" and f"{role}.supported_versions?".
    """
    build = str(f[f"{role}.operating_system"]["BuildNumber"])
    rel = os_release(build)
    release = rel.name if rel else f"build {build}"
    collected = f.optional(f"{role}.supported_versions")
    if collected:
        versions = frozenset(norm(v["Version"]) for v in collected)
        defaults = [norm(v["Version"]) for v in collected if v.get("IsDefault")]
        default = defaults[0] if defaults else max(versions, key=key)
        return HostVersions(release, build, versions, default, "Get-VMHostSupportedVersion on the host")
    missing = f.unavailable(f"{role}.supported_versions")
    why = (
        f"Get-VMHostSupportedVersion not available ({missing.message.rstrip('.')})"
        if missing
        else "Get-VMHostSupportedVersion returned nothing"
    )
    table = SUPPORTED_VM_VERSIONS.get(int(build)) if build.isdigit() else None
    if table is None:
        return HostVersions(release, build, None, None, f"{why}; no documented table for build {build}")
    return HostVersions(
        release,
        build,
        table,
        max(table, key=key),
        f"{why}; documented table for {release} (Microsoft, 'Upgrade virtual machine version')",
    )


def _side_versions(side: RoleFacts) -> tuple[str, frozenset[str] | None]:
    collected = side["supported_versions"]
    return str(side["operating_system"]["BuildNumber"]), frozenset(norm(v["Version"]) for v in collected) if collected else None


def side_versions(side: RoleFacts) -> tuple[str, frozenset[str] | None]:
    """What host_versions decides a host's supported set from, for class keys: its build, and the
    collected Get-VMHostSupportedVersion set (None when not collected: the documented table of the build)."""
    return side.derived("versions", _side_versions)


def releases_supporting(version: str) -> list[str]:
    """Documented Windows Server releases whose hosts run a VM of this configuration version."""
    v = norm(version)
    return [OS_BY_BUILD[b].name for b, vs in sorted(SUPPORTED_VM_VERSIONS.items()) if v in vs]


def upgrade_hosts(version: str, target: frozenset[str]) -> list[str]:
    """Releases that run the VM now and whose Update-VMVersion result the target can run."""
    v = norm(version)
    return [
        OS_BY_BUILD[b].name
        for b, vs in sorted(SUPPORTED_VM_VERSIONS.items())
        if v in vs and max(vs, key=key) in target and key(max(vs, key=key)) > key(v)
    ]


def join_or(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " or " + names[-1]


def too_new_for(f: Facts, role: str, version: str) -> HostVersions | None:
    """The role's host when a VM of this version can never run there (newer than its highest), else None.

    For VM checks that only matter if the VM can move at all. Needs f"{role}.operating_system?" and
    f"{role}.supported_versions?" declared; None when the destination's release is unknown.
    """
    if f.optional(f"{role}.operating_system") is None:
        return None
    host = host_versions(f, role)
    if host.versions is None or host.highest is None or norm(version) in host.versions:
        return None
    return host if key(version) > key(host.highest) else None


def is_off(vm: dict[str, Any]) -> bool:
    """A VM that is Off is moved cold (configuration and disks), never live-migrated."""
    return str(vm.get("State", "")) == "Off"
