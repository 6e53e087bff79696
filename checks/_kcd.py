"""The verdict on one delegated service for one pair, shared by pair-kcd-migration-service and pair-kcd-cifs.

Classic constrained delegation: the source's msDS-AllowedToDelegateTo lists "<service>/<dest>" by
NetBIOS name and FQDN, one entry per service, so each service's check reports its own missing
entries. Resource-based delegation: the destination's msDS-AllowedToActOnBehalfOfOtherIdentity
lists the source, one entry that serves every service of the destination. Classic delegation
cannot cross domains, so a cross-domain pair needs that one entry: pair-kcd-migration-service
reports it, and pair-kcd-cifs does not repeat it (one cause, one finding).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from hvlm.audit.facts import Facts, RoleFacts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Fix, Outcome, Severity, Status
from hvlm.audit.psquote import ps_quote
from hvlm.audit.registry import PairKey
from hvlm.checks._ad import (
    FIRST_ANY_PROTOCOL_BUILD,
    TRUSTED_TO_AUTH_FOR_DELEGATION,
    Rbcd,
    ad_fix,
    ad_host,
    add_delegation_ps,
    any_protocol_ps,
    auth_type,
    domain_admin_run_as,
    missing,
    os_build,
    outside_domain,
    purge_tickets_ps,
    rbcd_for,
    rbcd_ps,
    same_domain,
    server,
    spn_forms,
    uac,
    unavailable,
    uses_kerberos,
)
from hvlm.checks._fixes import on_host
from hvlm.checks._keys import delegation_destination, delegation_source, rbcd, workgroup

REQUIRES = (
    "source.vmhost?",
    "destination.vmhost?",
    "source.ad_computer?",
    "destination.ad_computer?",
    "source.operating_system?",
    "source.computer_system?",
    "destination.computer_system?",
    "operator?",
)

RBCD_NOTE = (
    "Microsoft recommends resource-based delegation as an alternative to CredSSP but gives no walkthrough "
    "of RBCD-only live migration (UNCONFIRMED in practice), so this is a warning, not a pass"
)


@dataclass(frozen=True)
class Service:
    """One delegated service of the destination, as its check words it."""

    spn: str  # the SPN's service class: "cifs", "Microsoft Virtual System Migration Service"
    name: str  # in messages: "the file service (cifs)"
    needed_for: str  # what fails without it, said in the failure
    missing: Severity  # classic entries missing and no resource-based delegation
    rbcd_documented: bool  # Microsoft documents resource-based delegation for this service's second hop
    reports_rbcd: bool  # this check reports a cross-domain pair's one resource-based delegation entry


def key(spn: str) -> PairKey:
    """The class of a pair for `evaluate` on one service: workgroup ends (not applicable), both hosts on
    CredSSP (not applicable), no source object (error), else whether the pair crosses domains, whether
    the source's msDS-AllowedToDelegateTo holds the service by each name, and what the destination's
    resource-based delegation says of the source (known, lists it, lists principals it cannot resolve).
    The service's constants (severity, documented RBCD, who reports a cross-domain entry) are the
    check's own; the SMB option only sets a failure's severity, which a full judgement gives."""

    destination = delegation_destination(spn)

    def decide(src: RoleFacts, dst: RoleFacts) -> Hashable:
        outside = (workgroup(src), workgroup(dst))
        if any(outside):
            return ("workgroup", *outside)
        s_auth, entries, s_dom = delegation_source(src)
        d_auth, (short, fqdn), d_dom, listed = destination(dst)
        if s_auth == "CredSSP" and d_auth == "CredSSP":
            return ("credssp",)
        if entries is None:
            return ("no source object",)
        cross = s_dom is None or s_dom != d_dom
        return cross, short in entries, fqdn in entries, listed or rbcd(dst, src)

    return decide


def evaluate(f: Facts, svc: Service) -> Outcome:
    src, dst = ad_host(f, "source"), ad_host(f, "destination")
    skip = outside_domain(f, "source", "destination", what=f"Kerberos delegation to {svc.name}")
    if skip is not None:
        return skip
    svh, dvh = f.optional("source.vmhost"), f.optional("destination.vmhost")
    if not uses_kerberos(svh, dvh):
        return Outcome(
            Status.NOT_APPLICABLE,
            f"{src.short} and {dst.short} both use CredSSP, which needs no delegation in AD (see pair-credssp).",
            evidence={"source": auth_type(svh), "destination": auth_type(dvh)},
        )
    scomp = f.optional("source.ad_computer")
    if scomp is None:
        return unavailable(f, "source.ad_computer", "no source object")
    dcomp = f.optional("destination.ad_computer")
    wanted = list(spn_forms(svc.spn, dst))
    configured = [str(v) for v in scomp.get("msDS-AllowedToDelegateTo") or []]
    present = [v for v in configured if v.casefold() in {w.casefold() for w in wanted}]
    absent = missing(configured, wanted)
    cross = not same_domain(src, dst)
    rbcd = rbcd_for(dcomp, src, scomp.get("objectSid"))
    evidence: dict[str, Any] = {
        "authentication": {"source": auth_type(svh), "destination": auth_type(dvh)},
        "source_object": scomp.get("distinguishedName") or scomp["sAMAccountName"],
        "expected": wanted,
        "present": present,
        "missing": absent,
        "cross_domain": cross,
        "rbcd_on_destination": list(rbcd.principals) if rbcd.known else "not collected",
    }
    if not cross and not absent:
        return Outcome(Status.PASS, f"{src.short} may delegate to {svc.name} on {dst.short} by both names "
                       f"({', '.join(present)}).", evidence=evidence)
    if rbcd.lists_source:
        how = ("across domains, where classic delegation cannot reach" if cross
               else f"instead of classic entries ({'missing ' + ', '.join(absent)})")
        if svc.rbcd_documented:
            return Outcome(
                Status.PASS,
                f"{dst.short} accepts delegation from {src.short} through resource-based delegation, {how}: it serves "
                f"every service of {dst.short}, {svc.name} included, as Microsoft documents for the second hop to a "
                "file share.",
                evidence=evidence,
            )
        return Outcome(
            Status.WARNING,
            f"{dst.short} accepts delegation to {svc.name} from {src.short} through resource-based delegation, {how}. "
            f"{RBCD_NOTE}.",
            _fix_classic(f, svc, scomp, absent) if not cross else _fix_rbcd_confirm(f),
            evidence,
            severity=Severity.MEDIUM,
        )
    if cross and not svc.reports_rbcd:
        return Outcome(
            Status.NOT_APPLICABLE,
            f"{src.short} ({src.domain}) and {dst.short} ({dst.domain}) are in different domains: only resource-based "
            f"delegation on {dst.short} crosses them, and that one entry serves {svc.name} and the migration service "
            "alike; pair-kcd-migration-service reports it.",
            evidence={**evidence, "see": "pair-kcd-migration-service"},
        )
    if rbcd.unresolved:
        return _unresolved(f, svc, scomp, dcomp, rbcd, absent, evidence)
    if not rbcd.known:
        err = f.unavailable("destination.ad_computer")
        reason = f"{err.path}: {err.message}" if err else "not collected"
        if cross:
            return Outcome(Status.ERROR, f"could not check resource-based delegation on {dst.short}, the only kind that "
                           f"crosses domains: {reason}", evidence=evidence)
        evidence["rbcd_unknown_reason"] = reason
    if cross:
        return Outcome(
            Status.FAIL,
            f"{src.short} ({src.domain}) and {dst.short} ({dst.domain}) are in different domains: classic constrained "
            f"delegation does not cross domains{' (the entries on ' + src.short + ' are of no use)' if present else ''}, "
            f"and resource-based delegation on {dst.short} does not list {src.short}. Moves from {src.short} to "
            f"{dst.short} with Kerberos fail: this one entry serves the migration service and cifs alike.",
            _fix_rbcd(f, dcomp),
            evidence,
            severity=svc.missing,
        )
    forms = "the FQDN" if absent == [wanted[1]] else "the short name" if absent == [wanted[0]] else "both names"
    return Outcome(
        Status.FAIL,
        f"No delegation to {svc.name} of {dst.short} by {forms}: {src.short}'s msDS-AllowedToDelegateTo lacks "
        f"{', '.join(absent)}{'; it has ' + ', '.join(present) if present else ''}. {svc.needed_for}",
        _fix_classic(f, svc, scomp, absent),
        evidence,
        severity=svc.missing,
    )


def _unresolved(f: Facts, svc: Service, scomp: Mapping[str, Any], dcomp: Mapping[str, Any] | None, rbcd: Rbcd,
                absent: list[str], evidence: dict[str, Any]) -> Outcome:
    """Resource-based delegation lists principals that are not computer accounts: maybe a group holding the source."""
    src, dst = ad_host(f, "source"), ad_host(f, "destination")
    cross = not same_domain(src, dst)
    evidence["rbcd_unresolved"] = list(rbcd.unresolved)
    src_sid = str(scomp.get("objectSid") or "")
    sids = [p.rsplit("(", 1)[1].rstrip(")") for p in rbcd.unresolved]
    lines = [f"# Is {src.short} a member (direct or nested) of a principal listed by {dst.short}'s resource-based "
             "delegation? A line of output means yes."]
    lines += [f"Get-ADGroupMember -Identity {ps_quote(sid)}{server(dst.domain)} -Recursive | "
              f"Where-Object -Property 'SID' -EQ {ps_quote(src_sid)}" for sid in sids]
    base = _fix_rbcd(f, dcomp) if cross else _fix_classic(f, svc, scomp, absent)
    lines += ["# If not, give it its own entry:", base.powershell]
    what = ("the only delegation that crosses domains" if cross
            else f"the alternative to the missing classic entries ({', '.join(absent)})")
    kind = "is not a computer account" if len(rbcd.unresolved) == 1 else "are not computer accounts"
    return Outcome(
        Status.WARNING,
        f"{src.short} is not listed by name in {dst.short}'s resource-based delegation, {what}, but it lists "
        f"{', '.join(rbcd.unresolved)}, which {kind}: "
        f"if {src.short} is a member, delegation to {svc.name} works. The collected facts hold no group memberships, "
        "so this could not be resolved.",
        ad_fix(
            summary=f"Confirm that {src.short} is in a group listed by {dst.short}'s resource-based delegation; if it "
            "is not, add the missing delegation.",
            powershell="\n".join(lines),
            docs=(DOCS["kcd-overview"], DOCS["set-adcomputer"]),
            run_as=base.run_as,
        ),
        evidence,
        severity=Severity.MEDIUM,
    )


def _fix_rbcd(f: Facts, dcomp: Mapping[str, Any] | None) -> Fix:
    src, dst = ad_host(f, "source"), ad_host(f, "destination")
    return ad_fix(
        summary=f"Allow {src.short} to delegate to {dst.short} with resource-based delegation on {dst.short}'s "
        "computer object, keeping the principals already listed (one entry for every service of the destination).",
        run_as=domain_admin_run_as(f.optional("operator"), f.operator_name, dst.domain, dcomp,
                                   f", or an account with write access to {dst.short}'s computer object"),
        powershell="\n".join([rbcd_ps(src, dst), purge_tickets_ps(src)]),
        docs=(DOCS["kcd-overview"], DOCS["second-hop"], DOCS["set-adcomputer"]),
    )


def _fix_classic(f: Facts, svc: Service, scomp: Mapping[str, Any], entries: list[str]) -> Fix:
    src, dst = ad_host(f, "source"), ad_host(f, "destination")
    lines = [add_delegation_ps(src, entries)]
    build, _ = os_build(f.optional("source.operating_system"), scomp)
    if (build is None or build >= FIRST_ANY_PROTOCOL_BUILD) and not uac(scomp) & TRUSTED_TO_AUTH_FOR_DELEGATION:
        lines.append("# Windows Server 2016 and later sources also need \"Use any authentication protocol\":")
        lines.append(any_protocol_ps(src))
    lines.append(purge_tickets_ps(src))
    return ad_fix(
        summary=f"Add the missing delegation entries for {svc.name} of {dst.short} to {src.short}'s computer object "
        "(Delegation tab: Trust this computer for delegation to specified services only).",
        powershell="\n".join(lines),
        gui=f"Active Directory Users and Computers > {src.short} > Properties > Delegation > Add... > {dst.short}",
        docs=(DOCS["setup"], DOCS["set-adcomputer"]),
        run_as=domain_admin_run_as(f.optional("operator"), f.operator_name, src.domain, scomp),
    )


def _fix_rbcd_confirm(f: Facts) -> Fix:
    src, dst = ad_host(f, "source"), ad_host(f, "destination")
    return on_host(
        src,
        f"Classic delegation cannot cross domains, so resource-based delegation is the only route from "
        f"{src.short} to {dst.short}: confirm it lists {src.short}, then prove it with a test move of a non-critical "
        "VM before the change window.",
        f"Get-ADComputer -Identity {ps_quote(dst.short)}{server(dst.domain)} "
        "-Properties PrincipalsAllowedToDelegateToAccount | Select-Object -ExpandProperty PrincipalsAllowedToDelegateToAccount\n"
        "# Then choose a non-critical VM and a folder on the destination, and move it in the change window:\n"
        f"# Move-VM -Name <test VM> -DestinationHost {ps_quote(dst.fqdn)} -IncludeStorage "
        "-DestinationStoragePath <folder on the destination>",
        docs=(DOCS["kcd-overview"], DOCS["cg-known-issues"], DOCS["use"]),
        run_as="a member of Hyper-V Administrators on both hosts (the AD query needs only read access)",
        kind="check",
    )
