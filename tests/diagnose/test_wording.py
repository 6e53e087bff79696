"""What an administrator reads: the text and HTML say what happened in plain words, in both renderers."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from audit.diagnose.render_text import render_text
from reports.diagnosis_html import render_diagnosis_html
from tests.checks._identity import doc

from .scenarios import run


def _both(d: dict[str, Any]) -> list[str]:
    """The text output and the HTML page's visible text (tags dropped, entities decoded, spaces folded)."""
    page = html.unescape(re.sub(r"<[^>]+>", " ", render_diagnosis_html(d)))
    return [" ".join(render_text(d).split()), " ".join(page.split())]


def test_a_code_given_with_error_reads_naturally() -> None:
    d = run(doc(), "0x8009030E")
    for out in _both(d):
        assert "(given with --error)" in out
        assert "recognised from given" not in out and "recognised from --error" not in out


@pytest.mark.parametrize(("message", "how"), [
    ("Failed (0x8009030E).", "(recognised from its hexadecimal code in the message)"),
    ("Im Sicherheitspaket sind keine Anmeldeinformationen verfügbar.", "(recognised from the German wording of the message)"),
])
def test_a_code_found_in_the_message_says_how(message: str, how: str) -> None:
    for out in _both(run(doc(), message=message)):
        assert how in out


def test_a_message_without_a_code_is_not_called_a_code_without_a_cause_list() -> None:
    d = run(doc(h2={"firewall_enabled": False}), message="The operation failed. Contact your administrator.")
    for out in _both(d):
        assert "no cause list for this code" not in out
        assert "The message was not recognised" in out
        for tried in ("hexadecimal", "decimal", "Winsock", "English, Italian, German and French"):
            assert tried in out, tried


def test_an_unknown_code_names_the_code_it_has_no_cause_list_for() -> None:
    d = run(doc(h2={"firewall_enabled": False}), "0x80041001")
    for out in _both(d):
        assert "hvlm has no cause list for 0x80041001" in out


def test_a_generic_wrapper_code_is_called_one() -> None:
    d = run(doc(h2={"firewall_enabled": False}), message="Migration failed (0x80004005).")
    assert d["code"]["code"] == "0x80004005"
    for out in _both(d):
        assert "generic" in out and "paste the whole message" in out


def test_an_unknown_code_on_a_healthy_move_says_the_audit_found_nothing() -> None:
    d = run(doc(), "0x80041001")
    for out in _both(d):
        assert "found no problem" in out and "this is every problem" not in out
