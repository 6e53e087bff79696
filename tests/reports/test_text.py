"""The terminal report answers first (each planned move), groups problems, and fits a fleet on a few screens."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from benchmarks.fleets import fleet
from hvlm.audit.run import audit_snapshot
from hvlm.audit.snapshot import Snapshot
from hvlm.reports.aggregate import flat_findings
from hvlm.reports.text import MEMBERS_IN_FULL, render_text
from tests.support.terminal import run_on_terminal


def test_the_example_opens_with_each_planned_move_and_its_reasons(example: dict[str, Any]) -> None:
    text = render_text(example)
    lines = text.splitlines()
    assert lines[1].startswith("7 hosts, 7 planned moves, plus 7 return directions checked for rollback")
    assert lines[3] == "Planned moves:"
    moves = [ln for ln in lines[4:12] if ln.startswith("  BLOCKED")]
    assert len(moves) == sum(1 for m in example["moves"] if m["planned"] and m["verdict"] == "fail")
    assert any("vm-config-version (1 VM)" in ln for ln in moves)
    assert lines.index("Planned moves:") < lines.index("Problems, by check (worst first):")
    assert text.rstrip().splitlines()[-1].startswith("Result: findings at or above severity medium (exit code 1)")


def test_a_fix_shared_by_several_subjects_is_printed_once(example: dict[str, Any]) -> None:
    text = render_text(example)
    group = next(g for g in example["findings"] if g["check_id"] == "operator-delegable")
    fix = example["fixes"][group["members"][0]["fix"]]
    assert len(group["members"]) > 1 and all(m["fix"] == group["members"][0]["fix"] for m in group["members"])
    assert text.count(fix["powershell"].splitlines()[-1]) == 1
    assert "Also the same problem and the same fix for: CORP\\hvadmin on hv02.corp.contoso.com" in text


def test_every_problem_subject_is_named_and_the_return_direction_is_apart(example: dict[str, Any]) -> None:
    text = " ".join(render_text(example).split())  # wrapping may break a label across lines
    for f in flat_findings(example):
        assert " ".join(f["subject"]["label"].split()) in text, f["subject"]["label"]
    assert "Return direction of planned moves (what a rollback needs): they do not change the exit code" in text
    verbose = render_text(example, verbose=True)
    assert "Evidence: {" in verbose and "Also the same problem" not in verbose


def test_two_hundred_hosts_fit_on_a_few_screens_without_losing_a_failure() -> None:
    report = audit_snapshot(Snapshot.from_document(fleet(200, 20, vms=4, broken=0.1)))
    text = render_text(report)
    lines = text.splitlines()
    assert len(lines) < 700, len(lines)
    # every failing cause is there with its count; every failing subject is one flag away
    for group in report["findings"]:
        assert f"{group['check_id']}: {group['title']}" in text
    verbose = " ".join(render_text(report, verbose=True).split())
    for f in flat_findings(report):
        assert " ".join(f["subject"]["label"].split()) in verbose
    assert re.search(r"READY +\d[\d,]* moves with no problem found", text)
    for group in report["findings"]:
        assert len([m for m in group["members"] if f"    {m['subject']['label']}" in lines]) <= MEMBERS_IN_FULL


def test_no_python_none_and_no_plural_hedges(example: dict[str, Any]) -> None:
    text = render_text(example, show_passed=True)
    assert not re.search(r"\bNone\b(?! of)", text) and "(s)" not in text


def test_each_fix_says_what_then_where_and_as_whom_it_runs(example: dict[str, Any]) -> None:
    """"Fix (run on X (Y), as Z (W)): ..." nested the run-on and run-as texts in parentheses: the fix's
    summary comes first, then a line of its own says where and as whom, then its PowerShell."""
    out = render_text(example, colour=False)
    lines = [ln.strip() for ln in out.splitlines()]
    fixes = [i for i, ln in enumerate(lines) if ln.startswith("Fix: ")]
    assert fixes and not any(ln.startswith("Fix (run on") for ln in lines)
    for i in fixes:
        where = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("Run on "))
        assert all(not ln.startswith(("PS>", "Fix: ")) for ln in lines[i + 1:where]), lines[i:where + 1]


def test_on_a_terminal_the_first_screen_shows_each_planned_move(tmp_path: Path) -> None:
    """`hvlm audit --example` in a real pseudo-terminal (24 rows): the verdict per move comes first."""
    import os
    import sys

    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    code, raw = run_on_terminal([sys.executable, "-m", "hvlm.audit.cli", "audit", "--example"], env=env, cwd=tmp_path,
                                 size=(24, 100))
    assert code == 1
    assert "\x1b[31m" in raw  # a terminal gets colour
    first_screen = re.sub(r"\x1b\[[0-9;]*m", "", raw).splitlines()[:24]
    assert first_screen[3] == "Planned moves:"
    moves = [ln for ln in first_screen if re.match(r"  (BLOCKED|WARN|UNKNOWN|READY) ", ln)]
    assert len(moves) == 7 and all(" -> " in ln and ": " in ln for ln in moves)


def test_the_readme_shows_what_hvlm_audit_example_prints(example: dict[str, Any]) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    block = readme.split("<!-- example-start", 1)[1].split("```text\n", 1)[1].split("\n...\n```", 1)[0]
    printed = render_text(example).splitlines()
    shown = block.splitlines()
    shown[0] = shown[0].replace("example-snapshot.json (shipped with hvlm)", example["run"]["snapshot"])
    assert printed[: len(shown)] == shown
