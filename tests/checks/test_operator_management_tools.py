"""operator-management-tools: what hvlm can tell about the machine that starts moves.

The fact comes from the real collector (audit/collect/management.py). On this Linux machine it reads
the real platform; a Windows machine is simulated by replacing the collector's platform and PowerShell
runner (never the check's result), answering as powershell.exe would to the collector's own script.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hvlm.audit.collect import management
from hvlm.audit.errors import InputError
from hvlm.audit.inventory import parse_inventory
from hvlm.audit.model import Finding, Severity, Status
from tests.support.checking import break_fact, get_check, only, run_check
from tests.support.fleet import HostModel, build_snapshot
from tests.support.powershell import assert_parses, command_names

H1, H2 = "hv01.corp.contoso.com", "hv12.corp.contoso.com"
READ_ONLY = {"get-ciminstance", "get-module", "foreach-object", "sort-object", "get-windowsoptionalfeature",
             "get-windowsfeature", "convertto-json"}


def answer(build: int = 20348, modules: list[str] | str | None = None, product: int = 3) -> str:
    """What the collector's script prints on such a machine (ConvertTo-Json -Compress)."""
    mods = ["1.1", "2.0.0.0"] if modules is None else modules
    return json.dumps({"BuildNumber": build, "Caption": "Microsoft Windows Server 2022 Datacenter",
                       "ProductType": product, "HyperVModule": mods, "ToolsFeature": "Installed",
                       "ToolsFeatureError": None})


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Run the collector as on Windows; yields the scripts it ran."""
    ran: list[str] = []
    monkeypatch.setattr(management, "PLATFORM", lambda: "Windows")
    monkeypatch.setattr(management, "HOSTNAME", lambda: "mgmt01.corp.contoso.com")
    yield ran


def snapshot(fact: dict[str, Any] | None, *builds: int) -> dict[str, Any]:
    hosts = [HostModel(f"HV{i:02d}", index=i, build=b) for i, b in zip((1, 12), builds or (20348,), strict=False)]
    doc = build_snapshot(hosts)
    if fact is None:
        del doc["management"]  # a snapshot of an older hvlm
    else:
        doc["management"] = fact
    return doc


def collected(monkeypatch: pytest.MonkeyPatch, ran: list[str], text: str) -> dict[str, Any]:
    def run(script: str) -> str:
        ran.append(script)
        return text
    monkeypatch.setattr(management, "RUN_POWERSHELL", run)
    return management.collect_management(parse_inventory({"hosts": [H1, H2]}))


def test_pass_on_windows_with_module_2(windows: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    fact = collected(monkeypatch, windows, answer())
    f = only(run_check("operator-management-tools", snapshot(fact, 20348, 9600)), host=H1)
    assert f.status is Status.PASS and "mgmt01.corp.contoso.com" in f.message and "1.1, 2.0.0.0" in f.message
    assert f.evidence["checked"] is True and f.evidence["management_build"] == 20348
    # the collector only read: every command of its script is a Get-/read command
    (script,) = windows
    assert_parses(script)
    assert {c.casefold() for c in command_names(script)} <= READ_ONLY, command_names(script)


def test_warning_not_checked_on_linux_says_what_to_run() -> None:
    fact = management.collect_management(parse_inventory({"hosts": [H1]}))  # this machine: not Windows
    assert fact["value"]["platform"] != "Windows" and fact["value"]["windows"] is None
    f = only(run_check("operator-management-tools", snapshot(fact)), host=H1)
    assert f.status is Status.WARNING and f.severity is Severity.INFO and f.message.startswith("Not checked")
    assert f.evidence["checked"] is False
    assert f.fix is not None and f.fix.target == "session" and f.fix.kind == "check"
    assert "Get-Module -ListAvailable -Name 'Hyper-V'" in f.fix.powershell
    assert_parses(f.fix.powershell)
    assert {c.casefold() for c in command_names(f.fix.powershell)} <= {"get-module", "select-object"}


def test_fail_without_any_hyperv_module(windows: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    fact = collected(monkeypatch, windows, answer(modules=[]))
    f = only(run_check("operator-management-tools", snapshot(fact)), host=H1)
    assert f.status is Status.FAIL and "no Hyper-V PowerShell module" in f.message
    assert f.fix is not None and f.fix.target == "session"
    assert f.fix.powershell == "Install-WindowsFeature -Name 'RSAT-Hyper-V-Tools' -IncludeAllSubFeature"
    client = collected(monkeypatch, windows, answer(19045, modules=[], product=1))
    f = only(run_check("operator-management-tools", snapshot(client)), host=H1)
    assert f.fix is not None and f.fix.powershell.startswith("Enable-WindowsOptionalFeature -Online")


def test_fail_module_1_only_for_a_2016_host_and_warning_2_only_for_2012_r2(
    windows: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    old = collected(monkeypatch, windows, answer(9600, modules="1.1"))  # one module: ConvertTo-Json writes a string
    assert old["value"]["windows"]["HyperVModule"] == ["1.1"]
    findings = run_check("operator-management-tools", snapshot(old, 20348, 9600))
    assert only(findings, host=H1).status is Status.FAIL  # 2012 R2 machine: too old for a 2022 host
    assert only(findings, host=H2).status is Status.FAIL  # older than Windows 10, and not that host
    new = collected(monkeypatch, windows, answer(26100, modules=["2.0.0.0"]))
    findings = run_check("operator-management-tools", snapshot(new, 20348, 9600))
    assert only(findings, host=H1).status is Status.PASS
    w = only(findings, host=H2)
    assert w.status is Status.WARNING and "(Windows Server 2012 R2)" in w.message and "or older" not in w.message
    _assert_module_11_advice(w)


def _assert_module_11_advice(w: Finding) -> None:
    """A 2012 R2 host: the catalogue's severity; list the modules first, load 1.1 only where it is, else elsewhere."""
    assert w.severity is Severity.HIGH is get_check("operator-management-tools").meta.severity
    assert w.fix is not None and "Windows 10 / Windows Server 2016" not in w.fix.summary
    lines = w.fix.powershell.splitlines()
    assert lines[0].startswith("Get-Module -ListAvailable -Name 'Hyper-V'")
    assert lines[-1] == "Import-Module -Name 'Hyper-V' -RequiredVersion 1.1"
    assert "if 1.1 is there" in w.fix.summary and "from a machine that has it" in w.fix.summary


def test_fail_reading_the_tools_is_an_error_fact_and_never_a_pass(
    windows: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(script: str) -> str:
        raise RuntimeError("powershell.exe exited with 1: access denied")
    monkeypatch.setattr(management, "RUN_POWERSHELL", broken)
    fact = management.collect_management(parse_inventory({"hosts": [H1]}))
    assert fact["error"]["kind"] == "probe_error"
    f = only(run_check("operator-management-tools", snapshot(fact)), host=H1)
    assert f.status is Status.ERROR and "access denied" in f.message


def test_missing_management_fact_is_an_error() -> None:
    f = only(run_check("operator-management-tools", snapshot(None)), host=H1)
    assert f.status is Status.ERROR and "management" in f.message


def test_inventory_host_is_named_when_hvlm_runs_on_one(windows: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(management, "HOSTNAME", lambda: "HV01.corp.contoso.com")
    fact = collected(monkeypatch, windows, answer())
    assert fact["value"]["inventory_host"] == H1
    f = only(run_check("operator-management-tools", snapshot(fact, 20348, 9600)), host=H1)
    assert f.evidence["is_this_host"] is True


def test_pass_through_hvlm_collect_on_simulated_windows(windows: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`collect` itself describes the machine it runs on; the snapshot validates and the check reads it."""
    import io

    from hvlm.audit.collect import collect
    from hvlm.audit.collect.progress import QuietProgress

    monkeypatch.setattr(management, "RUN_POWERSHELL", lambda script: answer())
    inventory = parse_inventory({"hosts": [H1]})
    snap = collect(inventory, [], {}, QuietProgress(io.StringIO()), hosts=False, directory=False).snapshot
    fact = snap.doc["management"]
    assert fact["value"]["computer"] == "mgmt01.corp.contoso.com"
    assert fact["source"] == {"collector": "hvlm", "host": "mgmt01.corp.contoso.com", "command": management.COMMAND}
    f = only(run_check("operator-management-tools", snapshot(fact)), host=H1)
    assert f.status is Status.PASS


def test_pass_powershell_runner_hands_the_script_over_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real runner: powershell.exe (here a stand-in on PATH) gets the script as -EncodedCommand, UTF-16LE."""
    import stat
    import sys

    fake = tmp_path / "powershell.exe"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import base64, json, sys\n"
        "args = sys.argv[1:]\n"
        "script = base64.b64decode(args[args.index('-EncodedCommand') + 1]).decode('utf-16-le')\n"
        "print(json.dumps({'BuildNumber': 26100, 'HyperVModule': ['2.0.0.0'], 'Caption': script[:40],\n"
        "                  'noprofile': '-NoProfile' in args}))\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    out = json.loads(management._run_powershell(management.PS_SCRIPT))
    assert out["Caption"] == management.PS_SCRIPT[:40] and out["noprofile"] is True


def named(host: str) -> dict[str, Any]:
    """The fact hvlm collects (on this Linux machine) for an inventory that names its management host."""
    return management.collect_management(parse_inventory({"hosts": [H1, H2], "management_host": host}))


def test_pass_when_the_inventory_names_a_scanned_2016_host(windows: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(management, "PLATFORM", lambda: "Linux")
    fact = named("HV01.corp.contoso.com")  # matched case-insensitively, kept as the inventory writes it
    assert fact["value"]["inventory_host"] == H1 and fact["value"]["named_by"] == "inventory"
    findings = run_check("operator-management-tools", snapshot(fact, 20348, 9600))
    itself = only(findings, host=H1)
    assert itself.status is Status.PASS and "itself" in itself.message
    other = only(findings, host=H2)  # 2012 R2: module 1.1 on HV01 is not known
    assert other.status is Status.WARNING and "module 1.1 on hv01.corp.contoso.com" in other.message
    assert "(Windows Server 2012 R2)" in other.message
    _assert_module_11_advice(other)
    assert other.evidence["get_vmhost_answered"] is True


def test_fail_when_the_named_host_is_older_than_windows_10(windows: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(management, "PLATFORM", lambda: "Linux")
    findings = run_check("operator-management-tools", snapshot(named(H2), 20348, 9600))
    assert only(findings, host=H1).status is Status.FAIL
    assert only(findings, host=H2).status is Status.PASS  # its own moves may start there


def test_missing_facts_of_the_named_host_are_an_error(windows: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(management, "PLATFORM", lambda: "Linux")
    doc = snapshot(named(H1), 20348, 9600)
    break_fact(doc, "hosts", H1, "vmhost")
    f = only(run_check("operator-management-tools", doc), host=H2)
    assert f.status is Status.ERROR and "management_host" in f.message


def test_pass_windows_runner_that_is_not_the_named_host_reads_nothing_locally(
    windows: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fact = collected(monkeypatch, windows, answer(modules=[]))  # would fail if it were the management machine
    assert fact["value"]["windows"] is not None and windows
    windows.clear()
    elsewhere = named(H1)
    assert elsewhere["value"]["windows"] is None and not windows  # no PowerShell run
    assert only(run_check("operator-management-tools", snapshot(elsewhere, 20348)), host=H1).status is Status.PASS


def test_management_host_must_be_an_inventory_host() -> None:
    with pytest.raises(InputError, match="not one of the inventory's hosts"):
        parse_inventory({"hosts": [H1], "management_host": "admin01.corp.contoso.com"})


def test_a_host_older_than_2012_r2_is_not_promised_module_1_1(windows: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    new = collected(monkeypatch, windows, answer(26100, modules=["2.0.0.0"]))
    w = only(run_check("operator-management-tools", snapshot(new, 20348, 9200)), host=H2)
    assert w.status is Status.WARNING and "(Windows Server 2012)" in w.message and "module 1.1" not in w.message
    assert w.fix is not None and "RequiredVersion" not in w.fix.powershell and w.fix.run_on == H2
