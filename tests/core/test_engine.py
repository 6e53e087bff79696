"""The engine never turns a missing fact, a crash or an empty result into a pass."""

from __future__ import annotations

from collections.abc import Iterable

from hvlm.audit.engine import directions, evaluate, evaluated_pairs
from hvlm.audit.facts import Facts
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.registry import check
from hvlm.audit.snapshot import Snapshot
from tests.support.checking import break_fact
from tests.support.fleet import HostModel, VMModel, build_snapshot

META = dict(
    title="t", severity=Severity.HIGH, rationale="why", references=("https://example.invalid/doc",), fix_hint="fix"
)


def snap(**kw: object) -> Snapshot:
    hosts = [HostModel("HV01", index=1, vms=[VMModel("a"), VMModel("b")]), HostModel("HV02", index=2)]
    return Snapshot.from_document(build_snapshot(hosts, pairs=[("hv01.corp.contoso.com", "hv02.corp.contoso.com")]))


@check(id="test-crash", subject=SubjectKind.HOST, requires=("host.vmhost",), **META)  # type: ignore[arg-type]
def crashing(f: Facts) -> Outcome:
    raise ZeroDivisionError("boom")


@check(id="test-empty", subject=SubjectKind.HOST, requires=("host.vmhost",), **META)  # type: ignore[arg-type]
def empty(f: Facts) -> Iterable[Outcome]:
    return []


@check(id="test-undeclared", subject=SubjectKind.HOST, requires=("host.vmhost",), **META)  # type: ignore[arg-type]
def undeclared(f: Facts) -> Outcome:
    return Outcome(Status.PASS, str(f["host.vms"]))


@check(id="test-pair", subject=SubjectKind.PAIR, requires=("source.vmhost", "destination.vmhost"), **META)  # type: ignore[arg-type]
def pair(f: Facts) -> Outcome:
    return Outcome(Status.PASS, f"{f.host('source').short}->{f.host('destination').short}")


@check(id="test-vm", subject=SubjectKind.VM, requires=("source.vms", "destination.supported_versions?"), **META)  # type: ignore[arg-type]
def per_vm(f: Facts) -> Outcome:
    assert f.vm is not None
    optional = f.optional("destination.supported_versions")
    return Outcome(Status.PASS, f"{f.vm['Name']} optional={'yes' if optional else 'no'}")


def test_crash_becomes_error_with_traceback() -> None:
    findings = evaluate(snap(), [crashing])
    assert {f.status for f in findings} == {Status.ERROR}
    assert "ZeroDivisionError" in findings[0].message
    assert "Traceback" in findings[0].evidence["traceback"]


def test_empty_result_is_an_error() -> None:
    findings = evaluate(snap(), [empty])
    assert {f.status for f in findings} == {Status.ERROR}
    assert "no outcome" in findings[0].message


def test_reading_an_undeclared_fact_is_an_error() -> None:
    findings = evaluate(snap(), [undeclared])
    assert {f.status for f in findings} == {Status.ERROR}
    assert "undeclared" in findings[0].message


def test_errored_fact_makes_error_not_pass() -> None:
    doc = build_snapshot([HostModel("HV01")], pairs=[])
    break_fact(doc, "hosts", "hv01.corp.contoso.com", "vmhost", kind="timeout", message="host did not answer in 60 s")
    findings = evaluate(Snapshot.from_document(doc), [pair, crashing])
    assert len(findings) == 1  # one host, no pairs
    assert findings[0].status is Status.ERROR
    assert "host did not answer in 60 s" in findings[0].message
    assert findings[0].evidence["unavailable"][0]["kind"] == "timeout"


@check(id="test-rollback", subject=SubjectKind.PAIR, requires=("source.vmhost", "destination.vmhost"), rollback=True,
       **META)  # type: ignore[arg-type]
def rollback_pair(f: Facts) -> Outcome:
    return Outcome(Status.PASS, f"{f.host('source').short}->{f.host('destination').short}")


def test_planned_moves_and_their_return_direction() -> None:
    s = snap()
    assert evaluated_pairs(s) == [
        ("hv01.corp.contoso.com", "hv02.corp.contoso.com"),
        ("hv02.corp.contoso.com", "hv01.corp.contoso.com"),
    ]
    assert [(d.source[:4], d.planned) for d in directions(s)] == [("hv01", True), ("hv02", False)]
    # a pair check judges the planned move; a rollback check judges its return direction too
    assert sorted(f.message for f in evaluate(s, [pair])) == ["HV01->HV02"]
    assert sorted(f.message for f in evaluate(s, [rollback_pair])) == ["HV01->HV02", "HV02->HV01"]


def test_a_return_direction_that_is_planned_is_a_planned_move() -> None:
    doc = build_snapshot([HostModel("HV01", index=1), HostModel("HV02", index=2)])  # every ordered pair
    s = Snapshot.from_document(doc)
    assert all(d.planned for d in directions(s)) and len(directions(s)) == 2
    assert sorted(f.message for f in evaluate(s, [pair])) == ["HV01->HV02", "HV02->HV01"]


def test_vm_checks_enumerate_source_vms_and_optional_facts() -> None:
    findings = evaluate(snap(), [per_vm])
    by_subject = {(f.subject.source, f.subject.vm): f for f in findings}
    assert by_subject[("hv01.corp.contoso.com", "a")].message == "a optional=yes"
    assert by_subject[("hv01.corp.contoso.com", "b")].status is Status.PASS
    # HV02's own VMs are not judged for the unplanned return to HV01
    assert not [f for f in findings if f.subject.source == "hv02.corp.contoso.com"]


def test_vm_check_on_a_planned_source_without_vms_is_not_applicable() -> None:
    doc = build_snapshot([HostModel("HV01", index=1), HostModel("HV02", index=2)],
                         pairs=[("hv01.corp.contoso.com", "hv02.corp.contoso.com")])
    (f,) = evaluate(Snapshot.from_document(doc), [per_vm])
    assert f.status is Status.NOT_APPLICABLE and "has no virtual machines" in f.message


def test_optional_fact_missing_is_none_not_error() -> None:
    doc = build_snapshot([HostModel("HV01", index=1, vms=[VMModel("a")]), HostModel("HV02", index=2)])
    del doc["hosts"]["hv02.corp.contoso.com"]["supported_versions"]
    findings = evaluate(Snapshot.from_document(doc), [per_vm])
    vm = next(f for f in findings if f.subject.vm == "a")
    assert vm.status is Status.PASS and vm.message == "a optional=no"


def test_facts_used_record_provenance() -> None:
    f = evaluate(snap(), [pair])[0]
    paths = [u["path"] for u in f.facts_used]
    assert paths == ["hosts/hv01.corp.contoso.com/vmhost", "hosts/hv02.corp.contoso.com/vmhost"]
    assert f.facts_used[0]["source"]["collector"] == "example"


@check(id="test-provenance", subject=SubjectKind.PAIR, requires=("source.clock", "destination.supported_versions"),
       **META)  # type: ignore[arg-type]
def provenance(f: Facts) -> Outcome:
    prov = f.provenance("source.clock")
    assert prov is not None
    everywhere = f.across_inventory("destination.supported_versions")
    return Outcome(Status.PASS, f"{prov['source']['collector']}@{prov['collected_at']} hosts={len(everywhere)}")


def test_provenance_and_across_inventory() -> None:
    findings = evaluate(snap(), [provenance])
    assert {f.message for f in findings} == {"example@2026-11-20T09:00:00Z hosts=2"}


def test_provenance_of_undeclared_fact_is_a_bug() -> None:
    @check(id="test-prov-undeclared", subject=SubjectKind.HOST, requires=("host.vmhost",), **META)  # type: ignore[arg-type]
    def bad(f: Facts) -> Outcome:
        f.provenance("host.clock")
        return Outcome(Status.PASS, "x")

    assert {f.status for f in evaluate(snap(), [bad])} == {Status.ERROR}
