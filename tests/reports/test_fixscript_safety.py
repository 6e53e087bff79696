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
    # each VM's state is read before it is asked about (checks/_vmsteps.py)
    assert "foreach ($name in @('ai01', 'app03', 'vdi01')) {\r\n    $vm = @(Get-VM | Where-Object { $_.Name -eq $name })" \
        in hv05d.text
    assert "    # Its state is as expected: from here on the VM is changed.\r\n" \
        "    if (-not $PSCmdlet.ShouldProcess(('VM {0} on {1}' -f $name" in hv05d.text
    # item 4: the delegation written twice in AD is written once, the second says so
    ad = by["fix-active-directory.ps1"]
    assert executed(ad.text).count("@('cifs/HV02', 'cifs/hv02.corp.contoso.com')") == 1
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


def _fix(summary: str, ps: str, **kw: Any) -> dict[str, Any]:
    return {"summary": summary, "run_on": "hv01.corp.contoso.com", "run_as": "an admin", "target": "host",
            "powershell": ps, "gui": None, "docs": [], "requires_vm_off": False, **kw}


def _report(fixes: list[dict[str, Any]], severities: list[str] | None = None) -> dict[str, Any]:
    severities = severities or ["high"] * len(fixes)
    findings = [{"check_id": f"c{i}", "title": "t", "status": "fail", "severity": severities[i],
                 "subject": {"kind": "host", "label": "hv01.corp.contoso.com", "host": "hv01.corp.contoso.com"},
                 "message": f"m{i}", "evidence": {}, "facts_used": [], "fix": fx} for i, fx in enumerate(fixes)]
    return {"run": {"command": "fix-script", "finished": "f", "snapshot": "s.json", "snapshot_created": "c",
                    "run_by": "me"},
            "inventory": {"hosts": ["hv01.corp.contoso.com"], "pairs": []}, **as_groups(findings)}


def _simultaneous(n: str) -> dict[str, Any]:
    return _fix(f"Allow {n} simultaneous live migrations.", f"Set-VMHost -MaximumVirtualMachineMigrations {n}",
                sets=[["MaximumVirtualMachineMigrations", n]])


def test_conflicting_host_settings_are_settled_and_the_loser_commented_out() -> None:
    (s,) = build_scripts(_report([_simultaneous("4"), _simultaneous("2")]))
    code = executed(s.text)
    assert "-MaximumVirtualMachineMigrations 2" in code and "-MaximumVirtualMachineMigrations 4" not in code
    assert "#     Set-VMHost -MaximumVirtualMachineMigrations 4" in s.text
    assert re.search(r"# Not run: conflicts with change \d, which sets MaximumVirtualMachineMigrations to 2 "
                     r"\(2 is Microsoft's default\)\.", s.text)
    assert s.changes == 1


def test_conflict_goes_to_the_more_severe_finding() -> None:
    (s,) = build_scripts(_report([_simultaneous("2"), _simultaneous("4")], ["medium", "critical"]))
    assert "-MaximumVirtualMachineMigrations 4" in executed(s.text)
    assert "(its finding is more severe)" in s.text


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




# -- safe to run as written, and to run again (review points 1-6) -------------------------------------

def _audit(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return audit_snapshot(Snapshot.from_document(doc, name))


def dns_reports() -> list[tuple[str, dict[str, Any]]]:
    """Stale A and AAAA records, a foreign PTR, a missing IPv6 PTR: every kind of DNS removal and addition."""
    from tests.checks.test_host_dns_forward_reverse import IP, doc, rec
    return [
        ("stale-a", _audit(doc(rec(["10.0.0.99", IP], {"10.0.0.99": ["x."], IP: ["hv01.corp.contoso.com."]})), "a.json")),
        ("stale-aaaa", _audit(doc(rec([IP], {IP: ["hv01.corp.contoso.com."]}, aaaa=["fd00:99::1"]), v6=True), "b.json")),
        ("foreign-ptr", _audit(doc(rec([IP], {IP: ["hv01-old.corp.contoso.com.", "other.corp.contoso.com."]})), "c.json")),
        ("missing-ptr", _audit(doc(rec([IP], {IP: []}, aaaa=["fd00:50::11"]), v6=True), "d.json")),
    ]


ALL = [*FLEETS, *dns_reports()]


def _ancestor(node: Node, kind: str) -> Node | None:
    parent = node.parent
    while parent is not None and parent.type != kind:
        parent = parent.parent
    return parent


def _param(cmd: Node, name: str) -> str | None:
    m = re.search(rf"(?i)-{name}\s+('(?:[^']|'')*'|\S+)", text_of(cmd))
    return m.group(1) if m else None


@pytest.mark.parametrize(("name", "report"), ALL, ids=[n for n, _ in ALL])
def test_dns_records_are_read_first_and_only_the_exact_one_removed(name: str, report: dict[str, Any]) -> None:
    """Item 1. Every Remove-DnsServerResourceRecord removes the records just read with that exact zone, name, type
    and data ($found), under `if ($found.Count -gt 0)`, and says "already gone" otherwise; every Add-DnsServerResourceRecord*
    adds only when the read found nothing. A second run then removes and adds nothing."""
    seen = 0
    for s in build_scripts(report):
        root = parse(s.text)
        for cmd in command_nodes(root):
            verb = name_of(cmd)
            if verb not in ("remove-dnsserverresourcerecord", "add-dnsserverresourcerecordptr",
                            "add-dnsserverresourcerecorda", "add-dnsserverresourcerecordaaaa"):
                continue
            seen += 1
            guard = _ancestor(cmd, "if_statement")
            assert guard is not None, (s.filename, text_of(cmd))
            head = text_of(guard).split("{", 1)[0]
            # the read that feeds the guard: the last Get-DnsServerResourceRecord before it, same zone and name
            reads = [c for c in command_nodes(root) if name_of(c) == "get-dnsserverresourcerecord"
                     and c.end_byte < guard.start_byte]
            assert reads, (s.filename, text_of(cmd))
            read = reads[-1]
            assert _param(read, "ErrorAction") == "Stop" and _param(read, "ZoneName") == _param(cmd, "ZoneName")
            if verb.startswith("remove"):
                assert head.strip() == "if ($found.Count -gt 0)", head
                pipeline = _ancestor(cmd, "pipeline")
                assert pipeline is not None and text_of(pipeline).startswith("$found | Remove-DnsServerResourceRecord")
                assert _param(cmd, "Name") is None and _param(cmd, "RecordData") is None  # the record read, nothing else
                assert "is already gone." in text_of(guard)
            else:
                assert head.strip() == "if ($found.Count -eq 0)", head
                assert _param(read, "Name") == _param(cmd, "Name") and "is already there." in text_of(guard)
    if name != "example" and name.startswith(("stale", "foreign", "missing")):
        assert seen, name


VM_CHANGES = {"stop-vm", "start-vm", "update-vmversion", "set-vmprocessor", "move-vm"}


@pytest.mark.parametrize(("name", "report"), FLEETS, ids=[n for n, _ in FLEETS])
def test_disruptive_steps_read_each_vm_first_and_skip_what_is_done(name: str, report: dict[str, Any]) -> None:
    """Item 2. In a disruptive script every command that stops, starts, upgrades, reconfigures or moves a VM sits in
    a loop over the VMs that first finds the VM by its exact name, skips it (saying so) when the step is done,
    refuses a state other than Running or Off and a busy VM, and only then asks (ShouldProcess, ConfirmImpact High);
    it stops a VM only if it runs, and starts only a VM it stopped."""
    steps = 0
    for s in build_scripts(report):
        if not s.disruptive:
            continue
        root = parse(s.text)
        for cmd in command_nodes(root):
            if name_of(cmd) not in VM_CHANGES:
                continue
            steps += 1
            loop = _ancestor(cmd, "foreach_statement")
            assert loop is not None, (s.filename, text_of(cmd))
            text = text_of(loop)
            found, refused, asks = (text.find("$vm = @(Get-VM | Where-Object { $_.Name -eq $name })"),
                                    text.find("if (@('Running', 'Off') -notcontains \"$($vm.State)\") {"),
                                    text.find("if (-not $PSCmdlet.ShouldProcess("))
            busy = text.find("if (@($vm.OperationalStatus | Where-Object { \"$_\" -ne 'Ok' }).Count -gt 0) {")
            at = cmd.start_byte - loop.start_byte
            assert -1 < found < refused < asks < at and -1 < busy < asks, (s.filename, text_of(cmd))
            assert "$vm.Count -eq 0" in text[:asks]  # a VM not found here is skipped, with a warning
            if name_of(cmd) == "stop-vm":
                assert (_ancestor(cmd, "if_statement") is not None
                        and text_of(_ancestor(cmd, "if_statement") or cmd).startswith(("if ($wasRunning)",
                                                                                       "if (\"$($vm.State)\" -eq 'Running')")))
            if name_of(cmd) == "start-vm":
                guard = _ancestor(cmd, "if_statement")
                assert guard is not None and text_of(guard).startswith("if ($wasRunning)"), text_of(cmd)
            assert "-Name $name" not in text_of(cmd) and "-VMName" not in text_of(cmd)  # -VM $vm: no wildcard match
    if name == "example":
        assert steps >= 10


def test_the_vm_step_marker_is_the_one_fixscript_looks_for() -> None:
    from hvlm.checks._vmsteps import ACT
    from hvlm.reports.fixscript import _ACT
    assert ACT.strip() == _ACT


@pytest.mark.parametrize(("name", "report"), FLEETS, ids=[n for n, _ in FLEETS])
def test_an_external_switch_is_never_created_as_written(name: str, report: dict[str, Any]) -> None:
    """Item 3. Creating an external switch is a manual step: the commands that show which adapter carries the
    management address run first (read-only), New-VMSwitch -NetAdapterName is only ever a comment, and the step
    says never to bind it to the management adapter without AllowManagementOS and a console."""
    external = 0
    for s in build_scripts(report):
        code = executed(s.text)
        assert not re.search(r"(?im)^\s*New-VMSwitch\b.*-NetAdapterName", code), s.filename
        assert "Read-Host -Prompt ('Physical adapter" not in s.text
        if "#   New-VMSwitch" in s.text and "-NetAdapterName" in s.text:
            external += 1
            assert s.text.index("Get-NetIPConfiguration") < s.text.index("#   New-VMSwitch")
            assert "Get-NetIPConfiguration" in code  # runs, in the read-only section
            assert "Never bind a new switch with -AllowManagementOS $false to the adapter that carries" in s.text
            assert "-AllowManagementOS $true, from the host's console or out-of-band management" in s.text
    if name in ("example", "fleet2"):
        assert external, name


def _header(text: str) -> str:
    return text[text.index("<#"):text.index("#>")]


@pytest.mark.parametrize(("name", "report"), ALL, ids=[n for n, _ in ALL])
def test_one_run_as_statement_in_each_header_naming_every_right(name: str, report: dict[str, Any]) -> None:
    """Item 4. A script's header says once who runs it: one "Run as:" line, then (when steps need different rights)
    each right with the steps that need it; each step's own Run as is among them."""
    for s in build_scripts(report):
        text = s.text.replace("\r\n", "\n")
        head = _header(text)
        assert head.count("Run as:") == 1, (s.filename, head)
        blocks = text.split("#>", 1)[1].split("# " + "-" * 96)  # the steps; one that does not run needs no right
        steps = {who for b in blocks if "# Not run" not in b for who in re.findall(r"(?m)^# Run as: (.+)$", b)}
        rights = {line.strip()[2:].rsplit(": ", 1)[0] for line in head.splitlines() if line.startswith("      - ")}
        single = re.search(r"Run as: (.+) \(every step\)\.", head)
        named = {single.group(1)} if single else rights
        host = s.target if s.kind == "host" else ""
        for who in steps:
            right = who.rstrip(".").replace(host, "that host") if host else who.rstrip(".")
            if right.startswith("it differs by step"):
                continue
            here = right.replace("that host", host) if host else right
            covered = here in named or (
                right == "a member of Administrators or Hyper-V Administrators on that host"
                and f"a member of the local Administrators group on {host}" in named)
            assert covered, (s.filename, who, named)


def _final_options(report: dict[str, Any]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Each host's performance option after its script ran (or now), from the findings and the scripts."""
    from hvlm.reports.fixperf import _known
    mine = [f for f in flat_findings(report) if f["check_id"] == "pair-performance-option"]
    pairs = [(str(a), str(b)) for a, b in report["inventory"]["pairs"]]
    option, _ = _known(mine, pairs + [(f["subject"]["source"], f["subject"]["destination"]) for f in mine])
    for s in build_scripts(report):
        sets = re.findall(r"(?m)^\s*Set-VMHost -VirtualMachineMigrationPerformanceOption (\w+)", executed(s.text))
        assert len(set(sets)) <= 1, (s.filename, sets)  # one setting per host script
        if sets and s.kind == "host":
            option[s.target] = sets[0]
    return option, pairs


PERF = [*FLEETS, ("perf", perf_report())]


@pytest.mark.parametrize(("name", "report"), PERF, ids=[n for n, _ in PERF])
def test_one_performance_option_satisfies_every_planned_move(name: str, report: dict[str, Any]) -> None:
    """Item 5. After every host script ran, both hosts of every planned move use the same performance option, and
    no script both leaves SMB and enables RDMA for it (the per-pair advice contradicted itself on hv04)."""
    option, pairs = _final_options(report)
    for a, b in pairs:
        if a in option and b in option:
            assert option[a] == option[b], (name, a, b, option)
    for s in build_scripts(report):
        code = executed(s.text)
        if "-VirtualMachineMigrationPerformanceOption Compression" in code:
            assert "Enable-NetAdapterRdma" not in code, s.filename


def test_the_example_hv04_gets_one_setting_and_no_rdma_advice(example: dict[str, Any]) -> None:
    by = {s.filename: s for s in build_scripts(example)}
    hv04, hv05 = by["fix-host-hv04.corp.contoso.com.ps1"], by["fix-host-hv05.corp.contoso.com.ps1"]
    for s in (hv04, hv05):
        assert executed(s.text).count("Set-VMHost -VirtualMachineMigrationPerformanceOption Compression") == 1
        assert "Enable-NetAdapterRdma" not in s.text and "the return direction's finding covers" not in s.text
    assert "hv05.corp.contoso.com gets the same change in its own script." in hv04.text
    assert "(hv04.corp.contoso.com and hv05.corp.contoso.com use SMB; the other 5 hosts linked to it by planned " \
           "moves already use Compression)" in hv04.text


def test_smb_is_kept_when_every_linked_host_has_rdma() -> None:
    hosts = [HostModel("HV01", index=1, performance="TCPIP", rdma=True), HostModel("HV02", index=2, performance="SMB", rdma=True)]
    rep = _audit(build_snapshot(hosts), "smb.json")
    option, _ = _final_options(rep)
    assert option == {"hv01.corp.contoso.com": "SMB", "hv02.corp.contoso.com": "SMB"}
    (hv01,) = [s for s in build_scripts(rep) if s.target.startswith("hv01.")]
    assert "every one of them has RDMA, so SMB uses SMB Direct" in hv01.text


def test_an_unknown_option_makes_it_a_manual_decision_naming_the_pairs() -> None:
    """HV03's option could not be read (the check errored on its pair): no value is sure to satisfy every move."""
    rep = perf_report()
    for g in rep["findings"]:
        for m in g["members"]:
            if g["check_id"] == "pair-performance-option" and "hv03" in m["subject"]["label"]:
                m["evidence"] = {}
    findings = flat_findings(rep)
    from hvlm.reports.fixperf import settle
    replaced, fixes = settle(rep, findings, ("fail", "warning"))
    assert replaced and fixes and all(fx["kind"] == "manual" for fx, _ in fixes.values())
    fx = next(iter(fixes.values()))[0]
    assert "Decide one live-migration performance option for hv01.corp.contoso.com, hv02.corp.contoso.com, " \
           "hv03.corp.contoso.com" in fx["summary"]
    assert "hv01.corp.contoso.com <-> hv02.corp.contoso.com" in fx["summary"]
    for s in build_scripts(rep):
        assert "-VirtualMachineMigrationPerformanceOption" not in executed(s.text).replace(
            "Get-VMHost | Format-List -Property 'VirtualMachineMigrationPerformanceOption'", "")


@pytest.mark.parametrize(("name", "report"), FLEETS, ids=[n for n, _ in FLEETS])
def test_any_network_is_turned_off_only_when_every_paired_host_can_still_reach(name: str, report: dict[str, Any]) -> None:
    """Item 6. A script turns UseAnyNetworkForMigration off only for a host whose every inventory partner has an
    address on one of the networks it will accept on; otherwise the step is manual (commented out)."""
    pairs = [(str(a), str(b)) for a, b in report["inventory"]["pairs"]]
    for f in flat_findings(report):
        if f["check_id"] != "host-any-network" or not f["fix"]:
            continue
        host = f["subject"]["host"]
        partners = {b for a, b in pairs if a == host} | {a for a, b in pairs if b == host}
        peers = f["evidence"].get("peers", {})
        if f["fix"]["kind"] == "change":
            assert set(peers) == partners - {host} and all(peers.values()), (name, host, peers)
        for s in build_scripts(report):
            if s.target == host and f["fix"]["kind"] != "change":
                assert "UseAnyNetworkForMigration $false" not in executed(s.text)


@pytest.mark.parametrize(("name", "report"), FLEETS, ids=[n for n, _ in FLEETS])
def test_delegation_entries_are_added_only_when_missing(name: str, report: dict[str, Any]) -> None:
    """Adding a value msDS-AllowedToDelegateTo already holds fails in AD: a second run of the AD script stopped at
    the first such change. Every Set-ADComputer -Add now adds only what the read just before it found missing."""
    adds = 0
    for s in build_scripts(report):
        for cmd in command_nodes(parse(s.text)):
            if name_of(cmd) != "set-adcomputer" or "-Add" not in text_of(cmd):
                continue
            adds += 1
            guard = _ancestor(cmd, "if_statement")
            assert guard is not None and text_of(guard).startswith("if ($toAdd.Count -gt 0) {"), (s.filename, text_of(cmd))
            assert text_of(cmd).endswith("-Add @{'msDS-AllowedToDelegateTo' = [string[]]$toAdd}")
            before = s.text[:guard.start_byte]
            read = list(re.finditer(r"\$present = @\(\(Get-ADComputer -Identity .+ -Properties 'msDS-AllowedToDelegateTo'\)"
                                    r"\.'msDS-AllowedToDelegateTo'\)\r?\n\s*\$kept = .+\r?\n\s*\$toAdd = @\(\$delegateTo \| "
                                    r"Where-Object \{ \$present -notcontains \$_ \}\)", before))
            assert read, (s.filename, text_of(cmd))
            assert "already delegates to (kept)" in before[read[-1].start():]
    if name == "example":
        assert adds >= 2
