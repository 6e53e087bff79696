"""NT VIRTUAL MACHINE\\Virtual Machines keeps "Log on as a service" (and "Create symbolic links"), by GPO or locally."""

from __future__ import annotations

from typing import Any

from hvlm.audit.facts import Facts, HostRef
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Fix, Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_quote
from hvlm.audit.registry import check
from hvlm.checks._fixes import LOCAL_ADMIN, on_host

VIRTUAL_MACHINES_SID = "S-1-5-83-0"
VIRTUAL_MACHINES = "NT VIRTUAL MACHINE\\Virtual Machines"
# user right -> (its name in the policy editor, who else it must keep)
RIGHTS = {
    "SeServiceLogonRight": ("Log on as a service", "NT SERVICE\\ALL SERVICES"),
    "SeCreateSymbolicLinkPrivilege": ("Create symbolic links", "Administrators"),
}
_PATH = "Computer Configuration > Policies > Windows Settings > Security Settings > Local Policies > " \
        "User Rights Assignment"


def winning(rights: list[dict[str, Any]], right: str) -> dict[str, Any] | None:
    """The GPO entry that sets `right` in the end (precedence 1 wins), or None when no GPO sets it."""
    entries = [r for r in rights if str(r.get("UserRight", "")).lower() == right.lower()]
    if not entries:
        return None
    return min(entries, key=lambda r: r["Precedence"] if isinstance(r.get("Precedence"), int) else 1 << 30)


def lists_virtual_machines(entry: dict[str, Any]) -> bool:
    return holds_virtual_machines(entry.get("Accounts") or [])


def holds_virtual_machines(accounts: list[dict[str, Any]]) -> bool:
    for account in accounts:
        sid = str(account.get("SID") or "").upper()
        name = str(account.get("Name") or "").strip().lstrip("*").casefold()
        if sid == VIRTUAL_MACHINES_SID or name in (VIRTUAL_MACHINES.casefold(), VIRTUAL_MACHINES_SID.casefold()):
            return True
    return False


def _gpo(entry: dict[str, Any]) -> str:
    return str(entry.get("GPOName") or entry.get("GPOID") or "an unnamed GPO")


@check(
    id="host-logon-as-service",
    title="Virtual machines keep \"Log on as a service\"",
    severity=Severity.HIGH,
    subject=SubjectKind.HOST,
    requires=("host.logon_rights",),
    rationale="""Each VM's worker process logs on as the VM's virtual account, a member of NT VIRTUAL
    MACHINE\\Virtual Machines (S-1-5-83-0); that needs "Log on as a service" (SeServiceLogonRight), and
    its storage links need "Create symbolic links". Hyper-V grants both in the local policy, but a Group
    Policy that sets either right replaces the local list: without the virtual machines in it, VMs
    cannot start on the host and moves to it fail at the destination with 0x80070569 ("the user has not
    been granted the requested logon type", event 21502). hvlm reads which GPO sets the rights from the
    Resultant Set of Policy (RSOP_UserPrivilegeRight), and who holds them in force from `secedit /export
    /areas USER_RIGHTS`, which only reads the local security database (the probe deletes the file it
    writes). "Log on as a service" without S-1-5-83-0 in force fails, whether a GPO or a hand edit of
    the local policy took it; "Create symbolic links" set by a GPO without it fails too (KB 2779204),
    while a local list without it is a medium warning (only the missing logon right is documented to
    fail moves). When secedit could not run (it needs Administrators), a right no GPO sets is a low
    warning "checked only Group Policy" with the command that confirms the local list, never a pass.
    Without RSoP data (logging off, or Group Policy never applied) the rights in force alone decide,
    and the fix first lists the GPOs that apply; with neither, the check cannot judge (an error). A
    GPO's fix is a manual change for its owner: hvlm never edits domain GPOs.""",
    references=(DOCS["log-on-as-a-service"], DOCS["create-symbolic-links"], DOCS["ts-lm"], DOCS["ts-guide"]),
    fix_hint="Add NT VIRTUAL MACHINE\\Virtual Machines to \"Log on as a service\" in the GPO that sets it, then "
             "gpupdate /force on the host.",
)
def run(f: Facts) -> Outcome:
    host = f.host()
    fact = f["host.logon_rights"]
    rights = list(fact.get("Rights") or [])
    effective = fact.get("Effective") if isinstance(fact.get("Effective"), dict) else None
    evidence: dict[str, Any] = {"GroupPolicyObjects": fact.get("GroupPolicyObjects"), "rights": {},
                                "effective": effective, "effective_error": fact.get("EffectiveError")}
    rsop = bool(fact.get("GroupPolicyObjects"))
    if not rsop:
        if effective is None:
            return Outcome(Status.ERROR, f"could not check: {host.fqdn} has no Resultant Set of Policy data (RSoP "
                           "logging turned off, or Group Policy never applied), so which GPO sets its user rights is "
                           "unknown, and its rights in force could not be read either (secedit: "
                           f"{fact.get('EffectiveError') or 'no effective list in the snapshot'}).", evidence=evidence)
        rights = []  # no RSoP: the lists in force decide, whoever set them
    unset = "no GPO sets it" if rsop else "no RSoP data: which GPO sets it is unknown"
    missing: list[tuple[str, dict[str, Any]]] = []  # a GPO sets the right without the virtual machines
    local: list[str] = []  # the right in force lacks them, no GPO sets it
    unread: list[str] = []  # no GPO sets the right and the list in force is unknown
    said = []
    for right, (label, _) in RIGHTS.items():
        entry = winning(rights, right)
        held = None if effective is None else effective.get(right)
        if entry is not None:
            evidence["rights"][right] = {"GPOName": entry.get("GPOName"), "GPOID": entry.get("GPOID"),
                                         "Accounts": [a.get("Name") for a in entry.get("Accounts") or []]}
            if lists_virtual_machines(entry):
                said.append(f"GPO '{_gpo(entry)}' sets \"{label}\" with {VIRTUAL_MACHINES}")
            else:
                missing.append((right, entry))
            continue
        evidence["rights"][right] = None
        if not isinstance(held, list):
            unread.append(right)
            said.append(f"no GPO sets \"{label}\" (the local policy, which Hyper-V maintains, applies)" if rsop
                        else f"\"{label}\" is not in the list of rights in force")
        elif holds_virtual_machines(held):
            said.append(f"no GPO sets \"{label}\" and its local list, in force, holds {VIRTUAL_MACHINES}" if rsop
                        else f"its \"{label}\" in force holds {VIRTUAL_MACHINES}")
        else:
            local.append(right)
    failing = [r for r in local if r == "SeServiceLogonRight"]
    if missing or failing:
        what = [f"GPO '{_gpo(e)}' sets \"{RIGHTS[r][0]}\" without {VIRTUAL_MACHINES} ({VIRTUAL_MACHINES_SID})"
                for r, e in missing]
        what += [f"the local \"{RIGHTS[r][0]}\" ({unset}) does not hold {VIRTUAL_MACHINES} "
                 f"({VIRTUAL_MACHINES_SID}): {_holders(effective, r)}" for r in failing]
        return Outcome(
            Status.FAIL,
            f"On {host.fqdn}, " + "; ".join(what) + ": VMs cannot start there, and moves to it fail with 0x80070569 "
            "(logon type not granted).",
            _fix(host, missing, failing, rsop),
            evidence,
        )
    if local:  # "Create symbolic links" only: Microsoft documents the failure when a GPO overwrites it
        label = RIGHTS[local[0]][0]
        return Outcome(Status.WARNING, f"On {host.fqdn}, the local \"{label}\" ({unset}) does not hold "
                       f"{VIRTUAL_MACHINES} ({VIRTUAL_MACHINES_SID}): {_holders(effective, local[0])}. Hyper-V grants "
                       "it, and Microsoft's troubleshooting guide lists it among the rights VMs need; add it back.",
                       _fix(host, [], local, rsop), evidence, severity=Severity.MEDIUM)
    if unread:
        why = str(fact.get("EffectiveError") or "no effective list in the snapshot")
        labels = " and ".join(f"\"{RIGHTS[r][0]}\"" for r in unread)
        return Outcome(Status.WARNING, f"Checked only Group Policy on {host.fqdn}: " + "; ".join(said) + ". hvlm "
                       f"could not read the local list of {labels} (secedit: {why}); confirm locally that it holds "
                       f"{VIRTUAL_MACHINES} ({VIRTUAL_MACHINES_SID}).", _confirm_fix(host, unread), evidence,
                       severity=Severity.LOW)
    if not rsop:
        said.append("no RSoP data, so which GPO sets them is unknown; the lists in force decide")
    return Outcome(Status.PASS, f"On {host.fqdn}, " + "; ".join(said) + ".", evidence=evidence)


def _holders(effective: dict[str, Any] | None, right: str) -> str:
    names = [str(a.get("Name") or a.get("SID")) for a in (effective or {}).get(right) or []]
    return "it holds " + ", ".join(names) if names else "no one holds it"


def _fix(host: HostRef, missing: list[tuple[str, dict[str, Any]]], local: list[str], rsop: bool = True) -> Fix:
    """The GPO changes for its owner, and the local rights to add back in secpol.msc; then read them back."""
    lines = []
    for n, (right, entry) in enumerate(missing, 1):
        label, keep = RIGHTS[right]
        lines += [
            f"# {n}. A GPO sets \"{label}\" on {host.fqdn} without {VIRTUAL_MACHINES}. Its name:",
            f"$gpoName = {ps_quote(_gpo(entry))}",
            f"# In the Group Policy Management console, edit that GPO: {_PATH} > {label}.",
            f"# Add {VIRTUAL_MACHINES} ({VIRTUAL_MACHINES_SID}) and keep {keep}. An editor on a machine",
            "# without Hyper-V cannot resolve that name: edit the GPO from a Hyper-V host.",
        ]
    if local and not rsop:
        lines += [f"# Without RSoP data hvlm cannot tell whether a GPO sets these rights on {host.fqdn}: first list the",
                  "# GPOs that apply; if one sets the right, change that GPO instead (it overwrites the local list):",
                  "gpresult /scope computer /r"]
    for n, right in enumerate(local, len(missing) + 1):
        label, keep = RIGHTS[right]
        lines += [
            f"# {n}. No GPO sets \"{label}\" on {host.fqdn}, and its local list lacks {VIRTUAL_MACHINES}." if rsop
            else f"# {n}. The \"{label}\" in force on {host.fqdn} lacks {VIRTUAL_MACHINES}.",
            f"# On {host.fqdn}, in Local Security Policy (secpol.msc) > Local Policies > User Rights Assignment >",
            f"# {label} > Add User or Group: {VIRTUAL_MACHINES} (the name resolves on a Hyper-V host); keep {keep}.",
        ]
    if missing:
        lines += [
            f"# Then on {host.fqdn}, apply the policy and read the rights back (S-1-5-83-0 must be listed):",
            "gpupdate /target:computer /force",
            "Get-CimInstance -Namespace 'root\\rsop\\computer' -ClassName 'RSOP_UserPrivilegeRight' -Filter "
            "\"precedence=1 AND (UserRight='SeServiceLogonRight' OR UserRight='SeCreateSymbolicLinkPrivilege')\" |",
            "    Select-Object -Property 'UserRight', 'AccountList'",
        ]
    if local:
        lines += [f"# Then read the rights in force back on {host.fqdn} (each line must list *{VIRTUAL_MACHINES_SID}):",
                  *_secedit_read(local)]
    asks = []
    if missing:
        gpos = ", ".join(dict.fromkeys(f"'{_gpo(e)}'" for _, e in missing))
        asks.append(f"Have the owner of GPO {gpos} add {VIRTUAL_MACHINES} to "
                    + " and ".join(f"\"{RIGHTS[r][0]}\"" for r, _ in missing)
                    + f" (it usually comes from a domain security baseline), then refresh Group Policy on {host.fqdn}.")
    if local:
        asks.append(f"On {host.fqdn}, add {VIRTUAL_MACHINES} back to the local "
                    + " and ".join(f"\"{RIGHTS[r][0]}\"" for r in local) + " in Local Security Policy.")
    gui = f"Group Policy Management > the GPO > Edit > {_PATH}" if missing else \
        f"Local Security Policy (secpol.msc) > Local Policies > User Rights Assignment > {RIGHTS[local[0]][0]}"
    return on_host(
        host,
        " ".join(asks),
        "\n".join(lines),
        docs=(DOCS["log-on-as-a-service"], DOCS["ts-lm"], *((DOCS["gpupdate"],) if missing else ())),
        gui=gui,
        run_as=f"{LOCAL_ADMIN}, after an editor of the GPO changed it" if missing else LOCAL_ADMIN,
        kind="manual",
    )


def _secedit_read(rights: list[str]) -> list[str]:
    """Export the rights in force to a temporary file (secedit changes no setting), show them, delete the file."""
    return [
        "$inf = Join-Path -Path $env:TEMP -ChildPath 'hvlm-rights.inf'",
        "secedit /export /cfg $inf /areas USER_RIGHTS | Out-Null",
        "Select-String -Path $inf -Pattern " + ", ".join(ps_quote(r) for r in rights),
        "[System.IO.File]::Delete($inf)",
    ]


def _confirm_fix(host: HostRef, rights: list[str]) -> Fix:
    """Read the effective local user rights by hand: secedit exports them to a temporary file, read and deleted."""
    return on_host(
        host,
        f"On {host.fqdn}, read the effective " + " and ".join(f"\"{RIGHTS[r][0]}\"" for r in rights)
        + f" and look for *{VIRTUAL_MACHINES_SID}. It changes no setting: secedit writes the export to a temporary "
        "file, which the command reads and deletes.",
        "\n".join([
            *_secedit_read(rights),
            f"# Each line must list *{VIRTUAL_MACHINES_SID}. If one does not, add {VIRTUAL_MACHINES} back to that right",
            "# in Local Security Policy (secpol.msc) on this host, where the name resolves.",
        ]),
        docs=(DOCS["log-on-as-a-service"], DOCS["ts-lm"]),
        gui=f"Local Security Policy (secpol.msc) > Local Policies > User Rights Assignment > {RIGHTS[rights[0]][0]}",
        run_as=LOCAL_ADMIN,
        kind="manual",  # read by a person: secedit writes (and the command deletes) a temporary file
    )
