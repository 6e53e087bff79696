"""The terminal report: the answer first (each planned move's verdict), then the problems grouped by
check and cause with their subjects and fixes, then what could not be checked and the summary.

Sized for fleets: a healthy move is one counted line, not one line per check; a group lists its
first subjects in full and names every other one on a compact line, so no failure is dropped and
200 hosts fit on a few screens. `verbose` adds every subject's evidence.
"""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from typing import Any

from hvlm.audit.roles import affects
from hvlm.audit.snapshot import NOTE_KINDS
from hvlm.audit.words import count as _plural

__all__ = ["render_text"]

_COLOURS = {"fail": "31", "error": "35", "warning": "33", "pass": "32", "not_applicable": "2"}
_LABEL = {"fail": "FAIL", "error": "ERROR", "warning": "WARN", "pass": "PASS", "not_applicable": "N/A"}
_MOVE = {"fail": "BLOCKED", "error": "UNKNOWN", "warning": "WARN", "pass": "READY", "not_applicable": "READY"}
_WIDTH = 100
MEMBERS_IN_FULL = 1  # per group, in full; the others (same cause, their own names) are named on compact lines
MOVES_LISTED = 60  # moves that need action listed one per line; ready moves are counted
NAMES_LISTED = 40  # subjects named on a group's compact lines; --verbose prints them all


def _paint(text: str, status: str, colour: bool) -> str:
    return f"\x1b[{_COLOURS[status]}m{text}\x1b[0m" if colour else text


def _safe(text: Any) -> str:
    """Host-supplied strings must not drive the terminal: drop control characters. Every value is
    printed on one line, so a line break in a VM name cannot forge a line of the report either."""
    return "".join(ch if ch.isprintable() else " " if ch in "\r\n\u2028\u2029" else "?" for ch in str(text))


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(_safe(text), _WIDTH, initial_indent=indent, subsequent_indent=indent,
                         break_long_words=False, break_on_hyphens=False) or [indent]


def _header(report: dict[str, Any]) -> list[str]:
    run, summary = report["run"], report["summary"]
    moves = summary["moves"]
    back = f", plus {_plural(moves['return'], 'return direction')} checked for rollback" if moves["return"] else ""
    return [
        f"hvlm {report['tool']['version']} - {run['command']} of {_safe(run['snapshot'])}",
        f"{_plural(len(report['inventory']['hosts']), 'host')}, {_plural(moves['planned'], 'planned move')}{back}; "
        f"{_plural(len(run['checks_run']), 'check')}; snapshot taken {_safe(run['snapshot_created'])}",
    ]


def _reasons(report: dict[str, Any], move: dict[str, Any]) -> str:
    """The checks behind a move's verdict, worst first, with how many of its VMs each one names."""
    found: Counter[str] = Counter()
    vms: Counter[str] = Counter()
    for g, m in move["findings"]:
        group = report["findings"][g]
        if group["status"] != move["verdict"]:
            continue
        if group["members"][m]["subject"]["kind"] == "vm" and "vm" in group["members"][m]["subject"]:
            vms[group["check_id"]] += 1
        found[group["check_id"]] += 1
    for host, role in ((move["source"], "source"), (move["destination"], "destination")):
        for g, _ in report["hosts"].get(host, {}).get("findings", []):
            group = report["findings"][g]
            if group["status"] == move["verdict"] and affects(group["check_id"], role):
                found[f"{group['check_id']} on {_safe(host)}"] += 1
    parts = [f"{c} ({_plural(vms[c], 'VM')})" if vms[c] else c for c in found]
    return ", ".join(parts[:4]) + (f", +{len(parts) - 4} more" if len(parts) > 4 else "")


def _moves(report: dict[str, Any], colour: bool) -> list[str]:
    planned = [m for m in report["moves"] if m["planned"]]
    if not planned:
        return ["No planned moves (the inventory plans none): host checks only."]
    lines = ["Planned moves:"]
    ready = [m for m in planned if m["verdict"] in ("pass", "not_applicable")]
    action = [m for m in planned if m["verdict"] not in ("pass", "not_applicable")]
    order = {"fail": 0, "error": 1, "warning": 2}
    action.sort(key=lambda m: order[m["verdict"]])
    for m in action[:MOVES_LISTED]:
        tag = _paint(f"{_MOVE[m['verdict']]:8}", m["verdict"], colour)
        lines.append(f"  {tag} {_safe(m['source'])} -> {_safe(m['destination'])}: {_reasons(report, m)}")
    if len(action) > MOVES_LISTED:
        rest = Counter(m["verdict"] for m in action[MOVES_LISTED:])
        lines.append(f"  ... and {len(action) - MOVES_LISTED:,} more that need action ("
                     + ", ".join(f"{n:,} {_MOVE[v].lower()}" for v, n in rest.items()) + "): see the JSON or HTML report")
    if ready:
        tag = _paint(f"{'READY':8}", "pass", colour)
        names = ", ".join(f"{_safe(m['source'])} -> {_safe(m['destination'])}" for m in ready[:3])
        more = f" and {len(ready) - 3:,} more" if len(ready) > 3 else ""
        lines.append(f"  {tag} {_plural(len(ready), 'move')} with no problem found: {names}{more}")
    return lines


def _fix_lines(fix: dict[str, Any]) -> list[str]:
    lines = _wrap(f"Fix: {fix['summary']}", "      ")
    lines += _wrap(f"Run on {fix['run_on']}, as {fix['run_as']}:", "      ")
    lines += [f"        PS> {_safe(ps)}" for ps in fix["powershell"].splitlines()]
    return lines


def _group(report: dict[str, Any], group: dict[str, Any], colour: bool, verbose: bool) -> list[str]:
    """A group (one cause: same check, status and message but for names): its first subject in
    full; the subjects whose fix is the very same on one line; the others, whose fix differs only
    by their own names, on another."""
    status, members = group["status"], group["members"]
    tag = _paint(f"{_LABEL[status]:5}", status, colour)
    count = f" ({_plural(len(members), 'subject')})" if len(members) > 1 else ""
    lines = [f"{tag} [{group['severity']}] {group['check_id']}: {_safe(group['title'])}{count}"]
    shown_fixes: set[int | None] = set()
    same: list[str] = []
    named: list[str] = []
    shown = 0
    for m in members:
        label = _safe(m["subject"]["label"]) + _marks(m)
        if not verbose and m["fix"] in shown_fixes:
            same.append(label)
            continue
        if not verbose and shown >= MEMBERS_IN_FULL:
            named.append(label)
            continue
        shown += 1
        shown_fixes.add(m["fix"])
        lines.append(f"    {label}")
        lines += _wrap(m["message"], "      ")
        if m.get("waiver"):
            w = m["waiver"]
            lines += _wrap(f"WAIVED by {w['id']} until {w['expires']} (approved by {w['approved_by']}): "
                           f"{w['justification']}", "      ")
        if verbose and m["evidence"]:
            lines += _wrap("Evidence: " + json.dumps(m["evidence"], ensure_ascii=False, sort_keys=True), "      ")
        if m["fix"] is not None and status in ("fail", "warning"):
            lines += _fix_lines(report["fixes"][m["fix"]])
    if same:
        what = "the same problem and the same fix" if status in ("fail", "warning") else "the same problem"
        lines += _wrap(f"Also {what} for: {_names(same)}", "    ")
    if named:
        lines += _wrap(f"Likewise, each with this fix for its own names (--verbose, the HTML report and the fix "
                       f"scripts spell them out), for: {_names(named)}", "    ")
    return lines


def _marks(member: dict[str, Any]) -> str:
    """What a subject's label carries beside it: its waiver, and its state since the baseline."""
    out = ""
    if member.get("waiver"):
        out += f" [WAIVED {_safe(member['waiver']['id'])}]"
    if member.get("baseline_state") in ("new", "updated"):
        out += f" [{member['baseline_state']}]"
    return out


def _waiver_top(report: dict[str, Any], colour: bool) -> list[str]:
    """Expired waivers first and loud (their findings count again), then waivers matching nothing."""
    w = report.get("waivers")
    if not w:
        return []
    lines: list[str] = []
    if w["expired"]:
        lines += ["", _paint(f"EXPIRED WAIVERS ({len(w['expired'])}): they no longer apply; their findings count "
                             "again. Renew them (new approval and expiry) or fix the problem:", "fail", colour)]
        for e in w["expired"]:
            lines += _wrap(f"{e['id']} ({e['where']}) for {e['check_id']}, {e['selector']}: expired {e['expires']} "
                           f"({_plural(e['expired_days'], 'day')} ago), approved by {e['approved_by']}; "
                           f"{_plural(len(e['members']), 'finding')} affected", "  ")
    if w["unmatched"]:
        lines += ["", f"Waivers that match no finding ({len(w['unmatched'])}): the problem is gone (or the check "
                      "did not run): remove them from the waivers file:"]
        for e in w["unmatched"]:
            lines += _wrap(f"{e['id']} ({e['where']}) for {e['check_id']}, {e['selector']}", "  ")
    return lines


def _compliance_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    w = report.get("waivers")
    if w:
        lines.append(f"Waivers ({_safe(w['file'])}, judged on {w['today']}): {_plural(w['waived'], 'finding')} "
                     f"waived by {len(w['applied'])} active, {len(w['expired'])} expired, "
                     f"{len(w['unmatched'])} matching nothing")
    b = report.get("baseline")
    if b:
        lines.append(f"Since the baseline ({_safe(b['file'])}, run {_safe(b['started'])}): {b['new']:,} new, "
                     f"{b['updated']:,} updated, {b['unchanged']:,} unchanged, {len(b['absent']):,} gone"
                     + ("; only new findings count (--fail-on-new)" if report["run"].get("fail_on_new") else ""))
    return lines


def _names(labels: list[str]) -> str:
    if len(labels) <= NAMES_LISTED:
        return "; ".join(labels)
    return ("; ".join(labels[:NAMES_LISTED])
            + f"; and {len(labels) - NAMES_LISTED:,} more (--verbose, or the JSON report, lists them all)")


def render_text(report: dict[str, Any], *, colour: bool = False, show_passed: bool = False,
                verbose: bool = False) -> str:
    lines = [*_header(report), *_waiver_top(report, colour), "", *_moves(report, colour)]
    planned = [g for g in report["findings"] if g["direction"] != "return"]
    back = [g for g in report["findings"] if g["direction"] == "return"]
    if planned:
        lines += ["", "Problems, by check (worst first):"]
        for g in planned:
            lines += _group(report, g, colour, verbose)
    if back:
        counts = "they count for the exit code (include_return)" if report["run"]["include_return"] else \
            "they do not change the exit code (--include-return makes them count)"
        lines += ["", f"Return direction of planned moves (what a rollback needs): {counts}"]
        for g in back:
            lines += _group(report, g, colour, verbose)
    if show_passed and report["passed"]:
        lines += ["", "Passed and not applicable, by check:"]
        for entry in report["passed"]:
            status, subjects = entry["status"], entry["subjects"]
            names = ", ".join(_safe(s) for s in subjects[:5]) + (f", ... ({len(subjects) - 5:,} more)"
                                                                 if len(subjects) > 5 else "")
            lines.append(f"{_paint(f'{_LABEL[status]:5}', status, colour)} {entry['check_id']}: "
                         f"{_plural(len(subjects), 'subject')}: {names}")
    lines += _uncollected(report)
    lines += ["", *_summary(report, colour)]
    return "\n".join(lines) + "\n"


def _uncollected(report: dict[str, Any]) -> list[str]:
    notes = [u for u in report["uncollected"] if u["kind"] in NOTE_KINDS]
    items = [u for u in report["uncollected"] if u["kind"] not in NOTE_KINDS]
    lines: list[str] = []
    if notes:
        lines += ["", f"Notes from the hosts ({_plural(len(notes), 'error')} the probe recovered from; "
                  "the facts were still collected):"]
        lines += [f"  {_safe(u['path'])}: {_safe(u['message'])}" for u in notes[:50]]
    if not items:
        return lines
    lines += ["", f"Could not collect {_plural(len(items), 'fact')}:"]
    # One line per subject and reason: a host that never answered is one line, not one per section.
    groups: dict[tuple[str, str, str], list[str]] = {}
    for u in items:
        subject, _, section = str(u["path"]).rpartition("/")
        groups.setdefault((subject or section, str(u["kind"]), str(u["message"])), []).append(section)
    for (subject, kind, message), sections in list(groups.items())[:50]:
        what = sections[0] if len(sections) == 1 else (
            f"{len(sections)} facts: {', '.join(sections[:6])}{', ...' if len(sections) > 6 else ''}")
        lines.append(f"  {_safe(subject)} ({_safe(what)}): {_safe(kind)}: {_safe(message)}")
    if len(groups) > 50:
        lines.append(f"  ... and {len(groups) - 50:,} more (see the JSON report)")
    return lines


def _summary(report: dict[str, Any], colour: bool) -> list[str]:
    s = report["summary"]["by_status"]
    run = report["run"]
    parts = [
        _paint(f"{s['fail']:,} failed", "fail", colour and s["fail"] > 0),
        _paint(f"{s['warning']:,} warnings", "warning", colour and s["warning"] > 0),
        _paint(f"{s['error']:,} could not be checked", "error", colour and s["error"] > 0),
        _paint(f"{s['pass']:,} passed", "pass", colour),
        f"{s['not_applicable']:,} not applicable",
    ]
    by_verdict = report["summary"]["moves"]["by_verdict"]
    moves = ", ".join(f"{by_verdict.get(k, 0):,} {_MOVE[k].lower()}" for k in ("fail", "error", "warning", "pass")
                      if by_verdict.get(k))
    verdicts = {
        0: "all clear",
        1: f"findings at or above severity {run['fail_on']}",
        3: "INCOMPLETE: some facts could not be collected or some checks errored",
        4: f"findings at or above severity {run['fail_on']}, and the audit is INCOMPLETE",
    }
    return [
        *_compliance_lines(report),
        f"Moves: {moves or 'none planned'}",
        f"Verdicts ({report['summary']['verdicts']:,} subjects x checks): " + ", ".join(parts),
        f"Result: {verdicts[run['exit_code']]} (exit code {run['exit_code']})",
    ]
