"""How close `hvlm collect` comes to the ideal fan-out over slow hosts, and what it costs the client.

    python benchmarks/bench_scan.py                  # 500 hosts, 3 s probes, HTTPS + Basic, default concurrency
    python benchmarks/bench_scan.py --transport http --sizes 200 500 --concurrency 32 --latency 0.5

N simulated Hyper-V hosts (tests/lab/hostsim.py on the WinRM lab: real WS-Management + PSRP, real
TLS or NTLM with message encryption) each take `--latency` seconds to run the probe, as a real
host does (the probe runs some twenty cmdlets: about 3 s). hvlm collects them through the real
command (`hvlm collect --only hosts`) with its default concurrency unless told otherwise. The
inventory puts the hosts in migration groups of 10, as a real estate of that size names its moves.
The lab runs in a child process so that the client's CPU time (this process: every thread) is
the client's alone and the two do not share one GIL, as with a real fleet. By default the two are
also pinned apart, the lab on the first CPU and the client on the others (`--no-pin`: both on
every CPU): a real estate's hosts do not take the runner's cores, so the ratio then reflects the
collector rather than the simulated hosts' CPU. Other jobs on the machine still use both cores;
the load average is printed before and after.

The ideal is ceil(N / concurrency) x (latency + set-up), where set-up is the median wall time of
one probe of a host that answers at once, measured here first (TCP, TLS, authentication, the
five WS-Management requests, parsing and checking the output): the time of the waves of probes
if the client cost nothing and the hosts were never kept waiting. Target: within 1.2 times the
ideal at 500 hosts. Reported: wall time of the whole command (imports warmed, snapshot written)
and of its host phase against that ideal, the client's CPU time per probe (whole command; of it,
kernel time; and the host phase alone), the lab's CPU per probe, and the client's peak resident
memory with how much the scan added to it.

500 hosts, 3 s probes, concurrency 64, on the 2-core development machine (a KVM guest) shared with
other jobs; "load" is the 1-minute load average before -> after the run. After the NTLM hash work
(audit/collect/psrp_tuning.ntlm_password) and the pinning:

    run                         load        wall s  ideal s  ratio  client CPU/probe  lab CPU/probe  peak RSS
    HTTPS + Basic, pinned       8.2 -> 7.6   28.5    24.5     1.16   22.6 ms           24.3 ms        177 MiB
      again                     7.6 -> 6.5   28.3    24.8     1.14   21.9 ms           23.9 ms        177 MiB
      again                     6.5 -> 5.9   28.3    24.5     1.15   21.3 ms           24.0 ms        177 MiB
    HTTPS + Basic, not pinned   5.7 -> 6.1   30.2    24.4     1.24   22.5 ms           25.8 ms        177 MiB
      again                     6.1 -> 5.4   29.0    24.3     1.19   22.2 ms           24.3 ms        178 MiB
    HTTP + NTLM, pinned         2.6 -> 4.8   31.7    24.6     1.29   25.2 ms           28.7 ms        182 MiB
      again                     4.8 -> 4.0   28.9    24.5     1.18   24.6 ms           29.1 ms        181 MiB
      again                     4.0 -> 9.0   31.8    24.4     1.31   26.4 ms           29.4 ms        182 MiB
      earlier, same code        1.9 -> 4.7   32.1    24.7     1.30   31.4 ms           35.0 ms        182 MiB
      earlier, same code        4.4 -> 5.1   32.5    24.7     1.31   34.7 ms           36.2 ms        182 MiB
    HTTP + NTLM, not pinned     9.0 -> 10.1  36.2    24.3     1.49   28.2 ms           32.1 ms        184 MiB
      again                    10.1 -> 8.2   32.3    24.5     1.32   26.8 ms           29.9 ms        183 MiB

Of the client's CPU, 2-3.6 ms per probe is kernel time. Before any of the collector's CPU work
(same machine, not pinned, load 4 to 10): HTTPS + Basic 48 ms per probe (ratio 1.63), HTTP + NTLM
52 ms (1.55); after the first round (shared TLS context, remembered PSRP messages, compiled
validators), not pinned: HTTPS 21-23 ms (1.18-1.25), NTLM 26-31 ms (1.28-1.29), 156-160 MiB. Peak
memory is now 177-184 MiB for the same scan (about 105-110 MiB added by it); not investigated here
(main has taken other work since that round).

The NTLM hashes: pyspnego derived the password's LM hash (DES in pure Python, about 1.5 ms) and NT
hash for every connection; they are now derived once per password. One probe after another,
alternating 20 probes with and 20 without, six times: 23.1-26.4 ms (median 24.4) against
24.0-28.1 ms (median 26.4) of client CPU per probe.

Against 1.2: HTTPS meets it pinned (1.14-1.16) and comes within 0.04 of it not pinned. HTTP with
NTLM met it in one run of five pinned (1.18; 1.29-1.31 otherwise): each probe still costs the
lab 29-36 ms and the client 25-35 ms, depending on what else the machine runs. What is left of the
client's cost is pypsrp, requests, urllib3 and http.client, about 1 ms per HTTP request, and NTLM
over HTTP takes eight HTTP requests per probe (three of them to authenticate) against five over
HTTPS + Basic.

The lab's CA is the whole bundle here. With a bundle of certifi's size (about 120 CAs: what hvlm
checks against without `ca_bundle`), one probe after another cost 83-85 ms of client CPU before
and 20-21 ms after the first round (it was parsed for every host, now once). At 128 at once
(first round, not pinned) the ratio was 1.69: the two cores running the client and all 500
simulated hosts were the limit; at 16 (the old default) 1.02 but four times slower. Peak memory
grows by about 130 KiB per concurrent probe.
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
