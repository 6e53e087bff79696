"""changes-not-effective: a ticket cached before a delegation change stays valid for its lifetime.

The snapshot of tests/checks/_identity is collected at 09:00Z. The default Kerberos policy gives a
service ticket 600 minutes (10 hours): a change older than 15 minutes but younger than that can
still be hidden by a ticket the source obtained before it, until `klist purge -li 0x3e7` or a
restart; only beyond 10 hours is it ruled out, and then only under the stated assumption.
"""

from __future__ import annotations

from tests.checks._identity import doc

from .scenarios import fix_text, run, with_when_changed

POLICY_DOC = "https://learn.microsoft.com/openspecs/windows_protocols/ms-gpsb/0fce5b92-bcc1-4b96-9c2b-56397c3f144f"
PURGE = "Invoke-Command -ComputerName 'hv01.corp.contoso.com' -ScriptBlock { klist purge -li 0x3e7 }"
LONG_AGO = "2026-10-01T00:00:00Z"


def _hint(src_changed: str, dst_changed: str = LONG_AGO) -> dict[str, object]:
    d = with_when_changed(with_when_changed(doc(), "HV01$", src_changed), "HV02$", dst_changed)
    out = run(d, "0x8009030E")
    return next(c for c in out["causes"] if c["id"] == "changes-not-effective")


def test_a_change_two_hours_ago_is_still_possible_with_the_purge_fix() -> None:
    c = _hint("2026-11-20T07:00:00Z")
    assert c["verdict"] == "possible", c["reason"]
    assert "120 minutes" in c["reason"] and "10 hours" in c["reason"]
    assert "klist purge -li 0x3e7" in c["reason"] or PURGE in fix_text(c)
    assert PURGE in fix_text(c)
    assert not c["unchecked"]  # nothing is missing: the window is real, not a gap in the facts
    assert [n["value"] for n in c["evidence"]["facts"]] == ["2026-11-20T07:00:00Z", LONG_AGO]


def test_a_change_nine_hours_ago_is_still_within_the_default_lifetime() -> None:
    assert _hint("2026-11-20T00:01:00Z")["verdict"] == "possible"


def test_a_change_within_15_minutes_stays_likely() -> None:
    c = _hint("2026-11-20T08:55:00Z")
    assert c["verdict"] == "likely" and PURGE in fix_text(c)


def test_beyond_ten_hours_it_is_ruled_out_only_under_the_stated_assumption() -> None:
    c = _hint("2026-11-19T20:00:00Z")
    assert c["verdict"] == "ruled_out", c["reason"]
    reason = str(c["reason"])
    assert "780 minutes" in reason
    assert "assum" in reason and "600 minutes" in reason and "Maximum lifetime for service ticket" in reason


def test_the_cause_cites_microsofts_default_ticket_lifetimes() -> None:
    c = _hint(LONG_AGO)
    assert POLICY_DOC in c["docs"]
    assert "10 hours" in str(c["why"]) and "waiting 15 minutes" not in str(c["why"])
