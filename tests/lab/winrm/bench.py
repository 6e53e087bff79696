"""Measure the lab: probe latency per transport, fan-out over slow hosts, server memory.

Run from the repository root: ``python -m tests.lab.winrm.bench``. Not collected by pytest; the
numbers go in the lab's documentation. For the memory and fan-out figures the lab runs in a
child process so the client's threads and the server's do not share one GIL (as with a real
fleet), and are also shown in-process (as in the tests).
"""

from __future__ import annotations

import multiprocessing as mp
import statistics
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from .lab import WinRMLab
from .model import HostSpec, PipelineResult

USER, PASSWORD = "LAB\\bench", "Bench-Passw0rd"
ANSWER = '{"host": "hv", "vms": [' + ",".join(f'{{"name": "vm{i}", "state": "Running"}}' for i in range(40)) + "]}"


def answer(script: str, params: Mapping[str, object]) -> PipelineResult:
    return PipelineResult(output=[ANSWER])


def probe(kwargs: Mapping[str, Any]) -> list[object]:
    with WSMan(**kwargs) as wsman, RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_script("Get-HvlmFacts")
        out: list[object] = ps.invoke()
        return out


def rss_kib() -> tuple[int, int]:
    """(VmRSS, VmHWM) of this process in KiB."""
    fields = {}
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def one_probe_times() -> None:
    for scheme, auth in (("http", "basic"), ("http", "ntlm"), ("https", "basic"), ("https", "ntlm")):
        with WinRMLab([HostSpec("hv", answer)], scheme=scheme, auth=auth, users={USER: PASSWORD}) as lab:  # type: ignore[arg-type]
            kwargs = lab.client_kwargs("hv", USER, PASSWORD)
            for _ in range(3):
                probe(kwargs)
            samples = []
            for _ in range(30):
                t = time.perf_counter()
                probe(kwargs)
                samples.append(time.perf_counter() - t)
        print(
            f"one probe {scheme}+{auth}: median {statistics.median(samples) * 1000:.1f} ms, "
            f"p90 {sorted(samples)[26] * 1000:.1f} ms"
        )


def _serve(n: int, latency: float, scheme: str, auth: str, conn: Connection) -> None:
    before = rss_kib()[0]
    hosts = [HostSpec(f"hv{i:03d}", answer, latency=latency) for i in range(n)]
    with WinRMLab(hosts, scheme=scheme, auth=auth, users={USER: PASSWORD}) as lab:  # type: ignore[arg-type]
        conn.send(([lab.client_kwargs(h.name, USER, PASSWORD) for h in hosts], before, rss_kib()[0]))
        cpu = time.process_time()
        conn.recv()  # scan finished
        conn.send((rss_kib(), threading.active_count(), time.process_time() - cpu))
        conn.recv()


def fan_out(n: int, latency: float, workers: int, scheme: str = "http", auth: str = "ntlm") -> None:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(n, latency, scheme, auth, child))
    proc.start()
    try:
        all_kwargs, rss_before, rss_started = parent.recv()
        t, client_cpu = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(probe, all_kwargs))
        elapsed, client_cpu = time.perf_counter() - t, time.process_time() - client_cpu
        parent.send("done")
        (rss_after, hwm), threads, server_cpu = parent.recv()
        parent.send("stop")
    finally:
        proc.join(timeout=30)
    assert all(r == [ANSWER] for r in results)
    ideal = -(-n // workers) * latency
    print(
        f"{n} hosts x {latency}s latency, {workers} client threads, {scheme}+{auth}, server in child: "
        f"{elapsed:.2f} s (ideal {ideal:.2f} s); server RSS {rss_before // 1024} MiB idle, "
        f"{rss_started // 1024} MiB with lab up, {rss_after // 1024} MiB after scan (peak {hwm // 1024} MiB), "
        f"{threads} threads left; CPU server {server_cpu:.2f} s, client {client_cpu:.2f} s"
    )


def fan_out_in_process(n: int, latency: float, workers: int) -> None:
    hosts = [HostSpec(f"hv{i:03d}", answer, latency=latency) for i in range(n)]
    with WinRMLab(hosts, scheme="http", auth="ntlm", users={USER: PASSWORD}) as lab:
        all_kwargs = [lab.client_kwargs(h.name, USER, PASSWORD) for h in hosts]
        t = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(probe, all_kwargs))
        elapsed = time.perf_counter() - t
    assert all(r == [ANSWER] for r in results)
    ideal = -(-n // workers) * latency
    print(f"{n} hosts x {latency}s, {workers} threads, in-process: {elapsed:.2f} s (ideal {ideal:.2f} s)")


def main() -> None:
    one_probe_times()
    fan_out(200, 2.0, 32)  # latency dominates CPU here: shows latency itself caps nothing
    fan_out_in_process(50, 0.5, 16)
    fan_out(50, 0.5, 16)
    fan_out(200, 0.5, 16)
    fan_out(200, 0.5, 32)
    fan_out_in_process(200, 0.5, 32)
    fan_out(200, 0.5, 32, "https", "basic")


if __name__ == "__main__":
    main()
