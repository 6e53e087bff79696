"""The diagnosis document: what every renderer (text, JSON, HTML) takes, validated against its shipped schema."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from hvlm.audit import __version__
from hvlm.audit.diagnose.catalogue import CodeEntry
from hvlm.audit.diagnose.codes import KNOWN_CODES, KNOWN_MESSAGES, CodeMatch
from hvlm.audit.diagnose.handwork import ManualCheck
from hvlm.audit.diagnose.judging import Context, Verdict
from hvlm.audit.diagnose.rank import EXIT_CODES, Ranked
from hvlm.audit.facts import HostRef
from hvlm.audit.jsonio import validate_document
from hvlm.audit.model import Finding
from hvlm.audit.report import operator_identity
from hvlm.audit.words import count

__all__ = ["DIAGNOSIS_VERSION", "finding_id", "host_dict", "validate_diagnosis"]

DIAGNOSIS_VERSION = 1


def finding_id(f: Finding) -> str:
    """The id `hvlm audit` reports give the same finding (reports.aggregate.finding_ids), so a
    diagnosis, a report, its CSV and its fix script can be cross-referenced."""
    subject = {k: v for k, v in f.subject.to_dict().items() if k != "label"}
    blob = json.dumps([f.check_id, subject], sort_keys=True, ensure_ascii=False)
    return f"{f.check_id}:{hashlib.sha256(blob.encode('utf-8')).hexdigest()[:8]}"


def finding_dict(f: Finding) -> dict[str, Any]:
    return {
        "id": finding_id(f),
        "check_id": f.check_id,
        "title": f.title,
        "subject": f.subject.to_dict(),
        "status": f.status.value,
        "severity": f.severity.value,
        "message": f.message,
        "evidence": f.evidence,
        "facts_used": list(f.facts_used),
    }


def host_dict(ref: HostRef) -> dict[str, Any]:
    return {"name": ref.name, "fqdn": ref.fqdn, "short": ref.short, "domain": ref.domain}


def cause_dict(rank: int, r: Ranked) -> dict[str, Any]:
    j = r.judgement
    return {
        "rank": rank,
        "id": r.id,
        "title": r.title,
        "verdict": j.verdict.value,
        "why": r.why,
        "reason": j.reason,
        "evidence": {"findings": [finding_dict(f) for f in j.findings], "facts": [n.to_dict() for n in j.facts]},
        "fixes": [x.to_dict() for x in j.fixes],
        "fixes_are_alternatives": j.alternatives,
        "steps": [st.to_dict() for st in j.steps],
        "checks": list(r.checks),
        "docs": list(r.docs),
        "unchecked": j.unchecked,
    }


def code_dict(match: CodeMatch | None, entry: CodeEntry | None) -> dict[str, Any]:
    known = KNOWN_CODES.get(match.code or "") if match else None
    message = KNOWN_MESSAGES.get(match.message or "") if match else None
    recognised = None
    if match is not None:
        recognised = {"how": match.how, "text": match.text, "language": match.language}
    return {
        "code": match.code if match else None,
        "message": message.id if message else None,
        "known": entry is not None,
        "symbol": None if message else known.symbol if known else None,
        "meaning": message.meaning if message else known.meaning if known else None,
        "context": entry.context if entry else None,
        "note": (entry.note or None) if entry else None,
        "recognised": recognised,
        "others": list(match.others) if match else [],
    }


def _headline(ranked: Sequence[Ranked], entry: CodeEntry | None, match: CodeMatch | None) -> tuple[str, str]:
    top = ranked[0] if ranked else None
    if entry is None:
        what = f"Unknown error code {match.code}" if match else "No error code recognised in the message"
        found = sum(1 for r in ranked if r.judgement.verdict is Verdict.CONFIRMED)
        return "unknown_code", f"{what}: the full audit of this move found {count(found, 'problem')}"
    if top is not None and top.judgement.verdict is Verdict.CONFIRMED:
        return "cause_confirmed", f"Most likely cause: {top.title}"
    if top is not None and top.judgement.verdict is Verdict.LIKELY:
        return "cause_likely", f"Likely cause: {top.title}"
    return "no_cause_found", "No cause found in the configuration"


def build_document(
    *,
    ctx: Context,
    ranked: list[Ranked],
    entry: CodeEntry | None,
    match: CodeMatch | None,
    manual: list[ManualCheck],
    others: list[Finding],
    uncollected: list[dict[str, Any]],
    exit_code: int,
    incomplete: bool,
    run: dict[str, Any],
    given: dict[str, Any],
) -> dict[str, Any]:
    status, headline = _headline(ranked, entry, match)
    counts = {v.value: sum(1 for r in ranked if r.judgement.verdict is v) for v in Verdict}
    said = ctx.initiation
    initiated = "unknown" if said.on_source is None else ("source" if said.on_source else "elsewhere")
    return {
        "diagnosis_version": DIAGNOSIS_VERSION,
        "tool": {"name": "hvlm", "version": __version__},
        "run": {
            **run,
            "finished": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            "run_by": operator_identity(),
            "exit_code": exit_code,
            "exit_meaning": EXIT_CODES[exit_code],
        },
        "input": given,
        "move": {"source": host_dict(ctx.source), "destination": host_dict(ctx.destination),
                 "initiated": initiated, "initiated_from": said.given},
        "code": code_dict(match, entry),
        "result": {"status": status, "headline": headline, "incomplete": incomplete, "counts": counts},
        "causes": [cause_dict(i, r) for i, r in enumerate(ranked, start=1)],
        "manual_checks": [m.to_dict() for m in manual],
        "other_findings": [{**finding_dict(f), "fix": f.fix.to_dict() if f.fix else None} for f in others],
        "uncollected": uncollected,
    }


def validate_diagnosis(doc: dict[str, Any]) -> None:
    """A diagnosis that does not match its shipped schema is a bug: fail loudly, never print it."""
    validate_document(doc, "diagnosis", "<diagnosis>")
