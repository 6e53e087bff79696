"""Only what matters for source -> destination counts, and an unknown code shows what is wrong.

A host finding concerns a role: the destination's firewall and migration networks admit the move,
the source's delegation settings and the operator's delegability on the source let it authenticate.
The same check on the other host concerns the return direction and must not be listed, neither as
a fallback candidate for an unknown code nor as another problem of the move.
"""

from __future__ import annotations

from tests.checks._identity import doc

from .scenarios import run

UNKNOWN = "0x80041001"
SENSITIVE = {"userAccountControl": 0x200 | 0x100000}


def _on(items: list[dict[str, object]], check: str) -> list[str]:
    """The hosts (subject labels) a check's findings are listed for."""
    return [str(f["subject"]["label"]) for f in items if f["check_id"] == check]  # type: ignore[index]


def _fallback_findings(d: dict[str, object]) -> list[dict[str, object]]:
    return [f for c in d["causes"] for f in c["evidence"]["findings"]]  # type: ignore[attr-defined]


def test_unknown_code_titles_say_what_is_wrong_not_the_checks_title() -> None:
    d = run(doc(h2={"firewall_enabled": False}), UNKNOWN)
    fw = next(c for c in d["causes"] if c["id"] == "finding:host-firewall-6600")
    assert "TCP 6600) enabled" not in fw["title"]  # the check's title reads as the opposite of the problem
    assert "disabled" in fw["title"] and "hv02.corp.contoso.com" in fw["title"]
    assert fw["title"] == fw["evidence"]["findings"][0]["message"]


def test_unknown_code_lists_the_destinations_firewall_not_the_sources() -> None:
    d = run(doc(h1={"firewall_enabled": False}, h2={"firewall_enabled": False}), UNKNOWN)
    assert _on(_fallback_findings(d), "host-firewall-6600") == ["hv02.corp.contoso.com"]


def test_unknown_code_lists_the_operator_on_the_source_only() -> None:
    d = run(doc(op=SENSITIVE), UNKNOWN)
    hosts = _on(_fallback_findings(d), "operator-delegable")
    assert len(hosts) == 1 and "hv01.corp.contoso.com" in hosts[0], hosts


def test_a_source_only_fault_is_no_problem_of_the_return_direction() -> None:
    # HV01's firewall admits moves *to* HV01: diagnosing HV01 -> HV02 must not list it, HV02 -> HV01 must
    forward = run(doc(h1={"firewall_enabled": False}), UNKNOWN)
    assert forward["causes"] == [] and forward["run"]["exit_code"] == 0
    back = run(doc(h1={"firewall_enabled": False}), UNKNOWN, source="hv02", destination="hv01")
    assert [c["id"] for c in back["causes"]] == ["finding:host-firewall-6600"]


def test_other_problems_of_a_known_code_keep_to_the_direction() -> None:
    d = run(doc(h1={"firewall_enabled": False}, c2={"any_protocol": False}), "0x8009030E")
    assert d["result"]["status"] == "no_cause_found"
    assert _on(d["other_findings"], "host-firewall-6600") == []  # HV01's inbound rule: the return direction
    assert _on(d["other_findings"], "host-kcd-any-protocol") == []  # HV02 delegating: the return direction
    socket = run(doc(h2={"firewall_enabled": False}, c1={"any_protocol": False}), "0x8007274C")
    assert _on(socket["other_findings"], "host-kcd-any-protocol") != []  # HV01 delegating: this direction


def test_a_sources_problem_a_cause_reads_only_on_the_destination_is_still_listed() -> None:
    # dest-vmms reads host-hyperv-role on the destination; the source's stopped vmms matters too
    d = run(doc(h1={"vmms_status": "Stopped"}), "0x8007274D")
    assert next(c for c in d["causes"] if c["id"] == "dest-vmms")["verdict"] == "ruled_out"
    assert _on(d["other_findings"], "host-hyperv-role") == ["hv01.corp.contoso.com"]
