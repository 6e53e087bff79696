"""Derived views of a finished report, shared by the renderers (HTML, JUnit, CSV, fix scripts).

A fleet of 500 hosts yields tens of thousands of findings, most of them the same finding over
and over ("live migration is enabled on <host>"). Renderers show such a finding once with its
list of subjects; this module decides what "the same" means, so every renderer agrees:
same check, same status, same severity and the same message once the subject's own names
(host, source, destination, VM, domain, operator) and numbers are blanked out.

It also answers the questions a change board asks first: which moves (source -> destination)
fail and why, which hosts have problems, and what could not be checked. Everything here reads
only the report document (audit/schemas/report.schema.json), never facts or collectors.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hvlm.audit.shapes import DIGITS, finding_ids, names_shape, shape_key

__all__ = [
    "PROBLEM_STATUSES",
    "SEVERITIES",
    "STATUSES",
    "STATUS_LABEL",
    "STATUS_RANK",
    "FixVariant",
    "Group",
    "HostView",
    "Member",
    "Move",
    "UncollectedGroup",
    "exit_meaning",
    "finding_ids",
    "fix_variants",
    "flat_findings",
    "group_findings",
    "group_uncollected",
    "host_names",
    "hosts_view",
    "moves_view",
    "names_shape",
    "shape_key",
    "worst",
]

STATUSES = ("fail", "error", "warning", "pass", "not_applicable")
# Lower is worse. An error ("could not check") ranks above a warning: it may hide a failure.
STATUS_RANK = {s: i for i, s in enumerate(STATUSES)}
STATUS_LABEL = {"fail": "FAIL", "error": "ERROR", "warning": "WARN", "pass": "PASS", "not_applicable": "N/A"}
PROBLEM_STATUSES = ("fail", "error", "warning")
SEVERITIES = ("critical", "high", "medium", "low", "info")

def worst(statuses: Iterable[str]) -> str | None:
    """The worst status of several (fail > error > warning > pass > not_applicable), None if empty."""
    ranked = [s for s in statuses if s in STATUS_RANK]
    return min(ranked, key=STATUS_RANK.__getitem__) if ranked else None



# --- the report's findings, one per subject -----------------------------------------------------

def flat_findings(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Every listed finding of a (version 2) report as one dict per subject, in report order.

    Groups hold problems (and their members); this expands them, resolving the shared fix and
    fact tables, for renderers that list findings one by one (linear in the problems listed).
    """
    fixes, facts = report["fixes"], report["facts"]
    return [
        {
            "id": m["id"],
            "group": g["id"],
            "check_id": g["check_id"],
            "title": g["title"],
            "status": g["status"],
            "severity": g["severity"],
            "direction": g["direction"],
            "subject": m["subject"],
            "message": m["message"],
            "evidence": m["evidence"],
            "facts_used": [facts[i] for i in m["facts"]],
            "fix": fixes[m["fix"]] if m["fix"] is not None else None,
            "waiver": m.get("waiver"),
            "baseline_state": m.get("baseline_state"),
        }
        for g in report["findings"]
        for m in g["members"]
    ]


# --- identity and shape of a finding: audit/shapes.py, shared with the report builder ---------------

# --- groups of repeated findings -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Member:
    """One finding inside a group: its position in report["findings"] and its id."""

    index: int
    fid: str
    finding: dict[str, Any]
    shape: str = ""  # the message with the subject's names blanked out (names_shape)


@dataclass(slots=True)
class Group:
    """Findings that say the same thing about different subjects, shown once."""

    gid: str
    check_id: str
    title: str
    status: str
    severity: str
    shape: str  # names-only shape of the first member's message
    members: list[Member] = field(default_factory=list)

    @property
    def uniform(self) -> bool:
        """True when every member's message reads the same once names are blanked out."""
        return all(m.shape == self.shape for m in self.members)

    @property
    def evidence_uniform(self) -> bool:
        blobs = {json.dumps(m.finding.get("evidence") or {}, sort_keys=True) for m in self.members}
        return len(blobs) <= 1


def group_findings(findings: Sequence[dict[str, Any]], ids: Sequence[str] | None = None) -> list[Group]:
    """Group repeated findings, in report order (the report lists the worst first)."""
    ids = list(ids) if ids is not None else finding_ids(findings)
    groups: dict[tuple[str, str, str, str], Group] = {}
    for index, f in enumerate(findings):
        shape = names_shape(f["message"], f["subject"])
        key = (f["check_id"], f["status"], f["severity"], DIGITS.sub("#", shape))
        group = groups.get(key)
        if group is None:
            group = Group(
                gid=f"g{len(groups) + 1}",
                check_id=f["check_id"],
                title=f["title"],
                status=f["status"],
                severity=f["severity"],
                shape=shape,
            )
            groups[key] = group
        group.members.append(Member(index, ids[index], f, shape))
    return list(groups.values())


@dataclass(slots=True)
class FixVariant:
    """One distinct fix inside a group (the same fix on different hosts counts once)."""

    fix: dict[str, Any]
    members: list[Member] = field(default_factory=list)
    run_on: list[str] = field(default_factory=list)


def _fix_key(fix: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in fix.items() if k != "run_on"}, sort_keys=True, ensure_ascii=False)


def fix_variants(members: Iterable[Member]) -> list[FixVariant]:
    """The distinct fixes of some findings, ignoring where each is run, in order of appearance."""
    variants: dict[str, FixVariant] = {}
    for m in members:
        fix = m.finding.get("fix")
        if not fix:
            continue
        variant = variants.setdefault(_fix_key(fix), FixVariant(fix))
        variant.members.append(m)
        if fix["run_on"] not in variant.run_on:
            variant.run_on.append(fix["run_on"])
    return list(variants.values())


# --- moves and hosts -----------------------------------------------------------------------------


def host_names(report: dict[str, Any]) -> list[str]:
    """Inventory hosts in inventory order, then any other host a finding names."""
    names: dict[str, None] = dict.fromkeys(report["inventory"]["hosts"])
    for pair in report["inventory"]["pairs"]:
        names.update(dict.fromkeys(pair))
    for f in flat_findings(report):
        s = f["subject"]
        for key in ("host", "source", "destination"):
            if s.get(key):
                names.setdefault(s[key], None)
    return list(names)


def _domain_of(host: str, domains: Iterable[str]) -> str | None:
    """The longest domain the host name ends with (DNS names are case-insensitive)."""
    low = host.casefold()
    hits = [d for d in domains if low.endswith("." + d.casefold())]
    return max(hits, key=len) if hits else None


@dataclass(slots=True)
class Move:
    """One evaluated migration, source -> destination, with every finding that bears on it."""

    index: int
    source: str
    destination: str
    planned: bool  # False: the return direction, which pair checks evaluate too
    findings: list[int] = field(default_factory=list)  # indices into report["findings"]
    verdict: str | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def mid(self) -> str:
        return f"m{self.index}"


def _flat_index(report: dict[str, Any]) -> list[int]:
    """Offset of each group's first member in flat_findings(report)."""
    offsets, n = [], 0
    for g in report["findings"]:
        offsets.append(n)
        n += len(g["members"])
    return offsets


def moves_view(report: dict[str, Any]) -> list[Move]:
    """Every evaluated move (planned, then return directions) with the findings that decide it.

    A move's verdict (from the report) is the worst status among its pair and VM findings and the
    host-level findings (host, operator, and the hosts' domain checks) of its two ends: live
    migration to a host with migration disabled fails whatever the pair checks say.
    """
    offsets = _flat_index(report)
    flat = flat_findings(report)
    hosts = report["hosts"]
    out: list[Move] = []
    for n, m in enumerate(report["moves"], start=1):
        idx = {offsets[g] + k for g, k in m["findings"]}
        for host in (m["source"], m["destination"]):
            idx.update(offsets[g] + k for g, k in hosts.get(host, {}).get("findings", []))
        move = Move(n, m["source"], m["destination"], bool(m["planned"]), sorted(idx))
        move.counts = {st: 0 for st in STATUSES}
        for i in move.findings:
            move.counts[flat[i]["status"]] += 1
        move.verdict = m["verdict"]
        out.append(move)
    return out


@dataclass(slots=True)
class HostView:
    """A host and its own findings (host, operator and its domain's checks, not pair checks)."""

    index: int
    name: str
    findings: list[int] = field(default_factory=list)
    verdict: str | None = None
    counts: dict[str, int] = field(default_factory=dict)


def hosts_view(report: dict[str, Any]) -> list[HostView]:
    offsets = _flat_index(report)
    flat = flat_findings(report)
    views = []
    for i, name in enumerate(host_names(report)):
        entry = report["hosts"].get(name, {"findings": [], "verdict": None})
        view = HostView(i, name, sorted(offsets[g] + k for g, k in entry["findings"]), entry["verdict"])
        view.counts = {st: 0 for st in STATUSES}
        for k in view.findings:
            view.counts[flat[k]["status"]] += 1
        views.append(view)
    return views


# --- what could not be checked --------------------------------------------------------------------


@dataclass(slots=True)
class UncollectedGroup:
    """Facts that failed the same way on several hosts or domains, shown once."""

    section: str
    kind: str
    message: str  # the first item's message, with its own name blanked out
    items: list[dict[str, Any]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)


def _split_path(path: str) -> tuple[str, str]:
    """`hosts/<name>/vmhost` -> (<name>, vmhost); `dns/<name>` -> (<name>, dns); `/operator`."""
    parts = path.split("/")
    if parts[0] in ("hosts", "domains") and len(parts) >= 3:
        return "/".join(parts[1:-1]), f"{parts[0][:-1]} {parts[-1]}"
    if parts[0] == "dns" and len(parts) >= 2:
        return "/".join(parts[1:]), "dns"
    return "", path.strip("/") or path


def group_uncollected(uncollected: Sequence[dict[str, Any]]) -> list[UncollectedGroup]:
    groups: dict[tuple[str, str, str], UncollectedGroup] = {}
    for item in uncollected:
        name, section = _split_path(str(item.get("path", "")))
        message = str(item.get("message", ""))
        shape = message.replace(name, "‹name›") if name else message
        key = (section, str(item.get("kind", "")), DIGITS.sub("#", shape))
        group = groups.setdefault(key, UncollectedGroup(section, str(item.get("kind", "")), shape))
        group.items.append(item)
        if name:
            group.names.append(name)
    return list(groups.values())


# --- run metadata --------------------------------------------------------------------------------


def exit_meaning(code: int, fail_on: str) -> str:
    """What the exit code tells a pipeline, in the words the CLI's --help uses."""
    meanings = {
        0: f"all clear: no failure or warning at or above severity {fail_on}",
        1: f"failures or warnings at or above severity {fail_on}",
        2: "usage or input error: nothing was audited",
        3: "incomplete: some facts could not be collected or some checks errored",
        4: f"failures or warnings at or above severity {fail_on}, and the audit is incomplete",
    }
    return meanings.get(code, f"exit code {code}")
