"""changes-not-effective: how long a delegation change can take to reach a move.

A change reaches a move once it has replicated to the domain controller the source uses and the
source holds tickets issued after it. Three windows follow from the age of the change (whenChanged
of either computer object against the time it was read):

- within 15 minutes: likely. Replication inside a site and the KDC's negative cache of a refused
  request (15 minutes) both fall in it (facts document 3.1).
- within the ticket lifetime: possible. A ticket the source obtained before the change stays valid
  until it expires, until `klist purge -li 0x3e7` purges the computer's tickets, or until the host
  restarts. The domain's Kerberos policy is not collected, so its defaults are assumed: "Maximum
  lifetime for service ticket" 600 minutes and "Maximum lifetime for user ticket" 10 hours.
- beyond it: ruled out, saying what was assumed (the default lifetimes, working replication).

whenChanged moves with any change of the object, so even the first window is a hint, never proof.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hvlm.audit.diagnose import handwork as hw
from hvlm.audit.diagnose.judging import Context, FactNote, Judgement, Step, Verdict
from hvlm.audit.snapshot import FactError

__all__ = ["POLICY_DOCS", "RECENT", "TICKET_LIFETIME", "recent_change"]

RECENT = dt.timedelta(minutes=15)  # intra-site replication, the KDC's negative cache (facts doc 3.1)
TICKET_LIFETIME = dt.timedelta(minutes=600)  # default "Maximum lifetime for service ticket" (10 h user ticket)
_ASSUMED = ("the domain's Kerberos policy keeps Microsoft's defaults (\"Maximum lifetime for service ticket\" "
            "600 minutes, \"Maximum lifetime for user ticket\" 10 hours)")
POLICY_DOCS = (
    # MS-GPSB 2.2.2 Kerberos Policy: MaxServiceAge default 600 minutes, MaxTicketAge default 10 hours
    "https://learn.microsoft.com/openspecs/windows_protocols/ms-gpsb/0fce5b92-bcc1-4b96-9c2b-56397c3f144f",
    # Security policy reference: "Maximum lifetime for service ticket" (Default Domain Policy: 600 minutes)
    "https://learn.microsoft.com/previous-versions/windows/it-pro/windows-server-2012-r2-and-2012/jj852188(v=ws.11)",
    # "Maximum lifetime for user ticket" (Default Domain Policy: 10 hours)
    "https://learn.microsoft.com/previous-versions/windows/it-pro/windows-server-2012-r2-and-2012/jj852169(v=ws.11)",
)


def _when(text: Any) -> dt.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _both_credssp(ctx: Context) -> bool:
    auths = []
    for role in ("source", "destination"):
        _, fact = ctx.fact(f"{role}.vmhost")
        auths.append(None if isinstance(fact, FactError) else fact["value"].get("VirtualMachineMigrationAuthenticationType"))
    return auths == ["CredSSP", "CredSSP"]


def _steps(ctx: Context) -> tuple[Step, ...]:
    src = ctx.source.short
    return (Step(f"Purge {src}'s computer tickets (or restart {src}) and retry: waiting works only once the old "
                 "ticket has expired, up to 10 hours by default.", hw.purge_tickets(ctx.source)),
            Step("Check that the change has replicated to the domain controller the source uses (on a DC).",
                 "repadmin /showrepl"))


def recent_change(ctx: Context) -> Judgement:
    if _both_credssp(ctx):
        return Judgement(Verdict.RULED_OUT, f"{ctx.source.short} and {ctx.destination.short} both use CredSSP: no "
                         "delegation or ticket in Active Directory takes part in the move.")
    notes: list[FactNote] = []
    ages: list[dt.timedelta] = []
    unknown: list[str] = []
    for role, ref in (("source", ctx.source), ("destination", ctx.destination)):
        path, fact = ctx.fact(f"{role}.ad_computer")
        if isinstance(fact, FactError):
            unknown.append(f"{ref.short}'s computer object was not available ({fact.message})")
            continue
        changed, read = _when(fact["value"].get("whenChanged")), _when(fact.get("collected_at"))
        if changed is None or read is None:
            unknown.append(f"{ref.short}'s whenChanged was not collected")
            continue
        ages.append(read - changed)
        note = f"{ref.short}'s computer object changed {(read - changed).total_seconds() / 60:.0f} minutes before it was read"
        notes.append(FactNote(f"{path} ({ref.short}) whenChanged", fact["value"].get("whenChanged"),
                              fact.get("collected_at"), note))
    said = "; ".join(n.note for n in notes)
    youngest = min(ages, default=None)
    if youngest is not None and youngest <= RECENT:
        return Judgement(Verdict.LIKELY, said + ". A delegation change takes effect only once it has replicated to "
                         "the DC the source uses and the source gets a new ticket (the KDC also caches a refusal for 15 "
                         "minutes). whenChanged moves with any change of the object, so this is a strong hint, not "
                         "proof.", facts=tuple(notes), steps=_steps(ctx))
    if youngest is not None and youngest <= TICKET_LIFETIME:
        return Judgement(Verdict.POSSIBLE, said + f". A ticket {ctx.source.short} obtained before the change stays "
                         "valid for its lifetime, 10 hours by default, until its tickets are purged (klist purge -li "
                         f"0x3e7) or it restarts; the change may also not have replicated yet to the DC "
                         f"{ctx.source.short} uses. whenChanged moves with any change of the object, so this is only a "
                         "hint.", facts=tuple(notes), steps=_steps(ctx))
    if unknown:
        return Judgement(Verdict.POSSIBLE, "Cannot tell when the computer objects last changed: "
                         + "; ".join(unknown) + ".", facts=tuple(notes), steps=_steps(ctx))
    return Judgement(Verdict.RULED_OUT, said + f": longer ago than a ticket obtained before the change lasts, assuming "
                     f"{_ASSUMED}. With a longer lifetime in the Default Domain Policy, or if replication to the DC the "
                     "source uses is broken, it still applies.", facts=tuple(notes))
