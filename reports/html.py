"""The HTML report: one self-contained file an administrator opens from disk or hands to a change board.

Safety model. Everything a host or the directory returned is data and reaches the page in two ways
only: through the jinja2 template with autoescape on (every printed value also passes through
`visible()`, which shows bidi overrides, zero-width and control characters as ⟦U+202E⟧ instead of
letting them reorder or hide text), or inside one `<script type="application/json">` block whose
`<`, `>`, `&` and U+2028/2029 are escaped, which the script reads with JSON.parse and writes with
textContent only. No string is ever pasted into script code. A Content-Security-Policy allows the
one inline script and the one inline style by their SHA-256 hash and nothing else: no network, no
other script, no inline event handlers.

Large fleets. Repeated findings are shown once with their subjects (reports.aggregate); the
default view is rendered here, so the page reads without JavaScript and prints; the by-host and
by-move views are assembled in the browser on demand from the same cards.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import unicodedata
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from reports.aggregate import (
    PROBLEM_STATUSES,
    SEVERITIES,
    STATUS_LABEL,
    STATUS_RANK,
    STATUSES,
    Group,
    Member,
    Move,
    exit_meaning,
    finding_ids,
    fix_variants,
    flat_findings,
    group_findings,
    group_uncollected,
    host_names,
    hosts_view,
    moves_view,
    worst,
)

__all__ = ["MATRIX_MAX_CELLS", "csp_for", "render_html", "script_json", "visible"]

MATRIX_MAX_CELLS = 60 * 60  # beyond this the matrix stops being readable: the moves list remains
SUBJECTS_INLINE = 12  # more subjects than this go into a collapsed list
VARIANTS_INLINE = 3  # more distinct fixes than this: the rest collapsed
EVIDENCE_ROWS_MAX = 60  # per-subject evidence of passing checks beyond this stays in the JSON report
VALUE_INLINE = 160  # longer evidence values go into a scrolling block (or are cut in tables)
REASONS_SHOWN = 3

STATUS_SYMBOL = {"fail": "✗", "error": "?", "warning": "!", "pass": "✓", "not_applicable": "–"}
STATUS_WORD = {
    "fail": "failed",
    "error": "could not be checked",
    "warning": "warning",
    "pass": "passed",
    "not_applicable": "not applicable",
}
KIND_NOUN = {
    "host": ("host", "hosts"),
    "pair": ("move", "moves"),
    "vm": ("VM", "VMs"),
    "operator": ("operator account", "operator accounts"),
    "domain": ("domain", "domains"),
}
TARGET_LABEL = {"host": "on the host", "ad": "Active Directory change", "session": "in your session"}

# --- making host-supplied text safe to look at ----------------------------------------------------


def _shown(ch: str) -> bool:
    if ch in "\n\t":
        return True
    return unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def visible(text: str) -> str:
    """Show invisible and direction-changing characters as ⟦U+XXXX⟧ so nothing hides or reorders text.

    A host named "ab\u202ecod" would otherwise display reversed. Copy buttons copy the exact
    original (from the JSON data), so a fix still works with whatever the name really is.
    """
    text = text.replace("\r\n", "\n")
    if text.replace("\n", "").replace("\t", "").isprintable():  # fast path: str.isprintable is C code
        return text
    if all(_shown(ch) for ch in text):
        return text
    return "".join(ch if _shown(ch) else f"⟦U+{ord(ch):04X}⟧" for ch in text)


def _finalize(value: Any) -> Any:
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return visible(value)


def script_json(data: Any) -> Markup:
    """JSON that is safe inside <script type="application/json">: it cannot close the element.

    ensure_ascii escapes every non-ASCII character (U+2028/2029 and lone surrogates included),
    and <, > and & become \\u003c, \\u003e, \\u0026, so neither `</script>` nor `<!--` can appear.
    """
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"), sort_keys=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704 - escaped above; autoescape would break the JSON


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def csp_for(css: str, js: str) -> str:
    """The page's Content-Security-Policy: only our inline style and script, no network at all."""
    return (
        f"default-src 'none'; style-src '{_sha256(css)}'; script-src '{_sha256(js)}'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )


@cache
def asset(name: str) -> str:
    """An inline stylesheet or script from templates/, refused if it could close its element."""
    text = resources.files("reports").joinpath("templates", name).read_text("utf-8")
    closing = "</style" if name.endswith(".css") else "</script"
    if closing in text.lower():
        raise ValueError(f"{name} must not contain {closing}")
    return text


def new_environment() -> Environment:
    """The templates' jinja2 environment and its safety settings, shared by every HTML page:
    autoescape, every printed string through visible(), and links only for https URLs."""
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.tests["https"] = _is_https
    return env


@cache
def _environment() -> Environment:
    env = new_environment()
    env.globals.update(
        STATUS_LABEL=STATUS_LABEL,
        STATUS_SYMBOL=STATUS_SYMBOL,
        STATUS_WORD=STATUS_WORD,
        TARGET_LABEL=TARGET_LABEL,
    )
    env.filters["attrs"] = _attrs
    return env


def _is_https(url: object) -> bool:
    """Only https links become anchors: a crafted report cannot smuggle a javascript: URL in."""
    return isinstance(url, str) and url.startswith("https://")


def _attrs(t: dict[str, set[int]]) -> Markup:
    """data-h / data-m / data-hl attributes: space-delimited integers with a space at each end, so
    the script finds host 3 with `includes(" 3 ")`. Only integers, so nothing here needs escaping."""
    out = []
    for key in ("h", "m", "hl"):
        values = t.get(key)
        if values:
            out.append(f' data-{key}=" {" ".join(str(int(v)) for v in sorted(values))} "')
    return Markup("".join(out))  # noqa: S704 - integers only


# --- the model the template renders ---------------------------------------------------------------


def _short_labels(names: list[str]) -> dict[str, str]:
    """First DNS label where it is unique among the hosts (and the name is not an address)."""

    def short(name: str) -> str:
        try:
            ipaddress.ip_address(name)
            return name
        except ValueError:
            return name.split(".", 1)[0] or name

    shorts = [short(n) for n in names]
    counts: dict[str, int] = {}
    for s in shorts:
        counts[s.casefold()] = counts.get(s.casefold(), 0) + 1
    return {n: (s if counts[s.casefold()] == 1 else n) for n, s in zip(names, shorts, strict=True)}


class _Index:
    """Host and move numbering shared by the template's data attributes and the script's data."""

    def __init__(self, report: dict[str, Any]) -> None:
        self.hosts = host_names(report)
        self.host_no = {h: i for i, h in enumerate(self.hosts)}
        self.moves = moves_view(report)
        self.move_no = {(m.source, m.destination): m.index for m in self.moves}
        self.short = _short_labels(self.hosts)
        domains = {
            f["subject"]["domain"]
            for f in flat_findings(report)
            if f["subject"]["kind"] == "domain" and f["subject"].get("domain")
        }
        self.domain_hosts: dict[str, set[int]] = {d: set() for d in domains}
        for name, i in self.host_no.items():
            low = name.casefold()
            best = max((d for d in domains if low.endswith("." + d.casefold())), key=len, default=None)
            if best is not None:
                self.domain_hosts[best].add(i)

    def tokens(self, subject: dict[str, Any]) -> dict[str, set[int]]:
        """h: hosts touched; m: the move (pair and VM subjects); hl: host-level hosts."""
        kind = subject["kind"]
        h: set[int] = set()
        m: set[int] = set()
        hl: set[int] = set()
        if kind in ("host", "operator") and subject.get("host") in self.host_no:
            h.add(self.host_no[subject["host"]])
            hl.add(self.host_no[subject["host"]])
        elif kind in ("pair", "vm"):
            for key in ("source", "destination"):
                if subject.get(key) in self.host_no:
                    h.add(self.host_no[subject[key]])
            move = self.move_no.get((subject.get("source", ""), subject.get("destination", "")))
            if move is not None:
                m.add(move)
        elif kind == "domain":
            h = set(self.domain_hosts.get(subject.get("domain", ""), set()))
            hl = set(h)
        return {"h": h, "m": m, "hl": hl}


def _merge(parts: list[dict[str, set[int]]]) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {"h": set(), "m": set(), "hl": set()}
    for p in parts:
        for k in out:
            out[k] |= p[k]
    return out


_FIX_FIELDS = ("summary", "run_on", "target", "run_as", "gui", "docs", "requires_vm_off")


def _common_fix_fields(variants: list[dict[str, Any]]) -> list[str]:
    """Fields every fix of a group shares: shown once above the fixes instead of in each."""
    common = []
    for key in _FIX_FIELDS:
        if key == "run_on":
            values = {json.dumps([r["name"] for r in v["run_on"]]) for v in variants}
        else:
            values = {json.dumps(v["fix"].get(key), sort_keys=True) for v in variants}
        if len(values) == 1:
            common.append(key)
    return common


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _evidence_rows(evidence: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key, value in evidence.items():
        text = _value_text(value)
        rows.append({"key": str(key), "text": text, "long": len(text) > VALUE_INLINE or "\n" in text})
    return rows


def _cut(text: str) -> str:
    text = text.replace("\n", " ⏎ ")
    return text if len(text) <= VALUE_INLINE else text[:VALUE_INLINE] + "…"


class _Builder:
    def __init__(self, report: dict[str, Any]) -> None:
        self.report = report
        self.findings: list[dict[str, Any]] = flat_findings(report)
        self.ids = finding_ids(self.findings)
        self.ix = _Index(report)
        self.groups = group_findings(self.findings, self.ids)
        self.group_of: dict[int, Group] = {m.index: g for g in self.groups for m in g.members}
        self.fixes: list[str] = []
        self.subject_tokens = [self.ix.tokens(f["subject"]) for f in self.findings]

    # cards ------------------------------------------------------------------------------------

    def _subject(self, m: Member, each: bool) -> dict[str, Any]:
        problem = m.finding["status"] in PROBLEM_STATUSES
        return {
            "label": m.finding["subject"]["label"],
            "fid": m.fid if problem else None,  # ids cross-reference CSV, JUnit and fix scripts
            "message": m.finding["message"] if each else None,
            "t": self.subject_tokens[m.index],
        }

    def _nouns(self, g: Group) -> tuple[str, str]:
        kinds = {m.finding["subject"]["kind"] for m in g.members}
        return KIND_NOUN.get(kinds.pop(), ("subject", "subjects")) if len(kinds) == 1 else ("subject", "subjects")

    def _variant(self, v: Any, show_for: bool) -> dict[str, Any]:
        self.fixes.append(v.fix["powershell"])
        run_on = []
        for name in v.run_on:
            no = self.ix.host_no.get(name)
            t = {"h": {no}, "m": set(), "hl": {no}} if no is not None else {"h": set(), "m": set(), "hl": set()}
            run_on.append({"name": name, "t": t})
        return {
            "fix": v.fix,
            "fix_no": len(self.fixes) - 1,
            "run_on": run_on,
            "for": [self._subject(m, False) for m in v.members] if show_for else [],
            "t": _merge([self.subject_tokens[m.index] for m in v.members]),
        }

    def _evidence(self, g: Group) -> dict[str, Any]:
        first = g.members[0].finding.get("evidence") or {}
        if len(g.members) == 1 or g.evidence_uniform:
            return {"shared": _evidence_rows(first), "columns": [], "rows": [], "omitted": 0}
        if g.status not in PROBLEM_STATUSES and len(g.members) > EVIDENCE_ROWS_MAX:
            return {"shared": [], "columns": [], "rows": [], "omitted": len(g.members)}
        columns: dict[str, None] = {}
        for m in g.members:
            columns.update(dict.fromkeys(str(k) for k in (m.finding.get("evidence") or {})))
        rows = []
        for m in g.members:
            ev = {str(k): v for k, v in (m.finding.get("evidence") or {}).items()}
            rows.append({
                "label": m.finding["subject"]["label"],
                "cells": [_cut(_value_text(ev[c])) if c in ev else "" for c in columns],
                "t": self.subject_tokens[m.index],
            })
        return {"shared": [], "columns": list(columns), "rows": rows, "omitted": 0}

    def card(self, g: Group, check_no: int) -> dict[str, Any]:
        uniform = g.uniform
        members = g.members
        problem = g.status in PROBLEM_STATUSES
        # each subject's own message is shown for problems whose wording differs; passes keep
        # one example (the JSON report has every message)
        each = problem and not uniform and len(members) > 1
        if len(members) == 1:
            message = members[0].finding["message"]
        elif uniform:
            message = g.shape
        elif problem:
            message = None
        else:
            message = "For example: " + members[0].finding["message"]
        variants = fix_variants(members)
        many = len(variants) > 1
        shown = [self._variant(v, many) for v in variants]
        common = _common_fix_fields(shown) if many else []
        return {
            "gid": g.gid,
            "status": g.status,
            "severity": g.severity,
            "check_no": check_no,
            "check_id": g.check_id,
            "title": g.title,
            "message": message,
            "count": len(members),
            "noun": self._nouns(g)[0 if len(members) == 1 else 1],
            "noun_one": self._nouns(g)[0],
            "subjects": [self._subject(m, each) for m in members],
            "subjects_open": len(members) <= SUBJECTS_INLINE,
            "each": each,
            "variants": shown,
            "common": common,
            "not_common": [k for k in _FIX_FIELDS if k not in common],
            "evidence": self._evidence(g),
            "evidence_open": problem and len(members) == 1 and len(members[0].finding.get("evidence") or {}) <= 8,
            "t": _merge([self.subject_tokens[m.index] for m in members]),
        }

    def check_sections(self) -> list[dict[str, Any]]:
        meta = {c["id"]: c for c in self.report["checks"]}
        order: list[str] = []
        for g in self.groups:
            if g.check_id not in order:
                order.append(g.check_id)
        order.sort(key=lambda cid: min(
            (STATUS_RANK[g.status], SEVERITIES.index(g.severity)) for g in self.groups if g.check_id == cid
        ))
        sections = []
        for no, cid in enumerate(order):
            groups = [g for g in self.groups if g.check_id == cid]
            m = meta.get(cid, {})
            sections.append({
                "no": no,
                "id": cid,
                "title": m.get("title", groups[0].title),
                "severity": m.get("severity", groups[0].severity),
                "rationale": " ".join(str(m.get("rationale", "")).split()),
                "references": m.get("references", []),
                "worst": worst(g.status for g in groups),
                "cards": [self.card(g, no) for g in groups],
            })
        return sections

    # summary ---------------------------------------------------------------------------------

    def reasons(self, indices: list[int], hint_hosts: bool) -> list[dict[str, Any]]:
        """Why a move or host is not clear: one line per group, worst first."""
        per_group: dict[str, dict[str, Any]] = {}
        for i in indices:
            f = self.findings[i]
            if f["status"] not in PROBLEM_STATUSES:
                continue
            g = self.group_of[i]
            r = per_group.setdefault(g.gid, {"gid": g.gid, "status": g.status, "severity": g.severity,
                                             "title": g.title, "check_id": g.check_id, "n": 0,
                                             "kinds": set(), "hosts": [], "message": f["message"]})
            r["n"] += 1
            r["kinds"].add(f["subject"]["kind"])
            host = f["subject"].get("host")
            if hint_hosts and host and self.ix.short.get(host, host) not in r["hosts"]:
                r["hosts"].append(self.ix.short.get(host, host))
        out = sorted(per_group.values(), key=lambda r: (STATUS_RANK[r["status"]], SEVERITIES.index(r["severity"])))
        for r in out:
            kinds = r.pop("kinds")
            # one finding: its own message says why best; several: the check's title and how many
            r["text"] = r["message"] if r["n"] == 1 else r["title"]
            if r["n"] == 1:
                r["hint"] = ""
            elif kinds == {"vm"}:
                r["hint"] = f"{r['n']} VMs"
            elif r["hosts"]:
                r["hint"] = ", ".join(r["hosts"])
            else:
                r["hint"] = f"{r['n']} findings"
        return out

    def move_rows(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        rows = []
        for mv in self.ix.moves:
            rows.append(self._move_row(mv))
        problem = [r for r in rows if r["verdict"] in PROBLEM_STATUSES]
        # planned moves first (what the change is about), then the return directions
        problem.sort(key=lambda r: (not r["planned"], STATUS_RANK[r["verdict"]], r["index"]))
        clear = [r for r in rows if r["verdict"] not in PROBLEM_STATUSES]
        return problem, clear

    def _move_row(self, mv: Move) -> dict[str, Any]:
        reasons = self.reasons(mv.findings, hint_hosts=True)
        return {
            "index": mv.index,
            "source": mv.source,
            "destination": mv.destination,
            "s": self.ix.short.get(mv.source, mv.source),
            "d": self.ix.short.get(mv.destination, mv.destination),
            "planned": mv.planned,
            "verdict": mv.verdict or "not_applicable",
            "counts": mv.counts,
            "n_problems": sum(mv.counts[st] for st in PROBLEM_STATUSES),
            "reasons": reasons[:REASONS_SHOWN],
            "more": max(0, len(reasons) - REASONS_SHOWN),
        }

    def matrix(self) -> dict[str, Any]:
        moves = self.ix.moves
        sources: dict[str, None] = {}
        dests: dict[str, None] = {}
        for name in self.ix.hosts:  # inventory order
            if any(mv.source == name for mv in moves):
                sources[name] = None
            if any(mv.destination == name for mv in moves):
                dests[name] = None
        if not moves:
            return {"shown": False, "reason": "No migrations are planned in the inventory.", "rows": [], "cols": []}
        if len(sources) * len(dests) > MATRIX_MAX_CELLS:
            return {
                "shown": False,
                "reason": f"{len(sources)} sources × {len(dests)} destinations is too large for a matrix; "
                "the moves are listed instead.",
                "rows": [],
                "cols": [],
            }
        by_pair = {(mv.source, mv.destination): mv for mv in moves}
        rows = []
        for s in sources:
            cells: list[dict[str, Any]] = []
            for d in dests:
                mv = by_pair.get((s, d))
                if s == d:
                    cells.append({"kind": "self"})
                elif mv is None:
                    cells.append({"kind": "none"})
                else:
                    verdict = mv.verdict or "not_applicable"
                    problems = sum(mv.counts[st] for st in PROBLEM_STATUSES)
                    cells.append({"kind": "move", "index": mv.index, "verdict": verdict, "planned": mv.planned,
                                  "problems": problems, "counts": mv.counts, "s": s, "d": d})
            rows.append({"name": s, "short": self.ix.short[s], "cells": cells})
        cols = [{"name": d, "short": self.ix.short[d]} for d in dests]
        return {"shown": True, "reason": "", "rows": rows, "cols": cols}

    def host_rows(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for hv in hosts_view(self.report):
            if hv.verdict not in PROBLEM_STATUSES:
                continue
            moves_bad = sum(
                1 for mv in self.ix.moves
                if hv.name in (mv.source, mv.destination) and mv.verdict in PROBLEM_STATUSES
            )
            rows.append({"no": hv.index, "name": hv.name, "short": self.ix.short.get(hv.name, hv.name),
                         "verdict": hv.verdict, "counts": hv.counts,
                         "reasons": self.reasons(hv.findings, hint_hosts=False), "moves_bad": moves_bad})
        rows.sort(key=lambda r: (STATUS_RANK[r["verdict"]], r["no"]))
        return rows


def _move_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {st: sum(1 for r in rows if r["verdict"] == st) for st in PROBLEM_STATUSES}


def _headline(problem_moves: list[dict[str, Any]], moves: list[Move], report: dict[str, Any]) -> tuple[str, str]:
    """One sentence on the planned moves, one on the return directions the checks also cover."""
    if not moves:
        s = report["summary"]["by_status"]
        return f"{s['fail']} failed, {s['warning']} warnings, {s['error']} could not be checked.", ""
    planned = [r for r in problem_moves if r["planned"]]
    n_planned = sum(1 for m in moves if m.planned)
    c = _move_counts(planned)
    parts = []
    if c["fail"]:
        parts.append(f"{c['fail']} of {n_planned} planned moves will fail")
    if c["error"]:
        parts.append(f"{c['error']} could not be fully checked")
    if c["warning"]:
        parts.append(f"{c['warning']} need attention")
    head = ("; ".join(parts) + ".") if parts else f"All {n_planned} planned moves passed every check."
    back = [r for r in problem_moves if not r["planned"]]
    n_back = len(moves) - n_planned
    if not n_back:
        return head, ""
    cb = _move_counts(back)
    if not back:
        return head, f"The {n_back} return directions passed too."
    words = [f"{cb[st]} {w}" for st, w in (("fail", "fail"), ("error", "incomplete"), ("warning", "need attention")) if cb[st]]
    return head, f"Moving back (the return directions, {n_back}): {', '.join(words)}."


def build_model(report: dict[str, Any]) -> dict[str, Any]:
    """Everything the template shows, computed here so the template stays simple."""
    b = _Builder(report)
    checks = b.check_sections()
    problem_moves, clear_moves = b.move_rows()
    headline, subline = _headline(problem_moves, b.ix.moves, report)
    run = report["run"]
    by_status = report["summary"]["by_status"]
    has_problems = any(by_status.get(s, 0) for s in PROBLEM_STATUSES)
    default_status = list(PROBLEM_STATUSES) if has_problems else list(STATUSES)
    css, js = asset("report.css"), asset("report.js")
    data = {
        "hosts": b.ix.hosts,
        "shown": [visible(h) for h in b.ix.hosts],  # display form: hidden characters made visible
        "moves": [[b.ix.host_no[mv.source], b.ix.host_no[mv.destination], mv.planned, mv.verdict or "not_applicable"]
                  for mv in b.ix.moves],
        "fixes": b.fixes,
        "defaultStatus": default_status,
    }
    severity_counts = {sev: 0 for sev in SEVERITIES}
    for f in flat_findings(report):
        severity_counts[f["severity"]] += 1
    uncollected = group_uncollected(report["uncollected"])
    errors = by_status.get("error", 0)
    return {
        "report": report,
        "tool": report["tool"],
        "run": run,
        "inventory": report["inventory"],
        "summary": report["summary"],
        "statuses": STATUSES,
        "severities": SEVERITIES,
        "severity_counts": severity_counts,
        "verdict": worst(r["verdict"] for r in problem_moves) or worst(f["status"] for f in flat_findings(report)) or "pass",
        "headline": headline,
        "subline": subline,
        "exit_meaning": exit_meaning(run["exit_code"], run["fail_on"]),
        "matrix": b.matrix(),
        "problem_moves": problem_moves,
        "clear_moves": clear_moves,
        "moves_total": len(b.ix.moves),
        "host_rows": b.host_rows(),
        "hosts": [{"no": i, "name": h} for i, h in enumerate(b.ix.hosts)],
        "checks": checks,
        "groups_total": len(b.groups),
        "uncollected": uncollected,
        "uncollected_total": len(report["uncollected"]),
        "errors_total": errors,
        "default_status": default_status,
        "css": Markup(css),  # noqa: S704 - our own static file, checked for </style
        "js": Markup(js),  # noqa: S704 - our own static file, checked for </script
        "csp": csp_for(css, js),
        "data_json": script_json(data),
    }


def render_html(report: dict[str, Any]) -> str:
    """The whole report as one HTML document (no external resources)."""
    template = _environment().get_template("report.html.j2")
    return template.render(**build_model(report))
