"""The cause catalogue: what can make a live migration fail with a given code, as data plus small predicates.

Each cause names the checks whose findings judge it and how it produces the error; its predicate
turns those findings (or, for a few, facts such as whenChanged) into a judgement. Causes that no
configuration shows (a corrupt Registry.pol, a router dropping TCP 6600) are always "possible",
with the command that checks them by hand. Sources: the facts document, sections 3, 4 and 7.4
(Microsoft's setup and troubleshooting articles, the Credential Guard known issues, the KCD blog).
Which causes a code has, in which order, is in catalogue.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from hvlm.audit.diagnose import handwork as hw
from hvlm.audit.diagnose.judging import Context, FactNote, Judgement, Step, Verdict, by_findings, strongest
from hvlm.audit.diagnose.tickets import POLICY_DOCS, recent_change
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Finding, Severity, Status
from hvlm.audit.snapshot import FactError

__all__ = ["CAUSES", "Cause"]

_MORE_DOCS = {
    "ts-guide": "https://learn.microsoft.com/troubleshoot/windows-server/virtualization/troubleshoot-live-migration-guidance",
}


@dataclass(frozen=True)
class Cause:
    id: str
    title: str  # {src} / {dst}: short names of the move's hosts
    why: str  # how this cause produces the error
    checks: tuple[str, ...]  # the checks whose findings judge it (empty: facts or nothing)
    judge: Callable[[Context], Judgement]
    docs: tuple[str, ...]


def _auth(f: Finding, key: str = "source") -> str | None:
    value = f.evidence.get(key)
    return str(value) if value is not None else None


# -- CredSSP -------------------------------------------------------------------------------------


def _credential_guard(ctx: Context) -> Judgement:
    found = ctx.of("pair-credssp")
    j = by_findings(found, problem=lambda f: f.status is Status.FAIL)
    if j.verdict is Verdict.RULED_OUT:
        src = ctx.source.short
        f = found[0]
        if _auth(f) == "CredSSP":
            running = f.evidence.get("SecurityServicesRunning", [])
            return replace(j, reason=f"Credential Guard does not run on {src} (Win32_DeviceGuard "
                           f"SecurityServicesRunning {running}), so CredSSP can still use signed-in credentials there.")
        return replace(j, reason=f"{src} uses {_auth(f) or 'Kerberos'}, not CredSSP, for live migration.")
    if j.verdict is Verdict.POSSIBLE:
        return replace(j, steps=(Step(f"Check whether Credential Guard runs on {ctx.source.short} (1 in the list "
                                      "means it does).", hw.credential_guard(ctx.source)),))
    return j


def _double_hop(ctx: Context) -> Judgement:
    found = ctx.of("pair-credssp")
    src, dst = ctx.source, ctx.destination
    credssp = [f for f in found if _auth(f) == "CredSSP"]
    if not credssp:
        j = by_findings(found, problem=lambda f: False)
        if j.verdict is Verdict.RULED_OUT:
            return replace(j, reason=f"{src.short} uses {_auth(found[0]) or 'Kerberos'}, not CredSSP: no operator "
                           "credentials need to be on the source.")
        return j
    fixes = (*tuple(f.fix for f in credssp if f.fix), hw.sign_in_fix(src, dst))
    said = ctx.initiation
    if said.on_source is True:
        return Judgement(Verdict.RULED_OUT, f"{src.short} uses CredSSP, but the move was started on {src.short} "
                         f"itself ({said.given}), where the operator's credentials are.", tuple(credssp))
    if said.on_source is False:
        return Judgement(Verdict.CONFIRMED, f"{src.short} uses CredSSP and the move was started from {said.given}, "
                         f"not from a session on {src.short}: {src.short}'s VMMS has no credentials of the operator "
                         f"to pass on to {dst.short}. Sign in to {src.fqdn} and start the move there, or move the "
                         "pair to Kerberos.", tuple(credssp), fixes=fixes, alternatives=True)
    return Judgement(
        Verdict.LIKELY,
        f"{src.short} uses CredSSP, so the move works only when started from a session on {src.short}. Where was "
        "it started? If not on that host, this is the cause.",
        tuple(credssp), fixes=fixes, alternatives=True,
        steps=(Step(f"Answer with --initiated-from HOST (the machine the move was started from): {src.short} rules "
                    "this cause out, any other machine confirms it."),
               Step(f"Quickest way out: sign in to {src.fqdn} (console, RDP or a CredSSP PowerShell session) and "
                    "start the move there.")),
    )


# -- Kerberos delegation -------------------------------------------------------------------------

_KCD = ("pair-kcd-migration-service", "pair-kcd-cifs")


def _missing(f: Finding) -> list[str]:
    return [str(m) for m in f.evidence.get("missing") or []]


def _whole(f: Finding) -> bool:
    """No usable classic entry at all: both name forms missing, or a pair across domains."""
    return bool(f.evidence.get("cross_domain")) or len(_missing(f)) >= 2


def _smb_option(ctx: Context) -> bool:
    """Either host uses the SMB performance option, or its option is unknown (every move then needs cifs)."""
    for role in ("source", "destination"):
        _, fact = ctx.fact(f"{role}.vmhost")
        if isinstance(fact, FactError) or fact["value"].get("VirtualMachineMigrationPerformanceOption") == "SMB":
            return True
    return False


def _cifs_only(ctx: Context, check: str, j: Judgement) -> Judgement:
    """A cifs entry alone missing blocks moves that copy storage (and SMB transport), not every move.

    Without the SMB option, a move of a VM on shared storage needs only the migration service, so
    the missing cifs entry is likely, not confirmed: a confirmed fault that blocks every move (such
    as "Kerberos only") must rank above it.
    """
    if check != "pair-kcd-cifs" or j.verdict is not Verdict.CONFIRMED or _smb_option(ctx):
        return j
    return replace(j, verdict=Verdict.LIKELY, reason=j.reason + f" Delegation to {ctx.destination.short}'s "
                   "migration service is in place, so this stops only moves that carry storage (Move-VM "
                   "-IncludeStorage) or copy over SMB: the cause if this move carried storage.")


def _kcd_missing(ctx: Context) -> Judgement:
    judged = []
    found_all: list[Finding] = []
    for check in _KCD:
        found = ctx.of(check)
        found_all += found
        j = by_findings(found, problem=lambda f: f.status is Status.FAIL and _whole(f))
        rbcd = [f for f in found if f.status is Status.WARNING]
        if rbcd:
            j = Judgement(Verdict.POSSIBLE, "Only resource-based delegation lets the source delegate here: "
                          + rbcd[0].message, tuple(rbcd), fixes=tuple(f.fix for f in rbcd if f.fix))
        judged.append(_cifs_only(ctx, check, j))
    j = strongest(judged)
    if j.verdict is Verdict.RULED_OUT and any(f.status is Status.FAIL for f in found_all):
        return replace(j, reason="One name form of each entry is present, so delegation exists (see the name-form "
                       "cause): " + j.reason)
    if j.verdict is Verdict.RULED_OUT and all(f.status is Status.NOT_APPLICABLE for f in found_all):
        return replace(j, reason=f"Kerberos is not selected on either host: {judged[0].reason}")
    return j


def _name_form(ctx: Context) -> Judgement:
    judged = []
    found_all: list[Finding] = []
    names = ctx.names_in_message(ctx.destination)
    for check in _KCD:
        found = ctx.of(check)
        found_all += found
        j = by_findings(found, problem=lambda f: f.status is Status.FAIL and len(_missing(f)) == 1
                        and not f.evidence.get("cross_domain"))
        if j.verdict is Verdict.CONFIRMED:
            absent = _missing(j.findings[0])[0]
            asked = [n for n in names if absent.casefold().endswith("/" + n.casefold())]
            if asked:
                j = replace(j, reason=j.reason + f" The error message names the destination as {asked[0]}, exactly the "
                            "form that is missing.")
        judged.append(_cifs_only(ctx, check, j))
    j = strongest(judged)
    if j.verdict is Verdict.RULED_OUT and any(f.status is Status.FAIL for f in found_all):
        return replace(j, reason="Neither name form is present (see the missing-delegation cause): " + j.reason)
    if j.verdict is Verdict.RULED_OUT and all(f.status is Status.NOT_APPLICABLE for f in found_all):
        return replace(j, reason=f"Kerberos is not selected on either host: {judged[0].reason}")
    return j


def _kerberos_only(ctx: Context) -> Judgement:
    j = by_findings(ctx.of("host-kcd-any-protocol", "source"))
    if j.verdict is Verdict.CONFIRMED and ctx.initiation.on_source is True:
        return replace(j, verdict=Verdict.POSSIBLE, reason=j.reason + f" But the move was started on "
                       f"{ctx.source.short} itself: Microsoft's explanation (the WinRM ticket VMMS cannot reach) is "
                       "about moves started remotely, so this may not be what stopped this one.")
    return j


def _operator(ctx: Context) -> Judgement:
    j = by_findings(ctx.of("operator-delegable", "source"), not_run="no operator account was looked up")
    if j.verdict is Verdict.POSSIBLE:
        return replace(j, steps=(Step("Name the account that started the move (inventory [operator] account, or "
                                      "--operator for a live run) so it can be looked up in Active Directory."),))
    if j.verdict is Verdict.RULED_OUT:
        return replace(j, steps=(Step("This is the operator account of the snapshot: if another account started "
                                      "the move, check that one, on the machine it was started from.",
                                      "whoami /user /groups"),))
    return j


def _single(check: str, host: str | None = None) -> Callable[[Context], Judgement]:
    def judge(ctx: Context) -> Judgement:
        return by_findings(ctx.of(check, host))

    judge.__name__ = f"judge_{check.replace('-', '_')}"
    return judge


def _migration_network(ctx: Context) -> Judgement:
    return strongest([by_findings(ctx.of("pair-shared-migration-subnet")),
                      by_findings(ctx.of("host-migration-subnets", "destination"))])


# -- domain controllers --------------------------------------------------------------------------


def _dc_unreachable(ctx: Context) -> Judgement:
    notes, empty, errors = [], [], []
    for role, ref in (("source", ctx.source), ("destination", ctx.destination)):
        path, fact = ctx.fact(f"{role}.domain_controllers")
        if isinstance(fact, FactError):
            errors.append(f"{path}: {fact.message}")
            continue
        targets = [str(d.get("target", "")).rstrip(".") for d in fact["value"]]
        notes.append(FactNote(path, targets, fact.get("collected_at"), f"domain controllers of {ref.short}'s domain"))
        if not targets:
            empty.append(f"no domain controller of {ref.domain} is registered in DNS (_ldap._tcp SRV)")
    steps = (Step(f"From {ctx.source.short} itself, find a DC and reach its Kerberos port.",
                  hw.dc_lookup(ctx.source, ctx.source.domain)),)
    if empty:
        return Judgement(Verdict.LIKELY, "; ".join(empty) + ".", facts=tuple(notes), steps=steps)
    if errors:
        return Judgement(Verdict.POSSIBLE, "Could not be checked: " + "; ".join(errors), facts=tuple(notes),
                         steps=steps, unchecked=True)
    return Judgement(Verdict.POSSIBLE, "Domain controllers are registered in DNS ("
                     + ", ".join(", ".join(n.value) for n in notes) + "), but whether the source reaches one on "
                     "TCP/UDP 88 cannot be seen from here.", facts=tuple(notes), steps=steps)


# -- causes no configuration shows -----------------------------------------------------------------


def _by_hand(reason: str, *steps: Callable[[Context], Step]) -> Callable[[Context], Judgement]:
    def judge(ctx: Context) -> Judgement:
        return Judgement(Verdict.POSSIBLE, reason.format(src=ctx.source.short, dst=ctx.destination.short),
                         steps=tuple(s(ctx) for s in steps))

    return judge


def _checked(check: str, host: str | None, *steps: Callable[[Context], Step]) -> Callable[[Context], Judgement]:
    """A cause a check now judges; where it could not (an error, or a snapshot from before the check's facts),
    the by-hand steps stay."""
    def judge(ctx: Context) -> Judgement:
        j = by_findings(ctx.of(check, host))
        if j.verdict is Verdict.POSSIBLE:
            return replace(j, steps=tuple(s(ctx) for s in steps))
        return j

    judge.__name__ = f"judge_{check.replace('-', '_')}"
    return judge


def _disk_path(ctx: Context) -> Judgement:
    """vm-storage-fits: a disk Get-VHD could not open on the source (an error naming it) points at this cause; a
    disk on a share is possible (the destination must reach the share); disks that all opened rule it out."""
    found = ctx.of("vm-storage-fits")
    unread = [f for f in found if f.status is Status.ERROR and f.message.startswith("Cannot size")]
    if unread:
        return Judgement(Verdict.LIKELY, unread[0].message + f" A file {ctx.source.short} cannot open, the move "
                         "cannot open either.", tuple(unread),
                         steps=(Step(f"On {ctx.source.short}, open the VM's disks.", hw.vhd_paths(ctx.source)),))
    shared = [f for f in found if f.evidence.get("on_shares")]
    if shared:
        return Judgement(Verdict.POSSIBLE, f"Disks of {ctx.source.short}'s VMs live on SMB shares: "
                         f"{ctx.destination.short}'s computer account must be able to open them there.", tuple(shared),
                         steps=(Step(f"On {ctx.destination.short}, open the VM's disks on the share.",
                                     hw.vhd_paths(ctx.destination)),))
    j = by_findings(found, problem=lambda f: False, not_run="the source has no VMs in the snapshot")
    if j.verdict is Verdict.RULED_OUT:
        return replace(j, reason=f"Every virtual disk of {ctx.source.short}'s VMs opened with Get-VHD on "
                       f"{ctx.source.short}, and none lives on a share.")
    return replace(j, steps=(Step(f"On {ctx.source.short}, open the VM's disks.", hw.vhd_paths(ctx.source)),))


def _dest_vmms(ctx: Context) -> Judgement:
    """A failure (no role, vmms not running) confirms; a warning means vmms ran when read but starts Manual."""
    found = ctx.of("host-hyperv-role", "destination")
    j = by_findings(found, problem=lambda f: f.status is Status.FAIL)
    manual = [f for f in found if f.status is Status.WARNING]
    if j.verdict is Verdict.RULED_OUT and manual:
        dst = ctx.destination.short
        return Judgement(Verdict.POSSIBLE, f"vmms was running on {dst} when the facts were read, but it starts "
                         f"{manual[0].evidence.get('vmms.StartType')}: if {dst} restarted since, it is not running and "
                         "nothing listens on TCP 6600.", tuple(manual), fixes=tuple(f.fix for f in manual if f.fix))
    return j


def _memory(ctx: Context) -> Judgement:
    """vm-memory-fit warns from the free memory when collected, which changes by the minute: likely at most, with
    the destination's free memory now as the step that settles it. An Off VM's low warning (it would not start
    there) is no cause of a failed live migration."""
    j = by_findings(ctx.of("vm-memory-fit"), problem=lambda f: f.severity is not Severity.LOW,
                    not_run="the source has no VMs in the snapshot")
    dst = ctx.destination
    now = Step(f"Read {dst.short}'s free memory now (GiB) and compare it with what the VM needs.",
               hw.free_memory(dst))
    if j.verdict is Verdict.RULED_OUT:
        return replace(j, reason=f"Every VM of {ctx.source.short} fits {dst.short}'s free memory as "
                       "collected (free memory changes by the minute).", steps=(now,))
    if j.verdict is Verdict.LIKELY:
        return replace(j, reason=j.reason + f" Free memory changes by the minute: {dst.short}'s free memory at the "
                       "time of the move decides.", steps=(now,))
    return j


def _media(ctx: Context) -> Judgement:
    """An attached image is a warning: hvlm never looks for the file on the destination, so the cause is likely, and
    Test-Path on the destination settles it. A pass-through drive fails (it cannot follow): confirmed."""
    found = ctx.of("vm-media-attached")
    j = by_findings(found)
    dst = ctx.destination
    if j.verdict is Verdict.LIKELY:
        steps = []
        for f in j.findings:
            for drive in f.evidence.get("drives") or []:
                path = drive.get("Path")
                if path and drive.get("DvdMediaType") != "PassThrough":
                    steps.append(Step(f"Check that {dst.short} has {f.evidence.get('vm')}'s image at the same path "
                                      "(False: this is the cause; True: the image is there, though a mounted "
                                      "vmguest.iso has been reported to block moves anyway).",
                                      hw.test_path(dst, str(path))))
        return replace(j, reason=j.reason + f" hvlm did not check that {dst.short} has the file: likely, not "
                       "confirmed.", steps=tuple(steps))
    if j.verdict is Verdict.POSSIBLE:
        return replace(j, steps=(Step(f"On {ctx.source.short}, read the VM's DVD drive; set it to None "
                                      "(Set-VMDvdDrive -Path $null) or copy the ISO to the same path on the "
                                      "destination.", hw.dvd_drives(ctx.source)),))
    return j


def _user_rights(ctx: Context) -> Judgement:
    """A right without the virtual machines in force (set so by a GPO, or taken from the local list) fails:
    confirmed. A warning (the local list could not be read, or "Create symbolic links" alone lacks them
    locally) is possible until the command on the destination shows it; a pass rules the cause out."""
    found = ctx.of("host-logon-as-service", "destination")
    j = by_findings(found, problem=lambda f: f.status is Status.FAIL)
    step = Step(f"On {ctx.destination.short}, read both rights and look for *S-1-5-83-0.",
                hw.user_rights(ctx.destination))
    local = [f for f in found if f.status is Status.WARNING]
    if j.verdict is Verdict.RULED_OUT and local:
        return Judgement(Verdict.POSSIBLE, local[0].message, tuple(local), steps=(step,))
    if j.verdict is Verdict.POSSIBLE:
        return replace(j, steps=(step,))
    return j


def _local_admin(ctx: Context) -> Judgement:
    return strongest([by_findings(ctx.of("operator-local-admin", "source")),
                      by_findings(ctx.of("operator-local-admin", "destination"))])


def _doc(key: str) -> str:
    """A reference by its key in audit.knowledge.DOCS or _MORE_DOCS, or a full https URL (an unknown key fails)."""
    return key if key.startswith("https://") else DOCS.get(key) or _MORE_DOCS[key]


def _cause(id: str, title: str, why: str, checks: tuple[str, ...], judge: Callable[[Context], Judgement],
           *docs: str) -> Cause:
    return Cause(id, title, " ".join(why.split()), checks, judge, tuple(_doc(d) for d in docs))


_LIST = [
    _cause("credssp-credential-guard", "CredSSP with Credential Guard running on {src}",
           """With CredSSP the source's VMMS passes the operator's signed-in credentials to the destination.
           Credential Guard (on by default on domain-joined Windows Server 2025) lets CredSSP use only
           credentials typed in, never saved or signed-in ones, so the source has none to offer: the move
           fails even from a session on the source. Microsoft's fix is Kerberos constrained delegation.""",
           ("pair-credssp",), _credential_guard, "cg-known-issues", "setup"),
    _cause("credssp-double-hop", "CredSSP selected and the move started outside {src} (double hop)",
           """With CredSSP, {src}'s VMMS needs the operator's credentials, which exist only in a session on
           {src} (console, RDP, or a CredSSP PowerShell session). A move started from another machine, or
           from {dst}, is a second hop: {src} has no credentials to authenticate to {dst} with, so the
           security package reports that none are available.""",
           ("pair-credssp",), _double_hop, "setup", "use", "second-hop"),
    _cause("auth-type-mismatch", "Different live-migration authentication types on {src} and {dst}",
           """The two hosts must use the same protocol (CredSSP or Kerberos): when one offers Kerberos and the
           other expects CredSSP, neither side has the credentials the other asks for. Microsoft's fix for
           0x8009030D sets Kerberos on both hosts.""",
           ("pair-auth-type-match",), _single("pair-auth-type-match"), "ts-lm", "setup"),
    _cause("domain-trust", "No trust that lets {dst}'s domain accept {src}'s accounts",
           """The destination's domain must accept the source computer's delegated tickets (or the
           operator's credentials): without a trust in that direction the destination's KDC knows no one
           from the source's domain, so no usable credentials reach it. [DERIVED] from Microsoft's
           requirement that the hosts share a domain or trusted domains.""",
           ("pair-domain-trust",), _single("pair-domain-trust"), "setup", "trusts"),
    _cause("kcd-missing", "Kerberos selected but no constrained delegation from {src} to {dst}",
           """With Kerberos, {src}'s computer account must be trusted to delegate the operator's identity to
           "Microsoft Virtual System Migration Service" (and cifs, for storage) on {dst}. Without it the KDC
           issues {src} no ticket on the operator's behalf, so the security package has no credentials for
           the connection. Classic delegation does not cross domains: across domains only resource-based
           delegation on {dst} can do it.""",
           _KCD, _kcd_missing, "setup", "kcd-overview", "ts-lm"),
    _cause("kcd-name-form", "Delegation for only one name form of {dst} (short name or FQDN)",
           """Delegation is granted per service principal name: "Microsoft Virtual System Migration
           Service/{dst}" and ".../<FQDN>" are different entries, and ADUC writes both. When the move names
           the destination by the form that is missing (Hyper-V Manager and Move-VM may use either), the
           KDC refuses the delegated ticket as if there were no delegation at all.""",
           _KCD, _name_form, "setup", "ts-lm"),
    _cause("kcd-kerberos-only", "Delegation set to \"Kerberos only\" on {src} instead of \"any authentication protocol\"",
           """From Windows Server 2016 a remotely started move reaches {src}'s VMMS through WinRM, which keeps
           the operator's forwardable ticket where VMMS (running as SYSTEM) cannot use it. Only protocol
           transition ("Use any authentication protocol", userAccountControl 0x1000000) lets {src} obtain the
           ticket itself; with "Kerberos only" it has no credentials to delegate.""",
           ("host-kcd-any-protocol",), _kerberos_only, "kcd-blog", "setup"),
    _cause("operator-not-delegable", "The operator cannot be delegated (Protected Users or \"sensitive\")",
           """Every move hands the operator's identity from {src} to {dst}. Members of Protected Users can be
           delegated neither by Kerberos nor by CredSSP, and "Account is sensitive and cannot be delegated"
           stops Kerberos delegation, so {src} obtains no credentials for the operator.""",
           ("operator-delegable",), _operator, "protected-users", "uac", "second-hop"),
    _cause("destination-spn", "{dst} does not register the migration service SPNs",
           """The source asks the KDC for a ticket to "Microsoft Virtual System Migration Service/{dst}". If
           {dst}'s computer object does not register that SPN, no ticket can be issued for it (the principal is
           unknown or, registered elsewhere, the wrong one).""",
           ("pair-destination-spn",), _single("pair-destination-spn"), "ts-2026", "setspn"),
    _cause("destination-dns", "{dst}'s name does not resolve cleanly (forward or reverse DNS)",
           """Kerberos tickets are issued for names. If {dst}'s FQDN does not resolve, or its address points
           back to another name, the source (or a tool that canonicalises the name) asks for a ticket for a
           principal that is not {dst}'s: SEC_E_WRONG_PRINCIPAL is the documented symptom of a name that does
           not match the SPN.""",
           ("host-dns-forward-reverse",), _single("host-dns-forward-reverse", "destination"), "ts-2026", "ts-lm"),
    _cause("destination-name-alias", "The move names {dst} by an IP address or an alias",
           """A ticket is requested for the name the move was given. An IP address, a CNAME or a cluster-network
           address that is not one of {dst}'s registered names asks for a principal that does not exist, or
           that belongs to another account (a duplicate SPN). Microsoft documents this for a live-migration
           network order that picked a private network (UNCONFIRMED beyond that case).""",
           (), _by_hand("Cannot be seen in configuration: it depends on the name the move used.",
                        lambda c: Step(f"Start the move with {c.destination.short}'s FQDN ({c.destination.fqdn}) as "
                                       "-DestinationHost, never an IP address or alias."),
                        lambda c: Step("List the destination's SPNs and look for duplicates.", hw.setspn(c.destination))),
           "ts-lm", "setspn"),
    _cause("clock-skew", "Clocks of {src}, {dst} or their domain controllers differ by 5 minutes or more",
           """Kerberos refuses tickets from a clock more than 5 minutes off, so the source cannot obtain or
           present the delegated ticket. [DERIVED]: Microsoft's live-migration articles do not name this code
           for it.""",
           ("pair-clock-skew",), _single("pair-clock-skew"), "kerberos-clock-skew"),
    _cause("changes-not-effective", "A recent change that is not effective yet (replication, cached tickets)",
           """A delegation (or SPN) change reaches a move only after it has replicated to the domain controller
           {src} uses and {src} holds a new ticket; the KDC also caches a refusal for 15 minutes. A ticket
           {src} obtained before the change stays valid for its lifetime (10 hours by default: "Maximum
           lifetime for service ticket" 600 minutes), so until it expires {src} still has no credentials to
           delegate. Purging {src}'s computer tickets (klist purge -li 0x3e7) or restarting {src} applies
           the change at once.""",
           (), recent_change, "setup", "ts-lm", *POLICY_DOCS),
    _cause("dc-unreachable", "No domain controller reachable for Kerberos",
           """The source must reach a KDC of its domain (and, across domains, of the destination's) on TCP/UDP
           88 to get the tickets the move needs; with none reachable, no authority can be contacted. No
           Microsoft live-migration article covers this code (UNCONFIRMED in that context).""",
           (), _dc_unreachable, "ts-lm"),
    _cause("dest-vmms", "Hyper-V or its management service (vmms) not running on {dst}",
           """The live-migration listener on TCP 6600 belongs to vmms: with the role missing or vmms stopped,
           nothing on {dst} accepts the connection.""",
           ("host-hyperv-role",), _dest_vmms, "setup", "install"),
    _cause("dest-migration-disabled", "Incoming live migrations disabled on {dst}",
           """vmms listens on TCP 6600 only while live migration is enabled (Enable-VMMigration); disabled, the
           connection is refused or never answered.""",
           ("host-migration-enabled",), _single("host-migration-enabled", "destination"), "setup",
           "enable-vmmigration"),
    _cause("dest-firewall-6600", "TCP 6600 not open in {dst}'s firewall",
           """The inbound rule "Hyper-V (MIG-TCP-In)" (VIRT-MIGL-In-TCP-NoScope) admits the migration
           connection on TCP 6600. Disabled, blocking or missing, the connection is dropped (a time-out) or
           refused.""",
           ("host-firewall-6600",), _single("host-firewall-6600", "destination"), "ts-lm", "enable-netfirewallrule"),
    _cause("migration-network", "No migration network {dst} accepts from {src}",
           """With "use any network" off, {dst} accepts live migrations only on its listed migration subnets,
           and only from a source address in one of them; a stale subnet or none in common leaves the source
           trying an address {dst} does not listen on.""",
           ("pair-shared-migration-subnet", "host-migration-subnets"), _migration_network, "setup",
           "migration-network"),
    _cause("registry-pol", "A corrupt local Group Policy file (Registry.pol) on {dst}",
           """Microsoft documents this for the time-out: when
           C:\\Windows\\System32\\GroupPolicy\\Machine\\Registry.pol does not start with "PReg", vmms can
           disable its listener for migration connections ("The Virtual Machine Management Service disabled
           the listener...").""",
           ("host-policy-file",),
           _checked("host-policy-file", "destination",
                    lambda c: Step(f"Check that the file starts with PReg on {c.destination.short} (if it does "
                                   "not, run gpupdate /force there).", hw.registry_pol(c.destination))), "ts-lm"),
    _cause("network-path", "Something between {src} and {dst} drops or refuses TCP 6600",
           """A router, a network firewall or a host-based security product on the path answers or swallows the
           connection to {dst}'s migration address, whatever the hosts' own settings say.""",
           (), _by_hand("Cannot be seen in configuration: test the path from the source.",
                        lambda c: Step(f"From {c.source.short}, reach {c.destination.short} on TCP 6600.",
                                       hw.test_port(c.source, c.destination)),
                        lambda c: Step(f"On {c.destination.short}, check the listener.", hw.listener(c.destination))),
           "ts-lm", "ts-guide"),
    _cause("security-software", "Antivirus or another security product blocking the migration socket",
           """WSAEACCES means the socket was forbidden by access permissions: Microsoft's checklist names the
           firewall and antivirus exclusions for Hyper-V.""",
           (), _by_hand("Cannot be seen in configuration: check the security products on both hosts.",
                        lambda c: Step(f"From {c.source.short}, reach {c.destination.short} on TCP 6600.",
                                       hw.test_port(c.source, c.destination))), "ts-lm", "ts-guide"),
    _cause("destination-memory", "Not enough free memory on {dst} for the VM",
           """The destination must reserve the VM's memory before the copy starts: without it the move fails
           before 10% with insufficient resources or out of memory.""",
           ("vm-memory-fit",), _memory, "ts-lm"),
    _cause("operator-local-admin", "The operator lacks Hyper-V Administrators rights on {src} or {dst}",
           """Moving a VM needs membership of Hyper-V Administrators (or Administrators) on both hosts; without
           it the operation is denied. [DERIVED] from Microsoft's requirement.""",
           ("operator-local-admin",), _local_admin, "setup", "use"),
    _cause("user-rights", "A Group Policy took required user rights from NT VIRTUAL MACHINE\\Virtual Machines",
           """"Log on as a service" and "Create symbolic links" must include NT VIRTUAL MACHINE\\Virtual
           Machines (S-1-5-83-0); a GPO that sets either right without it replaces the local list (or a hand
           edit took it from the local list), and the planned VM's logon fails on {dst} (KB 2779204).""",
           ("host-logon-as-service",), _user_rights,
           "ts-lm", "ts-guide", "log-on-as-a-service"),
    _cause("iso-path", "A virtual DVD or floppy drive holds an image {dst} cannot open",
           """Moving a VM whose DVD drive points at an ISO file missing on the destination (or on a share its
           computer account cannot read) fails with the virtual disk provider error; a mounted vmguest.iso has
           been reported to do the same.""",
           ("vm-media-attached",), _media, "ts-lm", "set-vmdvddrive"),
    _cause("disk-path", "A virtual hard disk {dst} cannot open",
           """The destination opens every virtual disk of the VM: a file that does not exist at its path (a
           broken differencing chain, a disk on a share {dst} cannot reach) has no virtual disk provider to
           open it, the same error as a missing ISO. [DERIVED] from Microsoft's description of the code.""",
           ("vm-storage-fits",), _disk_path, "ts-lm", "get-vhd"),
    _cause("vtpm-guardian", "{dst} does not hold the guardian that protects the VM's virtual TPM",
           """A vTPM VM's key protector is wrapped for guardians; {dst} must unwrap it with one of them: in Local
           mode the source's UntrustedGuardian certificates with their private keys, in HGS mode through the
           Host Guardian Service that attests it. Without it the move (or the start) fails with "The key
           protector for the virtual machine could not be unwrapped".""",
           ("vm-vtpm-guardian",),
           _checked("vm-vtpm-guardian", None,
                    lambda c: Step(f"On {c.destination.short}, list the guardian certificates; those of "
                                   f"{c.source.short} must be there with HasPrivateKey True.",
                                   hw.guardian_certificates(c.destination))),
           "vtpm-certificates", "ts-2026"),
]
CAUSES: dict[str, Cause] = {c.id: c for c in _LIST}
