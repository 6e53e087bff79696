"""The diagnosis as one self-contained HTML page, in the HTML report's style (its stylesheet, reused as is).

Safety model, as in reports.html: jinja2 autoescape, every printed string through `visible()`
(bidi overrides and invisible characters shown as ⟦U+XXXX⟧), links only for https URLs, and a
Content-Security-Policy that admits the one inline stylesheet by its hash and nothing else. The
page has no script: a diagnosis is read top to bottom, and prints as it is.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from typing import Any

from jinja2 import Environment
from markupsafe import Markup

from hvlm.audit.diagnose.wording import fallback_note, recognised
from hvlm.reports.html import asset, new_environment

__all__ = ["render_diagnosis_html"]

VERDICT_CLASS = {"confirmed": "fail", "likely": "warning", "possible": "error", "ruled_out": "pass"}
VERDICT_LABEL = {"confirmed": "confirmed", "likely": "likely", "possible": "possible", "ruled_out": "ruled out"}
STATUS_LABEL = {"fail": "failed", "warning": "warning", "error": "could not be checked", "pass": "passed",
                "not_applicable": "not applicable"}
TARGET_LABEL = {"host": "on the host", "ad": "Active Directory change", "session": "in your session"}


@cache
def _environment() -> Environment:
    env = new_environment()
    env.globals.update(VERDICT_CLASS=VERDICT_CLASS, VERDICT_LABEL=VERDICT_LABEL, STATUS_LABEL=STATUS_LABEL,
                       TARGET_LABEL=TARGET_LABEL)
    return env


def _csp(css: str) -> str:
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    return (f"default-src 'none'; style-src 'sha256-{digest}'; script-src 'none'; img-src data:; base-uri 'none'; "
            "form-action 'none'")


def _top_class(doc: dict[str, Any]) -> str:
    status = doc["result"]["status"]
    if status == "cause_confirmed" or (status == "unknown_code" and doc["result"]["counts"]["confirmed"]):
        return "fail"
    if status == "cause_likely":
        return "warning"
    return "error" if doc["result"]["incomplete"] else "pass"


def render_diagnosis_html(doc: dict[str, Any]) -> str:
    css = asset("report.css")
    causes = doc["causes"]
    html: str = _environment().get_template("diagnosis.html.j2").render(
        doc=doc,
        css=Markup(css),  # noqa: S704 - our own stylesheet, checked above not to close the element
        csp=_csp(css),
        top_class=_top_class(doc),
        recognised=recognised(doc["code"]),
        fallback_note=fallback_note(doc) if doc["result"]["status"] == "unknown_code" else "",
        live_causes=[c for c in causes if c["verdict"] != "ruled_out"],
        ruled_out=[c for c in causes if c["verdict"] == "ruled_out"],
    )
    return html
