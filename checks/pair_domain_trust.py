"""Source and destination are in one domain, or the destination's domain trusts the source's."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from hvlm.audit.facts import Facts, HostRef, RoleFacts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Fix, Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_quote
from hvlm.audit.registry import check
from hvlm.checks._ad import ad_fix, ad_host, outside_domain, same_domain, uses_kerberos
from hvlm.checks._keys import domain
from hvlm.checks._trusts import CROSS_ORGANIZATION, FOREST_TRANSITIVE, INBOUND, OUTBOUND, WITHIN_FOREST, covers

TRUST_TYPES = {1: "downlevel (NT4)", 2: "uplevel (Active Directory)", 3: "MIT Kerberos realm", 4: "DCE"}
DIRECTIONS = {0: "disabled", 1: "inbound", 2: "outbound", 3: "bidirectional"}


def _trust_view(side: RoleFacts) -> tuple[tuple[str, int, int], ...] | None:
    """The host's domain's trustedDomain objects as the check reads them: partner, direction, attributes."""
    trusts = side["trusts"]
    if trusts is None:
        return None
    return tuple((str(t["trustPartner"]).lower().rstrip("."), t["trustDirection"], t["trustAttributes"])
                 for t in trusts)


def _host(side: RoleFacts) -> tuple[bool, str | None]:
    return bool(side["computer_system"]["PartOfDomain"]), domain(side.ref)


def _trust_part(side: RoleFacts) -> Hashable:
    """Membership, domain and the domain's trust objects of one host (finer than _key, never coarser)."""
    joined, dom = _host(side)
    return joined, dom, _trust_view(side)


@check(
    id="pair-domain-trust",
    title="Domains of source and destination trust each other",
    severity=Severity.CRITICAL,
    subject=SubjectKind.PAIR,
    rollback=True,
    requires=(
        "source.computer_system",
        "destination.computer_system",
        "source.trusts?",
        "destination.trusts?",
        "source.vmhost?",
        "destination.vmhost?",
    ),
    rationale="""Microsoft requires source and destination in the same domain or in domains that
    trust each other. For a move from S to D, D's domain must accept accounts of S's domain (the
    source computer's delegated tickets, or the operator's CredSSP credentials): D's domain must
    trust S's. The trustedDomain objects say so from both sides: trustDirection 2 (outbound) on D's
    object for S's domain, or 1 (inbound) on S's object for D's domain; 3 is both. A forest trust
    (trustAttributes 8) also covers the domains under the partner forest's root. A one-way trust
    that points the wrong way fails this direction (the return direction, which the engine checks
    too, then passes). When no trust object covering the pair is found, it fails, unless a domain
    shows intra-forest trusts (attribute 0x20): the two may share a forest, or the forest trust may
    sit on the forest root, which was not collected, so it is a warning. For cross-domain pairs
    with Kerberos the message says that classic constrained delegation does not cross domains:
    resource-based delegation on the destination is needed (see pair-kcd-migration-service). A
    trust with selective authentication (trustAttributes 0x10) is still a trust: whether the
    source's computer account holds "Allowed to Authenticate" on the destination's computer object
    is pair-trust-selective-auth's finding. A host outside a domain is not applicable:
    host-domain-member reports it.""",
    references=(DOCS["setup"], DOCS["trusts"], DOCS["trust-direction"], DOCS["second-hop"], DOCS["kcd-overview"],
                DOCS["allowed-to-authenticate"]),
    fix_hint="Make the trust two-way (or create it) in Active Directory Domains and Trusts or with the .NET trust API.",
    parts=(_trust_part, _trust_part),
)
def run(f: Facts) -> Outcome:
    src, dst = ad_host(f, "source"), ad_host(f, "destination")
    skip = outside_domain(f, "source", "destination", what="a trust between domains")
    if skip is not None:
        return skip
    sdom, ddom = str(src.domain), str(dst.domain)
    if same_domain(src, dst):
        return Outcome(Status.PASS, f"{src.short} and {dst.short} are both in {sdom}.",
                       evidence={"source_domain": sdom, "destination_domain": ddom})
    strusts, dtrusts = f.optional("source.trusts"), f.optional("destination.trusts")
    evidence: dict[str, Any] = {"source_domain": sdom, "destination_domain": ddom}
    if strusts is None and dtrusts is None:
        reasons = "; ".join(f"{e.path}: {e.message}" for e in
                            (f.unavailable("source.trusts"), f.unavailable("destination.trusts")) if e)
        return Outcome(Status.ERROR, f"could not check the trust between {sdom} and {ddom}: {reasons}", evidence=evidence)
    for side, name in ((strusts, "source.trusts"), (dtrusts, "destination.trusts")):
        if side is None:
            err = f.unavailable(name)
            evidence[f"{name} unavailable"] = err.message if err else "not collected"
    # objects in D's domain naming S's domain, and in S's domain naming D's domain
    d_objs = [t for t in dtrusts or [] if covers(t, sdom)]
    s_objs = [t for t in strusts or [] if covers(t, ddom)]
    evidence["trust_objects"] = [_describe(ddom, t) for t in d_objs] + [_describe(sdom, t) for t in s_objs]
    d_trusts_s = any(t["trustDirection"] & OUTBOUND for t in d_objs) or any(t["trustDirection"] & INBOUND for t in s_objs)
    s_trusts_d = any(t["trustDirection"] & INBOUND for t in d_objs) or any(t["trustDirection"] & OUTBOUND for t in s_objs)
    forest = any(t["trustAttributes"] & FOREST_TRANSITIVE for t in d_objs + s_objs)
    evidence.update({"destination_domain_trusts_source_domain": d_trusts_s,
                     "source_domain_trusts_destination_domain": s_trusts_d, "forest_trust": forest})
    kerberos = _kerberos(f)
    note = (
        f" The pair uses Kerberos: classic constrained delegation does not cross domains, so {dst.short} "
        f"needs resource-based delegation listing {src.short} (see pair-kcd-migration-service)."
        if kerberos else ""
    )
    carrying = [t for t in d_objs if t["trustDirection"] & OUTBOUND] + [t for t in s_objs if t["trustDirection"] & INBOUND]
    selective = any(t["trustAttributes"] & CROSS_ORGANIZATION for t in carrying)
    evidence["selective_authentication"] = selective
    if d_trusts_s:
        kind = "two-way" if s_trusts_d else "one-way"
        extra = "" if s_trusts_d else f" Moves back from {dst.short} to {src.short} need {sdom} to trust {ddom} too."
        accepts = (
            f"accepts {src.short}'s accounts where they hold \"Allowed to Authenticate\" (selective authentication: "
            "pair-trust-selective-auth checks it)"
            if selective else f"accepts {src.short}'s accounts"
        )
        return Outcome(
            Status.PASS,
            f"{ddom} trusts {sdom} ({kind}{', forest' if forest else ''} trust), so {dst.short} {accepts}.{extra}{note}",
            evidence=evidence,
        )
    if not d_objs and not s_objs:
        in_forest = any(t["trustAttributes"] & WITHIN_FOREST for t in (strusts or []) + (dtrusts or []))
        if in_forest:
            return Outcome(
                Status.WARNING,
                f"No trust object between {sdom} and {ddom} was found, but they have intra-forest trusts: they may "
                "share a forest (implicit two-way transitive trusts), or a forest trust may be held by the "
                f"forest root, which was not collected. Confirm that {ddom} trusts {sdom}.{note}",
                _trust_fix(src, dst, None),
                evidence,
                severity=Severity.MEDIUM,
            )
        return Outcome(
            Status.FAIL,
            f"No trust between {sdom} and {ddom} was found: {dst.short} cannot authenticate {src.short} or the "
            f"operator.{note}",
            _trust_fix(src, dst, None),
            evidence,
        )
    return Outcome(
        Status.FAIL,
        f"The trust between {sdom} and {ddom} is one-way and points the wrong way for this move: {sdom} trusts "
        f"{ddom}, but {ddom} does not trust {sdom}, so {dst.short} cannot authenticate {src.short}.{note}",
        _trust_fix(src, dst, (ddom, d_objs[0]) if d_objs else (sdom, s_objs[0])),
        evidence,
    )


def _kerberos(f: Facts) -> bool:
    svh, dvh = f.optional("source.vmhost"), f.optional("destination.vmhost")
    return svh is not None and dvh is not None and uses_kerberos(svh, dvh)


def _describe(holder: str, trust: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "held_by": holder,
        "trustPartner": trust["trustPartner"],
        "flatName": trust.get("flatName"),
        "trustDirection": f"{trust['trustDirection']} ({DIRECTIONS.get(trust['trustDirection'], '?')})",
        "trustType": f"{trust['trustType']} ({TRUST_TYPES.get(trust['trustType'], '?')})",
        "trustAttributes": hex(trust["trustAttributes"]),
    }


def _trust_fix(src: HostRef, dst: HostRef, existing: tuple[str, Mapping[str, Any]] | None) -> Fix:
    """Make the trust bidirectional (or create a two-way external trust when none exists).

    `existing` is (domain holding the trust object, the object); the script runs in that domain and
    names the object's partner, so the .NET call updates the very trust that was found.
    """
    if existing is not None:
        home, obj = existing
        forest = bool(obj["trustAttributes"] & FOREST_TRANSITIVE)
        partner = str(obj["trustPartner"])
    else:
        home, forest, partner = str(src.domain), False, str(dst.domain)
    scope = "Forest" if forest else "Domain"
    verb = "UpdateTrustRelationship" if existing is not None else "CreateTrustRelationship"
    klass = f"[System.DirectoryServices.ActiveDirectory.{scope}]"
    current = "GetCurrentForest" if forest else "GetCurrentDomain"
    getter = "GetForest" if forest else "GetDomain"
    lines = [
        "# Review the trusts as both domains see them:",
        *(f"Get-ADTrust -Filter * -Server {ps_quote(str(d))} | "
          "Format-Table -Property 'Name', 'Direction', 'ForestTransitive', 'TrustType'" for d in (src.domain, dst.domain)),
        "# Prompts for an administrator of the partner; the password is not written anywhere.",
        f"$cred = Get-Credential -Message {ps_quote('An administrator of ' + partner)}",
        f"$context = New-Object System.DirectoryServices.ActiveDirectory.DirectoryContext('{scope}', "
        f"{ps_quote(partner)}, $cred.UserName, $cred.GetNetworkCredential().Password)",
        f"$partner = {klass}::{getter}($context)",
        f"{klass}::{current}().{verb}($partner, 'Bidirectional')",
    ]
    what = "Make the existing trust two-way" if existing is not None else "Create a two-way trust"
    # Widening a trust lets every account of one domain authenticate into the other: a security decision
    # for the owners of both domains, never a step a script takes under a plain -Confirm (kind "manual").
    return ad_fix(
        kind="manual",
        summary=f"Security decision for the owners of both domains: {what.lower()} between {src.domain} and "
        f"{dst.domain} so that each accepts the other's accounts (every account of one can then authenticate "
        "into the other)"
        + ("" if existing is not None else " (an external trust between the two domains; a forest trust between "
           "the forest roots, made in Active Directory Domains and Trusts, also serves)") + ".",
        run_on=f"a domain-joined machine in {home} with the ActiveDirectory PowerShell module",
        run_as=f"an {'Enterprise Admin' if forest else 'Domain Admin'} of {home}, with an administrator account of "
        f"{partner} at hand",
        powershell="\n".join(lines),
        gui=f"Active Directory Domains and Trusts > {home} > Properties > Trusts",
        docs=(DOCS["trusts"], DOCS["trust-direction"]),
    )
