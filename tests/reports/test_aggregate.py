"""Grouping of repeated findings, move verdicts and finding ids (reports/aggregate.py)."""

from __future__ import annotations

import copy
from typing import Any

from hvlm.reports.aggregate import (
    exit_meaning,
    finding_ids,
    fix_variants,
    group_findings,
    group_uncollected,
    hosts_view,
    moves_view,
    names_shape,
    worst,
)
from tests.support.reporting import report_from


def finding(check: str, status: str, message: str, severity: str = "high", **subject: str) -> dict[str, Any]:
    kind = subject.pop("kind", "host")
    label = subject.get("host") or f"{subject.get('source')} -> {subject.get('destination')}"
    if kind == "vm":
        label = f"VM {subject['vm']} on {subject['source']} -> {subject['destination']}"
    fix = None
    if status in ("fail", "warning"):
        fix = {"summary": "Enable it.", "run_on": subject.get("host") or subject.get("source", ""), "run_as": "admin",
               "target": "host", "powershell": "Enable-VMMigration", "gui": None, "docs": [], "requires_vm_off": False}
    return {"check_id": check, "title": check.title(), "subject": {"kind": kind, "label": label, **subject},
            "status": status, "severity": severity, "message": message, "evidence": {}, "facts_used": [], "fix": fix}


def report(findings: list[dict[str, Any]], hosts: list[str], pairs: list[list[str]]) -> dict[str, Any]:
    return report_from(findings, hosts, pairs)


A, B, C = "hv01.corp.contoso.com", "hv02.corp.contoso.com", "hv03.corp.contoso.com"


def test_names_shape_blanks_the_subjects_own_names_only() -> None:
    subject = {"kind": "pair", "source": A, "destination": B}
    shaped = names_shape(f"{A} cannot reach {B} (HV01 asked hv02.corp.contoso.com.); hv01-old stays", subject)
    assert shaped == "‹source› cannot reach ‹destination› (‹source› asked ‹destination›.); hv01-old stays"


def test_the_same_finding_on_many_hosts_is_one_group_with_all_subjects() -> None:
    fs = [finding("host-migration-enabled", "fail", f"Live migration is disabled on {h}.", host=h) for h in (A, B, C)]
    groups = group_findings(fs)
    assert len(groups) == 1
    assert [m.finding["subject"]["host"] for m in groups[0].members] == [A, B, C]
    assert groups[0].uniform and groups[0].shape == "Live migration is disabled on ‹host›."
    variants = fix_variants(groups[0].members)
    assert len(variants) == 1 and variants[0].run_on == [A, B, C]


def test_numbers_group_together_but_keep_each_message() -> None:
    fs = [finding("host-sim", "fail", f"{h} allows {n} migrations.", host=h) for h, n in ((A, 0), (B, 7))]
    (group,) = group_findings(fs)
    assert not group.uniform  # the renderer shows each subject's own message


def test_different_status_severity_or_wording_are_different_groups() -> None:
    fs = [
        finding("c", "fail", f"{A} is off.", host=A),
        finding("c", "warning", f"{B} is off.", host=B),
        finding("c", "fail", f"{C} is off.", host=C, severity="low"),
        finding("c", "fail", f"{C} is broken.", host=C),
        finding("d", "fail", f"{A} is off.", host=A),
    ]
    assert len(group_findings(fs)) == 5


def test_finding_ids_are_stable_unique_and_name_the_check() -> None:
    fs = [finding("c", "fail", "x", host=A), finding("c", "fail", "y", host=A), finding("c", "pass", "z", host=B)]
    ids = finding_ids(fs)
    assert ids[0].startswith("c:") and ids[1] == ids[0] + "-2" and ids[2] != ids[0]
    changed = copy.deepcopy(fs)
    changed[2]["message"] = "other words"
    assert finding_ids(changed) == ids  # the id follows check and subject, not the wording


def test_move_verdict_counts_vm_findings_and_both_hosts_own_findings() -> None:
    fs = [
        finding("pair-x", "pass", "ok", kind="pair", source=A, destination=B),
        finding("vm-x", "warning", "hmm", kind="vm", source=A, destination=B, vm="sql01"),
        finding("host-x", "fail", f"{C} is off", host=C),
        finding("host-y", "pass", f"{A} ok", host=A),
    ]
    moves = {(m.source, m.destination): m for m in moves_view(report(fs, [A, B, C], [[A, B], [B, C]]))}
    assert set(moves) == {(A, B), (B, A), (B, C), (C, B)}  # planned plus return directions
    assert moves[(A, B)].verdict == "warning" and moves[(A, B)].planned
    assert moves[(B, A)].verdict == "pass" and not moves[(B, A)].planned  # VM finding is directional
    assert moves[(B, C)].verdict == "fail" and moves[(C, B)].verdict == "fail"  # C's own failure
    hosts = {h.name: h for h in hosts_view(report(fs, [A, B, C], [[A, B]]))}
    assert hosts[C].verdict == "fail" and hosts[A].verdict == "pass" and hosts[B].verdict == "pass"


def test_worst_ranks_error_above_warning() -> None:
    assert worst(["pass", "warning", "error"]) == "error"
    assert worst(["pass", "fail", "error"]) == "fail"
    assert worst([]) is None


def test_uncollected_facts_group_by_section_kind_and_message() -> None:
    items = [
        {"path": f"hosts/{h}/vmhost", "kind": "access_denied", "message": f"Access is denied on {h}.", "source": {}}
        for h in (A, B)
    ] + [{"path": "dns/" + C, "kind": "timeout", "message": "timed out", "source": {}}]
    groups = group_uncollected(items)
    assert [(g.section, g.kind, len(g.items)) for g in groups] == [("host vmhost", "access_denied", 2), ("dns", "timeout", 1)]
    assert groups[0].names == [A, B] and groups[0].message == "Access is denied on ‹name›."


def test_exit_meaning_names_the_threshold() -> None:
    assert "medium" in exit_meaning(1, "medium") and "incomplete" in exit_meaning(3, "high")
