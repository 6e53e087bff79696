"""Fix scripts: parse in a real PowerShell grammar, preview with -WhatIf, never run elsewhere, quote everything.

tree-sitter-powershell stands in for PowerShell itself (see the test-lab notes): `has_error`
False means the script parses; `command_name` nodes list the commands it would call.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import tree_sitter_powershell
from tree_sitter import Language, Node, Parser

from hvlm.audit.cli import main
from hvlm.audit.psquote import ps_quote
from hvlm.reports.aggregate import flat_findings
from hvlm.reports.fixscript import AD_FILE, FixScript, build_scripts, netbios_name, ps_comment, safe_filename
from tests.reports.conftest import HOSTILE_HOSTS
from tests.support.reporting import as_groups

PARSER = Parser(Language(tree_sitter_powershell.language()))


def parse(text: str) -> Node:
    return PARSER.parse(text.encode("utf-8")).root_node


def commands(node: Node) -> list[str]:
    out: list[str] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type == "command_name" and n.text is not None:
            out.append(n.text.decode("utf-8"))
        stack.extend(n.children)
    return out


def first_error(text: str, node: Node) -> str:
    stack = [node]
    while stack:
        n = stack.pop(0)
        if n.type == "ERROR" or n.is_missing:
            line = n.start_point[0]
            lines = text.splitlines()
            above = [ln for ln in lines[:line] if ln.startswith("# Answers ")]
            return f"line {line + 1}: {lines[line] if line < len(lines) else ''!r} (in the change for {above[-1:]})"
        stack.extend(n.children)
    return "?"


def assert_parses(script: FixScript) -> Node:
    root = parse(script.text)
    assert not root.has_error, f"{script.filename} does not parse: {first_error(script.text, root)}"
    return root


def fix(summary: str, powershell: str, run_on: str, target: str = "host", vm_off: bool = False) -> dict[str, Any]:
    return {"summary": summary, "run_on": run_on, "run_as": "a member of Administrators", "target": target,
            "powershell": powershell, "gui": None, "docs": ["https://learn.microsoft.com/x"], "requires_vm_off": vm_off}


def synthetic(hosts: list[str]) -> dict[str, Any]:
    """A report whose fixes use the hosts' names the way the checks do (quoted with ps_quote)."""
    findings: list[dict[str, Any]] = []
    for h in hosts:
        findings.append({
            "check_id": "host-migration-enabled", "title": "t", "status": "fail", "severity": "critical",
            "subject": {"kind": "host", "label": h, "host": h}, "message": f"Live migration is disabled on {h}.",
            "evidence": {}, "facts_used": [],
            "fix": fix(f"Enable live migration on {h}.", "Enable-VMMigration", h),
        })
        findings.append({
            "check_id": "host-kcd", "title": "t", "status": "warning", "severity": "high",
            "subject": {"kind": "host", "label": h, "host": h}, "message": f"{h} needs delegation.",
            "evidence": {}, "facts_used": [],
            "fix": fix(f"Delegate {h}.", f"Set-ADComputer -Identity {ps_quote(h.split('.')[0])} -Add @{{x=1}}", "AD", "ad"),
        })
    return {
        "run": {"command": "audit", "finished": "2026-11-20T09:00:00Z", "snapshot": "s\n#>\nbad", "snapshot_created": "c",
                "run_by": "me#>"},
        "inventory": {"hosts": hosts, "pairs": []},
        **as_groups(findings),
    }


def test_example_scripts_parse_and_support_whatif(example: dict[str, Any]) -> None:
    scripts = build_scripts(example)
    assert any(s.kind == "host" for s in scripts) and any(s.filename == AD_FILE for s in scripts)
    problems = []
    for s in scripts:
        root = parse(s.text)
        if root.has_error:
            problems.append(f"{s.filename}: {first_error(s.text, root)}")
        if s.disruptive:
            assert "[CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High')]" in s.text
            assert s.text.count("$PSCmdlet.ShouldProcess(") == s.changes
        else:
            assert "[CmdletBinding(SupportsShouldProcess)]" in s.text
            assert s.text.count("if ($PSCmdlet.ShouldProcess(") == s.changes
    assert not problems, "fix scripts must parse in tree-sitter-powershell:\n" + "\n".join(problems)


def test_every_fail_and_warning_fix_is_in_exactly_one_script(example: dict[str, Any]) -> None:
    scripts = build_scripts(example)
    text = "\n".join(s.text for s in scripts)
    wanted = [f for f in flat_findings(example) if f["status"] in ("fail", "warning") and f["fix"]]
    assert sum(s.findings for s in scripts) == len(wanted)
    for f in wanted:  # pair-performance-option's per-pair advice is replaced by one setting per host (fixperf)
        if f["check_id"] != "pair-performance-option":
            assert f["fix"]["powershell"].strip().splitlines()[0].strip() in text
    only_fails = build_scripts(example, include_warnings=False)
    assert sum(s.findings for s in only_fails) == sum(1 for f in wanted if f["status"] == "fail")


def test_host_script_guards_its_computer_and_ad_script_requires_the_module() -> None:
    scripts = {s.filename: s for s in build_scripts(synthetic(["hv01.corp.contoso.com", "10.0.0.12"]))}
    hv01 = scripts["fix-host-hv01.corp.contoso.com.ps1"]
    assert "$ExpectedComputer = 'HV01'" in hv01.text and "if ($env:COMPUTERNAME -ne $ExpectedComputer) {" in hv01.text
    assert "Get-NetIPAddress -IPAddress $ExpectedAddress" in scripts["fix-host-10.0.0.12.ps1"].text
    ad = scripts[AD_FILE]
    assert ad.text.startswith("#Requires -Modules ActiveDirectory\r\n")
    assert "$env:COMPUTERNAME" not in ad.text
    for s in scripts.values():
        root = assert_parses(s)
        assert "\r\n" in s.text and "\n" not in s.text.replace("\r\n", "")  # CRLF throughout
        assert set(commands(root)) <= {"Enable-VMMigration", "Set-ADComputer", "Get-NetIPAddress", "Write-Verbose"}


def test_the_same_fix_is_written_once_with_every_finding_it_answers() -> None:
    rep = synthetic(["hv01.corp.contoso.com"])
    dup = copy.deepcopy(rep["findings"][0])
    dup["check_id"] = "host-other-check"
    dup["members"][0]["id"] = "host-other-check:00000000"
    rep["findings"].append(dup)
    (host,) = [s for s in build_scripts(rep) if s.kind == "host"]
    assert host.changes == 1 and host.findings == 2
    assert host.text.count("Enable-VMMigration") == 1
    assert "# Answers host-migration-enabled:" in host.text and "# Answers host-other-check:" in host.text


def test_fix_that_needs_the_vm_off_says_so_in_the_comment_and_the_whatif_text() -> None:
    rep = synthetic(["hv01.corp.contoso.com"])
    rep["fixes"][rep["findings"][0]["members"][0]["fix"]] = fix(
        "Update the VM version.", "Update-VMVersion -Name 'sql01'", "hv01.corp.contoso.com", vm_off=True)
    scripts = [s for s in build_scripts(rep) if s.kind == "host"]
    assert [s.filename for s in scripts] == ["fix-host-hv01.corp.contoso.com-disruptive.ps1"]  # never in the default
    (host,) = scripts
    assert "# The VM is turned off for this step: plan the downtime." in host.text
    assert "if ($PSCmdlet.ShouldProcess('hv01.corp.contoso.com', 'Update the VM version.')) {" in host.text
    assert_parses(host)


def test_hostile_names_stay_inside_quotes_and_comments(hostile: dict[str, Any]) -> None:
    """Names that try to close the header block or a string must not add a single command."""
    scripts = build_scripts(hostile)
    assert scripts, "the hostile fleet has failures with fixes"
    allowed: set[str] = {"Write-Verbose", "Write-Warning", "Get-NetIPAddress"}
    for f in flat_findings(hostile):
        if f["fix"]:
            allowed |= set(commands(parse(f["fix"]["powershell"])))
    for s in scripts:
        root = assert_parses(s)
        assert set(commands(root)) <= allowed, (s.filename, set(commands(root)) - allowed)
        assert "Remove-Item" not in commands(root)
        header = s.text.split("#>", 1)[0]
        assert "\n#>" not in header and "<#" not in header.replace("<#\r\n.SYNOPSIS", "", 1)


def test_synthetic_hostile_hosts_quote_names_in_strings_and_filenames() -> None:
    hosts = [f"{h}.corp.contoso.com" for h in HOSTILE_HOSTS] + ["it's\u2019q.corp", "..\\..\\windows\\system32", "a\nb#>c"]
    scripts = build_scripts(synthetic(hosts))
    names = [s.filename for s in scripts]
    assert len(set(n.casefold() for n in names)) == len(names)
    for n in names:
        assert re.fullmatch(r"fix-[A-Za-z0-9._-]+\.ps1", n), n
        assert ".." not in n.replace(".ps1", "") or n.startswith("fix-host-"), n
    for s in scripts:
        root = assert_parses(s)
        assert set(commands(root)) <= {"Enable-VMMigration", "Set-ADComputer", "Get-NetIPAddress", "Write-Verbose"}
    quote = next(s for s in scripts if s.target == "it's\u2019q.corp")
    assert "$ExpectedHost = 'it''s\u2019\u2019q.corp'" in quote.text


def test_helpers() -> None:
    assert ps_comment("a\r\nb#>c<#d\u2028e") == "a  b# >c< #d e"
    assert "#>" not in ps_comment("##>>#>") and "<#" not in ps_comment("<<##<#")
    assert safe_filename("../../etc/passwd") == "etc_passwd"
    assert safe_filename("<>:|") == "host"
    assert netbios_name("averyveryverylonghostname.corp") == "AVERYVERYVERYLO"


def test_fix_script_command_writes_bom_files_and_refuses_to_overwrite(tmp_path: Path, example: dict[str, Any],
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fixes"
    assert main(["fix-script", "--example", "-o", str(out)]) == 0
    files = sorted(out.glob("*.ps1"))
    assert files and (out / AD_FILE).exists()
    raw = files[0].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw  # UTF-8 BOM for Windows PowerShell 5.1
    assert "hvlm ran nothing" in capsys.readouterr().out
    assert main(["fix-script", "--example", "-o", str(out)]) == 2  # existing scripts are not overwritten
    assert main(["fix-script", "--example", "-o", str(out), "--force"]) == 0


def test_fix_script_command_rejects_a_file_that_is_not_a_snapshot(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "snapshot.json"
    bad.write_text(json.dumps({"schema_version": 1}), "utf-8")
    assert main(["fix-script", str(bad), "-o", str(tmp_path / "o")]) == 2
    assert "snapshot.json" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
