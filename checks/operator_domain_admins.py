"""Where the pair still needs AD delegation, the operator can set it (Domain Admins), or the finding says who must.

Advice, not a blocker: the move is blocked by the missing delegation (pair-kcd-*), never by who can
add it, so a change the operator cannot make is a warning at info severity, below every exit-code
threshold but --fail-on info.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from hvlm.audit.facts import Facts, RoleFacts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.registry import check
from hvlm.checks._ad import (
    CIFS,
    DOMAIN_ADMINS_RID,
    FIRST_ANY_PROTOCOL_BUILD,
    MIGRATION_SERVICE,
    TRUSTED_TO_AUTH_FOR_DELEGATION,
    ad_fix,
    ad_host,
    add_delegation_ps,
    any_protocol_ps,
    domain_sid,
    has_rid,
    missing,
    os_build,
    outside_domain,
    purge_tickets_ps,
    rbcd_for,
    rbcd_ps,
    same_domain,
    spn_forms,
    uac,
    unavailable,
    uses_kerberos,
)
from hvlm.checks._keys import delegation_destination, delegation_source, lacks_any_protocol, rbcd, workgroup

_destination = delegation_destination(MIGRATION_SERVICE, CIFS)


def _admin(side: RoleFacts) -> bool | None:
    """Is the operator in Domain Admins of the domain of this host's computer object (None: no domain SID)?"""
    dsid = domain_sid(str(side["ad_computer"].get("objectSid") or ""))
    return None if dsid is None else bool(has_rid(side["operator"]["tokenGroups"], DOMAIN_ADMINS_RID, dsid))


def _key(src: RoleFacts, dst: RoleFacts) -> Hashable:
    """The authentication types; the objects known; whether the pair crosses domains; whether the destination's
    resource-based delegation lists the source; for one domain, whether anything is missing (an entry by either
    name, or "use any authentication protocol" on a 2016+ source); and whether the operator is in Domain Admins
    of the domain whose object would change."""
    outside = (workgroup(src), workgroup(dst))
    if any(outside):  # not applicable
        return ("workgroup", *outside)
    s_auth, entries, s_dom = delegation_source(src)
    d_auth, forms, d_dom, listed = _destination(dst)
    auth = s_auth, d_auth
    if auth == ("CredSSP", "CredSSP"):  # not applicable
        return auth
    cross = s_dom is None or s_dom != d_dom
    known, lists, _ = listed or rbcd(dst, src)
    if entries is None or (cross and not known):  # error
        return auth, entries is None, cross
    if lists:  # pass
        return auth, True
    if cross:  # the destination's object changes
        return auth, False, True, dst.derived("operator:admin", _admin)
    if entries.issuperset(forms) and not lacks_any_protocol(src):
        return auth, False, False  # nothing to change: pass
    return auth, False, False, src.derived("operator:admin", _admin)  # the source's object changes


@check(
    id="operator-domain-admins",
    title="Operator can make the AD delegation changes the pair needs",
    severity=Severity.INFO,
    subject=SubjectKind.PAIR,
    rollback=True,
    requires=(
        "operator",
        "source.vmhost?",
        "destination.vmhost?",
        "source.ad_computer?",
        "destination.ad_computer?",
        "source.operating_system?",
        "source.computer_system?",
        "destination.computer_system?",
    ),
    rationale="""Microsoft's procedure needs Domain Admins ("Domain Administrators") membership only
    to set up constrained delegation; moving VMs needs local rights alone. So this check looks at
    what a pair still needs in AD and asks whether the operator can do it. Its subject is the
    ordered pair, not the operator on a host, because delegation is configured per source computer
    object and per destination, and only a pair knows both and which direction is missing. For a
    pair using Kerberos (either host set to Kerberos), the change is needed when the source's
    msDS-AllowedToDelegateTo lacks a short or FQDN entry for "Microsoft Virtual System Migration
    Service" or cifs on the destination, or a Windows Server 2016+ source lacks "use any
    authentication protocol", and resource-based delegation on the destination does not already
    list the source; for a cross-domain pair the change is that resource-based delegation, on the
    destination's object. The operator can make it when its tokenGroups hold the Domain Admins SID
    (domain SID + "-512") of the domain whose object changes: then it passes. Otherwise it is a
    warning at info severity, advice on who must run the fix: the move is blocked by the missing
    delegation (pair-kcd-migration-service, pair-kcd-cifs, host-kcd-any-protocol report it), not by
    who can add it, so this finding does not change the exit code at the default threshold. When
    nothing needs to change the pair passes (nobody's AD rights are needed); CredSSP-only pairs and
    pairs with a host outside a domain are not applicable. The source's build comes from the host,
    else from its computer object's operatingSystemVersion.""",
    references=(DOCS["setup"], DOCS["kcd-overview"], DOCS["set-adcomputer"], DOCS["set-adaccountcontrol"]),
    fix_hint="Have a member of Domain Admins of the named domain run the delegation change.",
    key=_key,
)
def run(f: Facts) -> Outcome:
    src, dst = ad_host(f, "source"), ad_host(f, "destination")
    skip = outside_domain(f, "source", "destination", what="AD delegation for this pair")
    if skip is not None:
        return skip
    if not uses_kerberos(f.optional("source.vmhost"), f.optional("destination.vmhost")):
        return Outcome(Status.NOT_APPLICABLE,
                       f"{src.short} and {dst.short} both use CredSSP: no AD delegation is needed for this pair.")
    op = f["operator"]
    account = f.operator_name or f"{op['domain']}\\{op['sAMAccountName']}"
    scomp, dcomp = f.optional("source.ad_computer"), f.optional("destination.ad_computer")
    if scomp is None:
        return unavailable(f, "source.ad_computer", "no source object")
    cross = not same_domain(src, dst)
    if cross and dcomp is None:
        err = f.unavailable("destination.ad_computer")
        return Outcome(Status.ERROR, "could not check the resource-based delegation of the cross-domain destination: "
                       f"{err.path + ': ' + err.message if err else 'no destination object'}")
    rbcd = rbcd_for(dcomp, src, scomp.get("objectSid"))
    evidence: dict[str, Any] = {"operator": account, "cross_domain": cross, "rbcd_lists_source": rbcd.lists_source}
    if rbcd.lists_source:
        return Outcome(Status.PASS, f"No AD change is needed for {src.short} -> {dst.short}: resource-based "
                       f"delegation on {dst.short} already lists {src.short}.", evidence=evidence)
    if cross:
        assert dcomp is not None  # checked above: a cross-domain pair needs the destination's object
        changed, domain_of_sid = dst, dcomp
        lines = [rbcd_ps(src, dst)]
        what = f"resource-based delegation on {dst.short} listing {src.short} (classic delegation cannot cross domains)"
        who_extra = f", or an account with write access to {dst.short}'s computer object"
    else:
        entries = missing(scomp.get("msDS-AllowedToDelegateTo") or [],
                          [*spn_forms(MIGRATION_SERVICE, dst), *spn_forms(CIFS, dst)])
        build, _ = os_build(f.optional("source.operating_system"), scomp)
        no_any = (build is None or build >= FIRST_ANY_PROTOCOL_BUILD) and not uac(scomp) & TRUSTED_TO_AUTH_FOR_DELEGATION
        evidence.update({"missing_entries": entries, "any_protocol_missing": no_any})
        if not entries and not no_any:
            return Outcome(Status.PASS, f"No AD change is needed for {src.short} -> {dst.short}: {src.short}'s "
                           "constrained delegation is complete.", evidence=evidence)
        changed, domain_of_sid = src, scomp
        lines = ([add_delegation_ps(src, entries)] if entries else []) + ([any_protocol_ps(src)] if no_any else [])
        parts = ([f"{len(entries)} delegation entr{'y' if len(entries) == 1 else 'ies'}"] if entries else []) + (
            ['"use any authentication protocol"'] if no_any else [])
        what = f"{' and '.join(parts)} on {src.short}'s computer object"
        who_extra = ""
    dom = str(changed.domain)
    dsid = domain_sid(str(domain_of_sid.get("objectSid") or ""))
    evidence.update({"change": what, "domain": dom, "domain_admins_sid": f"{dsid}-{DOMAIN_ADMINS_RID}" if dsid else None})
    if dsid is None:
        return Outcome(Status.ERROR, f"could not tell the domain SID of {dom} from {changed.short}'s computer object",
                       evidence=evidence)
    if has_rid(op["tokenGroups"], DOMAIN_ADMINS_RID, dsid):
        return Outcome(Status.PASS, f"{src.short} -> {dst.short} needs {what}; {account} is in Domain Admins of {dom} "
                       "and can make the change.", evidence=evidence)
    fix = ad_fix(
        summary=f"A member of Domain Admins of {dom}{who_extra} sets {what}.",
        run_as=f"a member of Domain Admins of {dom}{who_extra}",
        powershell="\n".join([*lines, purge_tickets_ps(src)]),
        gui="Active Directory Users and Computers > the computer > Properties > Delegation",
        docs=(DOCS["setup"], DOCS["set-adcomputer"]),
    )
    return Outcome(
        Status.WARNING,
        f"{src.short} -> {dst.short} needs {what}, and {account} is not in Domain Admins of {dom} "
        f"({dsid}-{DOMAIN_ADMINS_RID}): a member of Domain Admins of {dom}{who_extra} must run the fix. This is who "
        "runs it, not what blocks the move: the delegation checks report that.",
        fix,
        evidence,
        severity=Severity.INFO,
    )
