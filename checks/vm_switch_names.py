"""Every virtual switch a VM's network adapters use exists, by name, on the destination."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from hvlm.audit.facts import Facts, RoleFacts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Fix, Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_quote
from hvlm.audit.registry import check
from hvlm.audit.words import noun
from hvlm.checks._fixes import on_host
from hvlm.checks._keys import nothing

_DOCS = (DOCS["ts-lm"], DOCS["new-vmswitch"], DOCS["connect-vmnetworkadapter"])


def _switches(dst: RoleFacts) -> Hashable:
    return frozenset(str(s["Name"]) for s in dst["vm_switches"])


def _vm_key(vm: Mapping[str, Any], src: RoleFacts) -> Hashable:
    """The switch names the VM's adapters use (None: adapters not collected)."""
    adapters = vm.get("NetworkAdapters")
    if adapters is None:
        return None
    return frozenset(str(a["SwitchName"]) for a in adapters if a.get("SwitchName"))


@check(
    id="vm-switch-names",
    title="VM's virtual switches exist on the destination",
    severity=Severity.HIGH,
    subject=SubjectKind.VM,
    requires=("source.vms", "destination.vm_switches", "source.vm_switches?"),
    rationale="""Hyper-V reconnects each network adapter to the switch of the same name on the
    destination. If it is missing the move fails before 10% (events 21502/21125; Compare-VM message
    33012 "Could not find Ethernet switch"), so switch names must be identical on every host.
    Adapters not connected to a switch move fine. A name that matches only when case is ignored is
    a warning: Microsoft does not document whether the match is case-sensitive.""",
    references=(DOCS["ts-lm"], DOCS["compare-vm"], DOCS["new-vmswitch"]),
    fix_hint="Create the switch with the same name on the destination, or reconnect the adapter.",
    parts=(nothing, _switches),
    vm_key=_vm_key,
)
def run(f: Facts) -> Outcome:
    vm: dict[str, Any] = f.vm or {}
    name = str(vm["Name"])
    dref = f.host("destination")
    have = [str(s["Name"]) for s in f["destination.vm_switches"]]
    if vm.get("NetworkAdapters") is None:  # not collected: "no adapter" would be a pass on a missing fact
        return Outcome(Status.ERROR, f"could not check {name}: its network adapters (NetworkAdapters) were not "
                       "collected.", evidence={"vm": name, "destination.switches": have})
    used = [(str(a["Name"]), str(a["SwitchName"])) for a in vm.get("NetworkAdapters") or [] if a.get("SwitchName")]
    evidence: dict[str, Any] = {"vm": name, "adapters": [{"Name": a, "SwitchName": s} for a, s in used],
                                "destination.switches": have}
    missing = sorted({s for _, s in used if s not in have})
    if not used:
        return Outcome(Status.PASS, f"{name} has no network adapter connected to a switch.", evidence=evidence)
    if not missing:
        return Outcome(Status.PASS, f"{dref.fqdn} has every switch {name} uses.", evidence=evidence)
    by_case = {s: next(h for h in have if h.lower() == s.lower()) for s in missing
               if any(h.lower() == s.lower() for h in have)}
    evidence["missing"] = missing
    if by_case and len(by_case) == len(missing):
        # -ceq: only the switch spelled the old way; run again, it finds nothing to rename
        lines = [f"Get-VMSwitch | Where-Object {{ $_.Name -ceq {ps_quote(h)} }} | Rename-VMSwitch -NewName {ps_quote(s)}"
                 for s, h in by_case.items()]
        pairs = ", ".join(f"'{s}' (there '{h}')" for s, h in by_case.items())
        return Outcome(
            Status.WARNING,
            f"{dref.fqdn} has {name}'s switches only under a different case: {pairs}.",
            on_host(dref, "Rename the destination's switch to the exact name the VM uses.", "\n".join(lines),
                    docs=_DOCS),
            evidence,
        )
    return Outcome(
        Status.FAIL,
        f"{name} uses {noun(len(missing), 'switch', 'switches')} {', '.join(repr(s) for s in missing)} "
        f"that {dref.fqdn} does not have.",
        _create(f, name, used, missing),
        evidence,
    )


def _create(f: Facts, name: str, used: list[tuple[str, str]], missing: list[str]) -> Fix:
    sref, dref = f.host("source"), f.host("destination")
    types = {str(s["Name"]): str(s.get("SwitchType") or "External") for s in f.optional("source.vm_switches") or []}
    lines: list[str] = []
    external = [sw for sw in missing if types.get(sw, "External") not in ("Internal", "Private")]
    for switch in missing:
        kind = types.get(switch, "External")
        if kind in ("Internal", "Private"):  # no physical adapter: cannot touch the host's network
            lines += [f"if (-not (Get-VMSwitch | Where-Object {{ $_.Name -eq {ps_quote(switch)} }})) {{",
                      f"    New-VMSwitch -Name {ps_quote(switch)} -SwitchType {kind}",
                      f"}} else {{ Write-Output {ps_quote(f'Switch {switch} already exists.')} }}"]
    if external:
        lines = _external_steps(dref.fqdn, sref.fqdn, external) + [f"#   {line}" for line in lines]
    have = {str(s["Name"]) for s in f["destination.vm_switches"]}
    common = sorted(have & set(types))
    alt = ""
    if common:
        adapters = sorted({a for a, s in used if s in missing})
        cmds = "; ".join(
            f"Connect-VMNetworkAdapter -VMName {ps_quote(name)} -Name {ps_quote(a)} -SwitchName {ps_quote(common[0])}"
            for a in adapters
        )
        alt = f" Or, if {name} may change network, reconnect it on {sref.fqdn} to a switch both hosts have: {cmds}"
    return on_host(
        dref,
        f"Create the missing {noun(len(missing), 'switch', 'switches')} on {dref.fqdn} with the same name and type "
        f"as on {sref.fqdn}"
        + (f"; an external switch needs a free physical adapter on the network it reaches on {sref.fqdn}, never the "
           f"one carrying {dref.fqdn}'s management address (the commands list what to check first)" if external else "")
        + f".{alt}",
        "\n".join(lines),
        docs=_DOCS,
        gui="Hyper-V Manager > Virtual Switch Manager > New virtual network switch",
        # an external switch needs a human to pick the physical adapter: printed as instructions
        kind="manual" if external else "change",
    )


def _external_steps(dst: str, src: str, switches: list[str]) -> list[str]:
    """A manual step: what to read first, then the switch to create, as comments. Binding an external switch
    to the adapter that carries the management address, without AllowManagementOS, cuts the host off."""
    out = [
        f"# Read first, on {dst}: which adapter carries its management address (the default gateway,",
        "# the address you connect to), its physical adapters, and the adapters already bound to a switch:",
        "Get-NetIPConfiguration | Format-Table -Property 'InterfaceAlias', 'IPv4Address', 'IPv4DefaultGateway'",
        "Get-NetAdapter -Physical | Format-Table -Property 'Name', 'InterfaceDescription', 'Status', 'LinkSpeed'",
        "Get-VMSwitch | Format-Table -Property 'Name', 'SwitchType', 'NetAdapterInterfaceDescription', 'AllowManagementOS'",
        "# With that output (the read-only commands above) at hand:",
    ]
    for sw in switches:
        q = ps_quote(sw)
        out += [
            f"# {q}: on {src}, see which network it reaches (Get-VMSwitch -Name {q} there).",
            f"# On {dst}, choose a physical adapter that is Up, cabled to that same network (same VLAN),",
            "# has no IP address of the host and is not bound to a switch yet; create the switch on it:",
            f"#   New-VMSwitch -Name {q} -NetAdapterName '<the adapter you chose>' -AllowManagementOS $false",
        ]
    out += [
        f"# Never bind a new switch with -AllowManagementOS $false to the adapter that carries {dst}'s",
        "# management address: the host loses that address and you lose your session. If no other adapter",
        "# is free, use -AllowManagementOS $true, from the host's console or out-of-band management (the",
        "# network drops for a few seconds while the address moves to the vEthernet adapter), then check",
        "# the address with Get-NetIPConfiguration.",
    ]
    return out
