"""Rank a code's causes for one move, or fall back to the move's full audit for a code hvlm does not know.

Order: confirmed, then likely, then possible (those that could not be checked before those no
configuration can show), then ruled out; inside a verdict, the catalogue's order of likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.diagnose.catalogue import CodeEntry
from audit.diagnose.causes import CAUSES, Cause
from audit.diagnose.judging import PROBLEM, RANK, Context, Judgement, Verdict
from audit.model import SEVERITY_ORDER, Finding, Severity, Status

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
    what = f"hvlm does not know whether it produces {code}" if code else "no error code was recognised"
    out = []
    problems = [f for f in ctx.findings
                if (f.status in PROBLEM and SEVERITY_ORDER[f.severity] >= SEVERITY_ORDER[FALLBACK_SEVERITY])
                or f.status is Status.ERROR]
    problems.sort(key=lambda f: (f.status is Status.ERROR, f.status is not Status.FAIL, -SEVERITY_ORDER[f.severity]))
    for f in problems:
        verdict = Verdict.POSSIBLE if f.status is Status.ERROR else Verdict.CONFIRMED
        reason = ("Could not be checked: " + f.message) if f.status is Status.ERROR else f.message
        j = Judgement(verdict, reason, (f,), fixes=(f.fix,) if f.fix else (), unchecked=f.status is Status.ERROR)
        out.append(Ranked(f"finding:{f.check_id}", f"{f.title} ({f.subject.label})",
                          f"Found by the full audit of {ctx.source.short} -> {ctx.destination.short}; {what}.",
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

    A check a cause reads is left out on every subject: the cause judged it for the role that matters
    (the destination's firewall, the source's operator rights), and the other host's verdict on it
    concerns the return direction.
    """
    used = {c for r in ranked for c in r.checks}
    return [f for f in findings if f.status in PROBLEM and f.check_id not in used]
