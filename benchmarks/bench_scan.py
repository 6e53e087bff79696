"""How close `hvlm collect` comes to the ideal fan-out over slow hosts.

    python benchmarks/bench_scan.py                 # N = 50 and 200, HTTPS + Basic (hvlm's default transport)
    python benchmarks/bench_scan.py --transport http --sizes 50 200 500

N simulated Hyper-V hosts (tests/lab/hostsim.py on the WinRM lab, real WS-Management + PSRP) each
take a fixed 0.5 s to answer the probe. hvlm collects them with its default concurrency, through
the real command (`hvlm collect --only hosts`). The lab runs in a child process so that the client's
CPU time (this process: every thread) is the client's alone and the two do not share one GIL, as
with a real fleet.

Reported: wall time of the whole command (imports warmed) and of its host phase, the ideal
ceil(N / concurrency) x latency, their ratio (target: within 1.5 at N = 200), and the client's CPU
time per probe.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import hvlm.audit.collect as collect_module  # noqa: E402
from hvlm.audit.cli import build_parser, main  # noqa: E402
from hvlm.audit.collect import DEFAULT_CONCURRENCY  # noqa: E402

USER, PASSWORD = "LAB\\bench", "Bench-Passw0rd-2026"
LATENCY = 0.5
BUILDS = (9600, 14393, 17763, 20348, 26100)


def _serve(n: int, latency: float, scheme: str, conn: Connection) -> None:
    """Child process: run the lab until the parent says stop."""
    from tests.lab.hostsim import SimHost
    from tests.lab.winrm import WinRMLab
    from tests.support.fleet import HostModel, VMModel

    sims = [
        SimHost(HostModel(f"HV{i:03d}", index=i % 200, build=BUILDS[i % 5],
                          vms=[VMModel(f"vm{i}-{j}", version="5.0") for j in range(i % 6)]), latency=latency)
        for i in range(n)
    ]
    auth = "basic" if scheme == "https" else "ntlm"
    with WinRMLab([s.spec() for s in sims], scheme=scheme, auth=auth, users={USER: PASSWORD}) as lab:  # type: ignore[arg-type]
        ca = lab.ca_cert_path if scheme == "https" else None
        conn.send({"hosts": {s.name: lab.port(s.name) for s in sims}, "ca": ca})
        ready = time.process_time()
        conn.recv()
        conn.send(time.process_time() - ready)  # the lab's CPU time: the other half of the machine's work


def _inventory(path: Path, hosts: dict[str, int], scheme: str, ca: str | None) -> None:
    lines = ["hosts = ["]
    lines += [f'  {{ name = "{name}", address = "127.0.0.1", port = {port} }},' for name, port in hosts.items()]
    lines += ["]", "[defaults]", f'username = {json.dumps(USER)}', f'transport = "{scheme}"']
    if scheme == "https":
        lines += ['auth = "basic"', f"ca_bundle = {json.dumps(ca)}"]
    else:
        lines += ['auth = "ntlm"']
    path.write_text("\n".join(lines) + "\n")


def bench(n: int, scheme: str, concurrency: int) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(n, LATENCY, scheme, child), daemon=True)
    proc.start()
    try:
        setup = parent.recv()
        with tempfile.TemporaryDirectory(prefix="hvlm-bench-") as tmp:
            inventory = Path(tmp) / "fleet.toml"
            _inventory(inventory, setup["hosts"], scheme, setup["ca"])
            os.environ["HVLM_PASSWORD"] = PASSWORD
            args = ["collect", "-i", str(inventory), "-o", str(Path(tmp) / "snap.json"), "--only", "hosts", "-q",
                    "--concurrency", str(concurrency)]
            build_parser()  # import every command module once: a fixed start-up cost, not part of the fan-out
            phase = _time_host_phase()
            cpu0, wall0 = time.process_time(), time.perf_counter()
            code = main(args)
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            collect_module.collect_hosts = phase.original
            doc = json.loads((Path(tmp) / "snap.json").read_text())
        failed = [h for h, facts in doc["hosts"].items() if "error" in facts["connection"]]
        if code not in (0, 3) or failed:
            raise SystemExit(f"collection failed (exit {code}); hosts not collected: {failed[:5]}")
        server_cpu = 0.0
    finally:
        parent.send("stop")
        if parent.poll(10):
            server_cpu = parent.recv()
        proc.join(10)
        if proc.is_alive():
            proc.kill()
    ideal = math.ceil(n / concurrency) * LATENCY
    return {"n": n, "wall": wall, "hosts_wall": phase.seconds, "ideal": ideal, "ratio": wall / ideal,
            "cpu_per_probe_ms": 1000 * cpu / n, "server_cpu_per_probe_ms": 1000 * server_cpu / n}


class _time_host_phase:
    """Time the host phase (first probe started to last probe done) inside the real command."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.original = collect_module.collect_hosts

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return self.original(*args, **kwargs)
            finally:
                self.seconds = time.perf_counter() - started

        collect_module.collect_hosts = timed


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--transport", choices=["https", "http"], default="https")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    args = parser.parse_args(argv)
    auth = "Basic" if args.transport == "https" else "NTLM + message encryption"
    print(f"hvlm collect, {args.transport.upper()} + {auth}, probe latency {LATENCY} s, concurrency {args.concurrency}, "
          f"{os.cpu_count()} CPU(s)")
    print(f"{'N':>5}  {'wall s':>7}  {'ideal s':>7}  {'ratio':>5}  {'hosts phase s':>13}  {'client CPU/probe':>16}"
          f"  {'lab CPU/probe':>13}")
    worst = 0.0
    for n in args.sizes:
        r = bench(n, args.transport, args.concurrency)
        worst = max(worst, r["ratio"]) if n >= 200 else worst
        print(f"{n:>5}  {r['wall']:>7.2f}  {r['ideal']:>7.2f}  {r['ratio']:>5.2f}  {r['hosts_wall']:>13.2f}  "
              f"{r['cpu_per_probe_ms']:>13.1f} ms  {r['server_cpu_per_probe_ms']:>10.1f} ms")
    if worst:
        print(f"target at N >= 200: ratio <= 1.5 -> {'met' if worst <= 1.5 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run())
