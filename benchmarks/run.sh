#!/usr/bin/env bash
# Run every benchmark with its defaults: bash benchmarks/run.sh
# (needs the test extras and Chromium: bash tests/lab/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== offline audit: load, evaluate, report on 50-500 host fleets"
python3 benchmarks/bench_audit.py
echo "== live scan: simulated hosts with 0.5 s probes against the WinRM lab"
python3 benchmarks/bench_scan.py
echo "== HTML report: 500 hosts, size and Chromium load time"
python3 benchmarks/bench_html.py
