"""Whole-process audit of large generated fleets: wall time, peak memory, and every output's size.

    python benchmarks/bench_fleet.py [--only a,b,c] [--runs 1]

Fleets (healthy hosts, 20 VMs each, benchmarks/fleets.py):
  a  2,000 hosts in groups of 20: 38,000 planned moves, 760,000 VM-to-destination subjects
  b    200 hosts, no groups: every ordered pair, 39,800 planned moves
  c    200 hosts in groups of 20, 10% of hosts with one of the example's mistakes

Each runs `hvlm audit FLEET --json --html --junit --csv` as its own process (wait4 gives its peak
RSS). The floor is `json.load` of the same snapshot, timed in-process: the ratio says how many
times the cost of merely reading the file the whole audit takes, which travels across machines.
Targets on a 2-core machine: (a) and (b) under 3 s, peak under 1 GiB, JSON under 25 MiB, HTML
under 5 MiB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.fleets import fleet

FLEETS = {
    "a": ("2,000 hosts, groups of 20", dict(n=2000, group=20)),
    "b": ("200 hosts, every ordered pair", dict(n=200, group=None)),
    "c": ("200 hosts, groups of 20, 10% broken", dict(n=200, group=20, broken=0.1)),
}


def _run(cmd: list[str]) -> tuple[float, int, int]:
    """Wall seconds, peak RSS in MiB and exit code of one process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    if proc.returncode not in (0, 1, 3, 4):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err}")
    return wall, usage.ru_maxrss // 1024, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="a,b,c")
    parser.add_argument("--runs", type=int, default=1, help="take the best of this many runs")
    args = parser.parse_args()
    print(f"{'fleet':<38} {'moves':>7} {'snap MiB':>8} {'load s':>7} {'audit s':>8} {'ratio':>6} {'peak MiB':>8} "
          f"{'JSON MiB':>8} {'HTML MiB':>8} {'JUnit MiB':>9} {'CSV MiB':>7} exit")
    for key in args.only.split(","):
        label, spec = FLEETS[key]
        with tempfile.TemporaryDirectory() as tmp:
            snap = Path(tmp) / "fleet.json"
            doc = fleet(**spec)  # type: ignore[arg-type]
            snap.write_text(json.dumps(doc), "utf-8")
            moves = len(doc["inventory"]["pairs"])
            del doc
            t0 = time.perf_counter()
            with snap.open("rb") as fh:
                json.load(fh)
            floor = time.perf_counter() - t0
            outs = {k: Path(tmp) / f"r.{k}" for k in ("json", "html", "xml", "csv")}
            cmd = [sys.executable, "-m", "hvlm.audit.cli", "audit", str(snap), "--json", str(outs["json"]),
                   "--html", str(outs["html"]), "--junit", str(outs["xml"]), "--csv", str(outs["csv"]),
                   "-o", os.devnull]
            best = min((_run(cmd) for _ in range(args.runs)), key=lambda r: r[0])
            wall, peak, code = best
            size = {k: p.stat().st_size / 1048576 for k, p in outs.items()}
            print(f"{key} {label:<36} {moves:>7} {snap.stat().st_size / 1048576:>8.1f} {floor:>7.2f} {wall:>8.2f} "
                  f"{wall / floor:>6.1f} {peak:>8} {size['json']:>8.2f} {size['html']:>8.2f} {size['xml']:>9.2f} "
                  f"{size['csv']:>7.2f} {code}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
