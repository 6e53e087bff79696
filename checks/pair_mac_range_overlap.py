"""Source and destination hand out dynamic MAC addresses from ranges that do not overlap."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from hvlm.audit.facts import Facts, RoleFacts
from hvlm.audit.knowledge import DOCS
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.psquote import ps_quote
from hvlm.audit.registry import check
from hvlm.checks._fixes import on_host


def mac_range(vmhost: dict[str, Any]) -> tuple[int, int] | None:
    """(first, last) as integers, or None when Get-VMHost did not report both ends."""
    low, high = vmhost.get("MacAddressMinimum"), vmhost.get("MacAddressMaximum")
    if not low or not high:
        return None
    return int(str(low), 16), int(str(high), 16)


def _fmt(n: int) -> str:
    return f"{n:012X}"


def free_range(taken: list[tuple[int, int]]) -> tuple[int, int]:
    """A 256-address range in 00-15-5D-FE-xx-00..FF that no inventory host uses."""
    for n in range(256):
        low = int(f"00155DFE{n:02X}00", 16)
        high = low + 0xFF
        if all(high < a or low > b for a, b in taken):
            return low, high
    return int("00155DFF0000", 16), int("00155DFF00FF", 16)  # pragma: no cover - 256 hosts in one overlap


def _range(side: RoleFacts) -> Hashable:
    return mac_range(side["vmhost"])


@check(
    id="pair-mac-range-overlap",
    title="Dynamic MAC address ranges do not overlap",
    severity=Severity.MEDIUM,
    subject=SubjectKind.PAIR,
    requires=("source.vmhost", "destination.vmhost"),
    parts=(_range, _range),
    rationale="""Each Hyper-V host hands dynamic MAC addresses to new virtual network adapters from its own
    range (Get-VMHost MacAddressMinimum/MacAddressMaximum; by default 00-15-5D plus two bytes of one of
    its IPv4 addresses). A VM keeps its dynamic address when it is live-migrated, until it restarts
    on the new host. When two hosts share a range, the destination can give a new VM the address a
    moved VM still uses: duplicate MAC addresses on the same network, with traffic going to the wrong
    VM. Cloned host images and hand-set ranges are the usual cause. A warning: moves work, the
    network suffers afterwards. The proposed range is free among the inventory's hosts; confirm that
    no other host uses it.""",
    references=(DOCS["set-vmhost"], DOCS["hyperv-networking"]),
    fix_hint="Give the destination its own range: Set-VMHost -MacAddressMinimum ... -MacAddressMaximum ....",
)
def run(f: Facts) -> Outcome:
    src, dst = f.host("source"), f.host("destination")
    s_vmhost, d_vmhost = f["source.vmhost"], f["destination.vmhost"]
    a, b = mac_range(s_vmhost), mac_range(d_vmhost)
    evidence = {
        "source": [s_vmhost.get("MacAddressMinimum"), s_vmhost.get("MacAddressMaximum")],
        "destination": [d_vmhost.get("MacAddressMinimum"), d_vmhost.get("MacAddressMaximum")],
    }
    if a is None or b is None:
        which = src.fqdn if a is None else dst.fqdn
        return Outcome(Status.ERROR, f"Cannot compare: the dynamic MAC address range of {which} was not collected.",
                       evidence=evidence)
    if a[1] < b[0] or b[1] < a[0]:
        return Outcome(Status.PASS, f"{src.fqdn} ({_fmt(a[0])}-{_fmt(a[1])}) and {dst.fqdn} "
                       f"({_fmt(b[0])}-{_fmt(b[1])}) hand out different MAC addresses.", evidence=evidence)
    taken = [r for r in (mac_range(v) for v in f.across_inventory("destination.vmhost").values()) if r is not None]
    low, high = free_range(taken)
    return Outcome(
        Status.WARNING,
        f"{src.fqdn} ({_fmt(a[0])}-{_fmt(a[1])}) and {dst.fqdn} ({_fmt(b[0])}-{_fmt(b[1])}) hand out overlapping "
        "dynamic MAC addresses: a VM moved between them can meet a new VM with its address.",
        on_host(
            dst,
            f"Give {dst.fqdn} a dynamic MAC range of its own ({_fmt(low)}-{_fmt(high)} is free among the inventory's "
            "hosts; confirm no other host uses it). Existing adapters keep their addresses until their VM restarts.",
            f"Set-VMHost -MacAddressMinimum {ps_quote(_fmt(low))} -MacAddressMaximum {ps_quote(_fmt(high))}",
            docs=(DOCS["set-vmhost"],),
            gui="Hyper-V Manager > Virtual Switch Manager > MAC Address Range",
            sets=(("MacAddressMinimum", _fmt(low)), ("MacAddressMaximum", _fmt(high))),
        ),
        evidence,
    )
