"""Every command a diagnosis prints parses as PowerShell, and a hostile host name stays a quoted string."""

from __future__ import annotations

from typing import Any

import pytest

from hvlm.audit.diagnose.catalogue import CATALOGUE
from hvlm.audit.diagnose.codes import KNOWN_MESSAGES
from tests.checks._identity import CORP, CORP_SID, operator
from tests.support.fleet import ComputerModel, HostModel, build_snapshot, delegation_entries
from tests.support.powershell import HOSTILE, assert_parses, command_names

from .scenarios import SCENARIOS, run


def _given(code: str) -> dict[str, Any]:
    """A catalogue key as a user gives it: a code with --error, a known message pasted as the message."""
    known = KNOWN_MESSAGES.get(code)
    return {"error": None, "message": known.meaning} if known else {"error": code}


def _scripts(d: dict[str, Any]) -> list[str]:
    out = [m["powershell"] for m in d["manual_checks"]]
    for c in d["causes"]:
        out += [x["powershell"] for x in c["fixes"]]
        out += [s["powershell"] for s in c["steps"] if s["powershell"]]
    return out


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_command_of_every_code_parses(code: str) -> None:
    scripts: list[str] = []
    for s in SCENARIOS:
        given = _given(code)
        scripts += _scripts(run(s.build(), given["error"], destination=s.destination, initiated_from=s.initiated_from,
                                message=given.get("message")))
    assert scripts
    for script in dict.fromkeys(scripts):
        assert_parses(script)


def _hostile_pair() -> dict[str, Any]:
    a = HostModel(HOSTILE, index=1, auth="CredSSP")
    b = HostModel("HV02", index=2, firewall_enabled=False)
    comps = [ComputerModel(a, f"{CORP_SID}-2101", []), ComputerModel(b, f"{CORP_SID}-2102", delegation_entries(a))]
    info = {"info": {"dnsRoot": CORP, "nETBIOSName": "CORP", "objectSid": CORP_SID,
                     "currentTime": "2026-11-20T09:00:00Z"},
            "domain_controllers": [{"target": f"dc01.{CORP}", "port": 389, "priority": 0, "weight": 100}],
            "trusts": []}
    return build_snapshot([a, b], computers={CORP: comps}, domains={CORP: info}, operator=operator())


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_a_hostile_host_name_stays_data(code: str) -> None:
    given = _given(code)
    d = run(_hostile_pair(), given["error"], source=f"{HOSTILE.lower()}.{CORP}", initiated_from="admin-pc",
            message=given.get("message"))
    scripts = _scripts(d)
    assert any("''01; remove-item" in s.casefold() for s in scripts)  # the name is there, its quote doubled
    for script in scripts:
        assert_parses(script)
        assert "remove-item" not in {c.casefold() for c in command_names(script)}, script
