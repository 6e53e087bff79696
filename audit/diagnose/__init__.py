"""`hvlm diagnose`: from a live-migration error (a code, or a message pasted in any language) to its ranked causes.

    doc = diagnose(snapshot, "hv01", "hv02", message="... (0x8009030E)", initiated_from="admin-pc")

The snapshot is narrowed to the move source -> destination, the whole catalogue runs over it, and
the causes the code is known to have are judged from the findings (and a few facts) of that
direction: confirmed by a failing or warning finding, likely, possible (could not be checked, or
cannot be seen in configuration), or ruled out, each with its evidence and the finding's fix. An
unknown code says so and lists every problem the full audit finds for this direction. The document is validated
against the shipped diagnosis schema; renderers take only the document.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from typing import Any

from hvlm.audit.diagnose.catalogue import CATALOGUE, CodeEntry
from hvlm.audit.diagnose.codes import CodeMatch, find_code, parse_code_argument
from hvlm.audit.diagnose.document import build_document, validate_diagnosis
from hvlm.audit.diagnose.handwork import manual_checks
from hvlm.audit.diagnose.judging import Context, Initiation
from hvlm.audit.diagnose.rank import fallback, rank_causes, result_of, unexplained
from hvlm.audit.diagnose.scope import match_host, run_direction
from hvlm.audit.errors import UsageError
from hvlm.audit.facts import FactResolver, HostRef
from hvlm.audit.model import Subject, SubjectKind
from hvlm.audit.registry import Registry, load_registry
from hvlm.audit.snapshot import FactError, Snapshot, now_iso

__all__ = ["code_of", "diagnose", "initiation"]


def code_of(error: str | None, message: str | None) -> CodeMatch | None:
    """The code to diagnose: --error must be a code (a usage error otherwise); a message may hold none."""
    if error is not None:
        match = parse_code_argument(error)
        if match is None:
            raise UsageError(f"--error {error!r} is not an error code: give it as 0x8009030E, 8009030E, a decimal "
                             "HRESULT (-2146893042), a Winsock number (10060) or a name such as SEC_E_NO_CREDENTIALS")
        return match
    return find_code(message or "")


def initiation(given: str | None, source: HostRef, addresses: Collection[str] = ()) -> Initiation:
    """--initiated-from: the source by any of its names means "on the source"; any other machine, elsewhere.

    An IP address is the source when it is one of the source's collected addresses (DNS records or
    interfaces), elsewhere when those are known and it is not one of them, and not known otherwise:
    the source's own address must never confirm the double hop. Loopback and "localhost" name no
    machine in particular, so they decide nothing either.
    """
    if given is None or not given.strip():
        return Initiation()
    text = given.strip().casefold().rstrip(".")
    if text == "localhost":
        return Initiation(given.strip(), None)
    ip = _ip(text)
    if ip is not None:
        known = {a for a in (_ip(str(x)) for x in addresses) if a is not None}
        if ip.is_loopback or not known:
            return Initiation(given.strip(), None)
        return Initiation(given.strip(), ip in known)
    forms = {source.name.casefold(), source.fqdn.casefold(), source.short.casefold(),
             source.name.split(".", 1)[0].casefold()}
    return Initiation(given.strip(), text in forms)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def _source_addresses(snapshot: Snapshot, src: HostRef, dst: HostRef) -> list[str]:
    """The source's addresses as collected: its DNS A/AAAA records and its interfaces' addresses."""
    resolver = FactResolver(snapshot)
    subject = Subject(SubjectKind.PAIR, source=src.name, destination=dst.name)
    out: list[str] = []
    _, dns = resolver.resolve(subject, "source.dns")
    if not isinstance(dns, FactError):
        out += [str(a) for a in [*(dns["value"].get("A") or []), *(dns["value"].get("AAAA") or [])]]
    _, ifaces = resolver.resolve(subject, "source.ip_interfaces")
    if not isinstance(ifaces, FactError):
        out += [str(i.get("IPAddress")) for i in ifaces["value"] or [] if i.get("IPAddress")]
    return out


def _uncollected(snapshot: Snapshot, src: HostRef, dst: HostRef) -> list[dict[str, Any]]:
    """The facts of this move that could not be collected (the rest of the fleet is not this move's business)."""
    hosts = {src.name, dst.name}
    domains = {d for d in (src.domain, dst.domain) if d}
    prefixes = tuple(f"hosts/{h}/" for h in hosts) + tuple(f"dns/{h}" for h in hosts) + tuple(
        f"domains/{d}/" for d in domains) + ("/operator",)
    return [u for u in snapshot.uncollected() if str(u["path"]).startswith(prefixes)]


def diagnose(
    snapshot: Snapshot,
    source: str,
    destination: str,
    *,
    error: str | None = None,
    message: str | None = None,
    initiated_from: str | None = None,
    mode: str = "snapshot",
    registry: Registry | None = None,
) -> dict[str, Any]:
    """The diagnosis document of one failed move (see the module docstring)."""
    started = now_iso()
    match = code_of(error, message)
    src_name = match_host(snapshot, source, "source")
    dst_name = match_host(snapshot, destination, "destination")
    checks = list(registry or load_registry())
    narrowed, src, dst, findings = run_direction(snapshot, src_name, dst_name, checks)
    said = initiation(initiated_from, src, _source_addresses(narrowed, src, dst))
    ctx = Context(src, dst, findings, narrowed, match.code if match else None, said, message)
    entry: CodeEntry | None = CATALOGUE.get(match.key or "") if match else None
    ranked = rank_causes(ctx, entry) if entry else fallback(ctx, match.code if match else None)
    exit_code, incomplete = result_of(ranked)
    doc = build_document(
        ctx=ctx,
        ranked=ranked,
        entry=entry,
        match=match,
        manual=manual_checks(src, dst, entry.family if entry else "kerberos"),
        others=unexplained(ranked, findings),
        uncollected=_uncollected(snapshot, src, dst),
        exit_code=exit_code,
        incomplete=incomplete,
        run={
            "command": "diagnose",
            "mode": mode,
            "started": started,
            "snapshot": snapshot.name,
            "snapshot_created": snapshot.doc["created"],
            "snapshot_complete": snapshot.complete,
            "checks_run": [c.meta.id for c in checks],
        },
        given={"source": source, "destination": destination, "error": error, "message": message,
               "initiated_from": initiated_from},
    )
    validate_diagnosis(doc)
    return doc
