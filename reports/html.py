"""The HTML report: one self-contained file an administrator opens from disk or hands to a change board.

Safety model. Everything a host or the directory returned is data and reaches the page in two ways
only: through the jinja2 template with autoescape on (every printed value also passes through
`visible()`, which shows bidi overrides, zero-width and control characters as ⟦U+202E⟧ instead of
letting them reorder or hide text), or inside one `<script type="application/json">` block whose
`<`, `>`, `&` and U+2028/2029 are escaped, which the script reads with JSON.parse and writes with
textContent only. No string is ever pasted into script code. A Content-Security-Policy allows the
one inline script and the one inline style by their SHA-256 hash and nothing else: no network, no
other script, no inline event handlers.

Large fleets. The report (version 2) lists problems only, already grouped; passes are counts per
check (the checks table). The page holds the summary, the matrix (or, past MATRIX_MAX_CELLS, move
counts per verdict), the moves and hosts that need action and one card per group, each with its
first subjects and fixes; the rest (every subject of a big group, per-subject evidence, further
fixes and rows, everything about one move or host) the script renders on demand, with textContent
only, from the compact JSON block. It never lists healthy moves one by one.
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

from hvlm.reports.aggregate import (
    PROBLEM_STATUSES,
    SEVERITIES,
    STATUS_LABEL,
    STATUS_RANK,
    STATUSES,
    exit_meaning,
    group_uncollected,
    host_names,
    names_shape,
    worst,
)

__all__ = ["MATRIX_MAX_CELLS", "csp_for", "render_html", "script_json", "visible"]

MATRIX_MAX_CELLS = 60 * 60  # beyond this the matrix stops being readable: the moves list remains
SUBJECTS_INLINE = 12  # subjects of a group in the page; the rest from the embedded data on demand
VARIANTS_INLINE = 3  # distinct fixes of a group in the page; the rest on demand
MOVES_INLINE = 100  # rows of "moves that need action" in the page; the rest on demand
HOSTS_INLINE = 60  # rows of "hosts with problems" in the page; the rest on demand
VALUE_INLINE = 160  # longer evidence values go into a scrolling block (or are cut in tables)
EVIDENCE_VALUE_MAX = 2000  # per-subject evidence values in the embedded data are cut here (JSON report: all)
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
    text = resources.files("hvlm.reports").joinpath("templates", name).read_text("utf-8")
    closing = "</style" if name.endswith(".css") else "</script"
    if closing in text.lower():
        raise ValueError(f"{name} must not contain {closing}")
    return text


def new_environment() -> Environment:
    """The templates' jinja2 environment and its safety settings, shared by every HTML page:
    autoescape, every printed string through visible(), and links only for https URLs."""
    env = Environment(
        loader=PackageLoader("hvlm.reports", "templates"),
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
    return env


def _is_https(url: object) -> bool:
    """Only https links become anchors: a crafted report cannot smuggle a javascript: URL in."""
    return isinstance(url, str) and url.startswith("https://")


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


_FIX_FIELDS = ("summary", "run_on", "target", "run_as", "gui", "docs", "requires_vm_off")


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


def _cut(text: str, limit: int = VALUE_INLINE) -> str:
    text = text.replace("\n", " ⏎ ")
    return text if len(text) <= limit else text[:limit] + "…"


def _fix_key(fix: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in fix.items() if k != "run_on"}, sort_keys=True, ensure_ascii=False)


class _Builder:
    """Reads the version 2 report's groups and indexes directly; the page shows problems, counts passes."""

    def __init__(self, report: dict[str, Any]) -> None:
        self.report = report
        self.groups: list[dict[str, Any]] = report["findings"]
        self.fixes: list[dict[str, Any]] = report["fixes"]
        self.hosts = host_names(report)
        self.host_no = {h: i for i, h in enumerate(self.hosts)}
        self.short = _short_labels(self.hosts)
        self.check_no = {c["id"]: i for i, c in enumerate(report["checks"])}
        self.expired = {fid: e for e in (report.get("waivers") or {}).get("expired", []) for fid in e["members"]}
        for g in self.groups:
            self.check_no.setdefault(g["check_id"], len(self.check_no))
        self.include_return = bool(report["run"].get("include_return"))
        domains: dict[str, list[int]] = {}
        for g in self.groups:
            for m in g["members"]:
                d = m["subject"].get("domain") if m["subject"]["kind"] == "domain" else None
                if d and d not in domains:
                    low = "." + d.casefold()
                    domains[d] = [i for i, h in enumerate(self.hosts) if h.casefold().endswith(low)]
        self.domain_hosts = domains
        self.moves: list[dict[str, Any]] = report["moves"]
        # the JSON the script reads: display strings already passed through visible()
        self.data_groups: list[dict[str, Any]] = []
        self.evidence: list[dict[str, str]] = []
        self._evidence_no: dict[str, int] = {}
        self.used_hosts: set[int] = set()

    def waiver_note(self, m: dict[str, Any]) -> list[Any] | None:
        """[expired?, text] shown beside a finding: its waiver, or (loudly) the waiver that expired on it."""
        w = m.get("waiver")
        if w:
            return [0, visible(f"Waived by {w['id']} until {w['expires']}, approved by {w['approved_by']}: "
                               f"{w['justification']}")]
        e = self.expired.get(m["id"])
        if e:
            return [1, visible(f"Waiver {e['id']} EXPIRED on {e['expires']}: no longer applied, this finding counts "
                               f"again ({e['justification']})")]
        return None

    def counted(self, g: dict[str, Any]) -> bool:
        """Whether a group can change the exit code: return-direction findings only with include_return."""
        return g["direction"] != "return" or self.include_return

    # members -------------------------------------------------------------------------------

    def member_hosts(self, subject: dict[str, Any]) -> list[int]:
        kind = subject["kind"]
        if kind in ("host", "operator"):
            no = self.host_no.get(subject.get("host", ""))
            return [no] if no is not None else []
        if kind in ("pair", "vm"):
            return [self.host_no[subject[k]] for k in ("source", "destination") if subject.get(k) in self.host_no]
        if kind == "domain":
            return list(self.domain_hosts.get(subject.get("domain", ""), []))
        return []

    def _evidence_ref(self, evidence: dict[str, Any]) -> int:
        if not evidence:
            return -1
        key = json.dumps(evidence, sort_keys=True, ensure_ascii=False)
        no = self._evidence_no.get(key)
        if no is None:
            no = self._evidence_no[key] = len(self.evidence)
            self.evidence.append({str(k): visible(_cut(_value_text(v), EVIDENCE_VALUE_MAX))
                                  for k, v in evidence.items()})
        return no

    # cards ---------------------------------------------------------------------------------

    def card(self, gi: int, g: dict[str, Any]) -> dict[str, Any]:
        members = g["members"]
        shapes = [names_shape(m["message"], m["subject"]) for m in members]
        uniform = all(s == shapes[0] for s in shapes)
        each = not uniform and len(members) > 1  # wording differs: each subject's own message
        if len(members) == 1:
            message: str | None = members[0]["message"]
        elif uniform:
            message = shapes[0]
        else:
            message = None
        kinds = {m["subject"]["kind"] for m in members}
        nouns = KIND_NOUN.get(kinds.pop(), ("subject", "subjects")) if len(kinds) == 1 else ("subject", "subjects")
        hosts = [self.member_hosts(m["subject"]) for m in members]
        for hs in hosts:
            self.used_hosts.update(hs)
        evidence = [m["evidence"] or {} for m in members]
        shared = len(members) == 1 or all(e == evidence[0] for e in evidence)
        variants: dict[str, dict[str, Any]] = {}
        for m in members:
            if m["fix"] is None:
                continue
            fix = self.fixes[m["fix"]]
            v = variants.setdefault(_fix_key(fix), {"fix": fix, "fix_no": m["fix"], "run_on": [], "n": 0})
            v["n"] += 1
            if fix["run_on"] not in v["run_on"]:
                v["run_on"].append(fix["run_on"])
        shown = list(variants.values())
        common = self._common(shown) if len(shown) > 1 else []
        notes = [self.waiver_note(m) for m in members]
        self.data_groups.append({
            "k": [visible(m["subject"]["label"] + _marks(m)) for m in members],
            "i": [m["id"] for m in members],
            "m": [visible(m["message"]) for m in members] if each else None,
            "h": hosts,
            "e": None if shared else [self._evidence_ref(e) for e in evidence],
            "v": [[v["fix_no"], [visible(r) for r in v["run_on"]], v["n"]] for v in shown],
            "x": 1 if members[0]["subject"]["kind"] in ("pair", "vm") else 0,
            "w": notes if any(notes) else None,
        })
        return {
            "gi": gi,
            "gid": g["id"],
            "status": g["status"],
            "severity": g["severity"],
            "direction": g["direction"],
            "check_no": self.check_no[g["check_id"]],
            "check_id": g["check_id"],
            "title": g["title"],
            "message": message,
            "count": len(members),
            "noun": nouns[0 if len(members) == 1 else 1],
            "noun_one": nouns[0],
            "subjects": [
                {"label": m["subject"]["label"] + _marks(m), "fid": m["id"], "message": m["message"] if each else None,
                 "note": self.waiver_note(m)}
                for m in members[:SUBJECTS_INLINE]
            ],
            "subjects_open": len(members) <= SUBJECTS_INLINE,
            "each": each,
            "variants": shown[:VARIANTS_INLINE],
            "variants_more": max(0, len(shown) - VARIANTS_INLINE),
            "n_variants": len(shown),
            "common": common,
            "not_common": [k for k in _FIX_FIELDS if k not in common],
            "evidence": _evidence_rows(evidence[0]) if shared else [],
            "evidence_per_subject": not shared,
            "evidence_open": len(members) == 1 and len(evidence[0]) <= 8,
        }

    @staticmethod
    def _common(variants: list[dict[str, Any]]) -> list[str]:
        """Fields every fix of a group shares: shown once above the fixes instead of in each."""
        common = []
        for key in _FIX_FIELDS:
            if key == "run_on":
                values = {json.dumps(v["run_on"]) for v in variants}
            else:
                values = {json.dumps(v["fix"].get(key), sort_keys=True) for v in variants}
            if len(values) == 1:
                common.append(key)
        return common

    def sections(self, cards: list[dict[str, Any]], return_side: bool) -> list[dict[str, Any]]:
        """Cards by check, the check with the worst card first."""
        mine = [c for c in cards if (c["direction"] == "return") == return_side]
        meta = {c["id"]: c for c in self.report["checks"]}
        by_check: dict[str, list[dict[str, Any]]] = {}
        for c in mine:
            by_check.setdefault(c["check_id"], []).append(c)
        order = sorted(by_check, key=lambda cid: min(
            (STATUS_RANK[c["status"]], SEVERITIES.index(c["severity"])) for c in by_check[cid]))
        out = []
        for cid in order:
            m = meta.get(cid, {})
            group = by_check[cid]
            out.append({
                "no": self.check_no[cid],
                "id": cid,
                "title": m.get("title", group[0]["title"]),
                # the findings' own worst severity, not the catalogue default (a manual start type is medium
                # even where the check's default is critical)
                "severity": min((c["severity"] for c in group), key=SEVERITIES.index),
                "rationale": " ".join(str(m.get("rationale", "")).split()),
                "references": m.get("references", []),
                "worst": worst(c["status"] for c in group),
                "cards": group,
            })
        return out

    # moves and hosts -----------------------------------------------------------------------

    def reasons(self, refs: list[list[int]]) -> list[dict[str, Any]]:
        """Why a move or host is not clear: one line per group, worst first."""
        per_group: dict[int, dict[str, Any]] = {}
        for gi, mi in refs:
            g = self.groups[gi]
            r = per_group.setdefault(gi, {"gi": gi, "gid": g["id"], "status": g["status"], "severity": g["severity"],
                                          "title": g["title"], "check_id": g["check_id"], "n": 0, "kinds": set(),
                                          "hosts": [], "message": g["members"][mi]["message"]})
            r["n"] += 1
            s = g["members"][mi]["subject"]
            r["kinds"].add(s["kind"])
            host = s.get("host")
            if host and self.short.get(host, host) not in r["hosts"]:
                r["hosts"].append(self.short.get(host, host))
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

    def move_refs(self, mv: dict[str, Any]) -> list[list[int]]:
        hosts = self.report["hosts"]
        refs = list(mv["findings"])
        for h in (mv["source"], mv["destination"]):
            refs += hosts.get(h, {}).get("findings", [])
        seen: set[tuple[int, int]] = set()
        out = []
        for g, m in refs:
            if (g, m) not in seen:
                seen.add((g, m))
                out.append([g, m])
        return out

    def move_rows(self, planned: bool) -> list[dict[str, Any]]:
        """Moves of one direction that need action, worst first (report order within a verdict)."""
        rows = []
        for n, mv in enumerate(self.moves, start=1):
            if mv["planned"] != planned or mv["verdict"] not in PROBLEM_STATUSES:
                continue
            rows.append((STATUS_RANK[mv["verdict"]], n, mv))
        rows.sort(key=lambda r: (r[0], r[1]))
        return [{"index": n, "mv": mv} for _, n, mv in rows]

    def move_row(self, index: int, mv: dict[str, Any]) -> dict[str, Any]:
        refs = self.move_refs(mv)
        reasons = self.reasons(refs)
        return {
            "index": index,
            "source": mv["source"],
            "destination": mv["destination"],
            "s": self.short.get(mv["source"], mv["source"]),
            "d": self.short.get(mv["destination"], mv["destination"]),
            "planned": mv["planned"],
            "verdict": mv["verdict"],
            "n_problems": len(refs),
            "reasons": reasons[:REASONS_SHOWN],
            "more": max(0, len(reasons) - REASONS_SHOWN),
        }

    def move_data(self, rows: list[dict[str, Any]]) -> list[list[Any]]:
        """Compact rows for the script: [move no, source no, destination no, verdict, [[group, count], ...]]."""
        out = []
        for r in rows:
            mv = r["mv"]
            counts: dict[int, int] = {}
            for g, _ in self.move_refs(mv):
                counts[g] = counts.get(g, 0) + 1
            ordered = sorted(counts, key=lambda g: (STATUS_RANK[self.groups[g]["status"]],
                                                   SEVERITIES.index(self.groups[g]["severity"]), g))
            out.append([r["index"], self.host_no[mv["source"]], self.host_no[mv["destination"]], mv["verdict"],
                        [[g, counts[g]] for g in ordered]])
        return out

    def matrix(self) -> dict[str, Any]:
        moves = self.moves
        if not moves:
            return {"shown": False, "reason": "No migrations are planned in the inventory.", "rows": [], "cols": []}
        src = {mv["source"] for mv in moves}
        dst = {mv["destination"] for mv in moves}
        sources = [h for h in self.hosts if h in src]
        dests = [h for h in self.hosts if h in dst]
        if len(sources) * len(dests) > MATRIX_MAX_CELLS:
            return {
                "shown": False,
                "reason": f"{len(sources)} sources × {len(dests)} destinations is too large for a matrix: "
                "the moves are counted by verdict, and those that need action are listed.",
                "rows": [],
                "cols": [],
            }
        by_pair = {(mv["source"], mv["destination"]): (n, mv) for n, mv in enumerate(moves, start=1)}
        rows = []
        for s in sources:
            cells: list[dict[str, Any]] = []
            for d in dests:
                hit = by_pair.get((s, d))
                if s == d:
                    cells.append({"kind": "self"})
                elif hit is None:
                    cells.append({"kind": "none"})
                else:
                    n, mv = hit
                    problems = sum(v for k, v in mv["counts"].items() if k in PROBLEM_STATUSES)
                    cells.append({"kind": "move", "index": n, "verdict": mv["verdict"], "planned": mv["planned"],
                                  "problems": problems, "s": s, "d": d})
            rows.append({"name": s, "short": self.short[s], "cells": cells})
        cols = [{"name": d, "short": self.short[d]} for d in dests]
        return {"shown": True, "reason": "", "rows": rows, "cols": cols}

    def host_rows(self) -> list[dict[str, Any]]:
        bad_moves: dict[str, int] = {}
        for mv in self.moves:
            if mv["verdict"] in PROBLEM_STATUSES:
                for h in {mv["source"], mv["destination"]}:
                    bad_moves[h] = bad_moves.get(h, 0) + 1
        rows: list[dict[str, Any]] = []
        for name, entry in self.report["hosts"].items():
            if entry["verdict"] not in PROBLEM_STATUSES or name not in self.host_no:
                continue
            rows.append({"no": self.host_no[name], "name": name, "short": self.short.get(name, name),
                         "verdict": entry["verdict"], "refs": entry["findings"], "moves_bad": bad_moves.get(name, 0)})
        rows.sort(key=lambda r: (STATUS_RANK[r["verdict"]], r["no"]))
        return rows

    def host_data(self, rows: list[dict[str, Any]]) -> list[list[Any]]:
        out = []
        for r in rows:
            counts: dict[int, int] = {}
            for g, _ in r["refs"]:
                counts[g] = counts.get(g, 0) + 1
            ordered = sorted(counts, key=lambda g: (STATUS_RANK[self.groups[g]["status"]], g))
            out.append([r["no"], r["verdict"], [[g, counts[g]] for g in ordered], r["moves_bad"]])
        return out


def _marks(member: dict[str, Any]) -> str:
    """Beside a subject's label: its waiver (an accepted risk; the status is unchanged) and its baseline state."""
    out = ""
    w = member.get("waiver")
    if w:
        out += f" [WAIVED {w['id']} until {w['expires']}]"
    if member.get("baseline_state") in ("new", "updated"):
        out += f" [{member['baseline_state']}]"
    return out


def _verdict_counts(moves: list[dict[str, Any]]) -> dict[str, int]:
    counts = {st: 0 for st in STATUSES}
    for mv in moves:
        counts[mv["verdict"]] = counts.get(mv["verdict"], 0) + 1
    return counts


def _headline(planned: dict[str, int], n_planned: int, report: dict[str, Any]) -> str:
    """One sentence on the planned moves (what the change is about)."""
    if not n_planned:
        s = report["summary"]["by_status"]
        return f"{s['fail']} failed, {s['warning']} warnings, {s['error']} could not be checked."
    parts = []
    if planned["fail"]:
        parts.append(f"{planned['fail']} of {n_planned} planned moves will fail")
    if planned["error"]:
        parts.append(f"{planned['error']} could not be fully checked")
    if planned["warning"]:
        parts.append(f"{planned['warning']} need attention")
    return ("; ".join(parts) + ".") if parts else f"All {n_planned} planned moves passed every check."


def _return_line(back: dict[str, int], n_back: int, include_return: bool) -> str:
    if not n_back:
        return ""
    counts = "do change the exit code (include_return is on)" if include_return else \
        "do not change the exit code (run with --include-return to count them)"
    bad = [f"{back[st]} {w}" for st, w in (("fail", "fail"), ("error", "incomplete"), ("warning", "need attention"))
           if back[st]]
    if not bad:
        return f"Return direction (rollback): all {n_back} moves back passed the rollback checks."
    return f"Return direction (rollback), {n_back} moves back: {', '.join(bad)}. These findings {counts}."


def build_model(report: dict[str, Any]) -> dict[str, Any]:
    """Everything the template shows, computed here so the template stays simple."""
    b = _Builder(report)
    cards = [b.card(gi, g) for gi, g in enumerate(b.groups)]
    planned_sections = b.sections(cards, return_side=False)
    return_sections = b.sections(cards, return_side=True)
    planned_rows = b.move_rows(planned=True)
    return_rows = b.move_rows(planned=False)
    host_rows = b.host_rows()
    planned_moves = [mv for mv in b.moves if mv["planned"]]
    back_moves = [mv for mv in b.moves if not mv["planned"]]
    planned_counts = _verdict_counts(planned_moves)
    back_counts = _verdict_counts(back_moves)
    run = report["run"]
    include_return = bool(run.get("include_return"))
    by_status = report["summary"]["by_status"]
    css, js = asset("report.css"), asset("report.js")
    fixes = []
    for fix in report["fixes"]:
        shown = visible(fix["powershell"])
        fixes.append({"ps": fix["powershell"], **({"sh": shown} if shown != fix["powershell"] else {}),
                      "s": visible(fix["summary"]), "on": visible(fix["run_on"]), "as": visible(fix["run_as"]),
                      "t": TARGET_LABEL.get(fix["target"], fix["target"]),
                      "off": bool(fix.get("requires_vm_off"))})
    counted = [g for g in b.groups if b.counted(g)]
    verdict = worst([*(mv["verdict"] for mv in planned_moves), *(g["status"] for g in counted)]) or "pass"
    severity_counts = {sev: sum(report["summary"]["by_severity"][sev].values()) for sev in SEVERITIES}
    checks_table = []
    for c in report["checks"]:
        counts = c["counts"]
        checks_table.append({
            "no": b.check_no[c["id"]], "id": c["id"], "title": c["title"], "severity": c["severity"],
            "subject": KIND_NOUN.get(c["subject"], (c["subject"], c["subject"]))[1], "rollback": c["rollback"],
            "pass": counts.get("pass", 0), "na": counts.get("not_applicable", 0),
            "fail": counts.get("fail", 0), "warning": counts.get("warning", 0), "error": counts.get("error", 0),
        })
    data = {
        "hosts": [visible(h) for h in b.hosts],
        "checks": [c["id"] for c in report["checks"]],
        "groups": b.data_groups,
        "titles": [visible(g["title"]) for g in b.groups],
        "status": [g["status"] for g in b.groups],
        "ev": b.evidence,
        "fixes": fixes,
        "moves": b.move_data(planned_rows),
        "back": b.move_data(return_rows),
        "hostRows": b.host_data(host_rows),
        "inline": {"subjects": SUBJECTS_INLINE, "moves": MOVES_INLINE, "hosts": HOSTS_INLINE,
                   "variants": VARIANTS_INLINE},
    }
    return {
        "report": report,
        "tool": report["tool"],
        "run": run,
        "inventory": report["inventory"],
        "summary": report["summary"],
        "statuses": STATUSES,
        "problem_statuses": PROBLEM_STATUSES,
        "severities": SEVERITIES,
        "severity_counts": severity_counts,
        "verdict": verdict,
        "headline": _headline(planned_counts, len(planned_moves), report),
        "subline": _return_line(back_counts, len(back_moves), include_return),
        "include_return": include_return,
        "exit_meaning": exit_meaning(run["exit_code"], run["fail_on"]),
        "matrix": b.matrix(),
        "planned_counts": planned_counts,
        "back_counts": back_counts,
        "n_planned": len(planned_moves),
        "n_back": len(back_moves),
        "problem_moves": [b.move_row(r["index"], r["mv"]) for r in planned_rows[:MOVES_INLINE]],
        "problem_moves_total": len(planned_rows),
        "return_moves": [b.move_row(r["index"], r["mv"]) for r in return_rows[:MOVES_INLINE]],
        "return_moves_total": len(return_rows),
        "host_rows": [{**r, "reasons": b.reasons(r["refs"])} for r in host_rows[:HOSTS_INLINE]],
        "host_rows_total": len(host_rows),
        "hosts_total": len(b.hosts),
        "filter_hosts": [{"no": i, "name": b.hosts[i]} for i in sorted(b.used_hosts)],
        "checks": planned_sections,
        "return_checks": return_sections,
        "checks_table": checks_table,
        "groups_total": len(b.groups),
        "planned_groups": sum(len(s["cards"]) for s in planned_sections),
        "return_groups": sum(len(s["cards"]) for s in return_sections),
        "problems_total": sum(len(g["members"]) for g in b.groups),
        "uncollected": group_uncollected(report["uncollected"]),
        "uncollected_total": len(report["uncollected"]),
        "errors_total": by_status.get("error", 0),
        "css": Markup(css),  # noqa: S704 - our own static file, checked for </style
        "js": Markup(js),  # noqa: S704 - our own static file, checked for </script
        "csp": csp_for(css, js),
        "data_json": script_json(data),
        "waivers": report.get("waivers"),
        "baseline": report.get("baseline"),
    }


def render_html(report: dict[str, Any]) -> str:
    """The whole report as one HTML document (no external resources)."""
    template = _environment().get_template("report.html.j2")
    return template.render(**build_model(report))
