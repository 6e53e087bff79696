"""A VM whose files stay on an SMB share: what the share and the delegation must allow both hosts."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from hvlm.audit.facts import Facts, HostRef, RoleFacts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Fix, Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_quote
from hvlm.audit.registry import check
from hvlm.checks._ad import (
    ad_fix,
    add_delegation_ps,
    auth_type,
    missing,
    netbios,
    outside_domain,
    unavailable,
    uses_kerberos,
)
from hvlm.checks._keys import rows_of_vm, workgroup
from hvlm.checks._vmfacts import is_share, rows_of

CIFS = "cifs"


def share_of(path: str) -> tuple[str, str]:
    """(file server, share) of a UNC path \\\\server\\share\\..."""
    parts = path[2:].split("\\")
    return parts[0], parts[1] if len(parts) > 1 else ""


def smb_paths(disks: list[dict[str, Any]], files: list[dict[str, Any]], checkpoints: list[dict[str, Any]]) -> list[str]:
    """Every path of the VM on an SMB share: disks and their chains, its configuration, checkpoint and smart
    paging folders, its checkpoints' folders and disks, in order, each once."""
    found: list[str] = []
    candidates: list[Any] = []
    for disk in disks:
        candidates.append(disk.get("Path"))
        candidates += [p.get("Path") for p in disk.get("Parents") or []]
    for row in files:
        candidates += [row.get("ConfigurationLocation"), row.get("SnapshotFileLocation"), row.get("SmartPagingFilePath")]
    for cp in checkpoints:
        candidates.append(cp.get("Path"))
        candidates += [d.get("Path") for d in cp.get("HardDrives") or []]
    seen: set[str] = set()
    for path in candidates:
        if is_share(path) and str(path).lower() not in seen:
            seen.add(str(path).lower())
            found.append(str(path))
    return found


def _servers(vm: Mapping[str, Any], src: RoleFacts) -> Hashable:
    paths = smb_paths(rows_of_vm(vm, src, "vm_hard_disks"), rows_of_vm(vm, src, "vm_files"),
                      rows_of_vm(vm, src, "vm_checkpoints"))
    return frozenset(share_of(p)[0].casefold() for p in paths) or None


def _side(side: RoleFacts) -> Hashable:
    def compute(s: RoleFacts) -> Hashable:
        comp = s["ad_computer"]
        entries = None if comp is None else frozenset(
            str(v).strip().casefold() for v in comp.get("msDS-AllowedToDelegateTo") or [])
        return auth_type(s["vmhost"]), entries, workgroup(s)

    return side.derived("smb:side", compute)


def _source_side(side: RoleFacts) -> Hashable:
    """The source's part names the host: whether moves start on it (the management fact) changes the verdict."""
    return side.ref.name, _side(side)


def started_on(mgmt: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """(machine that starts moves, the inventory host it is) as the management fact tells: the inventory's
    management_host, else the Windows machine hvlm ran on (judged as the management machine); else unknown."""
    if mgmt is None:
        return None, None
    if mgmt.get("named_by") == "inventory" and mgmt.get("inventory_host"):
        return str(mgmt["inventory_host"]), str(mgmt["inventory_host"])
    if mgmt.get("windows") is not None:
        host = mgmt.get("inventory_host")
        return str(mgmt["computer"]), None if host is None else str(host)
    return None, None


def wanted(server: str) -> str:
    """The SPN the SMB client asks a ticket for: cifs/ and the server's name as the path writes it."""
    return f"{CIFS}/{server}"


def spn_pair(server: str, domain: str | None) -> list[str]:
    """Both names of the file service to add (NetBIOS and FQDN), as ADUC writes them."""
    if "." in server:
        return [f"{CIFS}/{netbios(server.split('.')[0])}", f"{CIFS}/{server.lower()}"]
    return [f"{CIFS}/{netbios(server)}"] + ([f"{CIFS}/{server.lower()}.{domain.lower()}"] if domain else [])


@check(
    id="vm-smb-storage",
    title="VM storage on an SMB share: share permissions and delegation for both hosts",
    severity=Severity.MEDIUM,
    subject=SubjectKind.VM,
    requires=("source.vms", "source.vm_hard_disks", "source.vm_files", "source.vm_checkpoints",
              "source.vmhost?", "destination.vmhost?", "source.ad_computer?", "destination.ad_computer?",
              "source.computer_system?", "destination.computer_system?", "management?"),
    parts=(_source_side, _side),
    vm_key=_servers,
    vm_pair_free=lambda servers: servers is None,  # no file on a share: a pass whatever the hosts
    rationale="""A VM whose disks or configuration are on an SMB share (a path \\\\server\\share\\...) is
    moved without its storage: the destination opens the same files. Microsoft's "Deploy Hyper-V over SMB"
    requires the computer accounts of both hosts to have Full Control on the share and on its folder (and
    SMB 3.0 or later, BPA rule 19). hvlm reads the hosts, not the file server: a share's permissions cannot
    be read from the host probe, so a VM on a share is always a warning with the commands to verify them on
    the file server, never a pass. When a move is started from another machine (Hyper-V Manager, Windows
    Admin Center, Move-VM -ComputerName), each host reaches the share on the operator's behalf: a second hop
    that Kerberos allows only with constrained delegation to cifs/<file server>, under the name the path
    uses, in each host's msDS-AllowedToDelegateTo (the directory facts hold it; compared
    case-insensitively); a move started in a session on the source itself is a first hop and does
    not need it. So a host without it fails (medium) only when hvlm knows that moves start on
    another machine: the inventory's management_host names a host other than the source, or hvlm
    ran on a Windows management machine that is not the source. When moves start on the source, it
    is a low warning (a move started elsewhere would fail); when hvlm cannot tell where moves start,
    a medium warning that names which way fails. Resource-based delegation on the file server's own
    object would serve too, but hvlm does not read that object. Two hosts that both use CredSSP
    delegate the operator's credentials instead: then only the share permissions apply. VMs
    without files on a share pass.""",
    references=(DOCS["hyperv-over-smb"], DOCS["kcd-overview"], DOCS["second-hop"], DOCS["get-smbshareaccess"],
                DOCS["ts-lm"]),
    fix_hint="Add cifs/<file server> to both hosts' delegation; verify both computer accounts' Full Control on the share.",
)
def run(f: Facts) -> Outcome:
    vm: dict[str, Any] = f.vm or {}
    name = str(vm["Name"])
    paths = smb_paths(rows_of(vm, f["source.vm_hard_disks"]), rows_of(vm, f["source.vm_files"]),
                      rows_of(vm, f["source.vm_checkpoints"]))
    evidence: dict[str, Any] = {"vm": name, "smb_paths": paths}
    if not paths:
        return Outcome(Status.PASS, f"{name} keeps no file on an SMB share.", evidence=evidence)
    servers = list(dict.fromkeys(share_of(p)[0] for p in paths))
    evidence["file_servers"] = servers
    na = outside_domain(f, "source", "destination", what="access to an SMB share with computer accounts")
    if na is not None:
        return na
    src, dst = f.host("source"), f.host("destination")
    verify = _verify(name, paths, src, dst)
    if not uses_kerberos(f.optional("source.vmhost"), f.optional("destination.vmhost")):
        return Outcome(Status.WARNING, f"{name} keeps files on {_names(servers)}; both hosts use CredSSP, so no "
                       f"delegation is needed, but hvlm cannot read the share permissions: {_ask(src, dst)}",
                       verify, evidence, severity=Severity.LOW)
    lacking: list[tuple[HostRef, list[str]]] = []
    for role, ref in (("source", src), ("destination", dst)):
        comp = f.optional(f"{role}.ad_computer")
        if comp is None:
            return unavailable(f, f"{role}.ad_computer")
        absent = missing(comp.get("msDS-AllowedToDelegateTo") or [], [wanted(s) for s in servers])
        evidence[f"{role}.missing"] = absent
        if absent:
            lacking.append((ref, absent))
    if not lacking:
        return Outcome(Status.WARNING, f"{name} keeps files on {_names(servers)}; both hosts may delegate to "
                       f"{', '.join(wanted(s) for s in servers)}. hvlm cannot read the share permissions: "
                       f"{_ask(src, dst)}", verify, evidence, severity=Severity.LOW)
    said = "; ".join(f"{ref.fqdn} lacks {', '.join(absent)}" for ref, absent in lacking)
    machine, host = started_on(f.optional("management"))
    evidence["moves_started_on"] = machine
    lacks = f"{name} keeps files on {_names(servers)}, and {said} in msDS-AllowedToDelegateTo"
    if host is not None and host == src.name:
        return Outcome(Status.WARNING, f"{lacks}; moves start on {src.fqdn} itself (the management machine), which "
                       "needs no delegation for the share. A move started from any other machine would fail when "
                       f"the host opens the files on the operator's behalf. hvlm cannot read the share permissions: "
                       f"{_ask(src, dst)}", verify, evidence, severity=Severity.LOW)
    if machine is None:
        return Outcome(Status.WARNING, f"{lacks}: a move started from another machine (Hyper-V Manager, Windows "
                       "Admin Center, Move-VM -ComputerName) fails when the host opens the files on the operator's "
                       f"behalf; one started in a session on {src.fqdn} itself works. hvlm does not know where moves "
                       "start (name it as management_host in the inventory). Verify the share permissions as well "
                       "(hvlm cannot read them).", _delegation_fix(name, lacking, servers, verify), evidence)
    return Outcome(
        Status.FAIL,
        f"{lacks}: moves start on {machine}, not on the source, so each host must delegate to the file service "
        "there, and the move fails when the host opens the files on the operator's behalf. Verify the share "
        "permissions as well (hvlm cannot read them).",
        _delegation_fix(name, lacking, servers, verify),
        evidence,
    )


def _names(servers: list[str]) -> str:
    return ("the SMB share of " if len(servers) == 1 else "SMB shares of ") + ", ".join(servers)


def _ask(src: HostRef, dst: HostRef) -> str:
    return (f"on the file server, confirm that the computer accounts {netbios(src.short)}$ and {netbios(dst.short)}$ "
            "have Full Control on the share and on the VM's folder.")


def _verify(name: str, paths: list[str], src: HostRef, dst: HostRef) -> Fix:
    """Read-only commands that show the share and folder permissions, run on the (first) file server."""
    server = share_of(paths[0])[0]
    shares = list(dict.fromkeys(share_of(p) for p in paths))
    folders = list(dict.fromkeys(p if not p.lower().endswith((".vhdx", ".vhd", ".avhdx", ".avhd"))
                                 else p.rsplit("\\", 1)[0] for p in paths))
    lines = [f"# {name}: the computer accounts {netbios(src.short)}$ ({src.fqdn}) and {netbios(dst.short)}$ "
             f"({dst.fqdn}) need Full Control",
             "# on each share and on each folder below. Look for both accounts (or a group holding them) with Full.",
             "# Get-SmbShareAccess runs on the file server; Get-Acl reads the folders over SMB from anywhere."]
    for srv, share in shares:
        if srv.casefold() == server.casefold():
            lines.append(f"Get-SmbShareAccess -Name {ps_quote(share)} |")
            lines.append("    Format-Table -Property 'AccountName', 'AccessControlType', 'AccessRight'")
        else:
            lines.append(f"# on {srv}: Get-SmbShareAccess -Name {ps_quote(share)}")
    for folder in folders:
        lines.append(f"(Get-Acl -LiteralPath {ps_quote(folder)}).Access |")
        lines.append("    Format-Table -Property 'IdentityReference', 'FileSystemRights', 'AccessControlType'")
    return Fix(
        summary=f"Verify by hand that {netbios(src.short)}$ and {netbios(dst.short)}$ have Full Control on the share and "
        f"folder of {name} (hvlm cannot read a file server's permissions). The commands only read.",
        run_on=server,
        run_as="an administrator of the file server",
        powershell="\n".join(lines),
        docs=(DOCS["hyperv-over-smb"], DOCS["get-smbshareaccess"]),
        target="host",
        kind="check",
    )


def _delegation_fix(name: str, lacking: list[tuple[HostRef, list[str]]], servers: list[str], verify: Fix) -> Fix:
    lines = [f"# {name}'s files are on {', '.join(servers)}: each host delegates to the file service there, so that"
             " a move", "# started from another machine reaches the share on the operator's behalf."]
    for ref, absent in lacking:
        # the name the path uses (what the audit found missing) and the other form of it, as ADUC adds them;
        # the script adds only those the host still lacks when it runs
        entries = [*(spn for s in servers for spn in spn_pair(s, ref.domain)), *absent]
        lines.append(f"# The audit found {ref.fqdn} lacking {', '.join(absent)}.")
        lines.append(add_delegation_ps(ref, entries))
        lines += [f"# Then let {ref.fqdn} pick up the change: a ticket obtained before it stays valid up to 10 hours by",
                  "# default. Needs local admin rights there; if refused, run klist purge -li 0x3e7 on that host.",
                  f"Invoke-Command -ComputerName {ps_quote(ref.fqdn)} -ScriptBlock {{ klist purge -li 0x3e7 }} "
                  "-ErrorAction Continue"]
    lines.append("# Then verify the share permissions on the file server (read-only):")
    lines += [f"#   {line}" if not line.startswith("#") else f"#   {line[2:]}" for line in verify.powershell.splitlines()]
    return ad_fix(
        f"Let {' and '.join(ref.fqdn for ref, _ in lacking)} delegate to cifs on {', '.join(servers)}, adding only the "
        "entries each lacks when the script runs (entries already there are kept), then verify the share "
        "permissions by hand.",
        "\n".join(lines),
        docs=(DOCS["hyperv-over-smb"], DOCS["kcd-overview"], DOCS["set-adcomputer"]),
    )
