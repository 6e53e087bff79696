"""Issue 11 verdicts for hosts outside a domain and directory-only audits."""

from __future__ import annotations

from hvlm.audit.engine import evaluate
from hvlm.audit.model import Severity, Status
from hvlm.audit.registry import load_registry
from hvlm.audit.report import exit_code
from hvlm.audit.snapshot import Snapshot
from tests.checks._identity import CORP, CORP_SID, H1, doc, finding, operator
from tests.support.checking import get_check, run_check
from tests.support.fleet import ComputerModel, HostModel, build_snapshot, delegation_entries

WG = f"hv02.{CORP}"  # the inventory name keeps the DNS suffix; the host itself reports WORKGROUP


def _workgroup() -> dict:
    a = HostModel("HV01", index=1)
    b = HostModel("HV02", index=2, part_of_domain=False, domain_role=2)
    return build_snapshot([a, b], computers={CORP: [ComputerModel(a, f"{CORP_SID}-2101", delegation_entries(b))]},
                          pairs=[(a.fqdn, b.fqdn)], operator=operator())


def test_fail_workgroup_host_is_one_failure_and_no_error() -> None:
    d = _workgroup()
    findings = evaluate(Snapshot.from_document(d), list(load_registry(include_entry_points=False)))
    errors = [(f.check_id, f.subject.label, f.message) for f in findings if f.status is Status.ERROR]
    assert not errors  # the run is not "incomplete" because AD has no object for a workgroup host
    assert exit_code(findings, True, Severity.MEDIUM) == 1  # host-domain-member's failure, not 4 (also incomplete)
    member = [f for f in findings if f.check_id == "host-domain-member" and f.subject.host == WG]
    assert [f.status for f in member] == [Status.FAIL]
    for check_id in ("host-kcd-any-protocol", "host-unconstrained-delegation", "pair-domain-trust"):
        hits = [f for f in findings if f.check_id == check_id and WG in f.subject.hosts]
        assert hits and all(f.status is Status.NOT_APPLICABLE and "host-domain-member" in f.message for f in hits), \
            (check_id, [(f.status, f.message) for f in hits])


def _directory_only(build: int, any_protocol: bool) -> dict:
    d = doc(h1={"build": build}, c1={"any_protocol": any_protocol})
    d["hosts"] = {h: {} for h in d["hosts"]}  # hvlm collect --only directory: no host facts
    return d


def test_fail_kerberos_only_found_from_ad_alone() -> None:
    f = finding("host-kcd-any-protocol", _directory_only(17763, False), H1)
    assert f.status is Status.FAIL and "Windows Server 2019" in f.message and "0x8009030E" in f.message
    assert "operatingSystemVersion" in f.message
    assert f.evidence["BuildNumber"] == 17763 and "AD" in f.evidence["build_from"]
    assert f.evidence["build_from"].endswith("host facts not collected")


def test_pass_directory_only_any_protocol_and_2012_r2() -> None:
    f = finding("host-kcd-any-protocol", _directory_only(17763, True), H1)
    assert f.status is Status.PASS and "operatingSystemVersion" in f.message
    f = finding("host-kcd-any-protocol", _directory_only(9600, False), H1)
    assert f.status is Status.PASS and "Windows Server 2012 R2" in f.message


def test_missing_build_everywhere_is_an_error() -> None:
    d = _directory_only(17763, False)
    for comp in d["domains"][CORP]["computers"]["value"]:
        comp["operatingSystemVersion"] = None
    f = finding("host-kcd-any-protocol", d, H1)
    assert f.status is Status.ERROR and "operatingSystemVersion" in f.message


def test_pass_check_declares_what_it_reads() -> None:
    assert "host.ad_computer?" in get_check("host-kcd-any-protocol").meta.requires
    assert run_check("host-kcd-any-protocol", _directory_only(17763, True))
