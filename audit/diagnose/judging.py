"""What a cause's predicate sees (the move's findings and facts) and what it answers (a judgement).

A cause is judged from the findings of the checks that test it: a failing finding confirms it (a
check fails only on a fact that decides the move), a warning makes it likely (a warning rests on
something hvlm could not settle: free memory when collected, a file it cannot look for on the
destination, a setting it did not read), a finding that could not be checked leaves it possible
(and the diagnosis incomplete), a passing or not-applicable finding rules it out with its message
as the evidence.
Predicates refine that where one check tests several causes (which name form is missing) or where
the operator's answer decides (--initiated-from).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hvlm.audit.facts import FactResolver, HostRef
from hvlm.audit.model import Finding, Fix, Status, Subject, SubjectKind
from hvlm.audit.snapshot import FactError, Snapshot

__all__ = ["PROBLEM", "Context", "FactNote", "Initiation", "Judgement", "Step", "Verdict", "by_findings", "strongest"]

PROBLEM = (Status.FAIL, Status.WARNING)


class Verdict(enum.StrEnum):
    """How a cause stands for this move, in ranking order."""

    CONFIRMED = "confirmed"  # a failing finding shows the fault
    LIKELY = "likely"  # the facts point at it, but cannot prove it (or an answer from you decides)
    POSSIBLE = "possible"  # could not be checked, or cannot be seen in configuration at all
    RULED_OUT = "ruled_out"  # the evidence rules it out


RANK = {Verdict.CONFIRMED: 0, Verdict.LIKELY: 1, Verdict.POSSIBLE: 2, Verdict.RULED_OUT: 3}


@dataclass(frozen=True)
class FactNote:
    """A fact used as evidence directly (not through a check)."""

    path: str
    value: Any
    collected_at: str | None
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "value": self.value, "collected_at": self.collected_at, "note": self.note}


@dataclass(frozen=True)
class Step:
    """Something to check, answer or run by hand; the command, when there is one, apart from the prose."""

    text: str
    powershell: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "powershell": self.powershell}


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str  # one or two sentences: what the evidence says
    findings: tuple[Finding, ...] = ()
    facts: tuple[FactNote, ...] = ()
    fixes: tuple[Fix, ...] = ()
    steps: tuple[Step, ...] = ()  # what to check, answer or run by hand
    unchecked: bool = False  # possible only because a check errored: the diagnosis is incomplete
    alternatives: bool = False  # the fixes are alternatives (any one of them), not all needed


@dataclass(frozen=True)
class Initiation:
    """Where the operator says the move was started: on the source, elsewhere, or not said."""

    given: str | None = None
    on_source: bool | None = None


@dataclass
class Context:
    source: HostRef
    destination: HostRef
    findings: Sequence[Finding]
    snapshot: Snapshot  # narrowed to the pair
    code: str | None = None
    initiation: Initiation = field(default_factory=Initiation)
    message: str | None = None

    def of(self, check_id: str, host: str | None = None) -> list[Finding]:
        """Findings of one check; `host` ("source"/"destination") picks host and operator subjects."""
        name = {"source": self.source.name, "destination": self.destination.name}.get(host or "")
        return [
            f for f in self.findings
            if f.check_id == check_id and (name is None or f.subject.host == name)
        ]

    def fact(self, name: str) -> tuple[str, dict[str, Any] | FactError]:
        """A fact of the pair ("source.ad_computer", "destination.domain_controllers") as the engine resolves it."""
        subject = Subject(SubjectKind.PAIR, source=self.source.name, destination=self.destination.name)
        return FactResolver(self.snapshot).resolve(subject, name)

    def names_in_message(self, host: HostRef) -> list[str]:
        """The forms of a host's name the pasted message uses ("HV02", "hv02.corp.contoso.com")."""
        if not self.message:
            return []
        text = self.message.casefold()
        out = []
        for form in (host.fqdn, host.short):
            low = form.casefold()
            start = text.find(low)
            while start != -1:
                end = start + len(low)
                before = text[start - 1] if start else " "
                after = text[end] if end < len(text) else " "
                if not (before.isalnum() or before in "-.") and not (after.isalnum() or after == "-" or
                                                                      (after == "." and text[end + 1:end + 2].isalnum())):
                    out.append(form)
                    break
                start = text.find(low, start + 1)
        return out


def _first_message(findings: Iterable[Finding]) -> str:
    return " ".join(f.message for f in findings)


def by_findings(
    found: Sequence[Finding],
    *,
    problem: Callable[[Finding], bool] = lambda f: True,
    not_run: str = "the check gave no result for this move",
) -> Judgement:
    """The plain rule: a matching failure confirms, a matching warning makes it likely; an error leaves it
    possible; else ruled out."""
    problems = [f for f in found if f.status in PROBLEM and problem(f)]
    failures = [f for f in problems if f.status is Status.FAIL]
    if problems:
        return Judgement(Verdict.CONFIRMED if failures else Verdict.LIKELY, _first_message(failures or problems),
                         tuple(failures or problems), fixes=tuple(f.fix for f in failures or problems if f.fix))
    errors = [f for f in found if f.status is Status.ERROR]
    if errors:
        return Judgement(Verdict.POSSIBLE, "Could not be checked: " + _first_message(errors), tuple(errors),
                         unchecked=True)
    if found:
        return Judgement(Verdict.RULED_OUT, _first_message(found), tuple(found))
    return Judgement(Verdict.POSSIBLE, f"Could not be checked: {not_run}.", unchecked=True)


def _unique(items: Iterable[Any]) -> tuple[Any, ...]:
    """In order, each object once (by identity: findings hold dicts, so they do not hash)."""
    seen: set[int] = set()
    out = []
    for item in items:
        if id(item) not in seen:
            seen.add(id(item))
            out.append(item)
    return tuple(out)


def strongest(judgements: Sequence[Judgement]) -> Judgement:
    """Several checks test one cause: the strongest verdict wins and carries everyone's evidence of that rank."""
    best = min(judgements, key=lambda j: RANK[j.verdict])
    same = [j for j in judgements if j.verdict is best.verdict]
    return Judgement(
        best.verdict,
        " ".join(dict.fromkeys(j.reason for j in same)),
        _unique(f for j in same for f in j.findings),
        _unique(n for j in same for n in j.facts),
        _unique(x for j in same for x in j.fixes),
        tuple(dict.fromkeys(s for j in same for s in j.steps)),  # Step hashes: frozen, strings only
        any(j.unchecked for j in same),
        all(j.alternatives for j in same),
    )
