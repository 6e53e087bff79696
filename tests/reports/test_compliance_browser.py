"""The compliance pages in real headless Chromium: the diff page (new, fixed and changed sections, hostile
names inert), a waived finding and an expired waiver in the audit report, and the history page."""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest

from hvlm.audit.cli import main
from hvlm.audit.history import keep_run
from hvlm.audit.run import audit_snapshot
from hvlm.audit.snapshot import Snapshot
from tests.compliance.conftest import FROZEN, WAIVERS
from tests.reports.browser import Opened, open_page, open_report
from tests.reports.conftest import HOSTILE_HOSTS, hostile_snapshot_doc

pytestmark = pytest.mark.lab

HOSTILE_DIR = '<img src=x onerror=alert(9)>{{7*7}}'


def closed_clean(opened: Opened, own_scripts: int = 0) -> None:
    """Nothing ran but the page's own script, nothing was fetched, nothing complained."""
    assert opened.dialogs == []
    assert opened.errors == [], "the page logged errors (a CSP violation would show here)"
    assert all(u.startswith("file://") for u in opened.requests), opened.requests
    found = opened.page.evaluate("""() => [document.querySelectorAll('script').length,
        document.querySelectorAll('img, iframe, object, embed').length]""")
    assert found == [own_scripts, 0]
    opened.close()


def rendered_text(loc: Any) -> str:
    """What a reader sees in the element once scrolled to (cards skip rendering off screen:
    content-visibility: auto), waiting a few frames for it."""
    loc.scroll_into_view_if_needed()
    for _ in range(100):
        text: str = loc.inner_text()
        if text:
            return text
        time.sleep(0.05)
    raise AssertionError(f"{loc} never rendered any text")


def _visible_text(opened: Opened, selector: str) -> str:
    loc = opened.page.locator(selector)
    assert loc.count() == 1 and loc.is_visible(), selector
    return loc.inner_text()


def _hostile_reports(tmp_path: Path) -> tuple[Path, Path, dict[str, set[str]]]:
    """Two reports of the hostile fleet that differ by a new, a fixed and a changed group."""
    snap = Snapshot.from_document(hostile_snapshot_doc())
    full = audit_snapshot(snap, fail_on="medium", command="audit")
    checks = [g["check_id"] for g in full["findings"] if g["members"]]
    by_check: dict[str, list[dict[str, Any]]] = {}
    for g in full["findings"]:
        by_check.setdefault(g["check_id"], []).append(g)
    singles = [c for c in dict.fromkeys(checks) if len(by_check[c]) == 1]
    gone, appears, shifted = singles[0], singles[1], singles[2]
    old, new = copy.deepcopy(full), copy.deepcopy(full)
    old["findings"] = [g for g in old["findings"] if g["check_id"] != appears]
    new["findings"] = [g for g in new["findings"] if g["check_id"] != gone]
    moved = next(g for g in old["findings"] if g["check_id"] == shifted)
    moved["severity"] = "info" if moved["severity"] != "info" else "low"
    a, b = tmp_path / "old.json", tmp_path / "new.json"
    a.write_text(json.dumps(old), "utf-8")
    b.write_text(json.dumps(new), "utf-8")
    ids = {key: {m["id"] for m in by_check[c][0]["members"]} for key, c in
           (("new", appears), ("fixed", gone), ("changed", shifted))}
    return a, b, ids


def test_diff_page_shows_new_fixed_and_changed_and_keeps_hostile_names_inert(
        browser: Any, tmp_path: Path, artifacts: Path) -> None:
    a, b, ids = _hostile_reports(tmp_path)
    page = tmp_path / "diff.html"
    assert main(["diff", str(a), str(b), "--format", "html", "-o", str(page)]) == 1
    opened = open_page(browser, page)
    for key, title in (("new", "New findings"), ("changed", "Changed"), ("fixed", "Fixed")):
        text = _visible_text(opened, f"section#{key}")
        assert text.startswith(f"{title}") and f"({len(ids[key])})" in text.splitlines()[0]
        shown = set(opened.page.eval_on_selector_all(f"section#{key} tbody tr td[title]",
                                                     "cells => cells.map(c => c.title)"))
        assert shown == set(ids[key])
    assert _visible_text(opened, "#headline") == "Changes found"
    body = opened.page.inner_text("body")
    assert any(h in body for h in HOSTILE_HOSTS[:2])  # shown as the text it is
    opened.page.screenshot(path=str(artifacts / "diff-reports.png"), full_page=True)
    closed_clean(opened)

    # a snapshot diff whose changed value is hostile markup
    old = hostile_snapshot_doc()
    new = copy.deepcopy(old)
    comp = new["domains"]["corp.contoso.com"]["computers"]["value"][0]
    comp["msDS-AllowedToDelegateTo"].append("cifs/<img src=x onerror=alert(5)>")
    sa, sb = tmp_path / "s1.json", tmp_path / "s2.json"
    sa.write_text(json.dumps(old), "utf-8")
    sb.write_text(json.dumps(new), "utf-8")
    page2 = tmp_path / "diff-snap.html"
    assert main(["diff", str(sa), str(sb), "--format", "html", "-o", str(page2)]) == 1
    opened = open_page(browser, page2)
    entity = _visible_text(opened, "section.entity")
    assert "cifs/<img src=x onerror=alert(5)>" in entity and "added" in entity
    closed_clean(opened)


@pytest.fixture
def waived_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setattr("hvlm.audit.waivers.today", lambda: FROZEN)
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(WAIVERS, "utf-8")
    out = tmp_path / "report.json"
    main(["audit", "--example", "--waivers", str(waivers), "--format", "json", "-o", str(out)])
    report: dict[str, Any] = json.loads(out.read_text("utf-8"))
    return report


def _group_of(report: dict[str, Any], member_pred: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    return next((g, m) for g in report["findings"] for m in g["members"] if member_pred(g, m))


def test_a_waived_finding_shows_its_waiver_beside_it_and_an_expired_one_loudly(
        browser: Any, waived_report: dict[str, Any], tmp_path: Path, artifacts: Path) -> None:
    g, m = _group_of(waived_report, lambda g, m: (m.get("waiver") or {}).get("id") == "CHG-1")
    opened = open_report(browser, waived_report, tmp_path)
    p = opened.page
    card = p.locator(f"article#{g['id']}")
    note = card.locator(".waiver-note:not(.waiver-expired)")
    assert note.count() == 1
    assert rendered_text(note) == ("Waived by CHG-1 until 2026-12-31, approved by CAB 2026-11-14: "
                                 "Migration network firewalled upstream")
    beside = p.evaluate("""fid => { const el = document.querySelector(`[title="${fid}"]`);
                                    return el ? el.textContent : null; }""", m["id"])
    assert beside is not None and m["subject"]["label"] in beside and "Migration network firewalled upstream" in beside
    assert g["status"] in ("fail", "warning")  # the real status is kept beside the waiver
    assert card.get_attribute("data-st") == g["status"]

    expired_ids = next(e["members"] for e in waived_report["waivers"]["expired"] if e["id"] == "CHG-2")
    assert expired_ids
    eg, _ = _group_of(waived_report, lambda g, m: m["id"] == expired_ids[0])
    loud = p.locator(f"article#{eg['id']} .waiver-expired").first
    assert rendered_text(loud).startswith("Waiver CHG-2 EXPIRED on 2026-02-01") and loud.is_visible()
    style = loud.evaluate("el => { const s = getComputedStyle(el); return [s.fontWeight, s.color]; }")
    assert int(style[0]) >= 700 and style[1] == "rgb(140, 29, 24)"
    top = p.locator(".expired-waivers")
    assert "1 expired waiver: no longer applied" in rendered_text(top) and top.is_visible()
    # narrowed to one host, the script renders the card's subjects from the data: the notes stay
    hosts = p.evaluate("JSON.parse(document.getElementById('hvlm-data').textContent).hosts")
    p.select_option("#f-host", str(hosts.index("hv02.corp.contoso.com")))
    narrowed = p.locator(f"article#{eg['id']}")
    assert narrowed.get_attribute("data-filled") == "1"
    items = narrowed.locator("ul.subj > li")
    assert items.count() == 1 and "hv02.corp.contoso.com" in rendered_text(items.first)
    assert rendered_text(items.first.locator("strong.waiver-expired")).startswith("Waiver CHG-2 EXPIRED on 2026-02-01")
    p.click("#reset")
    p.screenshot(path=str(artifacts / "waived-finding.png"), full_page=False)
    p.locator(f"article#{eg['id']}").screenshot(path=str(artifacts / "expired-waiver-card.png"))
    card.screenshot(path=str(artifacts / "waived-card.png"))
    closed_clean(opened, own_scripts=2)  # the report's data and its script


def test_history_page_draws_the_trend_offline(browser: Any, tmp_path: Path, artifacts: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / HOSTILE_DIR
    folder.mkdir()
    snap = Snapshot.from_document(hostile_snapshot_doc())
    start = dt.datetime(2026, 11, 1, 2, 30, tzinfo=dt.UTC)
    for i, skip in enumerate([None, "host-migration-enabled", None]):
        report = audit_snapshot(snap, skip=skip, fail_on="medium", command="scan")
        keep_run(str(folder), json.dumps(report).encode("utf-8"), start + dt.timedelta(days=i))
    page = tmp_path / "trend.html"
    assert main(["history", str(folder), "--html", str(page), "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    opened = open_page(browser, page)
    p = opened.page
    assert p.locator("svg#chart").is_visible()
    series = p.eval_on_selector_all("svg#chart g.series", """gs => gs.map(g => [g.dataset.series,
        g.querySelectorAll('circle').length, (g.querySelector('polyline')?.getAttribute('points') || '').split(' ').length])""")
    assert series == [["failures", 3, 3], ["warnings", 3, 3], ["waived", 3, 3], ["new", 2, 2]]
    box = p.locator("svg#chart").bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    rows = p.locator("#runs tbody tr")
    assert rows.count() == 3
    assert rows.nth(1).inner_text().split("\t")[-3:] == [
        str(runs[1]["new"]), str(runs[1]["fixed"]), str(runs[1]["not_evaluated"])]
    # the run that skipped a check did not evaluate its findings: not fixed; the next run finds them again
    assert runs[1]["fixed"] == 0 and runs[1]["not_evaluated"] > 0 and runs[2]["new"] == runs[1]["not_evaluated"]
    assert HOSTILE_DIR in p.inner_text("header")  # the folder's name, as text
    p.screenshot(path=str(artifacts / "history.png"), full_page=True)
    closed_clean(opened)
