"""How long the engine takes on a saved snapshot when it judges by classes, and check by check.

    python3 benchmarks/bench_classes.py FLEET.json [--per-check] [--reps 3]

run_checks without keep_passed is the class path (every check with a key is decided once per
class); the figures are CPU seconds, best of --reps, so that other load on a shared machine
counts less. Per check, each figure includes the work shared by every check of a run (the list
of directions), so their sum exceeds the whole run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hvlm.audit.engine import Evaluation, run_checks
from hvlm.audit.registry import Check, load_registry
from hvlm.audit.snapshot import Snapshot


def best(snapshot: Snapshot, checks: list[Check], reps: int) -> tuple[float, Evaluation]:
    times, ev = [], Evaluation()
    for _ in range(reps):
        start = time.process_time()
        ev = run_checks(snapshot, checks)
        times.append(time.process_time() - start)
    return min(times), ev


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("snapshot")
    parser.add_argument("--per-check", action="store_true")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    snapshot = Snapshot.load(args.snapshot, max_bytes=1 << 30)
    checks = list(load_registry())
    seconds, ev = best(snapshot, checks, args.reps)
    print(f"{len(snapshot.hosts)} hosts, {len(snapshot.pairs)} planned moves: {seconds:.2f} s, "
          f"{sum(ev.classes.values())} classes judged in full")
    if args.per_check:
        for chk in checks:
            seconds, ev = best(snapshot, [chk], args.reps)
            print(f"  {chk.meta.id:32s} {seconds:6.3f} s  classes {ev.classes.get(chk.meta.id, 0):5d}  "
                  f"{dict(ev.counts[chk.meta.id])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
