"""The clocks of source, destination and their domain controllers are within Kerberos' 5-minute tolerance."""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from hvlm.audit.facts import Facts, HostRef, RoleFacts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Fix, Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_quote
from hvlm.audit.registry import check
from hvlm.checks._fixes import LOCAL_ADMIN, on_host

LIMIT = 300.0  # seconds: "Maximum tolerance for computer clock synchronization", 5 minutes by default
MARGIN = 60.0  # a skew within the last minute of the limit is a warning
# Collectors that stamp collected_at with the clock of the one machine running hvlm.
CENTRAL = frozenset({"psrp", "ldap", "dns", "example"})


@dataclass(frozen=True)
class Reading:
    role: str  # "source", "destination", "source DC", "destination DC"
    label: str
    clock: dt.datetime  # what the clock said
    read_at: dt.datetime  # collected_at: when hvlm read it, by hvlm's clock
    central: bool

    @property
    def offset(self) -> float:
        return (self.clock - self.read_at).total_seconds()


def _side_reading(side: RoleFacts, name: str, field: str) -> Reading | None:
    value = side[name]
    if value is None or not value.get(field):
        return None
    fact = side.provenance(name)
    if fact is None:
        return None
    central = str(fact["source"].get("collector")) in CENTRAL
    return Reading("", "", _parse(str(value[field])), _parse(str(fact["collected_at"])), central)


def _readings(side: RoleFacts) -> tuple[Reading, int | None]:
    host, dc = _side_reading(side, "clock", "UtcTime"), _side_reading(side, "domain_info", "currentTime")
    assert host is not None
    return host, None if dc is None else _compare(host, dc).rank


def _key(src: RoleFacts, dst: RoleFacts) -> Hashable:
    """The worst rank (0 pass, 1 warning, 2 fail) of the host-host and host-DC comparisons."""
    (s, s_dc), (d, d_dc) = src.derived("clock", _readings), dst.derived("clock", _readings)
    return max(r for r in (_compare(s, d).rank, s_dc, d_dc) if r is not None)


@check(
    id="pair-clock-skew",
    title="Clocks within 5 minutes (hosts and domain controllers)",
    severity=Severity.HIGH,
    subject=SubjectKind.PAIR,
    rollback=True,
    requires=("source.clock", "destination.clock", "source.domain_info?", "destination.domain_info?"),
    rationale="""Kerberos rejects tickets and authenticators from a clock more than 5 minutes off
    (the default "Maximum tolerance for computer clock synchronization"), so the source, the
    destination and their domain controllers must agree within 5 minutes. The clocks were not read
    at the same instant: hvlm reads hosts one after another, minutes apart on a large fleet. So each
    clock is compared with the collector's own clock at the moment it was read: offset = reported
    time - collected_at, and the skew between two clocks is the difference of their offsets, which
    cancels the time between the reads (what remains is the probe's round trip, seconds). That
    holds when both facts were stamped by the central collector (psrp, ldap); when either came from
    probe output run on the host or was entered by hand, collected_at may come from another clock,
    so the raw difference is used with the time between the reads as its uncertainty: pass only if
    it is below 5 minutes even with that added, fail if it is 5 minutes or more even with it
    subtracted, warning otherwise. Each host is compared with the other and with the current time of
    its own domain's DC (domain currentTime) where known; a skew within a minute of the limit is a
    warning.""",
    references=(DOCS["kerberos-clock-skew"], DOCS["ts-lm"], DOCS["setup"]),
    fix_hint="Resynchronise the host's clock with the domain hierarchy (w32tm /resync) and fix its time source.",
    key=_key,
)
def run(f: Facts) -> Outcome:
    src, dst = f.host("source"), f.host("destination")
    readings = {
        "source": _reading(f, "source.clock", "source", src.short, "UtcTime"),
        "destination": _reading(f, "destination.clock", "destination", dst.short, "UtcTime"),
    }
    for role in ("source", "destination"):
        dc = _reading(f, f"{role}.domain_info", f"{role} DC", f"DC of {f.host(role).domain}", "currentTime")
        if dc is not None:
            readings[f"{role} DC"] = dc
    s, d = readings["source"], readings["destination"]
    assert s is not None and d is not None  # required facts: the engine ran us only with both
    pairs = [(s, d)]
    for role, host in (("source", s), ("destination", d)):
        dc = readings.get(f"{role} DC")
        if dc is not None:
            pairs.append((host, dc))
    results = [_compare(a, b) for a, b in pairs]
    evidence: dict[str, Any] = {
        "readings": {k: {"clock": _iso(r.clock), "collected_at": _iso(r.read_at), "offset_s": round(r.offset, 1)}
                     for k, r in readings.items() if r is not None},
        "comparisons": [r.as_dict() for r in results],
        "limit_s": LIMIT,
    }
    worst = max(results, key=lambda r: (r.rank, r.skew))
    summary = "; ".join(r.text for r in results)
    if worst.rank == 0:
        return Outcome(Status.PASS, f"Clocks agree within 5 minutes: {summary}.", evidence=evidence)
    off = _culprit(worst, readings)
    fix = _resync_fix(src if off.role == "source" else dst, worst)
    if worst.rank == 2:
        return Outcome(Status.FAIL, f"Clocks differ by 5 minutes or more, beyond Kerberos' tolerance: {summary}. "
                       "Kerberos authentication between them fails.", fix, evidence)
    return Outcome(Status.WARNING, f"Clock skew close to or possibly over the 5-minute Kerberos limit: {summary}.", fix,
                   evidence, severity=Severity.MEDIUM)


@dataclass(frozen=True)
class Comparison:
    a: Reading
    b: Reading
    skew: float  # best estimate, seconds, absolute
    uncertainty: float
    rank: int  # 0 pass, 1 warning, 2 fail

    @property
    def text(self) -> str:
        plus = f" \u00b1{self.uncertainty:.0f}" if self.uncertainty else ""
        return f"{self.a.label} vs {self.b.label} {self.skew:.0f}{plus} s"

    def as_dict(self) -> dict[str, Any]:
        return {"between": [self.a.label, self.b.label], "skew_s": round(self.skew, 1),
                "uncertainty_s": round(self.uncertainty, 1),
                "method": "offsets against the collector's clock" if not self.uncertainty else "raw difference"}


def _compare(a: Reading, b: Reading) -> Comparison:
    if a.central and b.central:
        skew, unc = abs(a.offset - b.offset), 0.0
    else:
        skew, unc = abs((a.clock - b.clock).total_seconds()), abs((a.read_at - b.read_at).total_seconds())
    if skew - unc >= LIMIT:
        rank = 2
    elif skew + unc >= LIMIT - MARGIN:
        rank = 1
    else:
        rank = 0
    return Comparison(a, b, skew, unc, rank)


def _culprit(worst: Comparison, readings: dict[str, Reading | None]) -> Reading:
    """The host to resynchronise: the host side of a host-DC comparison, else the host further from
    the source's DC (or from the collector's clock when no DC time is known)."""
    if worst.b.role.endswith("DC"):
        return worst.a
    ref = readings.get("source DC") or readings.get("destination DC")
    base = ref.offset if ref is not None else 0.0
    return max((worst.a, worst.b), key=lambda r: abs(r.offset - base))


def _reading(f: Facts, name: str, role: str, label: str, field: str) -> Reading | None:
    value = f.optional(name)
    if value is None or not value.get(field):
        return None
    fact = _fact(f, name)
    if fact is None:
        return None
    central = str(fact["source"].get("collector")) in CENTRAL
    return Reading(role, label, _parse(str(value[field])), _parse(str(fact["collected_at"])), central)


def _fact(f: Facts, name: str) -> dict[str, Any] | None:
    """The fact's provenance (source and collected_at); only a declared name is read."""
    return f.provenance(name)


def _parse(text: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _resync_fix(host: HostRef, worst: Comparison) -> Fix:
    """Resynchronise the host whose clock is off, from the domain hierarchy (NT5DS)."""
    return on_host(
        host,
        f"Resynchronise {host.short}'s clock with the domain hierarchy and check its time source "
        f"({worst.a.label} vs {worst.b.label} differ by about {worst.skew:.0f} s); a domain member should take "
        "its time from the domain, not from a standalone NTP source.",
        "w32tm /query /status\nw32tm /query /source\n"
        "w32tm /config /syncfromflags:domhier /update\nw32tm /resync /rediscover\n"
        f"$domain = {ps_quote(str(host.domain or host.fqdn))}\n"
        "w32tm /stripchart /computer:$domain /samples:3 /dataonly",
        docs=(DOCS["kerberos-clock-skew"], DOCS["w32tm"]),
        run_as=LOCAL_ADMIN,
    )
