"""`hvlm history` output: the trend of a history folder as text, and as one HTML page with a small
inline SVG chart (no script, no external resource: it opens offline, from a mail or a share).

The page follows the diff page's safety model (reports.html.new_environment: autoescape, every printed
string through visible()) and Content-Security-Policy: the inline stylesheet by its hash, no script.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment
from markupsafe import Markup

from hvlm.audit.words import count
from hvlm.reports.diff import _csp
from hvlm.reports.html import asset, new_environment
from hvlm.reports.text import _safe

__all__ = ["SERIES", "chart", "render_history_html", "render_history_text"]

# (row key, label, colour): the lines of the chart, in the table's order
SERIES = (("failures", "Failures", "#b3261e"), ("warnings", "Warnings", "#a15c00"),
          ("waived", "Waived", "#5b5f97"), ("new", "New", "#0b6e4f"))
WIDTH, HEIGHT, PAD = 720, 220, 36
_COLUMNS = (("failures", "fail"), ("warnings", "warn"), ("errors", "error"), ("waived", "waived"),
            ("new", "new"), ("fixed", "fixed"), ("not_evaluated", "not ev"))

_HTML_COLUMNS = (("failures", "Failures"), ("warnings", "Warnings"), ("errors", "Could not check"),
                 ("waived", "Waived"), ("new", "New"), ("fixed", "Fixed"),
                 ("not_evaluated", "Not evaluated"))


def _cell(value: Any) -> str:
    return "-" if value is None else f"{value:,}"


def render_history_text(doc: dict[str, Any]) -> str:
    runs = doc["runs"]
    lines = [f"hvlm {doc['tool']['version']} - history of {_safe(doc['folder'])}: {count(len(runs), 'run')}"]
    if runs:
        lines[0] += f", {runs[0]['kept']} to {runs[-1]['kept']}"
    lines.append("")
    if not runs:
        lines.append("No runs kept yet (audit or scan with --history DIR keeps one per run).")
        return "\n".join(lines) + "\n"
    header = f"{'kept (UTC)':<21} {'command':<7} {'exit':>4} " + " ".join(f"{h:>6}" for _, h in _COLUMNS)
    lines.append(header)
    for r in runs:
        cells = " ".join(f"{_cell(r[k]):>6}" for k, _ in _COLUMNS)
        mark = "" if r["complete"] else "  incomplete"
        lines.append(f"{r['kept']:<21} {r['command']:<7} {r['exit_code']:>4} {cells}{mark}")
    lines += ["", "new and fixed: findings against the run before (by finding id, as hvlm diff counts them).",
              "not ev: findings of the run before that this run did not evaluate (check not run, host or move",
              "not covered): neither fixed nor found."]
    return "\n".join(lines) + "\n"


def chart(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Polyline points per series and the y scale, in SVG user units (computed here, not in the template)."""
    top = max([r[k] or 0 for r in runs for k, _, _ in SERIES] + [1])
    n = len(runs)
    span_x, span_y = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def x(i: int) -> float:
        return PAD + (span_x * i / (n - 1) if n > 1 else span_x / 2)

    def y(v: int) -> float:
        return HEIGHT - PAD - span_y * v / top

    lines = []
    for key, label, colour in SERIES:
        pts = [(x(i), y(r[key])) for i, r in enumerate(runs) if r[key] is not None]
        lines.append({"key": key, "label": label, "colour": colour,
                      "points": " ".join(f"{a:.1f},{b:.1f}" for a, b in pts),
                      "dots": [{"x": f"{a:.1f}", "y": f"{b:.1f}"} for a, b in pts]})
    return {"width": WIDTH, "height": HEIGHT, "pad": PAD, "top": top, "top_y": f"{y(top):.1f}",
            "base_y": f"{y(0):.1f}", "lines": lines,
            "first": runs[0]["kept"] if runs else "", "last": runs[-1]["kept"] if runs else ""}


_EXTRA_CSS = """
.chart{max-width:100%;height:auto;background:#fff;border:1px solid #ccc}
.chart text{font:12px sans-serif;fill:#333}
.legend span{display:inline-block;margin-right:1.2em}
td.num{text-align:right}
"""


@cache
def _environment() -> Environment:
    return new_environment()


def render_history_html(doc: dict[str, Any]) -> str:
    css = asset("report.css") + _EXTRA_CSS
    html: str = _environment().get_template("history.html.j2").render(
        doc=doc,
        chart=chart(doc["runs"]),
        columns=_HTML_COLUMNS,
        css=Markup(css),  # noqa: S704 - our own stylesheet, checked not to close the element
        csp=_csp(css),
    )
    return html
