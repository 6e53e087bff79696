"""A small healthy two-host Kerberos fleet for the domain, operator and authentication check tests.

Each test changes one thing with keyword arguments; everything else stays correct, so a verdict
can only come from that one change.
"""

from __future__ import annotations

from typing import Any

from hvlm.audit.model import Finding
from tests.support.checking import only, run_check
from tests.support.fleet import ComputerModel, HostModel, build_snapshot, delegation_entries
from tests.support.powershell import HOSTILE, assert_parses, command_names

__all__ = [
    "BACK", "CORP", "CORP_SID", "FAB", "FAB_SID", "H1", "H2", "HOSTILE", "OPERATORS", "PAIR",
    "assert_safe", "doc", "finding", "hosts", "operator",
]

CORP = "corp.contoso.com"
FAB = "lab.fabrikam.com"
CORP_SID = "S-1-5-21-1111111111-2222222222-3333333333"
FAB_SID = "S-1-5-21-4444444444-5555555555-6666666666"
H1, H2 = f"hv01.{CORP}", f"hv02.{CORP}"
PAIR = f"{H1} -> {H2}"
BACK = f"{H2} -> {H1}"
OPERATORS = ("CORP\\HV-Operators", f"{CORP_SID}-1201")


def operator(**kw: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "domain": CORP,
        "distinguishedName": "CN=hvadmin,OU=Admins,DC=corp,DC=contoso,DC=com",
        "sAMAccountName": "hvadmin",
        "userPrincipalName": f"hvadmin@{CORP}",
        "objectSid": f"{CORP_SID}-1105",
        "userAccountControl": 0x200,
        "tokenGroups": [f"{CORP_SID}-513", f"{CORP_SID}-1201"],
        "memberOf": [],
    }
    value.update(kw)
    return value


def hosts(h1: dict[str, Any] | None = None, h2: dict[str, Any] | None = None) -> tuple[HostModel, HostModel]:
    a = HostModel("HV01", index=1, **{"hyperv_admins": [OPERATORS], **(h1 or {})})
    b = HostModel("HV02", index=2, **{"hyperv_admins": [OPERATORS], **(h2 or {})})
    return a, b


def doc(
    h1: dict[str, Any] | None = None,
    h2: dict[str, Any] | None = None,
    *,
    c1: dict[str, Any] | None = None,
    c2: dict[str, Any] | None = None,
    op: dict[str, Any] | None = None,
    operator_name: str | None = "CORP\\hvadmin",
    domains: dict[str, dict[str, Any]] | None = None,
    dns: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """HV01 -> HV02 planned (the engine adds the return), full constrained delegation both ways."""
    a, b = hosts(h1, h2)
    comps = [
        ComputerModel(a, f"{_sid(a)}-2101", **{"delegate_to": delegation_entries(b), **(c1 or {})}),
        ComputerModel(b, f"{_sid(b)}-2102", **{"delegate_to": delegation_entries(a), **(c2 or {})}),
    ]
    by_domain: dict[str, list[ComputerModel]] = {}
    for comp in comps:
        by_domain.setdefault(comp.host.domain, []).append(comp)
    info = {
        CORP: {"info": {"dnsRoot": CORP, "nETBIOSName": "CORP", "objectSid": CORP_SID,
                        "currentTime": "2026-11-20T09:00:00Z"},
               "domain_controllers": [{"target": f"dc01.{CORP}", "port": 389, "priority": 0, "weight": 100}],
               "trusts": []},
        FAB: {"info": {"dnsRoot": FAB, "nETBIOSName": "FABRIKAM", "objectSid": FAB_SID,
                       "currentTime": "2026-11-20T09:00:00Z"},
              "domain_controllers": [{"target": f"dc01.{FAB}", "port": 389, "priority": 0, "weight": 100}],
              "trusts": []},
    }
    used = {a.domain, b.domain}
    sections = {d: v for d, v in info.items() if d in used}
    for dom, over in (domains or {}).items():
        sections.setdefault(dom, {}).update(over)
    return build_snapshot(
        [a, b],
        computers=by_domain,
        domains=sections,
        operator=operator(**(op or {})),
        operator_name=operator_name,
        pairs=[(a.fqdn, b.fqdn)],
        dns=dns,  # type: ignore[arg-type]
    )


def _sid(h: HostModel) -> str:
    return FAB_SID if h.domain == FAB else CORP_SID


def finding(check_id: str, d: dict[str, Any], label: str) -> Finding:
    return only(run_check(check_id, d), label)


def assert_safe(powershell: str) -> None:
    """The fix parses, and the hostile name stayed data: no Remove-Item command appeared."""
    assert_parses(powershell)
    assert "remove-item" not in {c.casefold() for c in command_names(powershell)}, powershell

