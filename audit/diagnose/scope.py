"""The one move being diagnosed: find its hosts in a snapshot, run the catalogue, keep its findings.

A diagnosis concerns one direction, source -> destination, which need not be a planned pair of
the snapshot: the snapshot is narrowed to the two hosts with that single pair, every check runs
over it, and what is kept is the pair and VM findings of that direction, the host and operator
findings of the role they matter for (ROLES: the destination's firewall, the source's delegation)
and the domain findings of their domains. The return direction is judged by the engine too (it
always is) and dropped here: it cannot explain this failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from hvlm.audit.engine import evaluate
from hvlm.audit.errors import InputError, UsageError
from hvlm.audit.facts import FactResolver, HostRef
from hvlm.audit.model import Finding, SubjectKind
from hvlm.audit.registry import Check
from hvlm.audit.roles import BOTH, ROLES
from hvlm.audit.snapshot import Snapshot

__all__ = ["ROLES", "direction_findings", "match_host", "pair_snapshot", "run_direction"]


def _forms(snapshot: Snapshot, host: str) -> set[str]:
    """Every name a user may type for an inventory host: as listed, FQDN, short name."""
    names = {host, snapshot.host_fqdn(host), snapshot.host_short(host), host.split(".", 1)[0]}
    return {n.casefold().rstrip(".") for n in names if n}


def match_host(snapshot: Snapshot, text: str, role: str) -> str:
    """The inventory host the user means by `text` (name, FQDN or short name, any case)."""
    wanted = text.strip().casefold().rstrip(".")
    if not wanted:
        raise UsageError(f"--{role} needs a host name")
    exact = [h for h in snapshot.hosts if h.casefold() == wanted]
    hits = exact or [h for h in snapshot.hosts if wanted in _forms(snapshot, h)]
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise InputError(snapshot.name, f"--{role} {text!r} matches several hosts: {', '.join(hits)}; give the FQDN",
                         "/inventory/hosts")
    shown = ", ".join(snapshot.hosts[:12]) + (f" and {len(snapshot.hosts) - 12} more" if len(snapshot.hosts) > 12 else "")
    raise InputError(snapshot.name, f"the {role} {text!r} is not a host of this snapshot (its hosts: {shown or 'none'})",
                     "/inventory/hosts")


def pair_snapshot(snapshot: Snapshot, source: str, destination: str) -> Snapshot:
    """The same facts, with the inventory narrowed to the two hosts and the one direction."""
    inventory = {**snapshot.doc["inventory"], "hosts": [source, destination], "pairs": [[source, destination]],
                 "groups": {}}
    return Snapshot({**snapshot.doc, "inventory": inventory}, snapshot.name)


def direction_findings(findings: Iterable[Finding], source: HostRef, destination: HostRef) -> list[Finding]:
    """The findings that concern source -> destination (see the module docstring)."""
    by_role = {"source": source.name, "destination": destination.name}
    domains = {d.casefold() for d in (source.domain, destination.domain) if d}
    kept = []
    for f in findings:
        s = f.subject
        if s.kind in (SubjectKind.PAIR, SubjectKind.VM):
            keep = (s.source, s.destination) == (source.name, destination.name)
        elif s.kind in (SubjectKind.HOST, SubjectKind.OPERATOR):
            keep = s.host in {by_role[role] for role in ROLES.get(f.check_id, BOTH)}
        else:
            keep = (s.domain or "").casefold() in domains
        if keep:
            kept.append(f)
    return kept


def run_direction(
    snapshot: Snapshot, source: str, destination: str, checks: Sequence[Check]
) -> tuple[Snapshot, HostRef, HostRef, list[Finding]]:
    """Evaluate `checks` for source -> destination; the narrowed snapshot, both hosts and the findings."""
    if source == destination:
        raise UsageError(f"the source and the destination are the same host ({source})")
    narrowed = pair_snapshot(snapshot, source, destination)
    resolver = FactResolver(narrowed)
    src, dst = resolver.host_ref(source), resolver.host_ref(destination)
    return narrowed, src, dst, direction_findings(evaluate(narrowed, checks), src, dst)
