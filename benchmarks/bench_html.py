"""HTML report on a large fleet: its size, render time, and how long Debian's Chromium takes to use it.

    python3 benchmarks/bench_html.py --hosts 2000                # healthy, groups of 20: 38,000 planned moves
    python3 benchmarks/bench_html.py --hosts 2000 --broken 10    # 10% of hosts broken
    python3 benchmarks/bench_html.py --hosts 200 --cache /tmp/hvlm-bench   # keep the audited report

Builds a snapshot document like the fleet generator the project uses for estates
(tests/support/fleet.py: 20 VMs per host, migration groups of 20, every ordered pair inside a group
planned; an operator account and the domain as a real run collects them), audits it with every
registered check (audit.run.audit_snapshot, report version 2), renders the HTML, then opens it in
headless Chromium (/usr/bin/chromium via playwright, as the tests do) and measures the time to the
page's ready mark (interactive), DOM size, and a few interactions. --broken N breaks N% of the hosts,
in three ways in turn: live migration disabled, CredSSP where the others use Kerberos, and a computer
object missing its delegation entries. The audit of 2,000 hosts takes minutes; --cache keeps the
report (pickle) so the HTML can be measured again without it. The page goes to test-output/bench/.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hvlm.audit.run import audit_snapshot  # noqa: E402
from hvlm.audit.snapshot import Snapshot  # noqa: E402
from hvlm.reports.html import render_html  # noqa: E402
from tests.support.fleet import ComputerModel, HostModel, VMModel, build_snapshot, delegation_entries  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic"]
BUILDS = [17763, 20348, 26100]
SID = "S-1-5-21-1004336348-1177238915-682003330"


def fleet(n: int, group: int = 20, vms: int = 20, broken: float = 0.0) -> dict[str, Any]:
    """n hosts in migration groups of `group`, every ordered pair in a group planned."""
    every = round(100 / broken) if broken else 0
    bad = {i: ("migration", "credssp", "delegation")[(i // every) % 3] for i in range(0, n, every)} if every else {}
    hosts = [HostModel(f"HV{i:04d}", index=i % 240, build=BUILDS[i % 3],
                       vms=[VMModel(f"vm{i:04d}-{j:02d}", "9.0") for j in range(vms)],
                       migration_enabled=bad.get(i) != "migration",
                       auth="CredSSP" if bad.get(i) == "credssp" else "Kerberos",
                       hyperv_admins=[("CORP\\HV-Operators", f"{SID}-1201")])
             for i in range(n)]
    groups = {f"g{g:03d}": [h.fqdn for h in hosts[g * group:(g + 1) * group]] for g in range((n + group - 1) // group)}
    members = {h.fqdn: [hosts[k] for k in range((i // group) * group, min(n, (i // group + 1) * group))]
               for i, h in enumerate(hosts)}
    computers = [
        ComputerModel(h, f"{SID}-{3000 + i}",
                      [] if bad.get(i) == "delegation" else
                      [e for d in members[h.fqdn] if d is not h for e in delegation_entries(d)])
        for i, h in enumerate(hosts)
    ]
    domains = {"corp.contoso.com": {
        "info": {"dnsRoot": "corp.contoso.com", "nETBIOSName": "CORP", "objectSid": SID,
                 "distinguishedName": "DC=corp,DC=contoso,DC=com", "currentTime": "2026-11-20T09:00:05Z"},
        "domain_controllers": [{"target": "dc01.corp.contoso.com", "port": 389, "priority": 0, "weight": 100}],
        "trusts": [],
    }}
    operator = {
        "domain": "corp.contoso.com", "distinguishedName": "CN=Hyper-V Admin,OU=Admins,DC=corp,DC=contoso,DC=com",
        "sAMAccountName": "hvadmin", "userPrincipalName": "hvadmin@corp.contoso.com", "objectSid": f"{SID}-1105",
        "userAccountControl": 0x200, "tokenGroups": [f"{SID}-513", f"{SID}-1201"],
        "memberOf": ["CN=HV-Operators,OU=Groups,DC=corp,DC=contoso,DC=com"],
    }
    return build_snapshot(hosts, computers={"corp.contoso.com": computers}, domains=domains, operator=operator,
                          groups=groups)


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
        out["ready_s"] = time.perf_counter() - t0
        nav = page.evaluate("""() => { const n = performance.getEntriesByType('navigation')[0];
            return {dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd}; }""")
        out["dom_content_loaded_ms"] = nav["dcl"]
        out["load_event_ms"] = nav["load"]
        out["dom_nodes"] = page.evaluate("document.getElementsByTagName('*').length")
        out["search_ms"] = page.evaluate(TIMED_SWITCH, ["#f-q", "hv0123"]) + 150  # + the 150 ms typing debounce
        out["clear_search_ms"] = page.evaluate(TIMED_SWITCH, ["#f-q", ""]) + 150
        out["host_filter_ms"] = page.evaluate(TIMED_SWITCH_SELECT, "#f-host")
        out["show_all_subjects_ms"] = page.evaluate(TIMED_CLICK, "#main button.show-subjects")
        out["show_all_moves_ms"] = page.evaluate(TIMED_CLICK, "button.show-rows[data-for=moves]")
        out["move_details_ms"] = page.evaluate(TIMED_CLICK, "#moves a.all-link")
        browser.close()
        if errors:
            raise SystemExit(f"page errors: {errors}")
    return out


TIMED_SWITCH_SELECT = """async (selector) => {
    const el = document.querySelector(selector);
    if (!el || el.options.length < 2) return -1;
    const t0 = performance.now();
    el.value = el.options[1].value; el.dispatchEvent(new Event('change', {bubbles: true}));
    await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
    const ms = performance.now() - t0;
    el.value = ''; el.dispatchEvent(new Event('change', {bubbles: true}));
    return ms;
}"""
TIMED_CLICK = """async (selector) => {
    const el = document.querySelector(selector);
    if (!el) return -1;
    const t0 = performance.now();
    el.click();
    await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
    return performance.now() - t0;
}"""


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--vms", type=int, default=20, help="VMs per host (default 20)")
    parser.add_argument("--group", type=int, default=20, help="hosts per migration group (default 20)")
    parser.add_argument("--broken", type=float, default=0.0, help="percent of hosts with a problem (default 0)")
    parser.add_argument("--cache", type=Path, help="directory to keep audited reports in")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "test-output" / "bench")
    args = parser.parse_args()

    name = f"fleet-{args.hosts}-g{args.group}-v{args.vms}-b{args.broken:g}"
    cached = args.cache / f"{name}.pickle" if args.cache else None
    t_audit = 0.0
    if cached and cached.exists():
        report = pickle.loads(cached.read_bytes())
    else:
        doc = fleet(args.hosts, args.group, args.vms, args.broken)
        snapshot = Snapshot.from_document(doc)
        t1 = time.perf_counter()
        report = audit_snapshot(snapshot, command="bench")
        t_audit = time.perf_counter() - t1
        if cached:
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_bytes(pickle.dumps(report))
    t2 = time.perf_counter()
    html = render_html(report)
    t_render = time.perf_counter() - t2
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{name}.html"
    path.write_text(html, "utf-8")
    s = report["summary"]
    print(f"fleet: {args.hosts} hosts, {args.vms} VMs each, groups of {args.group}, {args.broken:g}% broken: "
          f"{s['moves']['planned']} planned moves, {sum(len(g['members']) for g in report['findings'])} problems "
          f"in {len(report['findings'])} groups; moves by verdict {s['moves']['by_verdict']}")
    print(f"python: audit {t_audit:.1f} s{' (cached)' if not t_audit else ''}, render HTML {t_render:.2f} s; "
          f"HTML {len(html.encode()) / 1048576:.2f} MiB")
    result: dict[str, Any] = {"name": name, "html_bytes": len(html.encode()), "render_s": round(t_render, 3)}
    if not args.no_browser:
        b = browse(path)
        print(f"chromium: interactive after {b['ready_s']:.2f} s (DOMContentLoaded {b['dom_content_loaded_ms']:.0f} ms),"
              f" {int(b['dom_nodes'])} DOM elements; search {b['search_ms']:.0f} ms, host filter "
              f"{b['host_filter_ms']:.0f} ms, show all subjects {b['show_all_subjects_ms']:.0f} ms, show all moves "
              f"{b['show_all_moves_ms']:.0f} ms, a move's details {b['move_details_ms']:.0f} ms (-1: nothing to click)")
        result.update(b)
    print(f"page: {path}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
