"""One scenario per cause: a snapshot with exactly that fault, and the cause ranks first with the right fix."""

from __future__ import annotations

import pytest

from hvlm.audit.diagnose import initiation
from hvlm.audit.diagnose.render_text import render_text
from hvlm.audit.facts import HostRef
from hvlm.reports.diagnosis_html import render_diagnosis_html as render_html
from tests.checks._identity import doc
from tests.support.checking import drop_fact
from tests.support.fleet import VMModel
from tests.support.powershell import assert_parses

from .scenarios import BY_HAND, CREDSSP, H2, JUDGED, SCENARIOS, VTPM_MESSAGE, Scenario, fix_text, rights_by_gpo, run


@pytest.mark.parametrize("s", SCENARIOS, ids=[s.cause for s in SCENARIOS])
def test_the_fault_ranks_first_with_its_fix(s: Scenario) -> None:
    d = run(s.build(), None if s.message else s.code, destination=s.destination, initiated_from=s.initiated_from,
            message=s.message)
    assert d["code"]["code"] == s.code
    top = d["causes"][0]
    assert (top["id"], top["verdict"]) == (s.cause, s.verdict), [(c["id"], c["verdict"]) for c in d["causes"]]
    text = fix_text(top)
    for name in s.fix_names:
        assert name in text, f"{name!r} not in the fix of {s.cause}:\n{text}"
    for fix in top["fixes"]:
        assert_parses(fix["powershell"])
    for step in top["steps"]:
        if step["powershell"]:
            assert_parses(step["powershell"])
    assert top["why"] and top["reason"]
    assert top["evidence"]["findings"] or top["evidence"]["facts"]
    # exactly that fault: nothing else is confirmed, and the exit code says a cause was found
    others = [c["id"] for c in d["causes"][1:] if c["verdict"] == "confirmed"]
    assert others == [], others
    assert d["run"]["exit_code"] == 1
    assert d["result"]["status"] == ("cause_confirmed" if s.verdict == "confirmed" else "cause_likely")


@pytest.mark.parametrize("cause", sorted(BY_HAND))
def test_causes_no_configuration_shows_stay_possible_with_the_hand_check(cause: str) -> None:
    code, names = BY_HAND[cause]
    d = run(doc(), code)
    found = {c["id"]: c for c in d["causes"]}
    assert found[cause]["verdict"] == "possible" and not found[cause]["unchecked"]
    assert names in fix_text(found[cause])
    commands = [st["powershell"] for st in found[cause]["steps"] if st["powershell"]]
    assert commands
    for command in commands:
        assert_parses(command)
    assert d["causes"][0]["id"] == cause
    assert d["run"]["exit_code"] == 0  # nothing confirmed, nothing that could not be checked


def test_network_path_is_possible_for_socket_errors() -> None:
    d = run(doc(), "0x8007274D")
    found = {c["id"]: c for c in d["causes"]}
    assert found["network-path"]["verdict"] == "possible"
    assert "Test-NetConnection -ComputerName 'hv02.corp.contoso.com' -Port 6600" in fix_text(found["network-path"])


# -- --initiated-from and the CredSSP double hop -----------------------------------------------------


def _double_hop(initiated_from: str | None) -> dict[str, object]:
    d = run(doc(h1=CREDSSP, h2=CREDSSP), "0x8009030E", initiated_from=initiated_from)
    return next(c for c in d["causes"] if c["id"] == "credssp-double-hop") | {"exit": d["run"]["exit_code"],
                                                                             "move": d["move"]}


@pytest.mark.parametrize("name", ["hv01", "HV01", "hv01.corp.contoso.com", "HV01.CORP.CONTOSO.COM."])
def test_started_on_the_source_rules_the_double_hop_out(name: str) -> None:
    c = _double_hop(name)
    assert c["verdict"] == "ruled_out" and "started on HV01" in str(c["reason"])
    assert c["move"] == c["move"] | {"initiated": "source"}


@pytest.mark.parametrize("name", ["admin-pc", "hv02", "wac-gateway.corp.contoso.com"])
def test_started_elsewhere_confirms_the_double_hop(name: str) -> None:
    c = _double_hop(name)
    assert c["verdict"] == "confirmed" and f"started from {name}" in str(c["reason"])
    assert "Sign in to hv01.corp.contoso.com" in str(c["reason"])


def test_not_said_leaves_the_double_hop_likely_with_the_question() -> None:
    c = _double_hop(None)
    assert c["verdict"] == "likely" and c["exit"] == 1
    assert any("--initiated-from" in s["text"] for s in c["steps"])  # type: ignore[attr-defined]


def test_kerberos_only_is_only_possible_when_started_on_the_source() -> None:
    d = run(doc(c1={"any_protocol": False}), "0x8009030E", initiated_from="hv01")
    c = next(c for c in d["causes"] if c["id"] == "kcd-kerberos-only")
    assert c["verdict"] == "possible" and "started on HV01 itself" in c["reason"]


# -- refinements of the delegation causes ------------------------------------------------------------


def test_name_form_names_the_form_the_message_used() -> None:
    s = next(s for s in SCENARIOS if s.cause == "kcd-name-form")
    d = run(s.build(), message=s.message)
    assert "names the destination as hv02.corp.contoso.com, exactly the form that is missing" in d["causes"][0]["reason"]
    missing = next(c for c in d["causes"] if c["id"] == "kcd-missing")
    assert missing["verdict"] == "ruled_out" and "One name form" in missing["reason"]


_MIGRATION_ONLY = ["Microsoft Virtual System Migration Service/HV02",
                   "Microsoft Virtual System Migration Service/hv02.corp.contoso.com"]


def test_kerberos_only_outranks_a_missing_cifs_entry() -> None:
    # The common half-done setup: migration service delegated "Kerberos only", no cifs. "Kerberos only"
    # blocks every remotely started move; cifs only moves that carry storage, so it must not rank first.
    d = run(doc(c1={"any_protocol": False, "delegate_to": _MIGRATION_ONLY}), "0x8009030E")
    ranked = [(c["id"], c["verdict"]) for c in d["causes"]]
    assert ranked[0] == ("kcd-kerberos-only", "confirmed"), ranked
    missing = next(c for c in d["causes"] if c["id"] == "kcd-missing")
    assert missing["verdict"] == "likely" and "-IncludeStorage" in missing["reason"]


def test_missing_cifs_is_confirmed_with_the_smb_performance_option() -> None:
    # With SMB every move copies memory over SMB to the destination: cifs is then needed by every move.
    d = run(doc(h1={"performance": "SMB"}, h2={"performance": "SMB"}, c1={"delegate_to": _MIGRATION_ONLY}),
            "0x8009030E")
    assert (d["causes"][0]["id"], d["causes"][0]["verdict"]) == ("kcd-missing", "confirmed")


def test_resource_based_delegation_alone_is_possible_not_confirmed() -> None:
    d = run(doc(c1={"delegate_to": []}, c2={"rbcd": [("S-1-5-21-1111111111-2222222222-3333333333-2101", "CORP\\HV01$")]}),
            "0x8009030E")
    c = next(c for c in d["causes"] if c["id"] == "kcd-missing")
    assert c["verdict"] == "possible" and "resource-based" in c["reason"]


def test_the_operator_cause_uses_the_source_and_names_the_account() -> None:
    d = run(doc(op={"userAccountControl": 0x200 | 0x100000}), "0x8009030E")
    top = d["causes"][0]
    assert top["id"] == "operator-not-delegable"
    assert all(f["subject"]["host"] == "hv01.corp.contoso.com" for f in top["evidence"]["findings"])
    assert "Set-ADAccountControl -Identity 'hvadmin' -Server 'corp.contoso.com' -AccountNotDelegated $false" in fix_text(top)


# -- --initiated-from given as an address ---------------------------------------------------------------


@pytest.mark.parametrize("given", ["10.0.0.11", "192.168.50.11"])
def test_the_sources_own_address_rules_the_double_hop_out(given: str) -> None:
    # People often say where they worked by IP ("I was on 10.0.0.11 over RDP"): the source's address must
    # not be read as "another machine" and confirm the double hop.
    d = run(doc(h1=CREDSSP, h2=CREDSSP), "0x8009030E", initiated_from=given)
    c = next(c for c in d["causes"] if c["id"] == "credssp-double-hop")
    assert c["verdict"] == "ruled_out" and d["move"]["initiated"] == "source"


def test_another_address_confirms_the_double_hop() -> None:
    d = run(doc(h1=CREDSSP, h2=CREDSSP), "0x8009030E", initiated_from="10.0.0.99")
    assert (d["causes"][0]["id"], d["causes"][0]["verdict"]) == ("credssp-double-hop", "confirmed")


@pytest.mark.parametrize("given", ["127.0.0.1", "localhost", "::1"])
def test_loopback_decides_nothing(given: str) -> None:
    d = run(doc(h1=CREDSSP, h2=CREDSSP), "0x8009030E", initiated_from=given)
    c = next(c for c in d["causes"] if c["id"] == "credssp-double-hop")
    assert c["verdict"] == "likely" and d["move"]["initiated"] == "unknown"


def test_an_address_without_the_sources_addresses_decides_nothing() -> None:
    src = HostRef("hv01.corp.contoso.com", "hv01.corp.contoso.com", "HV01", "corp.contoso.com")
    assert initiation("10.0.0.11", src).on_source is None
    assert initiation("10.0.0.11", src, ["10.0.0.11"]).on_source is True
    assert initiation("10.0.0.12", src, ["10.0.0.11"]).on_source is False


@pytest.mark.parametrize("cause", sorted(JUDGED))
def test_causes_the_new_checks_judge_are_ruled_out_on_a_healthy_pair_and_by_hand_without_their_facts(
    cause: str,
) -> None:
    code, (host, section), names = JUDGED[cause]
    vms = {"vms": [VMModel("db02", tpm=True)]} if cause == "vtpm-guardian" else {}
    given = {"message": VTPM_MESSAGE} if code == "vtpm-key-protector" else {"code": code}
    healthy = doc(h1={**vms, "guardians_from": []}, h2={"guardians_from": ["HV01"]})
    if cause == "user-rights":  # only rights a GPO sets are read: healthy means a GPO keeps the virtual machines
        rights_by_gpo(healthy, H2)
    d = run(healthy, given.get("code"), message=given.get("message"))
    found = {c["id"]: c for c in d["causes"]}
    assert found[cause]["verdict"] == "ruled_out", found[cause]["reason"]
    assert found[cause]["evidence"]["findings"]
    old = doc(h1=vms, h2={"guardians_from": ["HV01"]})
    drop_fact(old, "hosts", host, section)  # a snapshot from before hvlm collected this fact
    d = run(old, given.get("code"), message=given.get("message"))
    found = {c["id"]: c for c in d["causes"]}
    assert found[cause]["verdict"] == "possible" and found[cause]["unchecked"]
    assert names in fix_text(found[cause])
    for step in found[cause]["steps"]:
        assert_parses(step["powershell"])


def test_the_vtpm_message_without_a_code_ranks_the_missing_guardian_first() -> None:
    d = run(doc(h1={"vms": [VMModel("db02", tpm=True)]}), message=VTPM_MESSAGE)
    assert d["code"]["code"] is None and d["code"]["message"] == "vtpm-key-protector" and d["code"]["known"]
    assert d["code"]["recognised"]["how"] == "wording"
    top = d["causes"][0]
    assert (top["id"], top["verdict"]) == ("vtpm-guardian", "confirmed")
    assert "Export-PfxCertificate" in fix_text(top) and "hv02.corp.contoso.com" in top["reason"]
    assert d["result"]["status"] == "cause_confirmed" and d["run"]["exit_code"] == 1
    text = render_text(d)
    assert 'Error: "The key protector for the virtual machine could not be unwrapped"' in text
    assert "no error code recognised" not in text
    page = render_html(d)
    assert "&ldquo;The key protector for the virtual machine could not be unwrapped&rdquo;" in page


def test_a_code_beside_the_vtpm_message_is_kept_but_the_message_decides() -> None:
    d = run(doc(h1={"vms": [VMModel("db02", tpm=True)]}), message=VTPM_MESSAGE + " (0x80070490)")
    assert d["code"]["code"] == "0x80070490" and d["code"]["message"] == "vtpm-key-protector"
    assert d["causes"][0]["id"] == "vtpm-guardian"
    assert "codes in the message: 0x80070490" in render_text(d)


def test_user_rights_no_gpo_sets_is_possible_when_the_local_lists_are_unread() -> None:
    # no GPO sets the rights and secedit failed on the destination: neither ruled out nor confirmed
    d = run(doc(h2={"effective_rights_error": "Access is denied."}), "0x80070569")
    found = {c["id"]: c for c in d["causes"]}
    rights = found["user-rights"]
    assert rights["verdict"] == "possible" and rights["reason"].startswith("Checked only Group Policy")
    assert "secedit /export" in fix_text(rights) and "-ComputerName 'hv02.corp.contoso.com'" in fix_text(rights)


def test_user_rights_from_the_local_lists_in_force() -> None:
    # the destination's local lists, read with secedit: with S-1-5-83-0 the cause is ruled out, without it confirmed
    rights = next(c for c in run(doc(), "0x80070569")["causes"] if c["id"] == "user-rights")
    assert rights["verdict"] == "ruled_out"
    rights = next(c for c in run(doc(h2={"local_service_logon_vms": False}), "0x80070569")["causes"]
                  if c["id"] == "user-rights")
    assert rights["verdict"] == "confirmed"
    assert "the local \"Log on as a service\" (no GPO sets it) does not hold" in rights["reason"]


def test_a_warning_is_likely_a_failure_confirmed() -> None:
    # an image file (a warning: hvlm never looks for it on the destination) is likely; a pass-through drive, which
    # cannot follow the VM at all (a failure), is confirmed
    d = run(doc(h1={"vms": [VMModel("web01", iso="C:\\ISO\\it's.iso")]}), "0xC03A0014")
    iso = next(c for c in d["causes"] if c["id"] == "iso-path")
    assert iso["verdict"] == "likely" and "hvlm did not check that HV02 has the file" in iso["reason"]
    assert "Test-Path -LiteralPath 'C:\\ISO\\it''s.iso'" in fix_text(iso)
    physical = doc(h1={"vms": [VMModel("web01")]})
    for row in physical["hosts"]["hv01.corp.contoso.com"]["vm_media"]["value"]:
        row.update({"Path": None, "DvdMediaType": "PassThrough"})
    iso = next(c for c in run(physical, "0xC03A0014")["causes"] if c["id"] == "iso-path")
    assert iso["verdict"] == "confirmed" and "physical drive" in iso["reason"]
    assert "same image" not in fix_text(iso)
