"""The operator is in Hyper-V Administrators or Administrators on the host, matched by SID."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hvlm.audit.facts import Facts, HostRef
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Fix, Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_quote
from hvlm.audit.registry import check
from hvlm.checks._ad import (
    ADMINISTRATORS,
    HYPERV_ADMINISTRATORS,
    LOCAL_GROUP_NAMES,
    domain_sid,
)
from hvlm.checks._fixes import LOCAL_ADMIN, on_host

# Well-known SIDs in every domain user's token that tokenGroups does not list.
IMPLICIT = {"S-1-1-0": "Everyone", "S-1-5-11": "Authenticated Users"}


@check(
    id="operator-local-admin",
    title="Operator is a Hyper-V Administrator on the host",
    severity=Severity.HIGH,
    subject=SubjectKind.OPERATOR,
    requires=("operator", "host.local_groups", "host.operating_system?"),
    rationale="""Membership of the local Hyper-V Administrators group (S-1-5-32-578) or Administrators
    (S-1-5-32-544) on both the source and the destination is what Microsoft requires to move a VM.
    Group names are localised, so membership is matched by SID: the operator's objectSid, every
    group SID in its tokenGroups (which already expands nested domain groups) and the implicit
    Everyone and Authenticated Users SIDs, against the SIDs of the members of both local groups.
    tokenGroups does not expand domain-local groups of another domain, so when the operator is not
    found but a local group holds groups from a domain other than the operator's, the result is a
    warning (membership cannot be confirmed), not a pass.""",
    references=(DOCS["setup"], DOCS["use"], DOCS["add-localgroupmember"]),
    fix_hint="Add the operator (or a group it belongs to) to Hyper-V Administrators, by the group's SID.",
)
def run(f: Facts) -> Outcome:
    host = f.host()
    op = f["operator"]
    groups: Mapping[str, Any] = f["host.local_groups"]
    account = _account(f.operator_name, op)
    op_sids = {str(op["objectSid"]).upper(): account}
    op_sids.update({str(s).upper(): "a group it belongs to" for s in op["tokenGroups"]})
    op_sids.update(IMPLICIT)
    evidence: dict[str, Any] = {"operator": account, "operator_sid": op["objectSid"],
                                "token_groups": len(op["tokenGroups"])}
    unknown_groups, foreign = [], []
    op_domain = domain_sid(str(op["objectSid"]))
    for gsid in (HYPERV_ADMINISTRATORS, ADMINISTRATORS):
        group = groups.get(gsid)
        if group is None:
            unknown_groups.append(gsid)
            continue
        members = group["Members"]
        evidence[f"{gsid} members"] = [f"{m['Name']} ({m.get('SID') or 'SID not resolved'})" for m in members]
        for member in members:
            sid = str(member.get("SID") or "").upper()
            if sid and sid in op_sids:
                via = "directly" if sid == str(op["objectSid"]).upper() else f"through {member['Name']} ({sid})"
                return Outcome(
                    Status.PASS,
                    f"{account} is a member of {_group(gsid, group)} on {host.fqdn} {via}.",
                    evidence={**evidence, "matched_group": gsid, "matched_member": member["Name"], "matched_sid": sid},
                )
            if sid and str(member.get("ObjectClass") or "").lower() == "group" and domain_sid(sid) not in (None, op_domain):
                foreign.append(f"{member['Name']} ({sid}) in {_group(gsid, group)}")
    fix = _add_fix(host, account, f.optional("host.operating_system"))
    if unknown_groups:
        evidence["groups_not_collected"] = unknown_groups
        return Outcome(
            Status.ERROR,
            f"could not check {account} on {host.fqdn}: the members of {', '.join(unknown_groups)} were not collected "
            "and the operator is not in the other group.",
            evidence=evidence,
        )
    if foreign:
        evidence["unresolvable_groups"] = foreign
        return Outcome(
            Status.WARNING,
            f"{account} is not a direct or nested member of Hyper-V Administrators or Administrators on {host.fqdn} as "
            f"far as its tokenGroups show, but these groups from another domain cannot be expanded from here: "
            f"{'; '.join(foreign)}. Confirm the membership, or add the operator as below.",
            fix,
            evidence,
            severity=Severity.MEDIUM,
        )
    return Outcome(
        Status.FAIL,
        f"{account} is not a member of Hyper-V Administrators ({HYPERV_ADMINISTRATORS}) or Administrators "
        f"({ADMINISTRATORS}) on {host.fqdn}, directly or through any of its {len(op['tokenGroups'])} groups.",
        fix,
        evidence,
    )


def _account(name: str | None, op: Mapping[str, Any]) -> str:
    """DOMAIN\\user as the inventory names it; else the DNS domain\\sAMAccountName, which Windows also resolves."""
    if name and "\\" in name:
        return name
    return f"{op['domain']}\\{op['sAMAccountName']}"


def _group(sid: str, group: Mapping[str, Any]) -> str:
    return f"{group.get('Name') or LOCAL_GROUP_NAMES[sid]} ({sid})"


def _add_fix(host: HostRef, account: str, os_info: Mapping[str, Any] | None) -> Fix:
    """Idempotent, and right on every release: Add-LocalGroupMember (2016 and later) when the host has it,
    else `net localgroup` with the group's localised name found by its SID (2012 R2)."""
    member = ps_quote(account)
    sid = ps_quote(HYPERV_ADMINISTRATORS)
    script = (
        f"$member = {member}\n"
        f"$sid = {sid}\n"
        "if (Get-Command -Name 'Add-LocalGroupMember' -ErrorAction SilentlyContinue) {\n"
        "    # already a member: nothing to do (running this again changes nothing)\n"
        "    if (-not (Get-LocalGroupMember -SID $sid -Member $member -ErrorAction SilentlyContinue)) {\n"
        "        Add-LocalGroupMember -SID $sid -Member $member\n"
        "    }\n"
        "} else {\n"
        "    # Windows Server 2012 R2 (no Add-LocalGroupMember): the group is found by its SID, not its name;\n"
        "    # net reports 'already a member' (error 1378) without stopping the script\n"
        "    $group = (New-Object System.Security.Principal.SecurityIdentifier($sid)).Translate("
        "[System.Security.Principal.NTAccount]).Value.Split('\\')[-1]\n"
        "    net localgroup $group $member /add\n"
        "}"
    )
    return on_host(
        host,
        f"Add {account} to the local Hyper-V Administrators group (S-1-5-32-578) on {host.short}; "
        "the operator signs out and in again to get the new group.",
        script,
        docs=(DOCS["setup"], DOCS["add-localgroupmember"]),
        gui="Computer Management > Local Users and Groups > Groups > Hyper-V Administrators > Add",
        run_as=LOCAL_ADMIN,
    )
