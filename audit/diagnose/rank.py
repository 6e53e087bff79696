"""Rank a code's causes for one move, or fall back to the move's full audit for a code hvlm does not know.

Order: confirmed, then likely, then possible (those that could not be checked before those no
configuration can show), then ruled out; inside a verdict, the catalogue's order of likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass

from hvlm.audit.diagnose.catalogue import CodeEntry
from hvlm.audit.diagnose.causes import CAUSES, Cause
from hvlm.audit.diagnose.judging import PROBLEM, RANK, Context, Judgement, Verdict
from hvlm.audit.model import SEVERITY_ORDER, Finding, Severity, Status, SubjectKind

__all__ = ["EXIT_CODES", "Ranked", "fallback", "rank_causes", "result_of", "unexplained"]

# The README's exit codes, read for a diagnosis
EXIT_NO_CAUSE, EXIT_CAUSE, EXIT_INCOMPLETE, EXIT_CAUSE_AND_INCOMPLETE = 0, 1, 3, 4
EXIT_CODES = {
    EXIT_NO_CAUSE: "no cause found in the configuration",
    EXIT_CAUSE: "a cause was found (confirmed, or likely pending your answer)",
    2: "usage or input error: nothing was diagnosed",
    EXIT_INCOMPLETE: "no cause found, but some causes could not be checked (incomplete)",
    EXIT_CAUSE_AND_INCOMPLETE: "a cause was found, and some causes could not be checked (incomplete)",
}
FALLBACK_SEVERITY = Severity.MEDIUM  # an unknown code lists the audit's problems from this severity up


@dataclass(frozen=True)
class Ranked:
    id: str
    title: str
    why: str
    judgement: Judgement
    checks: tuple[str, ...]
    docs: tuple[str, ...]


def _judge(cause: Cause, ctx: Context, entry: CodeEntry) -> Ranked:
    names = {"src": ctx.source.short, "dst": ctx.destination.short}
    why = entry.why.get(cause.id, cause.why)
    return Ranked(cause.id, cause.title.format(**names), why.format(**names), cause.judge(ctx), cause.checks,
                  cause.docs)


def rank_causes(ctx: Context, entry: CodeEntry) -> list[Ranked]:
    judged = [(i, _judge(CAUSES[cid], ctx, entry)) for i, cid in enumerate(entry.causes)]
    judged.sort(key=lambda item: (RANK[item[1].judgement.verdict], not item[1].judgement.unchecked, item[0]))
    return [r for _, r in judged]


def fallback(ctx: Context, code: str | None) -> list[Ranked]:
    """An unknown code: every problem of the move's full audit, worst first, as a candidate."""
    what = (f"hvlm does not know whether it produces {code}" if code else
            "with no error code recognised, hvlm cannot tell whether it caused this failure")
    out = []
    problems = [f for f in ctx.findings
                if (f.status in PROBLEM and SEVERITY_ORDER[f.severity] >= SEVERITY_ORDER[FALLBACK_SEVERITY])
                or f.status is Status.ERROR]
    problems.sort(key=lambda f: (f.status is Status.ERROR, f.status is not Status.FAIL, -SEVERITY_ORDER[f.severity]))
    for f in problems:
        if f.status is Status.ERROR:  # the check's title says what could not be checked
            title, reason = f"Not checked: {f.title} ({f.subject.label})", "Could not be checked: " + f.message
            j = Judgement(Verdict.POSSIBLE, reason, (f,), unchecked=True)
        else:  # the message says what is wrong; the check's title would name the healthy state
            outcome = "fails" if f.status is Status.FAIL else "warns"
            reason = f"The check \"{f.title}\" {outcome} for {f.subject.label}."
            j = Judgement(Verdict.CONFIRMED if f.status is Status.FAIL else Verdict.LIKELY, reason, (f,),
                          fixes=(f.fix,) if f.fix else ())
            title = f.message
        out.append(Ranked(f"finding:{f.check_id}", title,
                          f"The full audit of {ctx.source.short} -> {ctx.destination.short} found this; {what}.",
                          j, (f.check_id,), ()))
    return out


def result_of(ranked: list[Ranked]) -> tuple[int, bool]:
    """The exit code and whether the diagnosis is incomplete."""
    found = any(r.judgement.verdict in (Verdict.CONFIRMED, Verdict.LIKELY) for r in ranked)
    incomplete = any(r.judgement.unchecked for r in ranked)
    if found and incomplete:
        return EXIT_CAUSE_AND_INCOMPLETE, True
    if found:
        return EXIT_CAUSE, False
    return (EXIT_INCOMPLETE, True) if incomplete else (EXIT_NO_CAUSE, False)


def unexplained(ranked: list[Ranked], findings: list[Finding]) -> list[Finding]:
    """Problems of this move that none of the code's causes reads: worth knowing, not this error's cause.

    `findings` are already those of this direction (scope.ROLES). A pair or VM finding of a check a
    cause reads is that cause's business; a host finding only when a cause judged that very finding
    (dest-vmms reads the destination's vmms: the source's stopped vmms is still listed here).
    """
    judged = {id(f) for r in ranked for f in r.judgement.findings}
    used = {c for r in ranked for c in r.checks}
    return [f for f in findings if f.status in PROBLEM and id(f) not in judged
            and not (f.check_id in used and f.subject.kind in (SubjectKind.PAIR, SubjectKind.VM))]
