"""The engine: runs every selected check over every subject of a snapshot.

Subjects are the hosts, the operator on each host, the domains and, for pair and VM checks, the
evaluated directions: every planned move, and the return direction of a planned move that is not
planned itself. A planned move gets every pair and VM check (the VMs on its source included); a
return direction gets only the rollback checks (`rollback=True`: what moving back needs), and no
VM check: nobody planned to move the destination's own VMs.

No silent outcomes: a missing or errored fact makes the check report `error` with the reason; an
exception becomes `error` with its traceback in the evidence; a check that yields nothing, or a
failure or warning without a fix, is a check bug reported as an error.

Fleets: 2,000 hosts in groups of 20 are 38,000 moves and 760,000 VM subjects. A check that gives
a class `key` (and `vm_key`, for VM checks) is decided once per distinct class: the first subject
of a class is judged in full; if every outcome is a pass (or not applicable) every later subject
of that class is counted without calling the check again; otherwise each later subject is judged
in full, so its message, evidence and fix are its own. Cost grows with moves and distinct
configurations, and full judgements with problems. `verify_classes` proves, subject by subject,
that the classes give the verdicts a full judgement gives (the test suite runs it on every
evaluation when HVLM_VERIFY_CLASSES is set).
"""

from __future__ import annotations

import os
import traceback
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hvlm.audit.facts import FactResolver, Facts, RoleFacts, UndeclaredFactError
from hvlm.audit.model import Finding, Outcome, Status, Subject, SubjectKind
from hvlm.audit.registry import Check
from hvlm.audit.snapshot import FactError, Snapshot

__all__ = [
    "Direction",
    "Evaluation",
    "directions",
    "evaluate",
    "evaluated_pairs",
    "judged_domains",
    "run_checks",
    "subjects_for",
    "verify_classes",
]

_PASSING = (Status.PASS, Status.NOT_APPLICABLE)
_Resolved = tuple[str, dict[str, Any] | FactError]


@dataclass(frozen=True, slots=True)
class Direction:
    """One evaluated direction: a planned move, or the return of one that is not planned itself."""

    source: str
    destination: str
    planned: bool


def directions(snapshot: Snapshot) -> list[Direction]:
    planned = list(dict.fromkeys(snapshot.pairs))
    known = set(planned)
    out = [Direction(s, d, True) for s, d in planned]
    for s, d in planned:
        if (d, s) not in known:
            known.add((d, s))
            out.append(Direction(d, s, False))
    return out


def evaluated_pairs(snapshot: Snapshot) -> list[tuple[str, str]]:
    """Every evaluated direction, planned moves first, then return directions."""
    return [(d.source, d.destination) for d in directions(snapshot)]


def _domains(snapshot: Snapshot) -> list[str]:
    names = set(snapshot.doc["domains"])
    for host in snapshot.hosts:
        dom = snapshot.host_domain(host)
        if dom:
            names.add(dom)
    return sorted(names)


def judged_domains(snapshot: Snapshot) -> list[str]:
    """The domains the domain checks judge: the snapshot's and each host's."""
    return _domains(snapshot)


def subjects_for(check: Check | SubjectKind, snapshot: Snapshot) -> list[Subject]:
    """The subjects one check judges (VM checks: one pair subject per planned move)."""
    kind = check if isinstance(check, SubjectKind) else check.meta.subject
    if kind is SubjectKind.HOST:
        return [Subject(SubjectKind.HOST, host=h) for h in snapshot.hosts]
    if kind is SubjectKind.OPERATOR:
        op = snapshot.operator_name or "(operator)"
        return [Subject(SubjectKind.OPERATOR, host=h, operator=op) for h in snapshot.hosts]
    if kind is SubjectKind.DOMAIN:
        return [Subject(SubjectKind.DOMAIN, domain=d) for d in _domains(snapshot)]
    rollback = isinstance(check, Check) and check.meta.rollback
    return [
        Subject(kind, source=d.source, destination=d.destination)
        for d in directions(snapshot)
        if d.planned or (rollback and kind is SubjectKind.PAIR)
    ]


@dataclass
class Evaluation:
    """What a run of the checks concluded.

    `findings` holds every problem (fail, warning, error) per subject, and every pass too when
    asked for (`keep_passed`); `counts` counts every subject's statuses per check; `passed` lists
    the subjects of passes and not-applicables per check when asked for (`list_passed`).
    """

    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    passed: dict[tuple[str, str], list[Subject]] = field(default_factory=dict)
    directions: list[Direction] = field(default_factory=list)
    classes: dict[str, int] = field(default_factory=dict)  # check id -> classes decided in full


def evaluate(snapshot: Snapshot, checks: Iterable[Check]) -> list[Finding]:
    """Every subject's findings, passes included, each judged in full (tests, diagnose)."""
    chosen = list(checks)
    findings = run_checks(snapshot, chosen, keep_passed=True).findings
    if os.environ.get("HVLM_VERIFY_CLASSES"):
        problems = verify_classes(snapshot, chosen, findings)
        if problems:
            raise AssertionError("class keys disagree with full judgement:\n" + "\n".join(problems[:20]))
    return findings


def run_checks(
    snapshot: Snapshot, checks: Iterable[Check], *, keep_passed: bool = False, list_passed: bool = False
) -> Evaluation:
    run = _Run(snapshot, keep_passed, list_passed)
    for chk in checks:
        run.check(chk)
    return run.out


def verify_classes(snapshot: Snapshot, checks: Iterable[Check], full: list[Finding] | None = None) -> list[str]:
    """Where judging by classes gives another status than judging every subject in full."""
    chosen = list(checks)
    if full is None:
        full = run_checks(snapshot, chosen, keep_passed=True).findings
    classed = run_checks(snapshot, chosen, list_passed=True)
    want: Counter[tuple[str, Subject, str]] = Counter((f.check_id, f.subject, f.status.value) for f in full)
    got: Counter[tuple[str, Subject, str]] = Counter((f.check_id, f.subject, f.status.value) for f in classed.findings)
    for (check_id, status), subjects in classed.passed.items():
        got.update((check_id, s, status) for s in subjects)
    return [
        f"{c} {s.label}: full {want[(c, s, st)]} x {st}, by class {got[(c, s, st)]} x {st}"
        for (c, s, st) in sorted(set(want) | set(got), key=lambda k: (k[0], k[1].label, k[2]))
        if want[(c, s, st)] != got[(c, s, st)]
    ]


# --- one run ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Side:
    """One end of a pair as one check sees it: resolutions of its declared facts, and the key view."""

    resolved: dict[str, _Resolved]  # full fact name -> (path, fact or error)
    blocking: bool
    facts: RoleFacts


_NOT_PASSING: tuple[Status, ...] = ()  # memo value: judge every subject of the class in full
_BLOCKED = object()  # a host's key part when a required fact is missing: its directions are judged in full


class _Run:
    def __init__(self, snapshot: Snapshot, keep_passed: bool, list_passed: bool) -> None:
        self.snapshot = snapshot
        self.resolver = FactResolver(snapshot)
        self.keep_passed = keep_passed
        self.list_passed = list_passed
        self.out = Evaluation(directions=directions(snapshot))

    # -- recording ----------------------------------------------------------------------------

    def record(self, finding: Finding) -> None:
        self.out.counts.setdefault(finding.check_id, Counter())[finding.status.value] += 1
        if self.keep_passed or finding.status not in _PASSING:
            self.out.findings.append(finding)
        elif self.list_passed:
            self.out.passed.setdefault((finding.check_id, finding.status.value), []).append(finding.subject)

    def tally(self, chk: Check, statuses: tuple[Status, ...], subjects: Iterable[Subject] | int) -> None:
        counts = self.out.counts[chk.meta.id]  # made by check()
        if isinstance(subjects, int):
            for st in statuses:
                counts[st.value] += subjects
            return
        listed = list(subjects)
        for st in statuses:
            counts[st.value] += len(listed)
            if self.list_passed:
                self.out.passed.setdefault((chk.meta.id, st.value), []).extend(listed)

    # -- per check ------------------------------------------------------------------------------

    def check(self, chk: Check) -> None:
        kind = chk.meta.subject
        self.out.counts.setdefault(chk.meta.id, Counter())
        if kind not in (SubjectKind.PAIR, SubjectKind.VM):
            for subject in subjects_for(chk, self.snapshot):
                for finding in _run_subject(chk, subject, self.resolver):
                    self.record(finding)
            return
        _Checker(self, chk).run()


class _Checker:
    """Judges one pair or VM check over every direction it applies to, class by class."""

    def __init__(self, run: _Run, chk: Check) -> None:
        self.run_ = run
        self.chk = chk
        self.names = chk.meta.required + chk.meta.optional
        self.sides: dict[tuple[str, str], _Side] = {}
        self.memo: dict[Hashable, tuple[Status, ...]] = {}
        self.vm_classes: dict[str, list[tuple[Hashable, list[dict[str, Any]]]]] = {}
        self.classed = not run.keep_passed and (
            (chk.key is not None or chk.parts is not None) if chk.meta.subject is SubjectKind.PAIR
            else chk.vm_key is not None
        )
        required = set(chk.meta.required)
        # each role's declared facts, split once: (full name, fact name, required)
        self.role_names: dict[str, list[tuple[str, str, bool]]] = {"source": [], "destination": []}
        for name in self.names:
            r, _, fact_name = name.partition(".")
            if r in self.role_names:
                self.role_names[r].append((name, fact_name, name in required))
        # facts at the snapshot's top ("operator", "management"): one value for every direction
        self.common: dict[str, _Resolved] = {
            name: run.resolver.resolve(Subject(SubjectKind.PAIR), name) for name in self.names if "." not in name
        }

    def side(self, role: str, host: str) -> _Side:
        hit = self.sides.get((role, host))
        if hit is not None:
            return hit
        resolver = self.run_.resolver
        resolved: dict[str, _Resolved] = {}
        bare: dict[str, Any] = {}
        facts: dict[str, Any] = {}
        blocking = False
        for name, fact_name, required in self.role_names[role]:
            path, fact = resolver.resolve_host(host, fact_name)
            resolved[name] = (path, fact)
            if isinstance(fact, FactError):
                bare[fact_name] = None
                blocking = blocking or required
            else:
                bare[fact_name] = fact["value"]
                facts[fact_name] = fact
        for top, (_path, fact) in self.common.items():
            bare[top] = None if isinstance(fact, FactError) else fact["value"]
        made = self.sides[(role, host)] = _Side(resolved, blocking, RoleFacts(bare, resolver.host_ref(host), facts))
        return made

    def gather(self, src: _Side, dst: _Side) -> _Gathered:
        values: dict[str, Any] = {}
        unavailable: dict[str, FactError] = {}
        blocking: list[FactError] = []
        used: list[dict[str, Any]] = []
        for name in self.names:
            if name in self.common:
                path, fact = self.common[name]
            else:
                path, fact = (src if name.startswith("source.") else dst).resolved[name]
            _take(name, path, fact, name in self.chk.meta.required, values, unavailable, blocking, used)
        return values, unavailable, blocking, tuple(used)

    def run(self) -> None:
        vm_check = self.chk.meta.subject is SubjectKind.VM
        kind = self.chk.meta.subject
        returns = not vm_check and self.chk.meta.rollback
        op_blocked = any(isinstance(fact, FactError) and name in self.chk.meta.required
                         for name, (_path, fact) in self.common.items())
        side = self.side
        if self.classed and not op_blocked and not self.run_.list_passed:
            if vm_check:
                self.counted_vms()
            else:
                self.counted_pairs(returns)
            return
        for d in self.run_.out.directions:
            if not d.planned and not returns:
                continue
            src, dst = side("source", d.source), side("destination", d.destination)
            if op_blocked or src.blocking or dst.blocking or not self.classed:
                self.full(Subject(kind, source=d.source, destination=d.destination), src, dst)
            elif vm_check:
                self.vms(Subject(kind, source=d.source, destination=d.destination), src, dst)
            else:
                self.pair(d, src, dst)

    def part_maps(self, dirs: list[Direction]) -> tuple[dict[str, Hashable], dict[str, Hashable]]:
        """Each host's source and destination part of a separable key; _BLOCKED where a required fact is
        missing or the part function fails (those directions are judged in full)."""
        assert self.chk.parts is not None
        out: list[dict[str, Hashable]] = []
        for role, fn, hosts in (("source", self.chk.parts[0], {d.source for d in dirs}),
                                ("destination", self.chk.parts[1], {d.destination for d in dirs})):
            made: dict[str, Hashable] = {}
            for host in hosts:
                s = self.side(role, host)
                try:
                    made[host] = _BLOCKED if s.blocking else fn(s.facts)
                except Exception:  # judged in full, where the same fault becomes an error finding
                    made[host] = _BLOCKED
            out.append(made)
        return out[0], out[1]

    def counted_parts(self, returns: bool) -> None:
        """Classes of a separable key: directions counted by (source part, destination part) with
        dictionary lookups alone; one full judgement per class; every subject of a class that does
        not pass, and of a direction with a missing fact, judged in full."""
        dirs = [d for d in self.run_.out.directions if d.planned or returns]
        src_part, dst_part = self.part_maps(dirs)
        counts: dict[tuple[Hashable, Hashable], int] = {}
        first: dict[tuple[Hashable, Hashable], int] = {}
        for i, d in enumerate(dirs):
            k = (src_part[d.source], dst_part[d.destination])
            n = counts.get(k)
            if n is None:
                counts[k] = 1
                first[k] = i
            else:
                counts[k] = n + 1
        kind, memo, side = self.chk.meta.subject, self.memo, self.side
        in_full: set[tuple[Hashable, Hashable]] = set()
        for k, n in counts.items():
            if _BLOCKED in k:
                in_full.add(k)
                continue
            hit = memo.get(k)
            if hit is None:
                d = dirs[first[k]]
                subject = Subject(kind, source=d.source, destination=d.destination)
                hit = memo[k] = _passing(self.full(subject, side("source", d.source),
                                                   side("destination", d.destination)), subject)
                self.run_.out.classes[self.chk.meta.id] = self.run_.out.classes.get(self.chk.meta.id, 0) + 1
                n -= 1
                if not hit:
                    in_full.add(k)
                    first[k] = -1 - first[k]  # judged already
                    continue
            if hit:
                if n:
                    self.run_.tally(self.chk, hit, n)
            else:
                in_full.add(k)
        if not in_full:
            return
        for i, d in enumerate(dirs):
            k = (src_part[d.source], dst_part[d.destination])
            if k in in_full and first.get(k) != -1 - i:
                self.full(Subject(kind, source=d.source, destination=d.destination),
                          side("source", d.source), side("destination", d.destination))

    def ends_of(self) -> Callable[[Direction], tuple[_Side, _Side]]:
        """Both ends of a direction, looked up in two plain dictionaries (the hot loop's cost)."""
        sources: dict[str, _Side] = {}
        destinations: dict[str, _Side] = {}

        def ends(d: Direction) -> tuple[_Side, _Side]:
            src = sources.get(d.source)
            if src is None:
                src = sources[d.source] = self.side("source", d.source)
            dst = destinations.get(d.destination)
            if dst is None:
                dst = destinations[d.destination] = self.side("destination", d.destination)
            return src, dst

        return ends

    def counted_pairs(self, returns: bool) -> None:
        """`pair` for every direction when passes are only counted: the loop a 38,000-move fleet runs
        per check, so it keeps to a key call and a dictionary lookup per direction."""
        if self.chk.parts is not None:
            self.counted_parts(returns)
            return
        key, memo, kind = self.chk.key, self.memo, self.chk.meta.subject
        assert key is not None
        ends = self.ends_of()
        tallies: Counter[tuple[Status, ...]] = Counter()
        for d in self.run_.out.directions:
            if not d.planned and not returns:
                continue
            src, dst = ends(d)
            if src.blocking or dst.blocking:
                self.full(Subject(kind, source=d.source, destination=d.destination), src, dst)
                continue
            try:
                k: Hashable | None = key(src.facts, dst.facts)
            except Exception:  # a broken key: judge in full, where the same fault becomes an error finding
                k = None
            hit = memo.get(k) if k is not None else None
            if hit:
                tallies[hit] += 1
                continue
            subject = Subject(kind, source=d.source, destination=d.destination)
            found = self.full(subject, src, dst)
            if hit is None and k is not None:
                memo[k] = _passing(found, subject)
                self.run_.out.classes[self.chk.meta.id] = self.run_.out.classes.get(self.chk.meta.id, 0) + 1
        for statuses, n in tallies.items():
            self.run_.tally(self.chk, statuses, n)

    def counted_vms(self) -> None:
        """`vms` for every planned move when passes are only counted: a move whose every VM class is
        already decided as passing costs a key call and a lookup per class; the rest take `vms`."""
        key, memo, kind = self.chk.key, self.memo, self.chk.meta.subject
        ends = self.ends_of()
        tallies: Counter[tuple[Status, ...]] = Counter()
        parts = self.chk.parts
        if parts is not None:
            src_part, dst_part = self.part_maps([d for d in self.run_.out.directions if d.planned])
        for d in self.run_.out.directions:
            if not d.planned:
                continue
            src, dst = ends(d)
            vms = None if src.blocking or dst.blocking else src.facts["vms"]
            pk: Hashable | None = None
            classes = None
            if vms:
                if parts is not None:
                    a, b = src_part[d.source], dst_part[d.destination]
                    pk = None if a is _BLOCKED or b is _BLOCKED else (a, b)
                else:
                    pk = (d.source, d.destination) if key is None else self.key(src, dst)
                classes = self.classes_of(d.source, vms, src.facts)
            decided: list[tuple[tuple[Status, ...], int]] = []
            if pk is not None and classes is not None:
                for vkey, members in classes:
                    hit = memo.get((pk, vkey))
                    if not hit:
                        break
                    decided.append((hit, len(members)))
                else:
                    for hit, n in decided:
                        tallies[hit] += n
                    continue
            pair = Subject(kind, source=d.source, destination=d.destination)
            if vms and not (src.blocking or dst.blocking):
                self.vms(pair, src, dst)
            else:
                self.full(pair, src, dst)
        for statuses, n in tallies.items():
            self.run_.tally(self.chk, statuses, n)

    def full(self, subject: Subject, src: _Side, dst: _Side) -> list[Finding]:
        found = list(_judge(self.chk, subject, self.gather(src, dst), self.run_.resolver))
        for f in found:
            self.run_.record(f)
        return found

    def key(self, src: _Side, dst: _Side) -> Hashable | None:
        try:
            if self.chk.parts is not None:
                return self.chk.parts[0](src.facts), self.chk.parts[1](dst.facts)
            assert self.chk.key is not None
            return self.chk.key(src.facts, dst.facts)
        except Exception:  # a broken key: judge in full, where the same fault becomes an error finding
            return None

    def pair(self, d: Direction, src: _Side, dst: _Side) -> None:
        k = self.key(src, dst)
        hit = self.memo.get(k) if k is not None else None
        if hit and not self.run_.list_passed:
            self.run_.tally(self.chk, hit, 1)
            return
        subject = Subject(self.chk.meta.subject, source=d.source, destination=d.destination)
        if hit:
            self.run_.tally(self.chk, hit, [subject])
            return
        found = self.full(subject, src, dst)
        if hit is None and k is not None:
            self.memo[k] = _passing(found, subject)
            self.run_.out.classes[self.chk.meta.id] = self.run_.out.classes.get(self.chk.meta.id, 0) + 1

    def vms(self, pair: Subject, src: _Side, dst: _Side) -> None:
        vms = src.facts["vms"]
        if not vms:  # the full path says "has no virtual machines"
            self.full(pair, src, dst)
            return
        named = self.chk.key is None and self.chk.parts is None
        pk: Hashable | None = (pair.source, pair.destination) if named else self.key(src, dst)
        classes = self.classes_of(pair.source or "", vms, src.facts)
        if pk is None or classes is None:
            self.full(pair, src, dst)
            return
        gathered: _Gathered | None = None
        free = self.chk.vm_pair_free
        for vkey, members in classes:
            memo_key = (("source", pair.source), vkey) if free is not None and free(vkey) else (pk, vkey)
            hit = self.memo.get(memo_key)
            if hit:
                subjects = [_vm_subject(pair, vm) for vm in members] if self.run_.list_passed else len(members)
                self.run_.tally(self.chk, hit, subjects)
                continue
            if gathered is None:
                gathered = self.gather(src, dst)
            rest = members
            if hit is None:
                first = _vm_subject(pair, members[0])
                found = self.vm_full(first, members[0], gathered)
                verdict = _passing(found, first)
                self.memo[memo_key] = verdict
                self.run_.out.classes[self.chk.meta.id] = self.run_.out.classes.get(self.chk.meta.id, 0) + 1
                rest = members[1:]
                if verdict:
                    subjects = [_vm_subject(pair, vm) for vm in rest] if self.run_.list_passed else len(rest)
                    self.run_.tally(self.chk, verdict, subjects)
                    continue
            for vm in rest:
                self.vm_full(_vm_subject(pair, vm), vm, gathered)

    def vm_full(self, subject: Subject, vm: dict[str, Any], gathered: _Gathered) -> list[Finding]:
        values, unavailable, _, used = gathered
        facts = Facts(subject, values, unavailable, self.run_.resolver, vm=vm)
        found = list(_call(self.chk, subject, facts, used))
        for f in found:
            self.run_.record(f)
        return found

    def classes_of(self, source: str, vms: list[dict[str, Any]],
                   src: RoleFacts) -> list[tuple[Hashable, list[dict[str, Any]]]] | None:
        """The source's VMs grouped by the check's vm_key, once per source; None if a key breaks."""
        if source in self.vm_classes:
            return self.vm_classes[source]
        assert self.chk.vm_key is not None
        groups: dict[Hashable, list[dict[str, Any]]] = {}
        try:
            for vm in vms:
                groups.setdefault(self.chk.vm_key(vm, src), []).append(vm)
        except Exception:
            return None
        made = self.vm_classes[source] = list(groups.items())
        return made


def _vm_subject(pair: Subject, vm: dict[str, Any]) -> Subject:
    return Subject(SubjectKind.VM, source=pair.source, destination=pair.destination,
                   vm=str(vm["Name"]), vm_id=str(vm.get("Id") or "") or None)


def _passing(found: list[Finding], subject: Subject) -> tuple[Status, ...]:
    """The statuses a class stands for when every outcome passed for this very subject."""
    if found and all(f.status in _PASSING and f.subject == subject for f in found):
        return tuple(f.status for f in found)
    return _NOT_PASSING


# --- judging one subject in full ----------------------------------------------------------------

_Gathered = tuple[dict[str, Any], dict[str, FactError], list[FactError], tuple[dict[str, Any], ...]]


def _take(name: str, path: str, fact: dict[str, Any] | FactError, required: bool, values: dict[str, Any],
          unavailable: dict[str, FactError], blocking: list[FactError], used: list[dict[str, Any]]) -> None:
    if isinstance(fact, FactError):
        unavailable[name] = fact
        if required:
            blocking.append(fact)
        return
    values[name] = fact["value"]
    used.append({"name": name, "path": path, "source": fact["source"], "collected_at": fact["collected_at"]})


def _gather(chk: Check, subject: Subject, resolver: FactResolver) -> _Gathered:
    values: dict[str, Any] = {}
    unavailable: dict[str, FactError] = {}
    blocking: list[FactError] = []
    used: list[dict[str, Any]] = []
    for name in chk.meta.required + chk.meta.optional:
        path, fact = resolver.resolve(subject, name)
        _take(name, path, fact, name in chk.meta.required, values, unavailable, blocking, used)
    return values, unavailable, blocking, tuple(used)


def _error(chk: Check, subject: Subject, message: str, evidence: dict[str, Any] | None = None,
           used: tuple[dict[str, Any], ...] = ()) -> Finding:
    return Finding(chk.meta.id, chk.meta.title, subject, Status.ERROR, chk.meta.severity, message,
                   evidence or {}, used)


def _run_subject(chk: Check, subject: Subject, resolver: FactResolver) -> Iterator[Finding]:
    yield from _judge(chk, subject, _gather(chk, subject, resolver), resolver)


def _judge(chk: Check, subject: Subject, gathered: _Gathered, resolver: FactResolver) -> Iterator[Finding]:
    values, unavailable, blocking, used = gathered
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
            vm_subject = _vm_subject(subject, vm)
            yield from _call(chk, vm_subject, Facts(vm_subject, values, unavailable, resolver, vm=vm), used)
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
        if out.status in (Status.FAIL, Status.WARNING) and out.fix is None:
            yield _error(chk, out.subject or subject,
                         f"check bug: it returned a {out.status.value} without a fix ({out.message})", {}, used)
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
