"""Fix scripts an operator may run as written, and run again: a reviewer's five defects, each as a test.

1. a delegation entry already present made `Set-ADComputer -Add` fail and stopped the AD script;
2. the media eject, which needs the VM owner's word, ran with a plain Apply;
3. guardian private keys were exported to C:\\, readable by every local user, and the destination's script
   did not mention the import it must run;
4. a second run of the selective-authentication grant failed on its drive, which was never removed, and
   re-granted a right already held;
5. fixes that only matter for a live move were run for moves that must be cold anyway.

tree-sitter-powershell stands in for PowerShell: it proves which commands sit under which condition.
"""

from __future__ import annotations

from typing import Any

import pytest
from tree_sitter import Node

from hvlm.reports.aggregate import flat_findings
from hvlm.reports.fixscript import build_scripts
from tests.reports.test_fixscript_safety import FLEETS, executed, name_of, parse, text_of, walk
from tests.support.powershell import delegation_adds
from tests.support.reporting import as_groups


def _ancestors(node: Node) -> list[Node]:
    out: list[Node] = []
    parent = node.parent
    while parent is not None:
        out.append(parent)
        parent = parent.parent
    return out


def _commands(root: Node, name: str) -> list[Node]:
    return [n for n in walk(root) if n.type == "command" and name_of(n) == name]


@pytest.mark.parametrize(("name", "report"), FLEETS, ids=[n for n, _ in FLEETS])
def test_delegation_is_added_only_when_missing_at_run_time(name: str, report: dict[str, Any]) -> None:
    """Every `Set-ADComputer -Add` of a script adds a list computed when it runs (what the object lacks, read
    with Get-ADComputer) and only when that list is not empty: never a literal value, which AD refuses when it
    is already there ("The specified value already exists")."""
    adds = 0
    for s in build_scripts(report):
        root = parse(executed(s.text))
        for cmd in _commands(root, "set-adcomputer"):
            text = text_of(cmd)
            if " -Add " not in text:
                continue
            adds += 1
            assert "= [string[]]$toAdd}" in text, (s.filename, text)
            conditions = [text_of(a).split("\n", 1)[0] for a in _ancestors(cmd) if a.type == "if_statement"]
            assert any("$toAdd.Count -gt 0" in c for c in conditions), (s.filename, text)
            block = text_of(next(a for a in _ancestors(cmd) if a.type == "statement_block"
                                 and "$delegateTo" in text_of(a)))
            assert "$toAdd = @($delegateTo | Where-Object { $present -notcontains $_ })" in block
            assert "-Properties 'msDS-AllowedToDelegateTo').'msDS-AllowedToDelegateTo')" in block
    if name == "example":
        assert adds >= 2


def test_the_example_smb_delegation_adds_what_hv03_lacks_and_says_what_it_has(example: dict[str, Any]) -> None:
    ad = next(s for s in build_scripts(example) if s.filename == "fix-active-directory.ps1")
    assert "existing entries are kept)" not in ad.text
    assert "# The audit found hv03.corp.contoso.com lacking cifs/fs01.corp.contoso.com." in ad.text
    assert ("HV03", ["cifs/FS01", "cifs/fs01.corp.contoso.com"]) in delegation_adds(ad.text.replace("\r\n", "\n"))
    assert "Write-Output ('HV03 already delegates to (kept): ' + ($kept -join ', '))" in ad.text


def test_the_media_eject_waits_for_the_owner(example: dict[str, Any]) -> None:
    by = {s.filename: s for s in build_scripts(example)}
    hv03 = by["fix-host-hv03.corp.contoso.com.ps1"]
    assert "Set-VMDvdDrive" not in executed(hv03.text)  # a plain Apply does not eject
    assert "#     # Only after web01's owner confirms that nothing in the guest still reads the media:" in hv03.text
    assert "#     Set-VMDvdDrive -VMName 'web01'" in hv03.text
    assert "Change 3 of 3" not in hv03.text and hv03.manual >= 1


def test_guardian_keys_stay_with_administrators_and_both_scripts_carry_the_step(example: dict[str, Any]) -> None:
    by = {s.filename: s for s in build_scripts(example)}
    assert not any("C:\\hvlm-guardian" in s.text for s in by.values())
    hv04, hv05 = by["fix-host-hv04.corp.contoso.com.ps1"], by["fix-host-hv05.corp.contoso.com.ps1"]
    for s in (hv04, hv05):
        assert "#     # 2. On hv05.corp.contoso.com: the same Administrators-only folder" in s.text
        assert "#         Import-PfxCertificate -FilePath $file" in s.text
        assert "Read-Host -AsSecureString" in s.text and "Import-PfxCertificate" not in executed(s.text)
    assert ("# A part of this step is done on this host; the step is also in the script for hv04.corp.contoso.com "
            "(fix-host-hv04.corp.contoso.com.ps1), where the rest is done.") in hv05.text
    # the finding is counted once, in the script of the host that starts the step (hv04)
    wanted = [f for f in flat_findings(example) if f["status"] in ("fail", "warning") and f["fix"]]
    assert sum(s.findings for s in by.values()) == len(wanted)


@pytest.mark.parametrize(("name", "report"), FLEETS, ids=[n for n, _ in FLEETS])
def test_a_drive_is_made_only_if_absent_removed_at_the_end_and_a_held_right_not_granted_again(
        name: str, report: dict[str, Any]) -> None:
    drives = 0
    for s in build_scripts(report):
        root = parse(executed(s.text))
        for new in _commands(root, "new-psdrive"):
            drives += 1
            drive = text_of(new).split("-Name ", 1)[1].split()[0]
            block = next(a for a in _ancestors(new) if a.type == "statement_block")
            body = text_of(block)
            guard = f"if (Get-PSDrive -Name {drive} -ErrorAction SilentlyContinue) {{"
            assert guard in body and body.index(guard) < body.index(text_of(new)), (s.filename, body)
            tries = [n for n in walk(block) if n.type == "try_statement" and n.start_byte > new.end_byte]
            assert tries, (s.filename, body)
            finally_ = [c for c in tries[0].children if c.type == "finally_clause"]
            assert finally_ and f"Remove-PSDrive -Name {drive}" in text_of(finally_[0])
            for acl in _commands(tries[0], "set-acl"):  # the change only in the branch where the right is missing
                branch = next(a for a in _ancestors(acl) if a.type == "else_clause")
                assert "if ($granted.Count -gt 0) {" in text_of(branch.parent)
    if name == "example":
        assert drives == 1


# -- 5: live-only fixes of a move that must be cold ----------------------------------------------------------

A, B, C = "hv01.corp.contoso.com", "hv02.corp.contoso.com", "hv03.corp.contoso.com"


def _vm(check: str, vm: str, src: str, dst: str, fix: dict[str, Any], status: str = "warning") -> dict[str, Any]:
    return {"check_id": check, "title": "t", "status": status, "severity": "high",
            "subject": {"kind": "vm", "label": f"VM {vm} on {src} -> {dst}", "source": src, "destination": dst,
                        "vm": vm, "vm_id": f"id-{vm}"},
            "message": f"{check} {vm}", "evidence": {}, "facts_used": [], "fix": fix}


def _pair(check: str, src: str, dst: str, fix: dict[str, Any], status: str = "fail") -> dict[str, Any]:
    return {"check_id": check, "title": "t", "status": status, "severity": "critical",
            "subject": {"kind": "pair", "label": f"{src} -> {dst}", "source": src, "destination": dst},
            "message": check, "evidence": {}, "facts_used": [], "fix": fix}


def _fix(summary: str, ps: str, **kw: Any) -> dict[str, Any]:
    return {"summary": summary, "run_on": A, "run_as": "an admin", "target": "host", "powershell": ps, "gui": None,
            "docs": [], "requires_vm_off": False, **kw}


def _scripts(findings: list[dict[str, Any]]) -> dict[str, Any]:
    rep = {"run": {"command": "fix-script", "finished": "f", "snapshot": "s.json", "snapshot_created": "c",
                   "run_by": "me"}, "inventory": {"hosts": [A, B, C], "pairs": []}, **as_groups(findings)}
    return {s.filename: s for s in build_scripts(rep)}


COMPAT = _fix("Enable processor compatibility on db01.", "Stop-VM -Name 'db01'\nSet-VMProcessor -VMName 'db01' "
              "-CompatibilityForMigrationEnabled $true\nStart-VM -Name 'db01'", requires_vm_off=True,
              kind="disruptive", vms=["db01"], live_only=True)
VENDOR = _fix("Cold-move the VMs.", "# shut down and move", kind="manual", cold_move="A is Intel, B is AMD")
DEVICE = _fix("Decide how db01 moves.", "# detach or cold-move", kind="manual", cold_move="db01 has a GPU by DDA")


def test_a_live_only_fix_is_held_back_when_its_move_must_be_cold() -> None:
    by = _scripts([_vm("vm-processor-compat", "db01", A, B, COMPAT), _pair("pair-cpu-vendor", A, B, VENDOR)])
    default = by[f"fix-host-{A}.ps1"]
    assert f"fix-host-{A}-disruptive.ps1" not in by  # its only disruptive step is not needed
    assert "Stop-VM" not in executed(default.text) and "#     Set-VMProcessor -VMName 'db01'" in default.text
    assert (f"# Not needed: VM db01 from {A} to {B} must be a cold move because A is Intel, B is AMD. It only matters "
            "for a live move; nothing below runs.") in default.text
    assert "1 step held back (the move must be cold)" in default.text
    # a VM's own blocker holds back its live-only fixes too, whatever the pair says
    by = _scripts([_vm("vm-processor-compat", "db01", A, B, COMPAT),
                   _vm("vm-passthrough-devices", "db01", A, B, DEVICE, status="fail")])
    assert f"fix-host-{A}-disruptive.ps1" not in by
    assert "because db01 has a GPU by DDA" in by[f"fix-host-{A}.ps1"].text


def test_a_live_only_fix_runs_when_some_move_it_answers_may_be_live() -> None:
    # another VM's blocker, another pair's blocker, a blocker that is only a warning: the move may still be live
    for other in ([_vm("vm-passthrough-devices", "web01", A, B, DEVICE, status="fail")],
                  [_pair("pair-cpu-vendor", A, C, VENDOR)],
                  [_pair("pair-cpu-vendor", A, B, VENDOR, status="warning")]):
        by = _scripts([_vm("vm-processor-compat", "db01", A, B, COMPAT), *other])
        assert "Set-VMProcessor -VMName 'db01'" in executed(by[f"fix-host-{A}-disruptive.ps1"].text), other
    # the same fix answering two moves, only one of them cold: it runs
    by = _scripts([_vm("vm-processor-compat", "db01", A, B, COMPAT), _vm("vm-processor-compat", "db01", A, C, COMPAT),
                   _pair("pair-cpu-vendor", A, B, VENDOR)])
    assert "Set-VMProcessor -VMName 'db01'" in executed(by[f"fix-host-{A}-disruptive.ps1"].text)
    # a finding that is its own blocker (a GPU partition that cannot move live) keeps its step
    gpu = _fix("Decide how db01 moves.", "# meet the requirements", kind="manual", live_only=True,
               cold_move="db01's GPU partition does not meet the requirements")
    by = _scripts([_vm("vm-gpu-partition", "db01", A, B, gpu, status="fail")])
    assert "Manual step 1 of 1: Decide how db01 moves." in by[f"fix-host-{A}.ps1"].text


def test_the_example_holds_back_what_a_cold_move_does_not_need(example: dict[str, Any]) -> None:
    by = {s.filename: s for s in build_scripts(example)}
    # sql01 (pass-through disk) cannot move live: no stop and restart for processor compatibility
    assert "fix-host-hv01.corp.contoso.com-disruptive.ps1" not in by
    hv01 = by["fix-host-hv01.corp.contoso.com.ps1"]
    assert "Set-VMProcessor" not in executed(hv01.text)
    assert ("# Not needed: VM sql01 from hv01.corp.contoso.com to hv02.corp.contoso.com must be a cold move because "
            "sql01 has pass-through disk 2, which no live migration can carry (vm-passthrough-devices).") in hv01.text
    # vdi01 moves Intel -> AMD: its GPU partitioning requirements for a live move are not needed
    hv05 = by["fix-host-hv05.corp.contoso.com.ps1"]
    held = hv05.text.split("# Held back: these only matter for a live move", 1)[1]
    assert "# Held back, not needed: Decide how vdi01 moves" in held and "Set-VMHostPartitionableGpu" in held
    assert "no VM moves live between manufacturers (pair-cpu-vendor)" in held
    assert "Manual step" not in held and "Set-VMHostPartitionableGpu" not in hv05.text.split("# Held back:", 1)[0]
    # the cold move itself is still there
    assert "vdi01" in by["fix-host-hv05.corp.contoso.com-disruptive.ps1"].text
