"""The live-migration performance option: agreed by both hosts, SMB Direct only with RDMA on both."""

from __future__ import annotations

from typing import Any

from hvlm.audit.facts import Facts, HostRef, RoleFacts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Fix, Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_quote
from hvlm.audit.registry import check
from hvlm.checks._fixes import on_host
from hvlm.checks._net import Interface, interfaces

_NOTES = {
    "Compression": "Compression (the default) compresses memory before sending it over TCP/IP: less network, "
    "more CPU; Microsoft suggests it below about 5 Gbps",
    "TCPIP": "TCP/IP copies memory uncompressed over TCP",
    "SMB": "SMB copies memory over SMB 3 (every supported release, Windows Server 2012 R2 and later, has SMB 3; "
    "it needs TCP 445 and, with Kerberos, the cifs delegation entries), with SMB Multichannel",
}


def _rdma(value: list[dict[str, Any]] | None) -> bool | None:
    if value is None:
        return None
    return any(i.rdma is True for i in interfaces(value))


def _host(side: RoleFacts) -> tuple[str, bool | None]:
    return str(side["vmhost"]["VirtualMachineMigrationPerformanceOption"]), _rdma(side["ip_interfaces"])


@check(
    id="pair-performance-option",
    title="Live-migration performance option",
    severity=Severity.INFO,
    subject=SubjectKind.PAIR,
    rollback=True,
    requires=("source.vmhost", "destination.vmhost", "source.ip_interfaces?", "destination.ip_interfaces?"),
    rationale="""VirtualMachineMigrationPerformanceOption is TCPIP, Compression (the default) or SMB.
    SMB needs SMB 3, which every supported release has (Windows Server 2012 R2 and later), so that
    alone cannot fail; SMB Direct is used only when the NICs of both hosts have RDMA enabled. The
    verdicts: the two hosts set different options -> warning (low), since Microsoft does not say
    which side's option governs a move and the pair then behaves differently in each direction; SMB
    on both with RDMA on one side only (or RDMA unknown) -> warning (information): no SMB Direct.
    Matching Compression, TCP/IP or SMB pass with an informational note.""",
    references=(DOCS["setup"], DOCS["set-vmhost"]),
    fix_hint="Set-VMHost -VirtualMachineMigrationPerformanceOption to the same value on both hosts.",
    parts=(_host, _host),
)
def run(f: Facts) -> Outcome:
    sref, dref = f.host("source"), f.host("destination")
    s_opt = str(f["source.vmhost"]["VirtualMachineMigrationPerformanceOption"])
    d_opt = str(f["destination.vmhost"]["VirtualMachineMigrationPerformanceOption"])
    s_rdma, d_rdma = _rdma(f.optional("source.ip_interfaces")), _rdma(f.optional("destination.ip_interfaces"))
    evidence: dict[str, Any] = {"source.option": s_opt, "destination.option": d_opt,
                                "source.rdma": s_rdma, "destination.rdma": d_rdma}
    if s_opt != d_opt:
        target = "SMB" if "SMB" in (s_opt, d_opt) and s_rdma and d_rdma else "Compression"
        host = dref if d_opt != target else sref
        return Outcome(
            Status.WARNING,
            f"{sref.fqdn} uses {s_opt} and {dref.fqdn} uses {d_opt}: moves behave differently in each direction.",
            on_host(host, f"Use {target} on both hosts"
                    + (" (SMB Direct: both have RDMA)." if target == "SMB" else " (the default).")
                    + f" Run it on {host.fqdn}; the return direction's finding covers the other host.",
                    f"Set-VMHost -VirtualMachineMigrationPerformanceOption {target}",
                    docs=(DOCS["set-vmhost"], DOCS["setup"]),
                    gui="Hyper-V Manager > Hyper-V Settings > Live Migrations > Advanced Features > Performance options",
                    sets=(("VirtualMachineMigrationPerformanceOption", target),)),
            evidence,
            severity=Severity.LOW,
        )
    note = _NOTES.get(s_opt, s_opt)
    if s_opt != "SMB":
        return Outcome(Status.PASS, f"Both hosts use {s_opt}. {note}.", evidence=evidence)
    if s_rdma and d_rdma:
        return Outcome(Status.PASS, f"Both hosts use SMB and have RDMA: SMB Direct. {note}.", evidence=evidence)
    if s_rdma is False and d_rdma is False:
        return Outcome(Status.PASS, f"Both hosts use SMB without RDMA (no SMB Direct). {note}.", evidence=evidence)
    lacking = [h for h, r in ((sref, s_rdma), (dref, d_rdma)) if not r]
    unknown = [h for h, r in ((sref, s_rdma), (dref, d_rdma)) if r is None]
    why = (f"RDMA is unknown on {', '.join(h.fqdn for h in unknown)}" if unknown
           else f"only one side has RDMA; {lacking[0].fqdn} has none enabled")
    return Outcome(
        Status.WARNING,
        f"Both hosts use SMB but {why}: SMB Direct needs RDMA on both, so memory goes over SMB on TCP.",
        _rdma_fix(lacking[0], f.optional("source.ip_interfaces" if lacking[0] == sref else "destination.ip_interfaces")),
        evidence,
    )


def _rdma_fix(host: HostRef, value: list[dict[str, Any]] | None) -> Fix:
    lm: list[Interface] = [i for i in interfaces(value) if not i.has_gateway and i.usable]
    lines = ["Get-NetAdapterRdma | Format-Table -Property 'Name', 'InterfaceDescription', 'Enabled'"]
    # Only an RDMA-capable adapter can be enabled: the others are reported, and the script goes on.
    lines += [
        f"if (Get-NetAdapterRdma -Name {ps_quote(a)} -ErrorAction SilentlyContinue) "
        f"{{ Enable-NetAdapterRdma -Name {ps_quote(a)} }} "
        f"else {{ Write-Warning {ps_quote(f'Adapter {a} is not RDMA-capable: SMB without RDMA stays in use.')} }}"
        for a in sorted({i.alias for i in lm})
    ]
    return on_host(
        host,
        f"Enable RDMA on {host.fqdn}'s migration adapter if it is RDMA-capable (the first command lists capable "
        "adapters); otherwise SMB without RDMA is expected.",
        "\n".join(lines),
        docs=(DOCS["setup"],),
    )
