"""Issue 11, fix scripts items 1-5: scripts that run to the end, read-only queries apart, disruptive
steps in their own script asked per VM, steps deduplicated and conflicts settled, and scripts rebuilt
from a snapshot hvlm audits itself.

tree-sitter-powershell stands in for PowerShell: it proves which commands sit where.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import tree_sitter_powershell
from tree_sitter import Language, Node, Parser

from hvlm.audit.cli import main
from hvlm.audit.run import audit_snapshot
from hvlm.audit.snapshot import Snapshot
from hvlm.reports.aggregate import flat_findings
from hvlm.reports.fixscript import build_scripts, is_read_only
from tests.support.fleet import HostModel, VMModel, build_snapshot
from tests.support.reporting import as_groups

PARSER = Parser(Language(tree_sitter_powershell.language()))

# Commands that only read. A "check" fix may call nothing else.
READ_VERBS = ("get-", "test-", "compare-", "select-", "format-", "sort-", "where-", "measure-", "resolve-",
              "write-", "out-null", "out-string", "foreach-object")
READ_NATIVE = {"w32tm": ("/query", "/stripchart"), "setspn": ("-l", "-q"), "klist": ()}
# Commands that stop, move, upgrade or restart VMs or the host: only in "disruptive" fixes.
DISRUPTIVE = re.compile(r"(?i)^(stop-vm|move-vm|update-vmversion|restart-\w+|remove-vm\w*|stop-computer|"
                        r"uninstall-addsdomaincontroller|remove-\w+)$")
# Remove-* that only take a configuration entry away and are undone by the matching Add-*: a change,
# not a disruption (a stale migration subnet, a stale DNS record, a group membership).
# Remove-PSDrive only drops a drive a fix mapped for its own session (pair-trust-selective-auth).
REVERSIBLE_REMOVALS = {"remove-vmmigrationnetwork", "remove-dnsserverresourcerecord", "remove-adgroupmember",
                       "remove-psdrive"}
PLACEHOLDER = re.compile(r"'<[^'>]*>'")


def parse(text: str) -> Node:
    return PARSER.parse(text.encode("utf-8")).root_node


def walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def command_nodes(node: Node) -> list[Node]:
    return [n for n in walk(node) if n.type == "command"]


def name_of(cmd: Node) -> str:
    names = [c for c in cmd.children if c.type == "command_name"]
    return names[0].text.decode("utf-8").lower() if names and names[0].text else ""


def text_of(node: Node) -> str:
    return node.text.decode("utf-8") if node.text else ""


def executed(text: str) -> str:
    """The code that runs: every comment removed, as the grammar sees them."""
    root = parse(text)
    out = bytearray(text.encode("utf-8"))
    for n in walk(root):
        if n.type == "comment":
            out[n.start_byte:n.end_byte] = b" " * (n.end_byte - n.start_byte)
    return out.decode("utf-8")


def is_read_command(cmd: Node) -> bool:
    name = name_of(cmd)
    if name == "get-credential":  # prompts a person
        return False
    if name.startswith(READ_VERBS):
        return "-repair" not in text_of(cmd).lower()
    if name in READ_NATIVE:
        args = text_of(cmd).lower().split()[1:]
        return "purge" not in args and (not READ_NATIVE[name] or any(a in args for a in READ_NATIVE[name]))
    return False


def is_disruptive_command(cmd: Node) -> bool:
    name = name_of(cmd)
    if name in REVERSIBLE_REMOVALS:
        return False
    return bool(DISRUPTIVE.match(name)) or bool(re.search(r"(?i)\s-restart\b", text_of(cmd)))


def fleet_reports() -> list[tuple[str, dict[str, Any]]]:
    """The example, the hostile fleet and generated fleets that break everything the checks fix."""
    from tests.reports.conftest import example_report, hostile_report

    hv = [
        HostModel("HV01", index=1, performance="TCPIP", rdma=True, auth="CredSSP", max_vm_migrations=8,
                  use_any_network=True, firewall_enabled=False,
                  vms=[VMModel("web01", version="10.0"), VMModel("db01", adapters=[("Network Adapter", "vSwitch-Ext")])],
                  switches=["vSwitch-Prod", "vSwitch-Ext"]),
        HostModel("HV02", index=2, performance="SMB", rdma=True, build=14393, cpu_vendor="AuthenticAMD",
                  migration_enabled=False, vms=[VMModel("app01", version="8.0")]),
        HostModel("HV03", index=3, performance="Compression", build=9600, hyperv_state="Available",
                  vms=[VMModel("old01", version="5.0")]),
        HostModel("HV04", index=4, part_of_domain=False, domain_role=2, vmms_status="Stopped"),
        HostModel("HV05", index=5, domain_role=5, credential_guard=True, build=26100),
    ]
    out = [("example", example_report()), ("hostile", hostile_report())]
    for n in (2, 3, 5):
        doc = build_snapshot(hv[:n])
        out.append((f"fleet{n}", audit_snapshot(Snapshot.from_document(doc, f"fleet{n}.json"))))
    swapped = [replace(h, performance={"TCPIP": "SMB", "SMB": "TCPIP"}.get(h.performance, h.performance)) for h in hv]
    out.append(("swapped", audit_snapshot(Snapshot.from_document(build_snapshot(swapped), "swapped.json"))))
    return out


FLEETS = fleet_reports()


@pytest.mark.parametrize(("name", "report"), FLEETS, ids=[n for n, _ in FLEETS])
def test_every_fix_does_what_its_kind_says(name: str, report: dict[str, Any]) -> None:
    """A "check" calls only read-only commands; stopping, moving, upgrading or restarting is only in
    "disruptive" fixes; no fix has a '<placeholder>' in code that runs."""
    problems: list[str] = []
    for f in flat_findings(report):
        fix = f["fix"]
        if not fix:
            continue
        kind = fix.get("kind", "change")
        assert kind in ("change", "check", "disruptive", "manual"), fix
        root = parse(fix["powershell"])
        assert not root.has_error, (f["id"], fix["powershell"])
        cmds = command_nodes(root)
        if kind == "check":
            problems += [f"{f['check_id']}: check calls {name_of(c)}" for c in cmds if not is_read_command(c)]
        if kind not in ("disruptive", "manual"):  # a manual step is printed as a comment, never run
            problems += [f"{f['check_id']}: {kind} fix calls {name_of(c)}" for c in cmds if is_disruptive_command(c)]
        if fix.get("requires_vm_off"):
            assert kind == "disruptive", f["check_id"]
        if kind == "disruptive" and f["subject"]["kind"] == "vm":
            assert fix["vms"] == [f["subject"]["vm"]], f["check_id"]
        if PLACEHOLDER.search(executed(fix["powershell"])):
            problems.append(f"{f['check_id']}: placeholder in {fix['powershell']!r}")
    assert not problems, "\n".join(sorted(set(problems)))


@pytest.mark.parametrize(("name", "report"), FLEETS, ids=[n for n, _ in FLEETS])
def test_scripts_run_to_the_end_reads_apart_and_disruption_elsewhere(name: str, report: dict[str, Any]) -> None:
    scripts = build_scripts(report)
    for s in scripts:
        root = parse(s.text)
        assert not root.has_error, s.filename
        assert not PLACEHOLDER.search(executed(s.text)), s.filename
        guarded = [n for n in walk(root) if n.type == "if_statement" and "ShouldProcess" in text_of(n)]
        for block in guarded:  # no read-only query under a -WhatIf guard, unless a change precedes it
            body = [ln.strip() for ln in text_of(block).splitlines()[1:] if ln.strip() and not ln.strip().startswith("#")]
            if body and not body[0].startswith(("$", "}", "if (")):  # an assignment feeds the change after it
                cmds = command_nodes(parse(body[0]))
                assert not cmds or not is_read_command(cmds[0]), (s.filename, body[0])
        if s.disruptive:
            assert "ConfirmImpact = 'High'" in s.text
            continue
        cmds = command_nodes(root)
        assert not [name_of(c) for c in cmds if is_disruptive_command(c)], s.filename
        assert "ConfirmImpact" not in s.text
        # the read-only checks: try statements outside the changes (a change may use try/finally itself)
        reads = [n for n in walk(root) if n.type == "try_statement"
                 and not any(g.start_byte <= n.start_byte < g.end_byte for g in guarded)]
        assert len(reads) == s.checks
        for r in reads:
            assert "ShouldProcess" not in text_of(r)
            assert all(is_read_command(c) for c in command_nodes(r) if name_of(c) != "write-warning"), text_of(r)
        changes = [n for n in guarded if "ShouldProcess" in text_of(n).split("\n", 1)[0]]
        assert len(changes) == s.changes, s.filename


def test_the_example_scripts_read_right(example: dict[str, Any]) -> None:
    by = {s.filename: s for s in build_scripts(example)}
    hv05, hv05d = by["fix-host-hv05.corp.contoso.com.ps1"], by["fix-host-hv05.corp.contoso.com-disruptive.ps1"]
    # item 1: the test move is an instruction, not code with placeholders
    assert "# Move-VM -Name <test VM>" in hv05.text and "'<test VM>'" not in hv05.text
    # item 2: Compare-VM and w32tm /query run in the read-only section and are not counted as changes
    hv07 = by["fix-host-hv07.corp.contoso.com.ps1"]
    assert hv07.changes == 0 and hv07.checks == 4 and "Compare-VM" in hv07.text
    assert "Read-only checks: they only read, run even with -WhatIf" in hv07.text
    # the DC demotion is a manual step, printed as a comment
    assert "#     Uninstall-ADDSDomainController" in hv07.text and "Manual step 2 of 2" in hv07.text
    # item 3: the cold move is in its own script, asked per VM, and the default script names it
    assert "Move-VM" not in executed(hv05.text) and "fix-host-hv05.corp.contoso.com-disruptive.ps1" in hv05.text
    assert "foreach ($name in @('ai01', 'app03', 'vdi01')) {\r\n    if (-not $PSCmdlet.ShouldProcess(('VM {0} on {1}' -f $name" \
        in hv05d.text
    # item 4: the delegation written twice in AD is written once, the second says so
    ad = by["fix-active-directory.ps1"]
    assert executed(ad.text).count("cifs/hv02.corp.contoso.com") == 1
    assert re.search(r"# Not run: already done by change \d+: the same commands\.", ad.text)
    # the AD script changes only Active Directory: no host is changed remotely from it
    assert "Set-VMHost" not in executed(ad.text)
    hv06 = by["fix-host-hv06.lab.fabrikam.com.ps1"]
    assert executed(hv06.text).count("w32tm /resync /rediscover") == 1


def perf_report() -> dict[str, Any]:
    """HV01 (TCPIP, RDMA) with HV02 (SMB, RDMA) and HV03 (Compression): two fixes set HV01's option."""
    hosts = [HostModel("HV01", index=1, performance="TCPIP", rdma=True),
             HostModel("HV02", index=2, performance="SMB", rdma=True),
             HostModel("HV03", index=3, performance="Compression")]
    return audit_snapshot(Snapshot.from_document(build_snapshot(hosts), "perf.json"))


def test_conflicting_host_settings_are_settled_and_the_loser_commented_out() -> None:
    (hv01,) = [s for s in build_scripts(perf_report()) if s.target.startswith("hv01.")]
    code = executed(hv01.text)
    assert "-VirtualMachineMigrationPerformanceOption Compression" in code
    assert "-VirtualMachineMigrationPerformanceOption SMB" not in code
    assert "#     Set-VMHost -VirtualMachineMigrationPerformanceOption SMB" in hv01.text
    assert re.search(r"# Not run: conflicts with change \d, which sets VirtualMachineMigrationPerformanceOption to "
                     r"Compression \(Compression is Microsoft's default\)\.", hv01.text)
    assert hv01.changes == 1


def test_conflict_goes_to_the_more_severe_finding() -> None:
    rep = perf_report()
    smb = next(m for g in rep["findings"] for m in g["members"]
               if g["check_id"] == "pair-performance-option" and "SMB" in rep["fixes"][m["fix"]]["powershell"])
    group = next(g for g in rep["findings"] if smb in g["members"])
    group["severity"] = "high"
    (hv01,) = [s for s in build_scripts(rep) if s.target.startswith("hv01.")]
    assert "-VirtualMachineMigrationPerformanceOption SMB" in executed(hv01.text)
    assert "(its finding is more severe)" in hv01.text


def _fix(summary: str, ps: str, **kw: Any) -> dict[str, Any]:
    return {"summary": summary, "run_on": "hv01.corp.contoso.com", "run_as": "an admin", "target": "host",
            "powershell": ps, "gui": None, "docs": [], "requires_vm_off": False, **kw}


def _report(fixes: list[dict[str, Any]]) -> dict[str, Any]:
    findings = [{"check_id": f"c{i}", "title": "t", "status": "fail", "severity": "high",
                 "subject": {"kind": "host", "label": "hv01.corp.contoso.com", "host": "hv01.corp.contoso.com"},
                 "message": f"m{i}", "evidence": {}, "facts_used": [], "fix": fx} for i, fx in enumerate(fixes)]
    return {"run": {"command": "fix-script", "finished": "f", "snapshot": "s.json", "snapshot_created": "c",
                    "run_by": "me"},
            "inventory": {"hosts": ["hv01.corp.contoso.com"], "pairs": []}, **as_groups(findings)}


def test_identical_statements_are_written_once_and_say_where() -> None:
    purge = "Invoke-Command -ComputerName 'hv01' -ScriptBlock { klist purge -li 0x3e7 }"
    rep = _report([_fix("Delegate A.", f"Set-ADComputer -Identity 'A' -Add @{{x=1}}\n{purge}"),
                   _fix("Delegate B.", f"Set-ADComputer -Identity 'B' -Add @{{x=1}}\n{purge}")])
    (s,) = build_scripts(rep)
    assert executed(s.text).count("klist purge") == 1 and s.changes == 2
    assert "# Already done by change 1: Invoke-Command -ComputerName 'hv01'" in s.text


def test_a_vm_acted_on_by_a_disruptive_step_is_not_acted_on_again() -> None:
    up = _fix("Upgrade db01.", "Stop-VM -Name 'db01'\nUpdate-VMVersion -Name 'db01'\nStart-VM -Name 'db01'",
              requires_vm_off=True, kind="disruptive", vms=["db01"])
    move = _fix("Cold-move the VMs.", "foreach ($name in @('db01', 'web01')) {\n    Stop-VM -Name $name\n}",
                requires_vm_off=True, kind="disruptive", vms=["db01", "web01"])
    (d,) = build_scripts(_report([up, move]))
    assert d.disruptive and d.filename == "fix-host-hv01.corp.contoso.com-disruptive.ps1" and d.changes == 1
    assert "# Not run: VM db01 was already stopped, moved or upgraded by step 1" in d.text
    assert executed(d.text).count("Stop-VM") == 1
    assert "if ($PSCmdlet.ShouldProcess('VM db01 on hv01.corp.contoso.com', 'Upgrade db01.')) {" in d.text


def test_is_read_only() -> None:
    assert is_read_only("Get-VM | Format-Table -Property 'Name'")
    assert is_read_only("w32tm /query /status") and is_read_only("setspn -L 'HV07'")
    assert not is_read_only("w32tm /resync") and not is_read_only("setspn -S 'x' 'HV07'")
    assert not is_read_only("Get-VM | Stop-VM") and not is_read_only("$x = Get-VM")
    assert not is_read_only("Test-ComputerSecureChannel -Repair") and not is_read_only("klist purge")
    assert is_read_only("Get-ADComputer -Identity 'a|Stop-VM'")  # inside quotes: text


# -- item 5: rebuilt from the snapshot -------------------------------------------------------------

def test_fix_script_audits_the_snapshot_itself(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fx"
    assert main(["fix-script", "--example", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Audited example-snapshot.json" in printed
    names = sorted(p.name for p in out.glob("*.ps1"))
    assert "fix-host-hv05.corp.contoso.com-disruptive.ps1" in names and "fix-active-directory.ps1" in names
    # the same selection options as audit
    only = tmp_path / "only"
    assert main(["fix-script", "--example", "-o", str(only), "--checks", "host-migration-enabled"]) == 0
    assert sorted(p.name for p in only.glob("*.ps1")) == ["fix-host-hv06.lab.fabrikam.com.ps1"]
    assert main(["fix-script", "--example", "-o", str(tmp_path / "s"), "--skip", "pair-cpu-vendor"]) == 0
    assert not (tmp_path / "s" / "fix-host-hv05.corp.contoso.com-disruptive.ps1").exists()


def test_fix_script_refuses_a_report_and_names_its_snapshot(tmp_path: Path, example: dict[str, Any],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    edited = copy.deepcopy(example)
    edited["run"]["snapshot"] = "snapshots/fleet-2026-11-20.json"
    report = tmp_path / "report.json"
    report.write_text(json.dumps(edited), "utf-8")
    assert main(["fix-script", str(report), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "is a report, not a snapshot" in err and "snapshots/fleet-2026-11-20.json" in err
    assert f"hvlm fix-script 'snapshots/fleet-2026-11-20.json' -o '{tmp_path / 'o'}'" in err
    assert not (tmp_path / "o").exists()
    edited["run"]["snapshot"] = "example-snapshot.json (shipped with hvlm)"
    report.write_text(json.dumps(edited), "utf-8")
    assert main(["fix-script", str(report), "-o", str(tmp_path / "o")]) == 2
    assert "hvlm fix-script --example" in capsys.readouterr().err


def test_fix_script_help_says_it_audits_a_snapshot(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fix-script", "--help"]) == 0
    text = capsys.readouterr().out
    assert "SNAPSHOT" in text.upper() and "--checks" in text and "--skip" in text and "disruptive" in text
    assert "A JSON report is not accepted" in text


