"""The verdict on one delegated service for one pair, shared by pair-kcd-migration-service and pair-kcd-cifs.

Classic constrained delegation: the source's msDS-AllowedToDelegateTo lists "<service>/<dest>" by
NetBIOS name and FQDN. Resource-based delegation: the destination's
msDS-AllowedToActOnBehalfOfOtherIdentity lists the source. Classic delegation cannot cross domains.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from audit.facts import Facts, RoleFacts
from audit.knowledge import DOCS
from audit.model import Fix, Outcome, Severity, Status
from audit.psquote import ps_quote
from audit.registry import PairKey
from checks._ad import (
    FIRST_ANY_PROTOCOL_BUILD,
    TRUSTED_TO_AUTH_FOR_DELEGATION,
    ad_fix,
    add_delegation_ps,
    any_protocol_ps,
    auth_type,
    missing,
    purge_tickets_ps,
    rbcd_for,
    rbcd_ps,
    same_domain,
    server,
    spn_forms,
    uac,
    uses_kerberos,
)
from checks._fixes import on_host
from checks._keys import delegation_destination, delegation_source, rbcd

REQUIRES = (
    "source.vmhost?",
    "destination.vmhost?",
    "source.ad_computer?",
    "destination.ad_computer?",
    "source.operating_system?",
)

RBCD_NOTE = (
    "Microsoft recommends resource-based delegation as an alternative to CredSSP but gives no walkthrough "
    "of RBCD-only live migration (UNCONFIRMED in practice), so this is a warning, not a pass"
)


@dataclass(frozen=True)
class Severities:
    missing: Severity  # classic entries missing and no resource-based delegation
    rbcd_only: Severity  # only resource-based delegation


def key(service: str) -> PairKey:
    """The class of a pair for `evaluate`: the authentication types, whether the source's object
    is known and lists the destination's service by each name, whether the pair crosses domains,
    and whether the destination's resource-based delegation is known and lists the source."""

    destination = delegation_destination(service)

    def decide(src: RoleFacts, dst: RoleFacts) -> Hashable:
        s_auth, entries, s_dom = delegation_source(src)
        d_auth, (short, fqdn), d_dom, listed = destination(dst)
        if s_auth == "CredSSP" and d_auth == "CredSSP":  # not applicable
            return s_auth, d_auth
        if entries is None:  # no source object: error
            return s_auth, d_auth, None
        return (s_auth, d_auth, short in entries, fqdn in entries, s_dom is None or s_dom != d_dom,
                listed or rbcd(dst, src))

    return decide


def evaluate(f: Facts, service: str, label: str, sev: Severities, why: str) -> Outcome:
    """`label` names the service in messages; `why` says what the entry is needed for."""
    src, dst = f.host("source"), f.host("destination")
    svh, dvh = f.optional("source.vmhost"), f.optional("destination.vmhost")
    if not uses_kerberos(svh, dvh):
        return Outcome(
            Status.NOT_APPLICABLE,
            f"{src.short} and {dst.short} both use CredSSP, which needs no delegation in AD (see pair-credssp).",
            evidence={"source": auth_type(svh), "destination": auth_type(dvh)},
        )
    scomp = f.optional("source.ad_computer")
    if scomp is None:
        err = f.unavailable("source.ad_computer")
        return Outcome(Status.ERROR, f"could not check: {err.path + ': ' + err.message if err else 'no source object'}")
    dcomp = f.optional("destination.ad_computer")
    wanted = list(spn_forms(service, dst))
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
        return Outcome(Status.PASS, f"{src.short} may delegate to {label} on {dst.short} by both names "
                       f"({', '.join(present)}).", evidence=evidence)
    if rbcd.lists_source:
        where = ("across domains, where classic delegation cannot reach" if cross
                 else f"instead of classic entries ({'missing ' + ', '.join(absent)})")
        return Outcome(
            Status.WARNING,
            f"{dst.short} accepts delegation from {src.short} through resource-based delegation, {where}. "
            f"{RBCD_NOTE}.",
            _fix_classic(f, scomp, absent) if not cross else _fix_rbcd_confirm(f),
            evidence,
            severity=sev.rbcd_only,
        )
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
            f"{dst.short} with Kerberos fail.",
            ad_fix(
                summary=f"Allow {src.short} to delegate to {dst.short} with resource-based delegation on {dst.short}'s "
                "computer object, keeping the principals already listed.",
                run_as=f"a member of Domain Admins of {dst.domain}, or an account with write access to "
                f"{dst.short}'s computer object",
                powershell="\n".join([rbcd_ps(src, dst), purge_tickets_ps(src)]),
                docs=(DOCS["kcd-overview"], DOCS["second-hop"], DOCS["set-adcomputer"]),
            ),
            evidence,
            severity=sev.missing,
        )
    forms = "the FQDN" if absent == [wanted[1]] else "the short name" if absent == [wanted[0]] else "both names"
    return Outcome(
        Status.FAIL,
        f"{src.short}'s msDS-AllowedToDelegateTo lacks {label} on {dst.short} by {forms} "
        f"({', '.join(absent)}){'; it has ' + ', '.join(present) if present else ''}. {why}",
        _fix_classic(f, scomp, absent),
        evidence,
        severity=sev.missing,
    )


def _fix_classic(f: Facts, scomp: Mapping[str, Any], entries: list[str]) -> Fix:
    src, dst = f.host("source"), f.host("destination")
    lines = [add_delegation_ps(src, entries)]
    os_info = f.optional("source.operating_system")
    build = int(os_info["BuildNumber"]) if os_info else None
    if (build is None or build >= FIRST_ANY_PROTOCOL_BUILD) and not uac(scomp) & TRUSTED_TO_AUTH_FOR_DELEGATION:
        lines.append("# Windows Server 2016 and later sources also need \"Use any authentication protocol\":")
        lines.append(any_protocol_ps(src))
    lines.append(purge_tickets_ps(src))
    return ad_fix(
        summary=f"Add the missing delegation entries for {dst.short} to {src.short}'s computer object "
        "(Delegation tab: Trust this computer for delegation to specified services only).",
        powershell="\n".join(lines),
        gui=f"Active Directory Users and Computers > {src.short} > Properties > Delegation > Add... > {dst.short}",
        docs=(DOCS["setup"], DOCS["set-adcomputer"]),
    )


def _fix_rbcd_confirm(f: Facts) -> Fix:
    src, dst = f.host("source"), f.host("destination")
    return on_host(
        src,
        f"Classic delegation cannot cross domains, so resource-based delegation is the only route from "
        f"{src.short} to {dst.short}: confirm it lists {src.short}, then prove it with a test move of a non-critical "
        "VM before the change window.",
        f"Get-ADComputer -Identity {ps_quote(dst.short)}{server(dst.domain)} "
        "-Properties PrincipalsAllowedToDelegateToAccount | Select-Object -ExpandProperty PrincipalsAllowedToDelegateToAccount\n"
        f"Move-VM -Name '<test VM>' -DestinationHost {ps_quote(dst.fqdn)} -IncludeStorage "
        "-DestinationStoragePath '<path on the destination>'",
        docs=(DOCS["kcd-overview"], DOCS["cg-known-issues"], DOCS["use"]),
        run_as="a member of Hyper-V Administrators on both hosts (the AD query needs only read access)",
    )
