"""Offline audit speed on large fleets: load + validate a snapshot, evaluate every check, build the report.

    python benchmarks/bench_audit.py [--hosts 50,200,500]

Prints, per fleet size, the snapshot size and the seconds for each stage, and the per-host cost, so
the figures can be compared as ratios across machines (how cost grows from 50 to 500 hosts).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hvlm.audit.engine import run_checks
from hvlm.audit.model import Severity
from hvlm.audit.registry import load_registry
from hvlm.audit.report import build_report
from hvlm.audit.snapshot import Snapshot
from hvlm.reports.json_report import render_json_bytes
from tests.support.fleet import ComputerModel, HostModel, VMModel, build_snapshot, delegation_entries


def fleet(n: int) -> dict[str, object]:
    """n hosts in groups of 10 (every ordered pair inside a group), 8 VMs each."""
    builds = [9600, 14393, 17763, 20348, 26100]
    hosts = [
        HostModel(f"HV{i:03d}", index=i, build=builds[i % 5],
                  vms=[VMModel(f"vm{i:03d}-{j}", "5.0" if builds[i % 5] < 20348 else "10.0") for j in range(8)])
        for i in range(n)
    ]
    groups = {f"g{g}": [h.fqdn for h in hosts[g * 10:(g + 1) * 10]] for g in range((n + 9) // 10)}
    by_group = {h.fqdn: g for g, members in groups.items() for h in hosts if h.fqdn in members}
    computers = [
        ComputerModel(h, f"S-1-5-21-1-2-3-{3000 + i}",
                      [e for d in hosts if d is not h and by_group[d.fqdn] == by_group[h.fqdn]
                       for e in delegation_entries(d)])
        for i, h in enumerate(hosts)
    ]
    return build_snapshot(hosts, computers={"corp.contoso.com": computers}, groups=groups)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="50,200,500")
    args = parser.parse_args()
    registry = list(load_registry())
    print(f"{len(registry)} checks")
    print(f"{'hosts':>6} {'pairs':>6} {'MiB':>6} {'load s':>7} {'eval s':>7} {'report s':>8} {'findings':>9} {'ms/host':>8}")
    for n in (int(x) for x in args.hosts.split(",")):
        doc = fleet(n)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "snap.json"
            path.write_text(json.dumps(doc))
            size = path.stat().st_size / 1048576
            t0 = time.perf_counter()
            snap = Snapshot.load(path)
            t1 = time.perf_counter()
            evaluation = run_checks(snap, registry)
            t2 = time.perf_counter()
            report = build_report(snap, evaluation, registry, fail_on=Severity.MEDIUM, command="bench")
            render_json_bytes(report)
            t3 = time.perf_counter()
        total = t3 - t0
        print(f"{n:>6} {len(snap.pairs):>6} {size:>6.1f} {t1 - t0:>7.2f} {t2 - t1:>7.2f} {t3 - t2:>8.2f} "
              f"{len(evaluation.findings):>9} {1000 * total / n:>8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
