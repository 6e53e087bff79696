"""A healthy pair, the related codes, an unknown code, missing facts, and the pair's scope."""

from __future__ import annotations

import pytest

from hvlm.audit.errors import InputError, UsageError
from tests.checks._identity import doc
from tests.support.checking import break_fact
from tests.support.fleet import HostModel, build_snapshot
from tests.support.powershell import assert_parses

from .scenarios import H1, H2, fix_text, run

HAND_CHECKS = ("klist purge -li 0x3e7", "repadmin /showrepl", "Microsoft-Windows-Hyper-V-VMMS-Admin",
               "$_.Id -in 20306, 21502", "Test-NetConnection -ComputerName 'hv02.corp.contoso.com' -Port 6600",
               "setspn -L 'HV02'")


def test_healthy_pair_no_cause_found_and_what_remains_to_check_by_hand() -> None:
    d = run(doc(), "0x8009030E")
    assert d["result"]["status"] == "no_cause_found"
    assert d["result"]["headline"] == "No cause found in the configuration"
    assert d["run"]["exit_code"] == 0 and not d["result"]["incomplete"]
    assert d["result"]["counts"]["confirmed"] == 0 and d["result"]["counts"]["likely"] == 0
    ruled = [c for c in d["causes"] if c["verdict"] == "ruled_out"]
    assert {c["id"] for c in ruled} >= {"kcd-missing", "kcd-kerberos-only", "credssp-double-hop", "destination-spn"}
    assert all(c["evidence"]["findings"] for c in ruled)  # each says what rules it out
    manual = "\n".join(m["powershell"] for m in d["manual_checks"])
    for text in HAND_CHECKS:
        assert text in manual, text
    for m in d["manual_checks"]:
        assert_parses(m["powershell"])
    # nothing remains: the user rights no GPO sets are judged from the lists in force (secedit), and hold
    # the virtual machines on both hosts
    assert d["other_findings"] == []
    assert d["uncollected"] == []


def test_healthy_pair_socket_error_lists_the_listener_checks() -> None:
    d = run(doc(), "0x8007274D")
    assert d["result"]["status"] == "no_cause_found" and d["run"]["exit_code"] == 0
    manual = "\n".join(m["powershell"] for m in d["manual_checks"])
    assert "netstat -ano | findstr 6600" in manual and "Registry.pol" in manual
    for m in d["manual_checks"]:
        assert_parses(m["powershell"])


RELATED = [
    # code, snapshot, the cause that ranks first
    ("0x8009030D", doc(h2={"auth": "CredSSP"}), "auth-type-mismatch"),
    ("0x8009030D", doc(c1={"delegate_to": []}), "kcd-missing"),
    ("0x80090322", doc(c2={"spns": ["HOST/HV02"]}), "destination-spn"),
    ("0x80090322", doc(dns={H2: {"name": H2, "A": ["10.0.0.12"], "AAAA": [], "PTR": {}}}), "destination-dns"),  # warns
    ("0x80090303", doc(c2={"spns": ["HOST/HV02"]}), "destination-spn"),
    ("0x80090311", doc(h2={"domain": "lab.fabrikam.com"}, c2={"rbcd": [
        ("S-1-5-21-1111111111-2222222222-3333333333-2101", "CORP\\HV01$")]}), "domain-trust"),
    ("0x8007274C", doc(h2={"firewall_enabled": False}), "dest-firewall-6600"),
    ("0x8007274D", doc(h2={"migration_enabled": False}), "dest-migration-disabled"),
    ("0x80072746", doc(h2={"vmms_status": "Stopped"}), "dest-vmms"),
    ("0x8007271D", doc(h2={"firewall_enabled": False}), "dest-firewall-6600"),
    ("0x80070005", doc(c1={"delegate_to": []}), "kcd-missing"),
]


@pytest.mark.parametrize(("code", "d", "cause"), RELATED, ids=[f"{c}-{x}" for c, _, x in RELATED])
def test_related_codes_have_their_own_cause_lists(code: str, d: dict[str, object], cause: str) -> None:
    destination = "hv02.lab.fabrikam.com" if "fabrikam" in str(d["hosts"]) else "hv02"
    out = run(d, code, destination=destination)  # type: ignore[arg-type]
    assert out["code"]["known"] is True and out["code"]["context"]
    # a missing PTR is a warning (likely); the rest are failures (confirmed)
    verdict = "likely" if cause == "destination-dns" else "confirmed"
    assert out["causes"][0]["id"] == cause and out["causes"][0]["verdict"] == verdict
    assert out["run"]["exit_code"] == 1


def test_related_code_notes_carry_the_sources_caveats() -> None:
    assert "UNCONFIRMED" in run(doc(), "0x80090311")["code"]["note"]
    assert "UNCONFIRMED" in run(doc(), "0x80090322")["code"]["note"]


def test_unknown_code_says_so_and_falls_back_to_the_full_pair_audit() -> None:
    d = run(doc(h2={"firewall_enabled": False, "switches": []}, h1={"vms": []}), "0x80041001")
    assert d["code"] == d["code"] | {"code": "0x80041001", "known": False, "symbol": None}
    assert d["result"]["status"] == "unknown_code"
    assert d["result"]["headline"].startswith("Unknown error code 0x80041001: the full audit of this move found")
    ids = [c["id"] for c in d["causes"]]
    assert "finding:host-firewall-6600" in ids
    fw = d["causes"][ids.index("finding:host-firewall-6600")]
    assert fw["verdict"] == "confirmed" and "Enable-NetFirewallRule -Name 'VIRT-MIGL-In-TCP-NoScope'" in fix_text(fw)
    assert "hvlm does not know whether it produces 0x80041001" in fw["why"]
    assert d["run"]["exit_code"] == 1


def test_unknown_code_on_a_healthy_pair_finds_nothing() -> None:
    d = run(doc(), "0x80041001")
    assert d["result"]["status"] == "unknown_code" and d["causes"] == [] and d["run"]["exit_code"] == 0


def test_a_message_without_any_code_falls_back_too() -> None:
    d = run(doc(c1={"delegate_to": []}), message="The operation failed. Contact your administrator.")
    assert d["code"]["code"] is None and d["result"]["status"] == "unknown_code"
    assert d["result"]["headline"].startswith("No error code recognised in the message")
    assert "finding:pair-kcd-migration-service" in [c["id"] for c in d["causes"]]


def test_a_cause_that_could_not_be_checked_makes_the_diagnosis_incomplete() -> None:
    d = doc()
    break_fact(d, "domains", "corp.contoso.com", "computers")
    out = run(d, "0x8009030E")
    kcd = next(c for c in out["causes"] if c["id"] == "kcd-missing")
    assert kcd["verdict"] == "possible" and kcd["unchecked"] and kcd["reason"].startswith("Could not be checked")
    assert out["result"]["incomplete"] and out["run"]["exit_code"] == 3
    assert any(u["path"] == "domains/corp.contoso.com/computers" for u in out["uncollected"])
    # possible because unchecked ranks before possible because no configuration can show it
    possible = [c for c in out["causes"] if c["verdict"] == "possible"]
    assert possible[0]["unchecked"]


def test_a_cause_and_missing_facts_exit_4() -> None:
    d = doc(c1={"any_protocol": False})
    break_fact(d, "hosts", H1, "clock")
    out = run(d, "0x8009030E")
    assert out["causes"][0]["id"] == "kcd-kerberos-only" and out["run"]["exit_code"] == 4


def test_the_pair_need_not_be_planned_and_only_this_direction_counts() -> None:
    # planned: HV01 -> HV02 only; diagnose the return direction, whose source lacks the delegation
    out = run(doc(c2={"delegate_to": []}), "0x8009030E", source="hv02", destination="hv01")
    assert out["causes"][0]["id"] == "kcd-missing"
    assert "Set-ADComputer -Identity 'HV02'" in fix_text(out["causes"][0])
    forward = run(doc(c2={"delegate_to": []}), "0x8009030E")
    assert forward["result"]["status"] == "no_cause_found"


def test_hosts_outside_the_pair_do_not_count() -> None:
    a, b, c = HostModel("HV01", index=1), HostModel("HV02", index=2), HostModel("HV03", index=3, vmms_status="Stopped")
    d = build_snapshot([a, b, c])
    out = run(d, "0x8007274D")
    assert "dest-vmms" not in [x["id"] for x in out["causes"] if x["verdict"] == "confirmed"]
    assert all("hv03" not in f["subject"]["label"] for f in out["other_findings"])


def test_the_pair_must_be_in_the_snapshot() -> None:
    with pytest.raises(InputError, match=r"hv09.*is not a host of this snapshot"):
        run(doc(), "0x8009030E", destination="hv09")
    with pytest.raises(UsageError, match="same host"):
        run(doc(), "0x8009030E", destination="HV01.corp.contoso.com")
    with pytest.raises(UsageError, match="is not an error code"):
        run(doc(), "not-a-code")
