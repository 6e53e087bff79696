"""What an administrator reads: the text and HTML say what happened in plain words, in both renderers."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from hvlm.audit.diagnose.render_text import render_text
from hvlm.reports.diagnosis_html import render_diagnosis_html
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


def test_vmms_that_runs_but_starts_manual_is_not_called_not_running() -> None:
    d = run(doc(h2={"vmms_start": "Manual"}), "0x8007274D")
    c = next(c for c in d["causes"] if c["id"] == "dest-vmms")
    assert c["verdict"] == "possible", c["reason"]  # it ran when read: "confirmed ... not running" was false
    assert "running" in c["reason"] and "Manual" in c["reason"]
    assert d["result"]["status"] != "cause_confirmed"
    assert "Set-Service -Name vmms -StartupType Automatic" in "".join(f["powershell"] for f in c["fixes"])
    stopped = run(doc(h2={"vmms_status": "Stopped"}), "0x8007274D")
    assert (stopped["causes"][0]["id"], stopped["causes"][0]["verdict"]) == ("dest-vmms", "confirmed")


def test_text_lines_stay_within_the_width_outside_powershell() -> None:
    d = run(doc(h2={"firewall_enabled": False}, op={"userAccountControl": 0x200 | 0x100000}), "0x80041001")
    long = [line for line in render_text(d).splitlines() if len(line) > 100 and "PS> " not in line]
    assert long == []


def test_where_to_run_is_said_without_nested_parentheses() -> None:
    out = render_text(run(doc(c1={"delegate_to": []}), "0x8009030E"))
    prose = "\n".join(line for line in out.splitlines() if not line.lstrip().startswith("PS>"))  # not the code
    assert not re.search(r"\([^()\n]*\([^()\n]*\)[^()\n]*\)", prose.replace("\n", " ")), "nested parentheses"
    assert "Run on: a machine with the ActiveDirectory PowerShell module (RSAT-AD-PowerShell)" in " ".join(out.split())


def test_the_result_line_reads_as_one_sentence() -> None:
    out = render_text(run(doc(c1={"delegate_to": []}), "0x8009030E"))
    assert out.rstrip().splitlines()[-1] == ("Result (exit code 1): a cause was found (confirmed, or likely pending "
                                             "your answer)")


def test_the_html_does_not_repeat_a_hosts_fqdn_as_its_name() -> None:
    page = render_diagnosis_html(run(doc(), "0x8009030E"))
    assert "hv01.corp.contoso.com</bdi> <span class=\"dim\">(hv01.corp.contoso.com)" not in page
    assert re.search(r"Source</dt><dd><bdi>hv01\.corp\.contoso\.com</bdi></dd>", page)
