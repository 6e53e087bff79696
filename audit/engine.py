"""The engine: runs every selected check over every subject of a snapshot.

No silent outcomes: a missing or errored fact makes the check report `error` with the reason; an
exception becomes `error` with its traceback in the evidence; a check that yields nothing is an
error too.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Iterator
from typing import Any

from audit.facts import FactResolver, Facts, UndeclaredFactError
from audit.model import Finding, Outcome, Status, Subject, SubjectKind
from audit.registry import Check
from audit.snapshot import FactError, Snapshot

__all__ = ["evaluate", "evaluated_pairs", "subjects_for"]


def evaluated_pairs(snapshot: Snapshot) -> list[tuple[str, str]]:
    """Planned migrations plus their return direction: pair checks run both ways."""
    planned = list(snapshot.pairs)
    seen = set(planned)
    pairs = list(planned)
    for src, dst in planned:
        if (dst, src) not in seen:
            seen.add((dst, src))
            pairs.append((dst, src))
    return pairs


def _domains(snapshot: Snapshot) -> list[str]:
    names = set(snapshot.doc["domains"])
    for host in snapshot.hosts:
        dom = snapshot.host_domain(host)
        if dom:
            names.add(dom)
    return sorted(names)


def subjects_for(kind: SubjectKind, snapshot: Snapshot) -> list[Subject]:
    if kind is SubjectKind.HOST:
        return [Subject(SubjectKind.HOST, host=h) for h in snapshot.hosts]
    if kind is SubjectKind.OPERATOR:
        op = snapshot.operator_name or "(operator)"
        return [Subject(SubjectKind.OPERATOR, host=h, operator=op) for h in snapshot.hosts]
    if kind is SubjectKind.DOMAIN:
        return [Subject(SubjectKind.DOMAIN, domain=d) for d in _domains(snapshot)]
    # PAIR, and VM checks are first enumerated per pair
    return [Subject(kind, source=s, destination=d) for s, d in evaluated_pairs(snapshot)]


def evaluate(snapshot: Snapshot, checks: Iterable[Check]) -> list[Finding]:
    resolver = FactResolver(snapshot)
    findings: list[Finding] = []
    for chk in checks:
        for subject in subjects_for(chk.meta.subject, snapshot):
            findings.extend(_run_subject(chk, subject, resolver))
    return findings


def _error(chk: Check, subject: Subject, message: str, evidence: dict[str, Any] | None = None,
           used: tuple[dict[str, Any], ...] = ()) -> Finding:
    return Finding(chk.meta.id, chk.meta.title, subject, Status.ERROR, chk.meta.severity, message,
                   evidence or {}, used)


def _gather(chk: Check, subject: Subject, resolver: FactResolver) -> tuple[
    dict[str, Any], dict[str, FactError], list[FactError], tuple[dict[str, Any], ...]
]:
    values: dict[str, Any] = {}
    unavailable: dict[str, FactError] = {}
    blocking: list[FactError] = []
    used: list[dict[str, Any]] = []
    for name in chk.meta.required + chk.meta.optional:
        path, fact = resolver.resolve(subject, name)
        if isinstance(fact, FactError):
            unavailable[name] = fact
            if name in chk.meta.required:
                blocking.append(fact)
            continue
        values[name] = fact["value"]
        used.append({"name": name, "path": path, "source": fact["source"], "collected_at": fact["collected_at"]})
    return values, unavailable, blocking, tuple(used)


def _run_subject(chk: Check, subject: Subject, resolver: FactResolver) -> Iterator[Finding]:
    values, unavailable, blocking, used = _gather(chk, subject, resolver)
    if blocking:
        reasons = "; ".join(f"{e.path}: {e.message}" for e in blocking)
        yield _error(chk, subject, f"could not check: {reasons}",
                     {"unavailable": [{"path": e.path, "kind": e.kind, "message": e.message} for e in blocking]},
                     used)
        return
    if chk.meta.subject is SubjectKind.VM:
        vms = values.get("source.vms")
        if vms is None:
            yield _error(chk, subject, "a VM check must declare source.vms")
            return
        if not vms:
            yield Finding(chk.meta.id, chk.meta.title, subject, Status.NOT_APPLICABLE, chk.meta.severity,
                          f"{subject.source} has no virtual machines", {}, used)
            return
        for vm in vms:
            vm_subject = Subject(SubjectKind.VM, source=subject.source, destination=subject.destination,
                                 vm=str(vm["Name"]), vm_id=str(vm.get("Id") or "") or None)
            facts = Facts(vm_subject, values, unavailable, resolver, vm=vm)
            yield from _call(chk, vm_subject, facts, used)
        return
    yield from _call(chk, subject, Facts(subject, values, unavailable, resolver), used)


def _call(chk: Check, subject: Subject, facts: Facts, used: tuple[dict[str, Any], ...]) -> Iterator[Finding]:
    try:
        result = chk(facts)
        outcomes = [result] if isinstance(result, Outcome) else list(result)
    except UndeclaredFactError as exc:
        yield _error(chk, subject, f"check bug: it read an undeclared fact ({exc})",
                     {"traceback": traceback.format_exc()}, used)
        return
    except Exception as exc:
        yield _error(chk, subject, f"check crashed: {type(exc).__name__}: {exc}",
                     {"traceback": traceback.format_exc()}, used)
        return
    if not outcomes:
        yield _error(chk, subject, "check bug: it returned no outcome for this subject", {}, used)
        return
    for out in outcomes:
        if not isinstance(out, Outcome):
            yield _error(chk, subject, f"check bug: it returned {type(out).__name__}, not an Outcome", {}, used)
            continue
        yield Finding(
            check_id=chk.meta.id,
            title=chk.meta.title,
            subject=out.subject or subject,
            status=out.status,
            severity=out.severity or chk.meta.severity,
            message=out.message,
            evidence=out.evidence,
            facts_used=used,
            fix=out.fix,
        )
