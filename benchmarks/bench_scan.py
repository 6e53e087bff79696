"""How close `hvlm collect` comes to the ideal fan-out over slow hosts, and what it costs the client.

    python benchmarks/bench_scan.py                  # 500 hosts, 3 s probes, HTTPS + Basic, default concurrency
    python benchmarks/bench_scan.py --transport http --sizes 200 500 --concurrency 32 --latency 0.5

N simulated Hyper-V hosts (tests/lab/hostsim.py on the WinRM lab: real WS-Management + PSRP, real
TLS or NTLM with message encryption) each take `--latency` seconds to run the probe, as a real
host does (the probe runs some twenty cmdlets: about 3 s). hvlm collects them through the real
command (`hvlm collect --only hosts`) with its default concurrency unless told otherwise. The
inventory puts the hosts in migration groups of 10, as a real estate of that size names its moves.
The lab runs in a child process so that the client's CPU time (this process: every thread) is
the client's alone and the two do not share one GIL, as with a real fleet; on this machine they
still share its cores.

The ideal is ceil(N / concurrency) x (latency + set-up), where set-up is the median wall time of
one probe of a host that answers at once, measured here first (TCP, TLS, authentication, the
five WS-Management requests, parsing and checking the output): the time of the waves of probes
if the client cost nothing and the hosts were never kept waiting. Target: within 1.2 times the
ideal at 500 hosts. Reported: wall time of the whole command (imports warmed, snapshot written)
and of its host phase against that ideal, the client's CPU time per probe (whole command, and the
host phase alone), the lab's CPU per probe, and the client's peak resident memory with how much
the scan added to it.

Measured on the 2-core development machine, shared with other jobs (load average 4 to 10), before
and after the collector's CPU work (audit/collect/psrp_tuning.py, compiled section validators):

    500 hosts, 3 s probes           wall s  ideal s  ratio  client CPU/probe  lab CPU/probe  peak RSS
    HTTPS + Basic, 64, after         28.7    24.4     1.18   21 ms             22 ms          156 MiB
      again                          29.0    24.3     1.19   22 ms             24 ms          156 MiB
      again                          30.6    24.5     1.25   22 ms             23 ms          157 MiB
      again                          29.9    25.0     1.20   23 ms             25 ms          156 MiB
    HTTPS + Basic, 64, before        40.2    24.7     1.63   48 ms             25 ms          161 MiB
    HTTP + NTLM, 64, after           31.4    24.5     1.28   30 ms             30 ms          160 MiB
      again                          32.3    25.1     1.29   31 ms             32 ms          159 MiB
      again                          31.2    24.4     1.28   26 ms             26 ms          160 MiB
    HTTP + NTLM, 64, before          38.1    24.5     1.55   52 ms             30 ms          161 MiB
    HTTPS + Basic, 128, after        20.6    12.2     1.69   27 ms             27 ms          165 MiB
    HTTPS + Basic, 16, before        99.8    97.6     1.02   40 ms             23 ms          150 MiB
    200 x 0.5 s, HTTPS, 16, after     8.5     7.0     1.21   22 ms             24 ms          110 MiB
    200 x 0.5 s, HTTPS, 16, before   11.6     7.1     1.64   44 ms             23 ms          110 MiB

The lab's CA is the whole bundle here. With a bundle of certifi's size (about 120 CAs: what hvlm
checks against without `ca_bundle`), one probe after another cost 83-85 ms of client CPU before
and 20-21 ms after (it was parsed for every host, now once).

Against 1.2: HTTPS meets it or comes within 0.05 of it, HTTP with NTLM does not (1.28). What is
left is mostly the cores: in each 3 s wave the client and the lab each need 1.3-2 s of CPU (64
probes at 20-30 ms) on two cores that other jobs also used, so probes wait their turn (0.6-0.9 s
per wave); at 128 at once, twice that CPU per wave, the ratio climbs to 1.69.

At 128 at once the machine's two cores, running the client and all 500 simulated hosts, are the
limit; 16 (the old default) is near its ideal but four times slower. Peak memory grows by about
130 KiB per concurrent probe (150, 156, 165 MiB at 16, 64, 128); the rest of the growth during a
scan is the collected snapshot, about 0.15 MiB per host.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import statistics
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
LATENCY = 3.0
GROUP = 10
BUILDS = (9600, 14393, 17763, 20348, 26100)
SETUP_HOST = "HVSETUP"  # answers at once: one probe's set-up time; not in the inventory


def _pin(cpus: set[int] | None) -> None:
    """Keep this process (and the threads and processes it starts) on these CPUs; None: anywhere."""
    if cpus is not None:
        os.sched_setaffinity(0, cpus)


def _cpus(pin: bool) -> tuple[set[int] | None, set[int] | None]:
    """(client's CPUs, lab's CPUs): the first allowed CPU for the lab, the rest for the client,
    so that the lab's work never takes the client's core; (None, None) when not pinning."""
    allowed = sorted(os.sched_getaffinity(0))
    if not pin or len(allowed) < 2:
        return None, None
    return set(allowed[1:]), {allowed[0]}


def _serve(n: int, latency: float, scheme: str, conn: Connection, cpus: set[int] | None = None) -> None:
    """Child process: run the lab until the parent says stop."""
    _pin(cpus)
    from tests.lab.hostsim import SimHost
    from tests.lab.winrm import WinRMLab
    from tests.support.fleet import HostModel, VMModel

    def host(name: str, i: int, delay: float) -> SimHost:
        vms = [VMModel(f"vm{i}-{j}", version="5.0") for j in range(i % 6)]
        return SimHost(HostModel(name, index=i % 200, build=BUILDS[i % 5], vms=vms), latency=delay)

    sims = [host(f"HV{i:03d}", i, latency) for i in range(n)]
    calibration = host(SETUP_HOST, 1, 0.0)
    auth = "basic" if scheme == "https" else "ntlm"
    specs = [s.spec() for s in [*sims, calibration]]
    with WinRMLab(specs, scheme=scheme, auth=auth, users={USER: PASSWORD}) as lab:  # type: ignore[arg-type]
        ca = lab.ca_cert_path if scheme == "https" else None
        conn.send({"hosts": {s.name: lab.port(s.name) for s in sims}, "setup": lab.port(calibration.name), "ca": ca})
        ready = time.process_time()
        conn.recv()
        conn.send(time.process_time() - ready)  # the lab's CPU time: the other half of the machine's work


def _inventory(path: Path, hosts: dict[str, int], scheme: str, ca: str | None) -> None:
    names = list(hosts)
    lines = ["hosts = ["]
    lines += [f'  {{ name = "{name}", address = "127.0.0.1", port = {hosts[name]} }},' for name in names]
    lines += ["]", "[groups]"]
    for g in range(0, len(names), GROUP):
        members = ", ".join(f'"{name}"' for name in names[g:g + GROUP])
        lines.append(f"site{g // GROUP:03d} = [{members}]")
    lines += ["[defaults]", f"username = {json.dumps(USER)}", f'transport = "{scheme}"']
    if scheme == "https":
        lines += ['auth = "basic"', f"ca_bundle = {json.dumps(ca)}"]
    else:
        lines += ['auth = "ntlm"']
    path.write_text("\n".join(lines) + "\n")


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _memory_kib() -> tuple[int, int]:
    """(VmRSS, VmHWM) of this process in KiB: resident now, and the most it has been."""
    fields: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
    return fields["VmRSS"], fields["VmHWM"]


def _setup_seconds(port: int, scheme: str, ca: str | None) -> float:
    """Median wall time of one probe of the host that answers at once, through hvlm's own probe path."""
    from hvlm.audit.collect.credentials import Secret
    from hvlm.audit.collect.probe import probe_script
    from hvlm.audit.collect.psrp import run_probe
    from hvlm.audit.collect.targets import HostTarget

    auth = "basic" if scheme == "https" else "ntlm"
    target = HostTarget(SETUP_HOST, "127.0.0.1", port, scheme, auth, USER, ca, True, 60.0, 10.0)
    samples = []
    for i in range(7):
        started = time.perf_counter()
        run_probe(target, Secret(PASSWORD), probe_script())
        if i:  # the first one warms the caches every later host finds warm
            samples.append(time.perf_counter() - started)
    return statistics.median(samples)


class _time_host_phase:
    """Time the host phase (first probe started to last probe done) inside the real command."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu = 0.0
        self.original = collect_module.collect_hosts

        def timed(*args: Any, **kwargs: Any) -> Any:
            started, cpu = time.perf_counter(), time.process_time()
            try:
                return self.original(*args, **kwargs)
            finally:
                self.seconds = time.perf_counter() - started
                self.cpu = time.process_time() - cpu

        collect_module.collect_hosts = timed


def bench(n: int, scheme: str, concurrency: int, latency: float, pin: bool = True) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    client_cpus, lab_cpus = _cpus(pin)
    proc = ctx.Process(target=_serve, args=(n, latency, scheme, child, lab_cpus), daemon=True)
    proc.start()
    everywhere = os.sched_getaffinity(0)
    _pin(client_cpus)
    server_cpu = 0.0
    try:
        setup = parent.recv()
        set_up = _setup_seconds(setup["setup"], scheme, setup["ca"])
        with tempfile.TemporaryDirectory(prefix="hvlm-bench-") as tmp:
            inventory = Path(tmp) / "fleet.toml"
            _inventory(inventory, setup["hosts"], scheme, setup["ca"])
            os.environ["HVLM_PASSWORD"] = PASSWORD
            args = ["collect", "-i", str(inventory), "-o", str(Path(tmp) / "snap.json"), "--only", "hosts", "-q",
                    "--concurrency", str(concurrency)]
            build_parser()  # import every command module once: a fixed start-up cost, not part of the fan-out
            phase = _time_host_phase()
            rss_before, _ = _memory_kib()
            cpu0, wall0, sys0 = time.process_time(), time.perf_counter(), os.times().system
            code = main(args)
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            kernel = os.times().system - sys0
            _, peak = _memory_kib()
            collect_module.collect_hosts = phase.original
            doc = json.loads((Path(tmp) / "snap.json").read_text())
        failed = [h for h, facts in doc["hosts"].items() if "error" in facts["connection"]]
        if code not in (0, 3) or failed or len(doc["hosts"]) != n:
            raise SystemExit(f"collection failed (exit {code}); hosts not collected: {failed[:5]}")
    finally:
        parent.send("stop")
        if parent.poll(10):
            server_cpu = parent.recv()
        proc.join(10)
        if proc.is_alive():
            proc.kill()
        os.sched_setaffinity(0, everywhere)
    ideal = math.ceil(n / concurrency) * (latency + set_up)
    return {
        "n": n, "concurrency": concurrency, "wall": wall, "hosts_wall": phase.seconds, "ideal": ideal,
        "set_up": set_up, "ratio": wall / ideal, "hosts_ratio": phase.seconds / ideal,
        "cpu_per_probe_ms": 1000 * cpu / n, "kernel_per_probe_ms": 1000 * kernel / n,
        "hosts_cpu_per_probe_ms": 1000 * phase.cpu / n,
        "server_cpu_per_probe_ms": 1000 * server_cpu / n,
        "rss_before_mib": rss_before / 1024, "peak_mib": peak / 1024,
        "grew_mib": max(0, peak - rss_before) / 1024, "pinned": float(client_cpus is not None),
    }


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[500])
    parser.add_argument("--transport", choices=["https", "http"], default="https")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--latency", type=float, default=LATENCY, help="seconds each host takes to run the probe")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="let the client and the lab share every core (default: the lab on one, the client on the rest)")
    parser.add_argument("--json", action="store_true", help="also print each result as one JSON line")
    args = parser.parse_args(argv)
    auth = "Basic" if args.transport == "https" else "NTLM + message encryption"
    client_cpus, lab_cpus = _cpus(args.pin)
    where = (f"client on CPU {sorted(client_cpus)}, lab on CPU {sorted(lab_cpus)}" if client_cpus and lab_cpus
             else "client and lab on every CPU")
    print(f"hvlm collect, {args.transport.upper()} + {auth}, probe {args.latency:g} s on the host, concurrency "
          f"{args.concurrency}, {os.cpu_count()} CPUs, {where}; load average {_load()}")
    print(f"{'N':>5}  {'wall s':>7}  {'ideal s':>7}  {'ratio':>5}  {'hosts s':>7}  {'ratio':>5}  {'set-up':>7}  "
          f"{'client CPU/probe':>16}  {'(kernel)':>8}  {'(hosts)':>8}  {'lab CPU/probe':>13}  {'peak RSS':>9}  {'grew by':>8}")
    worst = 0.0
    for n in args.sizes:
        r = bench(n, args.transport, args.concurrency, args.latency, args.pin)
        worst = max(worst, r["ratio"]) if n >= 500 else worst
        print(f"{n:>5}  {r['wall']:>7.2f}  {r['ideal']:>7.2f}  {r['ratio']:>5.2f}  {r['hosts_wall']:>7.2f}  "
              f"{r['hosts_ratio']:>5.2f}  {1000 * r['set_up']:>4.0f} ms  {r['cpu_per_probe_ms']:>13.1f} ms  "
              f"{r['kernel_per_probe_ms']:>5.1f} ms  "
              f"{r['hosts_cpu_per_probe_ms']:>5.1f} ms  {r['server_cpu_per_probe_ms']:>10.1f} ms  "
              f"{r['peak_mib']:>5.0f} MiB  {r['grew_mib']:>4.0f} MiB")
        if args.json:
            print(json.dumps(r))
    print(f"load average after: {_load()}")
    if worst:
        print(f"target at N >= 500: ratio <= 1.2 -> {'met' if worst <= 1.2 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run())
