"""The fixes of the version, processor, switch, memory and migration-network checks are valid
PowerShell, and names a host returns (VM, switch, adapter names) stay inside string literals.

Parsed with the tree-sitter PowerShell grammar (tests/support/powershell.py).
"""

from __future__ import annotations

import pytest

from hvlm.audit.commands.audit_cmd import example_snapshot_path
from hvlm.audit.engine import evaluate
from hvlm.audit.model import Finding, Status
from hvlm.audit.snapshot import Snapshot
from tests.support.checking import get_check, run_check
from tests.support.fleet import GiB, HostModel, VMModel, build_snapshot
from tests.support.powershell import HOSTILE, assert_parses, command_names

CHECKS = (
    "pair-os-direction", "vm-config-version", "pair-cpu-vendor", "vm-processor-compat", "vm-switch-names",
    "vm-memory-fit", "host-any-network", "host-migration-subnets", "pair-shared-migration-subnet",
    "host-migration-subnet-private", "host-firewall-6600", "pair-performance-option",
)
WEB = "web'01; Remove-Item C:\\ -Recurse"
CALC = "$(calc)"
SWITCH = "vSwitch'; calc"
ALIAS = "LM\u2019; calc"  # a typographic quote is a quote to PowerShell too


def hostile_fleet() -> dict:
    """Every check above fails or warns here, with hostile VM, switch and adapter names."""
    src = HostModel(
        "HV01", index=1, build=14393, cpu_name="Intel(R) Xeon(R) Gold 6138 CPU @ 2.00GHz",
        firewall_enabled=False, performance="SMB", rdma=True,
        migration_networks=[("192.168.50.0/24", 0), ("203.0.113.0/24", 1)],
        switches=["vSwitch-Prod", SWITCH],
        vms=[
            VMModel(WEB, "5.0", adapters=[("Network Adapter", SWITCH), (HOSTILE, "vSwitch-Prod")]),
            VMModel(CALC, "8.0", memory_startup=600 * GiB, adapters=[("Network Adapter", SWITCH.upper())]),
            VMModel(HOSTILE, "5.0", adapters=[]),
        ],
    )
    newer = HostModel(
        "HV02", index=2, build=20348, use_any_network=True, performance="SMB", switches=["vSwitch-Prod"],
        extra_interfaces=[{"InterfaceAlias": ALIAS, "IPAddress": "192.168.60.12", "PrefixLength": 24,
                           "AddressFamily": "IPv4", "DefaultGateway": None, "RdmaEnabled": False}],
    )
    amd = HostModel("HV03", index=3, build=14393, cpu_vendor="AuthenticAMD", cpu_name="AMD EPYC 7763 64-Core Processor",
                    migration_networks=[("192.168.150.0/24", 0)], switches=["vSwitch-Prod", SWITCH.upper()])
    # outside the documented matrix: pair-os-direction's warning and its Compare-VM fix list the source's VMs
    legacy = HostModel("HV04", index=4, build=9200, supported_versions=["4.0"])
    return build_snapshot([src, newer, amd, legacy],
                          pairs=[(src.fqdn, newer.fqdn), (src.fqdn, amd.fqdn), (src.fqdn, legacy.fqdn)])


def _fixed(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.fix is not None and f.status in (Status.FAIL, Status.WARNING)]


def _assert_safe(f: Finding) -> None:
    assert f.fix is not None
    assert_parses(f.fix.powershell)
    commands = command_names(f.fix.powershell)
    assert commands, f"{f.check_id}: the fix runs nothing"
    for name in commands:
        assert "Remove-Item" not in name and "calc" not in name.lower() and "'" not in name, (f.check_id, name)


@pytest.mark.parametrize("check_id", CHECKS)
def test_fixes_parse_with_hostile_names(check_id: str) -> None:
    fixed = _fixed(run_check(check_id, hostile_fleet()))
    assert fixed, f"{check_id} gives no fix in the hostile fleet"
    for f in fixed:
        _assert_safe(f)


def test_hostile_names_reach_the_fixes_quoted() -> None:
    scripts = "\n".join(f.fix.powershell for c in CHECKS for f in _fixed(run_check(c, hostile_fleet())) if f.fix)
    # disruptive VM steps loop over the names, quoted, and act on the VM object found by its exact name
    assert "foreach ($name in @('web''01; Remove-Item C:\\ -Recurse')) {" in scripts
    assert "Set-VMProcessor -VM $vm -CompatibilityForMigrationEnabled $true" in scripts
    assert "New-VMSwitch -Name 'vSwitch''; calc'" in scripts
    assert "Where-Object { $_.Name -ceq 'VSWITCH''; CALC' } | Rename-VMSwitch -NewName 'vSwitch''; calc'" in scripts
    assert "Enable-NetAdapterRdma -Name 'LM\u2019\u2019; calc'" in scripts
    assert "foreach ($name in @('web''01; Remove-Item C:\\ -Recurse', '$(calc)', " in scripts


def test_fixes_in_the_example_parse() -> None:
    snapshot = Snapshot.load(example_snapshot_path())
    fixed = _fixed(evaluate(snapshot, [get_check(c) for c in CHECKS]))
    assert {f.check_id for f in fixed} == set(CHECKS)
    for f in fixed:
        _assert_safe(f)
