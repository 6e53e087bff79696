#!/usr/bin/env bash
# Run every benchmark with its defaults: bash benchmarks/run.sh
# (needs the test extras and Chromium: bash tests/lab/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== whole audit process on generated fleets: 2,000 hosts in groups, 200 hosts all pairs, 200 with mistakes"
python3 benchmarks/bench_fleet.py
echo "== class path CPU per check on a 2,000-host fleet"
python3 benchmarks/fleets.py 2000 --group 20 -o /tmp/hvlm-bench-fleet.json && python3 benchmarks/bench_classes.py /tmp/hvlm-bench-fleet.json
echo "== offline audit: load, evaluate, report on 50-500 host fleets"
python3 benchmarks/bench_audit.py
echo "== live scan: 500 simulated hosts with 3 s probes against the WinRM lab, default concurrency"
python3 benchmarks/bench_scan.py
echo "== HTML report: 500 hosts, size and Chromium load time"
python3 benchmarks/bench_html.py
