"""The operator's credentials can be delegated as the host's live-migration authentication needs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hvlm.audit.facts import Facts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Fix, Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_quote
from hvlm.audit.registry import check
from hvlm.checks._ad import NOT_DELEGATED, PROTECTED_USERS_RID, ad_fix, auth_type, domain_sid, has_rid, server


@check(
    id="operator-delegable",
    title="Operator account can be delegated",
    severity=Severity.HIGH,
    subject=SubjectKind.OPERATOR,
    requires=("operator", "host.vmhost"),
    rationale="""Every live migration hands the operator's identity from the source to the
    destination: with Kerberos through constrained delegation (the source's computer account acts on
    the operator's behalf), with CredSSP by passing the operator's credentials. Members of Protected
    Users (the domain's SID-525) can be delegated neither way: Microsoft documents that they cannot
    be delegated with constrained or unconstrained delegation and that CredSSP does not work for
    them. "Account is sensitive and cannot be delegated" (userAccountControl 0x100000) stops
    Kerberos delegation, so it fails on hosts set to Kerberos. On a host set to CredSSP that flag
    alone passes, with a note: the flag governs Kerberos tickets, while CredSSP hands over the
    credentials themselves (Microsoft: CredSSP "is not constrained delegation"), which is why
    Protected Users, not the flag, is what blocks CredSSP; the note says the flag will block the
    move to Kerberos that Windows Server 2025 requires. Each host is judged by its own
    authentication type because the source's setting decides how a move from it authenticates.""",
    references=(DOCS["protected-users"], DOCS["uac"], DOCS["second-hop"], DOCS["kcd-blog"], DOCS["credssp-provider"]),
    fix_hint="Take the operator out of Protected Users and clear 'sensitive and cannot be delegated', "
    "or use a dedicated migration account.",
)
def run(f: Facts) -> Outcome:
    host = f.host()
    op = f["operator"]
    auth = auth_type(f["host.vmhost"])
    account = f.operator_name or f"{op['domain']}\\{op['sAMAccountName']}"
    dom_sid = domain_sid(str(op["objectSid"]))
    protected = has_rid(op["tokenGroups"], PROTECTED_USERS_RID, dom_sid)
    sensitive = bool(int(op["userAccountControl"]) & NOT_DELEGATED)
    evidence: dict[str, Any] = {"operator": account, "authentication": auth,
                                "userAccountControl": hex(int(op["userAccountControl"])),
                                "sensitive_cannot_be_delegated": sensitive, "protected_users_sids": protected}
    mode = "Kerberos constrained delegation" if auth == "Kerberos" else "CredSSP"
    blockers = []
    if protected:
        blockers.append(f"a member of Protected Users ({protected[0]})")
    if sensitive and auth == "Kerberos":
        blockers.append('marked "Account is sensitive and cannot be delegated" (userAccountControl 0x100000)')
    if blockers:
        return Outcome(
            Status.FAIL,
            f"{account} is {' and '.join(blockers)}, so {host.short} cannot pass the operator's identity on with "
            f"{mode}: moves from {host.short} fail (typically 0x8009030E, no credentials in the security package).",
            _fix(account, op, protected, sensitive),
            evidence,
        )
    if sensitive:
        return Outcome(
            Status.PASS,
            f"{host.short} uses CredSSP, which hands the operator's credentials over rather than delegating Kerberos "
            f"tickets, so \"sensitive and cannot be delegated\" on {account} does not stop it; {account} is not in "
            "Protected Users. Note: the flag will block moves once this host uses Kerberos, as Windows Server 2025 "
            "with Credential Guard requires.",
            evidence=evidence,
        )
    return Outcome(
        Status.PASS,
        f"{account} can be delegated: not in Protected Users and not marked sensitive ({host.short} uses {auth}).",
        evidence=evidence,
    )


def _fix(account: str, op: Mapping[str, Any], protected: list[str], sensitive: bool) -> Fix:
    domain = str(op["domain"])
    sam = ps_quote(str(op["sAMAccountName"]))
    lines = ["# Prefer a dedicated migration account over weakening a protected admin account."]
    for sid in protected:
        lines.append(f"Remove-ADGroupMember -Identity {ps_quote(sid)}{server(domain)} -Members {sam} -Confirm:$false")
    if sensitive:
        lines.append(f"Set-ADAccountControl -Identity {sam}{server(domain)} -AccountNotDelegated $false")
    return ad_fix(
        summary=f"Let {account} be delegated: "
        + " and ".join(
            (["remove it from Protected Users (matched by the group's SID)"] if protected else [])
            + (['clear "Account is sensitive and cannot be delegated"'] if sensitive else [])
        )
        + ". The operator signs out and in again afterwards.",
        run_on="a machine with the ActiveDirectory PowerShell module (RSAT-AD-PowerShell)",
        run_as=f"a member of Domain Admins of {domain}",
        powershell="\n".join(lines),
        gui="Active Directory Users and Computers > the account > Account > Account options "
        '> "Account is sensitive and cannot be delegated"; Member Of > Protected Users',
        docs=(DOCS["protected-users"], DOCS["uac"], DOCS["set-adaccountcontrol"]),
    )
