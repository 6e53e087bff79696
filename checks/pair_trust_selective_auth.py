"""Across a trust with selective authentication, the source may authenticate to the destination."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from hvlm.audit.facts import Facts, HostRef, RoleFacts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Fix, Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_quote
from hvlm.audit.registry import check
from hvlm.checks._ad import ad_fix, ad_host, domain_sid, outside_domain, same_domain, unavailable
from hvlm.checks._keys import domain
from hvlm.checks._trusts import ALLOWED_TO_AUTHENTICATE, CROSS_ORGANIZATION, trusting

ACL = "allowedToAuthenticate"
# Groups every account of the trusted forest is in when it authenticates across the trust:
# Everyone, Authenticated Users, and "Other Organization" (which selective authentication adds).
_ANY_ACCOUNT = {"S-1-1-0": "Everyone", "S-1-5-11": "Authenticated Users", "S-1-5-1000": "Other Organization"}
DOMAIN_COMPUTERS_RID = 515
FIRST_ACCOUNT_RID = 1000  # below: built-in accounts and groups (Domain Admins 512, ...), not the source's


def _joined(side: RoleFacts) -> bool | None:
    cs = side["computer_system"]
    return None if cs is None else bool(cs.get("PartOfDomain"))


def _sid(comp: Mapping[str, Any] | None) -> str | None:
    return None if comp is None else str(comp.get("objectSid") or "") or None


def _source_part(side: RoleFacts) -> Hashable:
    """Membership, domain and the computer account's SID of the source."""
    comp = side["ad_computer"]
    return _joined(side), domain(side.ref), comp is not None, _sid(comp)


def _acl_view(comp: Mapping[str, Any] | None) -> Hashable:
    if comp is None:
        return None
    acl = comp.get(ACL)
    if acl is None:
        return "absent"
    return bool(acl["readable"]), tuple(acl["allowed"]), tuple(acl["denied"]), _sid(comp)


def _destination_part(side: RoleFacts) -> Hashable:
    """Membership, domain, the domain's trusts (attributes and direction) and who holds the right on the object."""
    trusts = side["trusts"]
    view = None if trusts is None else tuple(
        (str(t["trustPartner"]).lower().rstrip("."), t["trustDirection"], t["trustAttributes"]) for t in trusts)
    return _joined(side), domain(side.ref), view, _acl_view(side["ad_computer"])


@check(
    id="pair-trust-selective-auth",
    title="Source may authenticate to the destination across a selective trust",
    severity=Severity.HIGH,
    subject=SubjectKind.PAIR,
    rollback=True,
    requires=(
        "source.computer_system?",
        "destination.computer_system?",
        "destination.trusts?",
        "source.ad_computer?",
        "destination.ad_computer?",
        "operator?",
    ),
    rationale="""When the destination's domain trusts the source's domain with selective
    authentication (trustAttributes 0x10, TRUST_ATTRIBUTE_CROSS_ORGANIZATION, on the destination
    domain's trustedDomain object for the source's domain), accounts of the source's domain may
    authenticate only to computers of the destination's domain on which they hold the extended
    right "Allowed to Authenticate" (68b1d179-0d15-4d4f-ab71-46152e79a7bc). A live migration
    authenticates the source's computer account to the destination, so without that right on the
    destination's computer object every move from the source fails. hvlm reads the destination
    object's DACL (nTSecurityDescriptor with the SD flags control, DACL only) in domains that have
    such a trust: a grant to the source's account, to its domain's Domain Computers, or to
    Everyone, Authenticated Users or Other Organization passes; a grant only to other groups is a
    warning, because computer group memberships are not collected; no grant, or a deny, fails. A
    DACL that could not be read is never a pass. Moves back need the same right the other way, so
    the return direction is judged too. The operator's account needs the right as well when its
    domain crosses such a trust into the destination's (its identity reaches the destination through
    delegation or CredSSP): judged with its tokenGroups, which hold every group of its own domain;
    a grant to a group of the destination's domain is a warning (memberships there are not
    collected).""",
    references=(DOCS["allowed-to-authenticate"], DOCS["selective-auth"], DOCS["trusts"], DOCS["setup"]),
    fix_hint="Grant the source's computer account 'Allowed to Authenticate' on the destination's computer object "
    "(Domain Admins of the destination's domain).",
    parts=(_source_part, _destination_part),
)
def run(f: Facts) -> Outcome:
    src, dst = ad_host(f, "source"), ad_host(f, "destination")
    skip = outside_domain(f, "source", "destination", what="selective authentication across a trust")
    if skip is not None:
        return skip
    sdom, ddom = str(src.domain), str(dst.domain)
    if same_domain(src, dst):
        return Outcome(Status.PASS, f"{src.short} and {dst.short} are both in {sdom}: no trust between domains is "
                       "crossed, so selective authentication does not apply.",
                       evidence={"source_domain": sdom, "destination_domain": ddom})
    dtrusts = f.optional("destination.trusts")
    if dtrusts is None:
        return unavailable(f, "destination.trusts")
    objs = trusting(dtrusts, sdom)
    evidence: dict[str, Any] = {
        "source_domain": sdom, "destination_domain": ddom,
        "trust_objects": [{"held_by": ddom, "trustPartner": t["trustPartner"], "trustAttributes": hex(t["trustAttributes"])}
                          for t in objs],
    }
    if not objs:
        return Outcome(Status.NOT_APPLICABLE, f"{ddom} has no trust toward {sdom}, so there is no selective "
                       "authentication to check; pair-domain-trust reports the missing trust.", evidence=evidence)
    if not any(t["trustAttributes"] & CROSS_ORGANIZATION for t in objs):
        return Outcome(Status.PASS, f"{ddom} trusts {sdom} without selective authentication: accounts of {sdom}, "
                       f"{src.short}'s included, may authenticate to {dst.short}.", evidence=evidence)
    dcomp = f.optional("destination.ad_computer")
    if dcomp is None:
        return unavailable(f, "destination.ad_computer")
    acl = dcomp.get(ACL)
    if acl is None:
        return Outcome(Status.ERROR, f"could not check: who holds \"Allowed to Authenticate\" on {dst.short}'s "
                       f"computer object was not collected (a snapshot from an older hvlm, or {ddom}'s trusts could "
                       "not be read when its computers were); collect the directory again.", evidence=evidence)
    if not acl["readable"]:
        return Outcome(Status.ERROR, f"could not check \"Allowed to Authenticate\" on {dst.short}'s computer object: "
                       f"{acl.get('reason') or 'its permissions could not be read'}", evidence=evidence)
    scomp = f.optional("source.ad_computer")
    if scomp is None:
        return unavailable(f, "source.ad_computer")
    sid = _sid(scomp)
    if sid is None:
        return Outcome(Status.ERROR, f"could not check: the objectSid of {src.short}'s computer object was not read.",
                       evidence=evidence)
    outcome = _judge(src, dst, sid, acl, _sid(dcomp), evidence)
    return _with_operator(f, outcome, src, dst, dtrusts, acl, _sid(dcomp))


def _with_operator(f: Facts, outcome: Outcome, src: HostRef, dst: HostRef, dtrusts: list[Mapping[str, Any]],
                   acl: Mapping[str, Any], dst_sid: str | None) -> Outcome:
    """The source's verdict, made worse when the operator crosses a selective trust without the right."""
    op = f.optional("operator")
    if op is None or outcome.status is Status.FAIL:
        return outcome
    odom = str(op.get("domain") or "").lower()
    if not odom or odom == str(dst.domain).lower():
        return outcome
    if not any(t["trustAttributes"] & CROSS_ORGANIZATION for t in trusting(dtrusts, odom)):
        return outcome
    account = f.operator_name or f"{odom}\\{op.get('sAMAccountName')}"
    sure = {str(op["objectSid"]): account, **_ANY_ACCOUNT, **{str(g): f"a group of {account}" for g in op["tokenGroups"]}}
    allowed, denied = list(acl["allowed"]), list(acl["denied"])
    outcome.evidence["operator"] = account
    if any(s in sure for s in denied) or not any(s in sure for s in allowed):
        # tokenGroups hold every group of the operator's own domain: only other domains' groups may still hold it
        own = domain_sid(str(op["objectSid"]))
        groups = [s for s in allowed if _rid(s) >= FIRST_ACCOUNT_RID and s != dst_sid and domain_sid(s) != own]
        if groups and not any(s in sure for s in denied):
            return Outcome(Status.WARNING, f"{outcome.message} The operator {account} (of {odom}, across the same kind "
                           f"of trust) holds it only if it is in {', '.join(groups)}, which is not among the collected "
                           "facts: confirm it.", outcome.fix or _fix(src, dst, []), outcome.evidence,
                           severity=Severity.MEDIUM)
        return Outcome(Status.FAIL, f"{outcome.message} But the operator {account} (of {odom}, which {dst.domain} trusts "
                       f"with selective authentication) does not hold \"Allowed to Authenticate\" on {dst.short}'s "
                       f"computer object: moves to {dst.short} that {account} starts fail.", _fix(src, dst, []),
                       outcome.evidence)
    return outcome


def _judge(src: HostRef, dst: HostRef, sid: str, acl: Mapping[str, Any], dst_sid: str | None,
           evidence: dict[str, Any]) -> Outcome:
    sure = {sid: f"{src.short}$", **_ANY_ACCOUNT}
    dsid = domain_sid(sid)
    if dsid:
        sure[f"{dsid}-{DOMAIN_COMPUTERS_RID}"] = f"Domain Computers of {src.domain}"
    allowed, denied = list(acl["allowed"]), list(acl["denied"])
    evidence.update({"source_sid": sid, "allowed": allowed, "denied": denied})
    blocked = [f"{sure[s]} ({s})" for s in denied if s in sure]
    if blocked:
        return Outcome(Status.FAIL, f"{dst.short}'s computer object denies \"Allowed to Authenticate\" to "
                       f"{', '.join(blocked)}, and {dst.domain} trusts {src.domain} with selective authentication: "
                       f"moves from {src.short} to {dst.short} fail.", _fix(src, dst, blocked), evidence)
    granted = [f"{sure[s]} ({s})" for s in allowed if s in sure]
    if granted:
        return Outcome(Status.PASS, f"{dst.domain} trusts {src.domain} with selective authentication, and "
                       f"{dst.short}'s computer object grants \"Allowed to Authenticate\" to {', '.join(granted)}.",
                       evidence=evidence)
    groups = [s for s in allowed if _rid(s) >= FIRST_ACCOUNT_RID and s != dst_sid]
    if groups:
        return Outcome(
            Status.WARNING,
            f"{dst.domain} trusts {src.domain} with selective authentication. {dst.short}'s computer object grants "
            f"\"Allowed to Authenticate\" to {', '.join(groups)} but not to {src.short}$ itself; whether {src.short}$ "
            "is a member is not among the collected facts. Confirm it, or grant the right to the account.",
            _fix(src, dst, []), evidence, severity=Severity.MEDIUM,
        )
    return Outcome(Status.FAIL, f"{dst.domain} trusts {src.domain} with selective authentication, and {src.short}$ "
                   f"does not hold \"Allowed to Authenticate\" on {dst.short}'s computer object: moves from "
                   f"{src.short} to {dst.short} fail.", _fix(src, dst, []), evidence)


def _rid(sid: str) -> int:
    tail = sid.rsplit("-", 1)[-1]
    return int(tail) if sid.upper().startswith("S-1-5-21-") and tail.isdigit() else 0


def _fix(src: HostRef, dst: HostRef, denied: list[str]) -> Fix:
    """Grant the source's computer account "Allowed to Authenticate" on the destination's computer object."""
    held = f"{src.short}$ already holds Allowed to Authenticate on {dst.short}: nothing changed."
    lines = [
        f"$source = Get-ADComputer -Identity {ps_quote(src.short)} -Server {ps_quote(str(src.domain))}",
        f"$target = Get-ADComputer -Identity {ps_quote(dst.short)} -Server {ps_quote(str(dst.domain))}",
        f"$right = [guid]{ps_quote(ALLOWED_TO_AUTHENTICATE)}  # Allowed to Authenticate",
        f"# A drive on {dst.domain} for Get-Acl and Set-Acl: one left by an interrupted run is replaced, and the",
        "# drive is removed at the end, even after an error, so that the script can run again in the same session.",
        "if (Get-PSDrive -Name 'HvlmTarget' -ErrorAction SilentlyContinue) {",
        "    Remove-PSDrive -Name 'HvlmTarget'",
        "}",
        f"New-PSDrive -Name 'HvlmTarget' -PSProvider 'ActiveDirectory' -Root '//RootDSE/' "
        f"-Server {ps_quote(str(dst.domain))} | Out-Null",
        "try {",
        "    $path = 'HvlmTarget:\\' + $target.DistinguishedName",
        "    $acl = Get-Acl -Path $path",
        "    # Already granted (directly or inherited)? Then nothing changes.",
        "    $granted = @($acl.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier]) | Where-Object {",
        "        $_.ObjectType -eq $right -and $_.AccessControlType -eq 'Allow' -and "
        "$_.IdentityReference.Value -eq $source.SID.Value",
        "    })",
        "    if ($granted.Count -gt 0) {",
        f"        Write-Output {ps_quote(held)}",
        "    } else {",
        "        $acl.AddAccessRule((New-Object System.DirectoryServices.ActiveDirectoryAccessRule("
        "$source.SID, 'ExtendedRight', 'Allow', $right)))",
        "        Set-Acl -Path $path -AclObject $acl",
        f"        Write-Output {ps_quote(f'{src.short}$ now holds Allowed to Authenticate on {dst.short}.')}",
        "    }",
        "} finally {",
        "    Remove-PSDrive -Name 'HvlmTarget' -ErrorAction SilentlyContinue",
        "}",
        "# Accounts that start moves (the operator, or its group) need the same right on the destination.",
    ]
    if denied:
        lines.insert(0, "# A deny entry wins over a grant: first remove the deny entry this finding names "
                     "(Security tab, Advanced).")
    return ad_fix(
        summary=f"Grant {src.short}'s computer account \"Allowed to Authenticate\" on {dst.short}'s computer object "
        f"(selective authentication on the trust from {dst.domain} to {src.domain}), and the same to the accounts that "
        "start moves.",
        run_on=f"a machine with the ActiveDirectory PowerShell module that reaches {dst.domain}",
        run_as=f"a member of Domain Admins of {dst.domain} (or an account delegated to change permissions on "
        f"{dst.short}'s computer object); changing the trust itself is for Enterprise Admins of both forests",
        powershell="\n".join(lines),
        gui=f"Active Directory Users and Computers ({dst.domain}, View > Advanced Features) > {dst.short} > Properties "
        f"> Security > Add {src.short}$ (from {src.domain}) > Allowed to authenticate",
        docs=(DOCS["allowed-to-authenticate"], DOCS["selective-auth"], DOCS["trusts"]),
    )
