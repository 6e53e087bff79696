"""HTML report on a large fleet: its size, and how long Debian's Chromium takes to load and use it.

    python3 benchmarks/bench_html.py                 # 500 hosts, 4 VMs each, rings of 10
    python3 benchmarks/bench_html.py --hosts 200 --vms 8 --pairs mesh

Builds a synthetic fleet with tests/support/fleet.py (mixed Windows Server releases, a few percent
of hosts with the mistakes the example shows), audits it with every registered check, renders the
HTML, JSON, JUnit and CSV outputs, then opens the HTML in headless Chromium (/usr/bin/chromium via
playwright, as the tests do) and measures: time to the page's ready mark, DOM size, and the time to
switch to the by-host and by-move views, to show passed checks and to search. The page is written
to test-output/bench/ for a look. Needs Debian's chromium (bash .ci/install-chromium.sh).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from audit.run import audit_snapshot  # noqa: E402
from audit.snapshot import Snapshot  # noqa: E402
from reports.csv_report import render_csv  # noqa: E402
from reports.html import render_html  # noqa: E402
from reports.json_report import render_json  # noqa: E402
from reports.junit import render_junit  # noqa: E402
from tests.support.fleet import ComputerModel, HostModel, VMModel, build_snapshot, delegation_entries  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic"]
BUILDS = [14393, 17763, 17763, 20348, 20348, 26100]
VM_VERSION = {14393: "8.0", 17763: "9.0", 20348: "10.0", 26100: "12.0"}


class FleetHost(HostModel):
    """HostModel with addresses that stay valid past 250 hosts."""

    @property
    def mgmt_ip(self) -> str:
        return f"10.{self.index // 250}.{self.index % 250}.10"

    @property
    def lm_ip(self) -> str:
        return f"192.168.{50 + self.index // 250}.{self.index % 250 + 1}"


def fleet(n: int, vms: int, group: int, mesh: bool) -> dict[str, Any]:
    hosts: list[HostModel] = []
    for i in range(n):
        build = BUILDS[i % len(BUILDS)]
        hosts.append(FleetHost(
            f"HV{i:03d}", index=i, build=build,
            vms=[VMModel(f"vm{i:03d}-{j}", VM_VERSION[build], state="Off" if j == 3 else "Running",
                         memory_startup=(4 + 4 * j) * 1024**3) for j in range(vms)],
            migration_networks=[(f"192.168.{50 + i // 250}.0/24", 0)],
            # the mistakes administrators make, on a few percent of hosts each
            migration_enabled=i % 37 != 5,
            max_vm_migrations=0 if i % 41 == 7 else 2,
            vmms_start="Manual" if i % 29 == 3 else "Automatic",
            use_any_network=i % 23 == 11,
            auth="CredSSP" if i % 31 == 13 else "Kerberos",
            utc_time="2026-11-20T09:07:00Z" if i % 53 == 17 else "2026-11-20T09:00:00Z",
        ))
    groups = [hosts[g:g + group] for g in range(0, n, group)]
    pairs: list[tuple[HostModel, HostModel]] = []
    for members in groups:
        if len(members) < 2:
            continue
        if mesh:
            pairs += [(a, b) for a in members for b in members if a is not b]
        else:
            pairs += [(members[k], members[(k + 1) % len(members)]) for k in range(len(members))]
    partners: dict[str, list[HostModel]] = {h.fqdn: [] for h in hosts}
    for a, b in pairs:
        partners[a.fqdn].append(b)
        partners[b.fqdn].append(a)
    sid = "S-1-5-21-1004336348-1177238915-682003330"
    computers = [
        ComputerModel(h, f"{sid}-{5000 + i}", [e for d in partners[h.fqdn] for e in delegation_entries(d)],
                      any_protocol=i % 19 != 4)
        for i, h in enumerate(hosts)
    ]
    domains = {"corp.contoso.com": {
        "info": {"dnsRoot": "corp.contoso.com", "nETBIOSName": "CORP", "objectSid": sid,
                 "distinguishedName": "DC=corp,DC=contoso,DC=com", "currentTime": "2026-11-20T09:00:05Z"},
        "domain_controllers": [{"target": "dc01.corp.contoso.com", "port": 389, "priority": 0, "weight": 100}],
        "trusts": [],
    }}
    operator = {
        "domain": "corp.contoso.com", "distinguishedName": "CN=Hyper-V Admin,OU=Admins,DC=corp,DC=contoso,DC=com",
        "sAMAccountName": "hvadmin", "userPrincipalName": "hvadmin@corp.contoso.com", "objectSid": f"{sid}-1105",
        "userAccountControl": 0x200, "tokenGroups": [f"{sid}-513", f"{sid}-1201"],
        "memberOf": ["CN=HV-Operators,OU=Groups,DC=corp,DC=contoso,DC=com"],
    }
    return build_snapshot(hosts, computers={"corp.contoso.com": computers}, domains=domains, operator=operator,
                          pairs=[(a.fqdn, b.fqdn) for a, b in pairs])


TIMED_SWITCH = """async ([selector, action]) => {
    const t0 = performance.now();
    const el = document.querySelector(selector);
    if (action === 'check') { el.checked = true; el.dispatchEvent(new Event('change', {bubbles: true})); }
    else { el.value = action; el.dispatchEvent(new Event('input', {bubbles: true})); }
    await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
    return performance.now() - t0;
}"""


def browse(path: Path) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    out: dict[str, float] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        t0 = time.perf_counter()
        page.goto(path.as_uri(), wait_until="load", timeout=300_000)
        page.wait_for_selector("html[data-ready='1']", state="attached", timeout=300_000)
        out["load_s"] = time.perf_counter() - t0
        nav = page.evaluate("""() => { const n = performance.getEntriesByType('navigation')[0];
            return {dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd}; }""")
        out["dom_content_loaded_ms"] = nav["dcl"]
        out["load_event_ms"] = nav["load"]
        out["dom_nodes"] = page.evaluate("document.getElementsByTagName('*').length")
        out["view_host_ms"] = page.evaluate(TIMED_SWITCH, ["input[name=view][value=host]", "check"])
        out["view_move_ms"] = page.evaluate(TIMED_SWITCH, ["input[name=view][value=move]", "check"])
        out["view_check_ms"] = page.evaluate(TIMED_SWITCH, ["input[name=view][value=check]", "check"])
        out["show_passed_ms"] = page.evaluate(TIMED_SWITCH, ["input[name=status][value=pass]", "check"])
        page.fill("#f-q", "")
        out["search_ms"] = page.evaluate(TIMED_SWITCH, ["#f-q", "hv123"]) + 150  # + the 150 ms typing debounce
        browser.close()
        if errors:
            raise SystemExit(f"page errors: {errors}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--vms", type=int, default=4, help="VMs per host (default 4)")
    parser.add_argument("--group", type=int, default=10, help="hosts per migration group (default 10)")
    parser.add_argument("--pairs", choices=["ring", "mesh"], default="ring",
                        help="ring: each host moves to the next in its group; mesh: every ordered pair")
    parser.add_argument("--out", type=Path, default=ROOT / "test-output" / "bench")
    args = parser.parse_args()

    t0 = time.perf_counter()
    doc = fleet(args.hosts, args.vms, args.group, args.pairs == "mesh")
    snapshot = Snapshot.from_document(doc)
    t1 = time.perf_counter()
    report = audit_snapshot(snapshot, command="bench")
    t2 = time.perf_counter()
    html = render_html(report)
    t3 = time.perf_counter()
    sizes = {"json": len(render_json(report).encode()), "junit": len(render_junit(report).encode()),
             "csv": len(render_csv(report).encode())}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"fleet-{args.hosts}.html"
    path.write_text(html, "utf-8")
    s = report["summary"]["by_status"]
    print(f"fleet: {args.hosts} hosts, {args.vms} VMs each, {len(doc['inventory']['pairs'])} planned moves "
          f"({args.pairs}), {len(report['run']['checks_run'])} checks")
    print(f"findings: {report['summary']['findings']} (fail {s['fail']}, warning {s['warning']}, error {s['error']}, "
          f"pass {s['pass']}, n/a {s['not_applicable']})")
    print(f"python: build+validate snapshot {t1 - t0:.2f} s, audit {t2 - t1:.2f} s, render HTML {t3 - t2:.2f} s")
    print(f"sizes: HTML {len(html.encode()) / 1048576:.2f} MiB, JSON {sizes['json'] / 1048576:.2f} MiB, "
          f"JUnit {sizes['junit'] / 1048576:.2f} MiB, CSV {sizes['csv'] / 1048576:.2f} MiB")
    b = browse(path)
    print(f"chromium: ready after {b['load_s']:.2f} s (DOMContentLoaded {b['dom_content_loaded_ms']:.0f} ms, "
          f"load {b['load_event_ms']:.0f} ms), {int(b['dom_nodes'])} DOM elements")
    print(f"chromium: by host {b['view_host_ms']:.0f} ms, by move {b['view_move_ms']:.0f} ms, "
          f"back to by check {b['view_check_ms']:.0f} ms, show passed {b['show_passed_ms']:.0f} ms, "
          f"search {b['search_ms']:.0f} ms")
    print(f"page: {path}")
    print(json.dumps({"hosts": args.hosts, "html_bytes": len(html.encode()), **sizes, **b}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
