"""One live-migration performance option for every host that moves VMs with another (fix scripts).

pair-performance-option judges one pair at a time: for hv02 -> hv04 it may say "use Compression on
hv04", while hv04 -> hv05 (both SMB) says "enable RDMA on hv04" and so assumes hv04 stays on SMB. Each
advice is right for its pair; together they leave hv04 with no setting that agrees with all its peers.
The option must be equal on both ends of every planned move, so it must be equal across every group
of hosts linked by planned moves (a component). This module settles it for the fix scripts:

- each host's current option is read from the findings' evidence; a pair of the inventory without a
  finding of the check passed, so its two hosts use the same option (that carries it across);
- in a component whose hosts disagree, the option is SMB when one of them uses SMB and every one of
  them has RDMA (SMB Direct), else Compression (Microsoft's default, no RDMA needed), as the check
  advises for a single pair. Every host not on it gets one change to it (named in its own script,
  answering the findings of its pairs) and the per-pair advice is dropped;
- when the option of a host in such a component is unknown (the check could not run on one of its
  pairs), no value is sure to satisfy every move: each host gets a manual step naming the pairs.
"""

from __future__ import annotations

from typing import Any

from hvlm.audit.words import count, noun

__all__ = ["CHECK", "SETTING", "settle"]

CHECK = "pair-performance-option"
SETTING = "VirtualMachineMigrationPerformanceOption"
_HOST_ADMIN = "a member of Administrators or Hyper-V Administrators on that host"  # checks/_fixes.py HOST_ADMIN
_DOCS = ["https://learn.microsoft.com/powershell/module/hyper-v/set-vmhost",
         "https://learn.microsoft.com/windows-server/virtualization/hyper-v/deploy/"
         "set-up-hosts-for-live-migration-without-failover-clustering"]
_GUI = "Hyper-V Manager > Hyper-V Settings > Live Migrations > Advanced Features > Performance options"

Answer = tuple[str, dict[str, Any]]


def _pair(f: dict[str, Any]) -> tuple[str, str]:
    return str(f["subject"]["source"]), str(f["subject"]["destination"])


def _components(edges: list[tuple[str, str]]) -> list[list[str]]:
    links: dict[str, set[str]] = {}
    for a, b in edges:
        links.setdefault(a, set()).add(b)
        links.setdefault(b, set()).add(a)
    seen: set[str] = set()
    out: list[list[str]] = []
    for start in links:
        if start in seen:
            continue
        group, todo = [], [start]
        seen.add(start)
        while todo:
            h = todo.pop()
            group.append(h)
            for n in sorted(links[h] - seen):
                seen.add(n)
                todo.append(n)
        out.append(sorted(group))
    return out


def _known(findings: list[dict[str, Any]], edges: list[tuple[str, str]]) -> tuple[dict[str, str], dict[str, Any]]:
    """(each host's option, each host's RDMA) from the evidence, carried across the pairs that passed."""
    option: dict[str, str] = {}
    rdma: dict[str, Any] = {}
    judged: set[frozenset[str]] = set()
    for f in findings:
        src, dst = _pair(f)
        judged.add(frozenset((src, dst)))
        ev = f.get("evidence") or {}
        for role, host in (("source", src), ("destination", dst)):
            if ev.get(f"{role}.option"):
                option[host] = str(ev[f"{role}.option"])
            if f"{role}.rdma" in ev and rdma.get(host) is not False:
                rdma[host] = ev[f"{role}.rdma"]
    passed = [(a, b) for a, b in edges if frozenset((a, b)) not in judged]
    changed = True
    while changed:  # a pair that passed has one option on both ends
        changed = False
        for a, b in passed:
            for x, y in ((a, b), (b, a)):
                if x in option and y not in option:
                    option[y] = option[x]
                    changed = True
    return option, rdma


def settle(report: dict[str, Any], findings: list[dict[str, Any]], wanted: tuple[str, ...]
           ) -> tuple[set[str], dict[str, tuple[dict[str, Any], list[Answer]]]]:
    """(ids of the findings whose per-pair fixes are replaced, {host: (its one fix, the findings it answers)})."""
    mine = [f for f in findings if f["check_id"] == CHECK and f["subject"].get("kind") == "pair"]
    if not any(f["status"] in wanted for f in mine):
        return set(), {}
    edges = [(str(s), str(d)) for s, d in report["inventory"].get("pairs") or []] + [_pair(f) for f in mine]
    option, rdma = _known(mine, edges)
    replaced: set[str] = set()
    fixes: dict[str, tuple[dict[str, Any], list[Answer]]] = {}
    for group in _components(edges):
        answers = [f for f in mine if f["status"] in wanted and _pair(f)[0] in group]
        values = {option.get(h) for h in group}
        if not answers or len(values) < 2:
            continue  # nothing to settle, or one option already (RDMA advice only): the check's own fixes stand
        replaced.update(f["id"] for f in answers)
        pairs = sorted({" <-> ".join(sorted(_pair(f))) for f in mine if _pair(f)[0] in group})
        if None in values:
            unknown = [h for h in group if h not in option]
            for host in group:
                mine_here = [(f["id"], f) for f in answers if _pair(f)[0] == host]
                if mine_here:
                    fixes[host] = (_manual(host, group, unknown, option, pairs), mine_here)
            continue
        value = "SMB" if "SMB" in values and all(rdma.get(h) is True for h in group) else "Compression"
        for host in group:
            if option[host] != value:  # each finding is answered once: by its source's change, else its destination's
                fixes[host] = (_change(host, group, value, option),
                               [(f["id"], f) for f in answers if _answerer(f, value, option) == host])
    return replaced, fixes


def _answerer(f: dict[str, Any], value: str, option: dict[str, str]) -> str:
    src, dst = _pair(f)
    return src if option[src] != value else dst


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _change(host: str, group: list[str], value: str, option: dict[str, str]) -> dict[str, Any]:
    why = ("every one of them has RDMA, so SMB uses SMB Direct" if value == "SMB" else
           "Compression is Microsoft's default and needs no RDMA")
    differ = [h for h in group if option[h] != value]
    by: dict[str, list[str]] = {}
    for h in differ:
        by.setdefault(option[h], []).append(h)
    now = "; ".join(f"{_and(hs)} {noun(len(hs), 'uses', 'use')} {opt}" for opt, hs in by.items())
    rest = len(group) - len(differ)
    same = f"; the other {count(rest, 'host') if rest > 1 else 'host'} linked to it by planned moves already " \
        f"{noun(rest, 'uses', 'use')} {value}" if rest else ""
    others = [h for h in differ if h != host]
    also = f" {_and(others)} {noun(len(others), 'gets', 'get')} the same change in its own script." if others else ""
    return {
        "summary": f"Use {value} for live migration on {host}, one setting for all its pairs: every host linked by "
                   f"planned moves must use the same performance option ({now}{same}), and {why}.{also}",
        "run_on": host, "run_as": _HOST_ADMIN, "target": "host",
        "powershell": f"Set-VMHost -{SETTING} {value}",
        "gui": _GUI, "docs": list(_DOCS), "requires_vm_off": False, "kind": "change", "vms": [],
        "sets": [[SETTING, value]],
    }


def _manual(host: str, group: list[str], unknown: list[str], option: dict[str, str], pairs: list[str]) -> dict[str, Any]:
    now = "; ".join(f"{h} uses {option[h]}" for h in group if h in option)
    return {
        "summary": f"Decide one live-migration performance option for {', '.join(group)}, which move VMs between them "
                   f"(pairs: {', '.join(pairs)}). The option of {', '.join(unknown)} is not known"
                   f"{' (' + now + ')' if now else ''}, so hvlm cannot pick the one that satisfies every pair: read it "
                   "on each host, then set the same value on all of them (Compression, or SMB when every one has RDMA).",
        "run_on": host, "run_as": _HOST_ADMIN, "target": "host",
        "powershell": f"Get-VMHost | Format-List -Property '{SETTING}'\n"
                      f"# Then, on each host that differs: Set-VMHost -{SETTING} <the option you chose>",
        "gui": _GUI, "docs": list(_DOCS), "requires_vm_off": False, "kind": "manual", "vms": [], "sets": [],
    }
