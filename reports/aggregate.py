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

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

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

_PLACEHOLDERS = {
    "host": "‹host›",
    "source": "‹source›",
    "destination": "‹destination›",
    "vm": "‹VM›",
    "vm_id": "‹VM id›",
    "domain": "‹domain›",
    "operator": "‹operator›",
}
_HOST_FIELDS = ("host", "source", "destination", "domain")  # DNS names: case-insensitive
_DIGITS = re.compile(r"\d+")


def worst(statuses: Iterable[str]) -> str | None:
    """The worst status of several (fail > error > warning > pass > not_applicable), None if empty."""
    ranked = [s for s in statuses if s in STATUS_RANK]
    return min(ranked, key=STATUS_RANK.__getitem__) if ranked else None


# --- identity and shape of a finding -------------------------------------------------------------


def _subject_key(subject: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in subject.items() if k != "label"}


def finding_ids(findings: Sequence[dict[str, Any]]) -> list[str]:
    """A stable id per finding: its check and a hash of its subject, e.g. `host-os-supported:3f2a9c1b`.

    The same check on the same subject gets the same id in every run, so a fix script, a CSV row
    and a JUnit test case can be traced to each other and across runs. A check that reports the
    same subject twice gets `-2`, `-3` suffixes in report order.
    """
    seen: dict[str, int] = {}
    out: list[str] = []
    for f in findings:
        blob = json.dumps([f["check_id"], _subject_key(f["subject"])], sort_keys=True, ensure_ascii=False)
        base = f"{f['check_id']}:{hashlib.sha256(blob.encode('utf-8')).hexdigest()[:8]}"
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return out


def _name_forms(subject: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(name, placeholder, case-insensitive) for every name of the subject, longest first.

    DNS names (host, source, destination, domain) match case-insensitively and by their first
    label too ("HV01" for hv01.corp.contoso.com); VM and operator names match exactly.
    """
    forms: dict[str, tuple[str, bool]] = {}
    for key, placeholder in _PLACEHOLDERS.items():
        value = subject.get(key)
        if not isinstance(value, str) or not value:
            continue
        dns = key in _HOST_FIELDS
        forms.setdefault(value, (placeholder, dns))
        if dns and "." in value:
            short = value.split(".", 1)[0]
            if len(short) >= 2:
                forms.setdefault(short, (placeholder, True))
    return sorted(((v, p, ci) for v, (p, ci) in forms.items()), key=lambda f: -len(f[0]))


def _word(ch: str) -> bool:
    return ch.isalnum() or ch in "_-"


def names_shape(message: str, subject: dict[str, Any]) -> str:
    """The message with the subject's own names replaced by placeholders such as ‹host›.

    A name only counts as a whole word: not preceded or followed by a letter, digit, `_` or `-`
    ("hv01-old" is not hv01). Longer names win over the short names they contain. Plain string
    search, not a regex per subject: reports of 500 hosts shape tens of thousands of messages.
    """
    forms = _name_forms(subject)
    if not forms:
        return message
    lowered = message.lower()
    if len(lowered) != len(message):  # a case mapping changed the length: compare exactly only
        lowered = message
    taken: list[tuple[int, int, str]] = []
    for value, placeholder, ci in forms:
        hay, needle = (lowered, value.lower()) if ci else (message, value)
        if not needle or len(needle) != len(value):
            hay, needle = message, value
        start = 0
        while True:
            k = hay.find(needle, start)
            if k < 0:
                break
            end = k + len(needle)
            start = k + 1
            if (k > 0 and _word(message[k - 1])) or (end < len(message) and _word(message[end])):
                continue
            if any(k < e and s < end for s, e, _ in taken):
                continue
            taken.append((k, end, placeholder))
    if not taken:
        return message
    taken.sort()
    out: list[str] = []
    pos = 0
    for s, e, placeholder in taken:
        out.append(message[pos:s])
        out.append(placeholder)
        pos = e
    out.append(message[pos:])
    return "".join(out)


def shape_key(message: str, subject: dict[str, Any]) -> str:
    """What "the same message" means for grouping: names blanked out, and numbers too."""
    return _DIGITS.sub("#", names_shape(message, subject))


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
        key = (f["check_id"], f["status"], f["severity"], _DIGITS.sub("#", shape))
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
    for f in report["findings"]:
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


def _evaluated_pairs(report: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """Planned moves plus their return direction, as the engine evaluates them."""
    planned = [(p[0], p[1]) for p in report["inventory"]["pairs"]]
    out = [(s, d, True) for s, d in planned]
    known = set(planned)
    for s, d in planned:
        if (d, s) not in known:
            known.add((d, s))
            out.append((d, s, False))
    for f in report["findings"]:  # pairs a finding names that the inventory does not (defensive)
        s = f["subject"]
        if s["kind"] in ("pair", "vm") and s.get("source") and s.get("destination"):
            key = (s["source"], s["destination"])
            if key not in known:
                known.add(key)
                out.append((key[0], key[1], False))
    return out


def moves_view(report: dict[str, Any]) -> list[Move]:
    """Every evaluated move with the findings that decide it.

    A move's verdict is the worst status among its pair and VM findings and the host-level
    findings (host, operator, and domain checks for the hosts' domains) of its two ends: live
    migration to a host with migration disabled fails whatever the pair checks say.
    """
    findings = report["findings"]
    by_pair: dict[tuple[str, str], list[int]] = {}
    by_host: dict[str, list[int]] = {}
    by_domain: dict[str, list[int]] = {}
    for i, f in enumerate(findings):
        s = f["subject"]
        kind = s["kind"]
        if kind in ("pair", "vm"):
            by_pair.setdefault((s.get("source", ""), s.get("destination", "")), []).append(i)
        elif kind in ("host", "operator") and s.get("host"):
            by_host.setdefault(s["host"], []).append(i)
        elif kind == "domain" and s.get("domain"):
            by_domain.setdefault(s["domain"], []).append(i)
    out: list[Move] = []
    for n, (src, dst, planned) in enumerate(_evaluated_pairs(report), start=1):
        idx = list(by_pair.get((src, dst), []))
        for host in (src, dst):
            idx.extend(by_host.get(host, []))
        doms = {d for d in (_domain_of(src, by_domain), _domain_of(dst, by_domain)) if d}
        for dom in sorted(doms):
            idx.extend(by_domain[dom])
        idx = sorted(set(idx))
        move = Move(n, src, dst, planned, idx)
        move.counts = {st: 0 for st in STATUSES}
        for i in idx:
            move.counts[findings[i]["status"]] += 1
        move.verdict = worst(findings[i]["status"] for i in idx)
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
    findings = report["findings"]
    names = host_names(report)
    views = [HostView(i, name) for i, name in enumerate(names)]
    by_name = {v.name: v for v in views}
    domains = {f["subject"]["domain"] for f in findings if f["subject"]["kind"] == "domain" and f["subject"].get("domain")}
    host_domain = {v.name: _domain_of(v.name, domains) for v in views}
    for i, f in enumerate(findings):
        s = f["subject"]
        if s["kind"] in ("host", "operator") and s.get("host") in by_name:
            by_name[s["host"]].findings.append(i)
        elif s["kind"] == "domain":
            for v in views:
                if host_domain[v.name] == s.get("domain"):
                    v.findings.append(i)
    for v in views:
        v.counts = {st: 0 for st in STATUSES}
        for i in v.findings:
            v.counts[findings[i]["status"]] += 1
        v.verdict = worst(findings[i]["status"] for i in v.findings)
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
        key = (section, str(item.get("kind", "")), _DIGITS.sub("#", shape))
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
