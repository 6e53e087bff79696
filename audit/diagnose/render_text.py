"""The diagnosis on a terminal: the answer first, then each cause with its evidence and fix, then the hand checks."""

from __future__ import annotations

import textwrap
from typing import Any

from hvlm.audit.diagnose.wording import fallback_note, recognised
from hvlm.audit.words import count

__all__ = ["render_text"]

_LABEL = {"confirmed": "CONFIRMED", "likely": "LIKELY", "possible": "POSSIBLE", "ruled_out": "RULED OUT"}
_COLOUR = {"confirmed": "31", "likely": "33", "possible": "35", "ruled_out": "32"}
_STATUS = {"fail": "FAIL", "warning": "WARN", "error": "ERROR", "pass": "PASS", "not_applicable": "N/A"}
WIDTH = 100


def _safe(text: Any) -> str:
    """Host- and user-supplied strings must not drive the terminal: control characters become '?'."""
    return "".join(ch if ch.isprintable() or ch == "\n" else "?" for ch in str(text))


def _wrap(text: str, indent: str, first: str | None = None) -> list[str]:
    out: list[str] = []
    for i, para in enumerate(_safe(text).splitlines() or [""]):
        lead = first if first is not None and i == 0 else indent
        out.extend(textwrap.wrap(para, WIDTH, initial_indent=lead, subsequent_indent=indent,
                                 break_long_words=False, break_on_hyphens=False) or [lead])
    return out


def _paint(text: str, verdict: str, colour: bool) -> str:
    return f"\x1b[{_COLOUR[verdict]}m{text}\x1b[0m" if colour else text


def _fix(fix: dict[str, Any], lines: list[str], label: str) -> None:
    lines.extend(_wrap(f"{label}: {fix['summary']}", "     "))
    lines.extend(_wrap(f"Run on: {fix['run_on']}; as: {fix['run_as']}", "       "))
    lines.extend(f"       PS> {_safe(ps)}" for ps in fix["powershell"].splitlines())
    if fix.get("gui"):
        lines.extend(_wrap(f"GUI: {fix['gui']}", "       "))


def _cause(c: dict[str, Any], lines: list[str], colour: bool, full: bool) -> None:
    tag = _paint(f"{_LABEL[c['verdict']]:9}", c["verdict"], colour)
    title = _wrap(c["title"], " " * 14)
    lines.append(f"{c['rank']:>2}. {tag} {title[0].lstrip()}")
    lines.extend(title[1:])
    if not full:
        lines.extend(_wrap(c["reason"], "     "))
        return
    lines.extend(_wrap("Why: " + c["why"], "     "))
    lines.extend(_wrap("Evidence: " + c["reason"], "     "))
    for f in c["evidence"]["findings"]:
        lines.extend(_wrap(f"{f['id']} {_STATUS[f['status']]} [{f['severity']}] {f['subject']['label']}",
                           "         ", "       - "))
    for n in c["evidence"]["facts"]:
        lines.extend(_wrap(f"{n['path']} = {n['value']} (read {n['collected_at']}): {n['note']}", "         ",
                           "       - "))
    for i, fix in enumerate(c["fixes"]):
        _fix(fix, lines, "Fix" if i == 0 else ("Or" if c["fixes_are_alternatives"] else "And"))
    for step in c["steps"]:
        lines.extend(_wrap("By hand: " + step["text"], "     "))
        if step["powershell"]:
            lines.extend(f"       PS> {_safe(ps)}" for ps in step["powershell"].splitlines())


def render_text(doc: dict[str, Any], *, colour: bool = False) -> str:
    lines: list[str] = []
    move, code, result, run = doc["move"], doc["code"], doc["result"], doc["run"]
    src, dst = move["source"], move["destination"]
    lines.append(f"hvlm {doc['tool']['version']} diagnose: {_safe(src['short'])} -> {_safe(dst['short'])} "
                 f"({_safe(src['fqdn'])} -> {_safe(dst['fqdn'])})")
    if code.get("message"):
        how = recognised(code)
        lines.extend(_wrap(f"Error: \"{code['meaning']}\"" + (f" ({how})" if how else ""), "  ", ""))
        if code["code"] or code["others"]:
            lines.append(f"  codes in the message: {', '.join(c for c in (code['code'], *code['others']) if c)}")
    elif code["code"]:
        meaning = f" {code['symbol']}: {code['meaning']}" if code["symbol"] else ""
        how = recognised(code)
        lines.extend(_wrap(f"Error {code['code']}{meaning}" + (f" ({how})" if how else ""), "  ", ""))
        if code["others"]:
            lines.append(f"  also in the message: {', '.join(code['others'])}")
    else:
        lines.append("Error: no error code recognised in the message")
    if code["context"]:
        lines.extend(_wrap(code["context"], "  "))
    if code["note"]:
        lines.extend(_wrap("Note: " + code["note"], "  "))
    started = {"source": f"on {src['short']}", "elsewhere": f"from {move['initiated_from']}",
               "unknown": "not said (--initiated-from HOST)"}[move["initiated"]]
    origin = "live collection" if run["mode"] == "live" else f"snapshot {run['snapshot']}"
    lines.extend(_wrap(f"Facts: {origin}, taken {run['snapshot_created']}; move started: {started}", "  ", ""))
    lines.append("")
    lines.append(_paint(_safe(result["headline"]), "confirmed" if result["status"].startswith("cause") else
                        "ruled_out", colour))
    causes = doc["causes"]
    live = [c for c in causes if c["verdict"] != "ruled_out"]
    if result["status"] == "unknown_code":
        lines.extend(_wrap(fallback_note(doc), ""))
    for c in live:
        lines.append("")
        _cause(c, lines, colour, True)
    out = [c for c in causes if c["verdict"] == "ruled_out"]
    if out:
        lines.append("")
        lines.append("Ruled out:")
        for c in out:
            _cause(c, lines, colour, False)
    if doc["other_findings"]:
        lines.append("")
        lines.append("Other problems of this move (not known to produce this error):")
        for f in doc["other_findings"]:
            lines.extend(_wrap(f"{f['id']} {_STATUS[f['status']]} [{f['severity']}] {f['message']}", "    ", "  - "))
    lines.append("")
    lines.append("Still to check by hand:" if result["status"] != "no_cause_found" else
                 "No cause found in the configuration. What remains to check by hand:")
    for m in doc["manual_checks"]:
        lines.extend(_wrap(m["title"], "    ", "  - "))
        lines.extend(_wrap(f"Run on: {m['run_on']}", "    "))
        lines.extend(f"      PS> {_safe(ps)}" for ps in m["powershell"].splitlines())
    if doc["uncollected"]:
        lines.append("")
        lines.append(f"Could not collect {count(len(doc['uncollected']), 'fact')} of this move:")
        for u in doc["uncollected"][:20]:
            lines.extend(_wrap(f"{u['path']}: {u['kind']}: {u['message']}", "  "))
    lines.append("")
    lines.append(f"Result (exit code {run['exit_code']}): {run['exit_meaning']}")
    return "\n".join(lines) + "\n"
