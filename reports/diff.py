"""`hvlm diff` output: text for a terminal or a mail, HTML for a change record (the JSON is the document).

The HTML page follows the report's safety model (reports.html.new_environment: autoescape, every
printed string through visible(), links only for https URLs) with a Content-Security-Policy that
admits the one inline stylesheet by its hash and no script at all.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jinja2 import Environment
from markupsafe import Markup

from hvlm.reports.html import _sha256, asset, new_environment
from hvlm.reports.text import _safe

__all__ = ["render_diff_html", "render_diff_text", "value_text"]

_FINDING_SETS = (("new", "New findings"), ("changed", "Changed (same finding, other status or severity)"),
                 ("fixed", "Fixed (no longer found)"),
                 ("not_evaluated", "Not evaluated in the new run (neither fixed nor found)"))
VALUE_MAX = 200


def value_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= VALUE_MAX else text[:VALUE_MAX] + "..."


def _finding_line(f: dict[str, Any]) -> str:
    was = f"{f['old']['status']}/{f['old']['severity']} -> " if "old" in f else ""
    waived = " [waived]" if f.get("waived") else ""
    reason = f"\n      not evaluated: {_safe(f['reason'])}" if "reason" in f else ""
    return (f"  {was}{f['status']}/{f['severity']} {f['check_id']}: {_safe(f['subject'])}{waived}\n"
            f"      {_safe(f['message'])}{reason}")


def _change_line(c: dict[str, Any]) -> str:
    path = _safe(c["path"])
    if c["change"] == "added":
        return f"  + {path}: {_safe(value_text(c['new']))}"
    if c["change"] == "removed":
        return f"  - {path}: {_safe(value_text(c['old']))}"
    return f"  ~ {path}: {_safe(value_text(c['old']))} -> {_safe(value_text(c['new']))}"


def render_diff_text(doc: dict[str, Any]) -> str:
    old, new = doc["old"], doc["new"]
    lines = [f"hvlm {doc['tool']['version']} - diff of two {doc['kind']}s",
             f"old: {_safe(old['file'])} (taken {old['taken']})",
             f"new: {_safe(new['file'])} (taken {new['taken']})", ""]
    s = doc["summary"]
    if doc["kind"] == "report":
        unseen = f", {s['not_evaluated']:,} not evaluated" if s.get("not_evaluated") else ""
        lines.append(f"{s['new']:,} new, {s['fixed']:,} fixed, {s['changed']:,} changed, {s['unchanged']:,} unchanged"
                     f"{unseen}")
        for key, title in _FINDING_SETS:
            items = doc["findings"][key]
            if items:
                lines += ["", f"{title}:"]
                lines += [_finding_line(f) for f in items]
    else:
        lines.append(f"{s['added']:,} added, {s['removed']:,} removed, {s['changed']:,} changed "
                     f"({s['facts']:,} fact changes)")
        for e in doc["entities"]:
            lines += ["", f"{e['kind']} {_safe(e['name'])}: {e['state']}"]
            lines += [_change_line(c) for c in e["changes"]]
    lines += ["", "Result: " + ("changes found (exit code 1)" if doc["changed"] else "no change (exit code 0)")]
    return "\n".join(lines) + "\n"


@cache
def _environment() -> Environment:
    env = new_environment()
    env.filters["value"] = value_text
    return env


def _csp(css: str) -> str:
    return (f"default-src 'none'; style-src '{_sha256(css)}'; script-src 'none'; img-src data:; base-uri 'none'; "
            "form-action 'none'")


def render_diff_html(doc: dict[str, Any]) -> str:
    css = asset("report.css")
    html: str = _environment().get_template("diff.html.j2").render(
        doc=doc,
        finding_sets=_FINDING_SETS,
        css=Markup(css),  # noqa: S704 - our own stylesheet, checked not to close the element
        csp=_csp(css),
    )
    return html
