"""Waivers: accepted risks, written down in a TOML file, that a compliance scan reports as such.

A waiver names one check and the subjects it covers (hosts, moves "src -> dst", VMs "source/vm",
domains; shell-style globs; a list; or `all = true`), why the risk is accepted, who approved it,
when, and until when. A waived finding keeps its real status and is marked waived (the member's
`waiver` field) in every output; it no longer counts for the exit code. Nothing is ever dropped.
An expired waiver no longer applies (its findings count again) and the report says so; a waiver
that matches nothing is reported too (the problem is gone: remove the waiver).

    [[waivers]]
    id = "CHG-1042"
    check = "host-firewall-6600"
    host = ["hv01.corp.contoso.com", "hv02*"]
    justification = "Migration network firewalled upstream; rule added in the Q1 window"
    approved_by = "J. Smith (CAB 2026-11-14)"
    created = 2026-11-14
    expires = 2027-01-31

The clock is injectable (`today` parameters default to `today()`, which tests can replace), so
a test can freeze time and watch a waiver expire.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
import tomllib
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hvlm.audit.errors import InputError
from hvlm.audit.jsonio import read_text

__all__ = [
    "SELECTOR_KINDS",
    "Problem",
    "Waiver",
    "WaiverFile",
    "apply_waivers",
    "load_waivers",
    "parse_waivers",
    "today",
]

# selector key -> the subject kinds of a check it can name
SELECTOR_KINDS: dict[str, frozenset[str]] = {
    "host": frozenset({"host", "operator"}),
    "pair": frozenset({"pair", "vm"}),  # on a VM check: every VM of that move
    "vm": frozenset({"vm"}),
    "domain": frozenset({"domain"}),
}
_KEYS = frozenset({"id", "check", "justification", "approved_by", "created", "expires", "all", *SELECTOR_KINDS})
_EXAMPLES = {"host": '"hv01.corp.contoso.com"', "pair": '"hv01 -> hv02"', "vm": '"hv01/sql01"',
             "domain": '"corp.contoso.com"'}


def today() -> dt.date:
    """The date waivers are judged against (UTC). Tests replace this function to freeze time."""
    return dt.datetime.now(dt.UTC).date()


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong in a waivers file. `blocking` problems make the file unusable for a run;
    the others (an expired waiver, an expiry too far ahead) are for `hvlm waivers lint`."""

    where: str
    reason: str
    blocking: bool = True


@dataclass(frozen=True, slots=True)
class Waiver:
    id: str
    check: str
    kind: str  # "host", "pair", "vm", "domain", or "all"
    patterns: tuple[str, ...]
    justification: str
    approved_by: str
    created: dt.date
    expires: dt.date
    where: str

    @property
    def selector(self) -> str:
        if self.kind == "all":
            return "all = true"
        return f"{self.kind} = " + ", ".join(self.patterns)

    def active(self, on: dt.date) -> bool:
        """A waiver holds through its expiry date and lapses the day after."""
        return on <= self.expires

    def matches(self, subject: dict[str, Any]) -> bool:
        kind = subject.get("kind")
        if self.kind == "all":
            return True
        if kind not in SELECTOR_KINDS[self.kind]:
            return False
        return any(_match_subject(self.kind, p, subject) for p in self.patterns)

    def to_member(self) -> dict[str, Any]:
        """What a waived member carries."""
        return {"id": self.id, "justification": self.justification, "approved_by": self.approved_by,
                "expires": self.expires.isoformat()}

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "check_id": self.check, "selector": self.selector,
                "justification": self.justification, "approved_by": self.approved_by,
                "created": self.created.isoformat(), "expires": self.expires.isoformat(), "where": self.where}


@dataclass(slots=True)
class WaiverFile:
    path: str
    waivers: list[Waiver] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def require_usable(self) -> None:
        """Raise the first blocking problem as an input error (exit 2)."""
        for p in self.problems:
            if p.blocking:
                raise InputError(self.path, p.reason, p.where)


# --- matching ---------------------------------------------------------------------------------------


def _host_match(pattern: str, name: Any) -> bool:
    if not isinstance(name, str):
        return False
    pat, low = pattern.strip().lower(), name.lower()
    return fnmatch.fnmatchcase(low, pat) or ("." not in pat and fnmatch.fnmatchcase(low.split(".", 1)[0], pat))


def _split_pair(pattern: str) -> tuple[str, str] | None:
    parts = pattern.split("->")
    if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
        return None
    return parts[0].strip(), parts[1].strip()


def _split_vm(pattern: str) -> tuple[str, str] | None:
    source, sep, vm = pattern.partition("/")
    if not sep or not source.strip() or not vm.strip():
        return None
    return source.strip(), vm.strip()


def _match_subject(kind: str, pattern: str, s: dict[str, Any]) -> bool:
    if kind == "host":
        return _host_match(pattern, s.get("host"))
    if kind == "domain":
        return _host_match(pattern, s.get("domain"))
    if kind == "pair":
        pair = _split_pair(pattern)
        return pair is not None and _host_match(pair[0], s.get("source")) and _host_match(pair[1], s.get("destination"))
    vm = _split_vm(pattern)
    name = s.get("vm")
    return (vm is not None and isinstance(name, str) and _host_match(vm[0], s.get("source"))
            and fnmatch.fnmatchcase(name.lower(), vm[1].lower()))


def _match_all(part: str) -> bool:
    """A pattern part that matches any name: only wildcards (and dots)."""
    stripped = part.strip()
    return "*" in stripped and not stripped.replace("*", "").replace("?", "").replace(".", "")


def _everything(kind: str, pattern: str) -> bool:
    if kind in ("host", "domain"):
        return _match_all(pattern)
    parts = _split_pair(pattern) if kind == "pair" else _split_vm(pattern)
    return parts is not None and all(_match_all(p) for p in parts)


# --- parsing ----------------------------------------------------------------------------------------


def _date(value: Any, key: str, where: str, problems: list[Problem]) -> dt.date | None:
    if value is None:
        problems.append(Problem(where, f"missing {key!r} (a date, YYYY-MM-DD)"))
        return None
    if isinstance(value, dt.datetime):
        problems.append(Problem(f"{where}.{key}", f"{key} must be a date (YYYY-MM-DD), not a date and time"))
        return None
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    problems.append(Problem(f"{where}.{key}", f"{key} must be a date (YYYY-MM-DD), got {value!r}"))
    return None


def _text(entry: dict[str, Any], key: str, where: str, problems: list[Problem]) -> str:
    value = entry.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        problems.append(Problem(where, f"missing {key!r}: every waiver says " +
                                ("why the risk is accepted" if key == "justification" else "who approved it")))
        return ""
    if not isinstance(value, str):
        problems.append(Problem(f"{where}.{key}", f"{key} must be a string"))
        return ""
    return value.strip()


def _selector(entry: dict[str, Any], where: str, problems: list[Problem]) -> tuple[str, tuple[str, ...]] | None:
    given = [k for k in SELECTOR_KINDS if k in entry]
    everything = entry.get("all", False)
    if not isinstance(everything, bool):
        problems.append(Problem(f"{where}.all", "all must be true or false"))
        return None
    if everything:
        if given:
            problems.append(Problem(where, f"all = true waives every subject of the check; drop {given[0]!r}"))
            return None
        return "all", ()
    if not given:
        problems.append(Problem(where, "name what the waiver covers: host, pair, vm or domain "
                                       "(or all = true for every subject of the check)"))
        return None
    if len(given) > 1:
        problems.append(Problem(where, f"one selector per waiver ({' and '.join(given)} given): write two waivers"))
        return None
    kind = given[0]
    raw = entry[kind]
    values = raw if isinstance(raw, list) else [raw]
    if not values or not all(isinstance(v, str) and v.strip() for v in values):
        problems.append(Problem(f"{where}.{kind}", f"{kind} must be a name or a list of names, e.g. {_EXAMPLES[kind]}"))
        return None
    patterns = tuple(v.strip() for v in values)
    for i, p in enumerate(patterns):
        at = f"{where}.{kind}" + (f"[{i}]" if isinstance(raw, list) else "")
        if kind == "pair" and _split_pair(p) is None:
            problems.append(Problem(at, f"a pair is written \"source -> destination\", got {p!r}"))
            return None
        if kind == "vm" and _split_vm(p) is None:
            problems.append(Problem(at, f"a VM is written \"source/vm name\", got {p!r}"))
            return None
        if _everything(kind, p):
            problems.append(Problem(at, f"{p!r} matches every subject: to waive the whole check write all = true "
                                        "instead, so it is never done by accident"))
            return None
    return kind, patterns


def parse_waivers(data: dict[str, Any], name: str, known_checks: Collection[str] | None = None,
                  check_kinds: dict[str, str] | None = None) -> WaiverFile:
    """Every waiver of a parsed TOML document, and every problem found (blocking or not).

    `known_checks` (the registry's ids) turns an unknown check id into a problem;
    `check_kinds` (check id -> subject kind) catches a selector that can never match its check.
    """
    out = WaiverFile(name)
    problems = out.problems
    for key in data:
        if key != "waivers":
            problems.append(Problem(key, f"unknown key {key!r}: the file holds [[waivers]] tables"))
    raw = data.get("waivers", [])
    if not isinstance(raw, list):
        problems.append(Problem("waivers", "waivers must be an array of tables ([[waivers]])"))
        return out
    ids: dict[str, str] = {}
    seen: dict[tuple[str, str, str], str] = {}
    for i, entry in enumerate(raw):
        where = f"waivers[{i}]"
        if not isinstance(entry, dict):
            problems.append(Problem(where, "each waiver is a table ([[waivers]])"))
            continue
        bad = sorted(set(entry) - _KEYS)
        if bad:
            problems.append(Problem(f"{where}.{bad[0]}", f"unknown key {bad[0]!r} (known: {', '.join(sorted(_KEYS))})"))
        wid = entry.get("id", f"W{i + 1}")
        if not isinstance(wid, str) or not wid.strip():
            problems.append(Problem(f"{where}.id", "id must be a non-empty string"))
            wid = f"W{i + 1}"
        wid = wid.strip()
        if wid in ids:
            problems.append(Problem(f"{where}.id", f"waiver id {wid!r} is used twice (also {ids[wid]})"))
        ids.setdefault(wid, where)
        check = entry.get("check")
        if not isinstance(check, str) or not check.strip():
            problems.append(Problem(where, "missing 'check': the id of the check the waiver is for (hvlm checks)"))
            continue
        check = check.strip()
        if known_checks is not None and check not in known_checks:
            problems.append(Problem(f"{where}.check", f"unknown check id {check!r} (see `hvlm checks` for the catalogue)"))
        selector = _selector(entry, where, problems)
        justification = _text(entry, "justification", where, problems)
        approved_by = _text(entry, "approved_by", where, problems)
        created = _date(entry.get("created"), "created", where, problems)
        expires = _date(entry.get("expires"), "expires", where, problems)
        if selector is None or created is None or expires is None:
            continue
        kind, patterns = selector
        subject_kind = (check_kinds or {}).get(check)
        if subject_kind is not None and kind != "all" and subject_kind not in SELECTOR_KINDS[kind]:
            problems.append(Problem(f"{where}.{kind}", f"check {check!r} judges {subject_kind} subjects: a {kind} "
                                                        "selector never matches it"))
            continue
        if created > expires:
            problems.append(Problem(f"{where}.expires", f"expires {expires} is before created {created}"))
            continue
        for p in patterns or ("*",):
            dup = (check, kind, p.lower().replace(" ", ""))
            if dup in seen:
                problems.append(Problem(where, f"a second waiver for check {check!r} and {kind} {p!r} "
                                               f"(also {seen[dup]}): keep one"))
            seen.setdefault(dup, where)
        if justification and approved_by:
            out.waivers.append(Waiver(wid, check, kind, patterns, justification, approved_by, created, expires, where))
    return out


def read_toml(path: str | Path) -> dict[str, Any]:
    name = str(path)
    text = read_text(path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        text_msg = str(exc)
        at = re.search(r"\s*\(at line (\d+), column (\d+)\)", text_msg)
        if at:
            raise InputError(name, f"invalid TOML: {text_msg[: at.start()]}",
                             f"line {at.group(1)} column {at.group(2)}") from None
        if text_msg.endswith(" (at end of document)"):
            raise InputError(name, f"invalid TOML: {text_msg[: -len(' (at end of document)')]}",
                             "end of document") from None
        raise InputError(name, f"invalid TOML: {text_msg}") from None


def load_waivers(path: str | Path, known_checks: Collection[str] | None = None,
                 check_kinds: dict[str, str] | None = None) -> WaiverFile:
    """Read and parse a waivers file; unreadable or not TOML is an InputError."""
    return parse_waivers(read_toml(path), str(path), known_checks, check_kinds)


# --- applying to a report ----------------------------------------------------------------------------


def _members(report: dict[str, Any]) -> Iterable[tuple[dict[str, Any], dict[str, Any]]]:
    for group in report["findings"]:
        for member in group["members"]:
            yield group, member


def apply_waivers(report: dict[str, Any], waivers: WaiverFile, on: dt.date | None = None) -> None:
    """Mark each member an active waiver covers, and record applied, expired and unmatched waivers.

    Two active waivers that cover the same finding are an input error (which one was approved?).
    The exit code is not changed here: `report.recount_exit_code` does it, after all marks.
    """
    on = on or today()
    covered: dict[str, list[str]] = {w.id: [] for w in waivers.waivers}
    would: dict[str, list[str]] = {w.id: [] for w in waivers.waivers}
    by_check: dict[str, list[Waiver]] = {}
    for w in waivers.waivers:
        by_check.setdefault(w.check, []).append(w)
    for group, member in _members(report):
        active_match: Waiver | None = None
        for w in by_check.get(group["check_id"], ()):
            if not w.matches(member["subject"]):
                continue
            if not w.active(on):
                would[w.id].append(member["id"])
                continue
            if active_match is not None:
                raise InputError(waivers.path, f"two waivers cover check {group['check_id']!r} on "
                                 f"{member['subject']['label']!r} (also {active_match.where}, id {active_match.id!r}): "
                                 "keep one", w.where)
            active_match = w
        if active_match is not None:
            member["waiver"] = active_match.to_member()
            covered[active_match.id].append(member["id"])
    applied, expired, unmatched = [], [], []
    for w in waivers.waivers:
        if not w.active(on):
            expired.append({**w.to_dict(), "expired_days": (on - w.expires).days, "members": would[w.id]})
        elif covered[w.id]:
            applied.append({**w.to_dict(), "days_left": (w.expires - on).days, "members": covered[w.id]})
        else:
            unmatched.append(w.to_dict())
    report["waivers"] = {
        "file": waivers.path,
        "today": on.isoformat(),
        "waived": sum(len(v) for v in covered.values()),
        "applied": applied,
        "expired": expired,
        "unmatched": unmatched,
    }
