"""The example report in real headless Chromium: summary, matrix, checks, filters, search, details, copy, print."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hvlm.reports.aggregate import PROBLEM_STATUSES, moves_view
from tests.reports.browser import Opened, open_report, wait_until

pytestmark = pytest.mark.lab


@pytest.fixture
def page(browser: Any, example: dict[str, Any], tmp_path: Path) -> Iterator[Opened]:
    opened = open_report(browser, example, tmp_path, clipboard=True)
    yield opened
    assert opened.dialogs == []
    assert opened.errors == [], "the page logged errors (a CSP violation would show here)"
    assert all(u.startswith("file://") for u in opened.requests), opened.requests  # no network
    opened.close()


def _members_of(report: dict[str, Any], host: str) -> dict[int, list[str]]:
    """Member ids of each group that touch a host, by group index."""
    out: dict[int, list[str]] = {}
    for gi, g in enumerate(report["findings"]):
        for m in g["members"]:
            s = m["subject"]
            if host in (s.get("host"), s.get("source"), s.get("destination")):
                out.setdefault(gi, []).append(m["id"])
    return out


def test_summary_and_matrix_render_and_a_screenshot_is_kept(page: Opened, example: dict[str, Any],
                                                              artifacts: Path) -> None:
    p = page.page
    for status, n in example["summary"]["by_status"].items():
        assert p.inner_text(f"#count-{status} .n") == str(n)
    planned = len(example["inventory"]["pairs"])
    assert f"of {planned} planned moves" in p.inner_text("#headline")
    moves = moves_view(example)
    cells = p.query_selector_all("#matrix td.cell[data-move]")
    assert len(cells) == len(moves)
    verdict = {str(m.index): m.verdict for m in moves}
    for cell in cells:
        assert cell.is_visible()
        assert f"st-{verdict[cell.get_attribute('data-move') or '']}" in (cell.get_attribute("class") or "")
    planned_cells = p.query_selector_all("#matrix td.cell.planned")
    assert len(planned_cells) == planned
    # planned moves that need action, and apart from them the way back, in its own section
    problem = [m for m in moves if m.verdict in PROBLEM_STATUSES]
    assert len(p.query_selector_all("#moves tr.mv")) == len([m for m in problem if m.planned])
    assert len(p.query_selector_all("#return #back-moves tr.mv")) == len([m for m in problem if not m.planned])
    assert "do not change the exit code" in p.inner_text("#return-note")
    # passes are counts per check, not cards
    rows = p.query_selector_all("#checks-table tbody tr")
    assert len(rows) == len(example["checks"])
    for row, check in zip(rows, example["checks"], strict=True):
        cells_text = [td.inner_text() for td in row.query_selector_all("td")]
        assert check["id"] in cells_text[0] and cells_text[3] == str(check["counts"]["pass"])
    assert not p.query_selector_all("article.card[data-st=pass]")
    artifacts.mkdir(parents=True, exist_ok=True)
    p.screenshot(path=str(artifacts / "example-report.png"))
    p.screenshot(path=str(artifacts / "example-report-full.png"), full_page=True)
    assert (artifacts / "example-report.png").stat().st_size > 20_000
    # a cell leads to the reasons for that move, and a reason to its finding
    failing = next(m for m in moves if m.planned and m.verdict == "fail")
    p.click(f"#matrix td.cell[data-move='{failing.index}'] a")
    assert p.evaluate("location.hash") == f"#move-{failing.index}"
    row = p.query_selector(f"#move-{failing.index}")
    assert row is not None and row.is_visible() and "FAIL" in row.inner_text()
    reason = row.query_selector("a.rs")
    assert reason is not None
    target = (reason.get_attribute("href") or "")[1:]
    reason.click()
    card = p.query_selector(f"#{target}")
    assert card is not None and card.is_visible() and card.get_attribute("data-st") in PROBLEM_STATUSES


def test_filters_and_search_change_what_is_shown(page: Opened, example: dict[str, Any]) -> None:
    p = page.page
    groups = example["findings"]
    assert len(page.visible_cards()) == len(groups) > 0  # every problem group, the way back included
    assert "Showing" in p.inner_text("#shown")

    p.uncheck("input[name=status][value=fail]")
    shown = page.visible_cards()
    assert shown and all(c["st"] != "fail" for c in shown)
    p.click("#reset")
    assert len(page.visible_cards()) == len(groups)

    p.uncheck("input[name=severity][value=critical]")
    assert all(c["sev"] != "critical" for c in page.visible_cards())
    p.click("#reset")

    hosts = p.evaluate("JSON.parse(document.getElementById('hvlm-data').textContent).hosts")
    host_no = 1
    touching = _members_of(example, hosts[host_no])
    p.select_option("#f-host", str(host_no))
    shown = page.visible_cards()
    assert 0 < len(shown) < len(groups)
    assert {c["g"] for c in shown} == set(touching)
    for card in shown:  # a shared card lists this host's subjects only
        if card["subjects"]:
            assert card["subjects"] == touching[card["g"]]
    p.click("#reset")

    p.select_option("#f-check", "0")
    assert {c["c"] for c in page.visible_cards()} == {"0"}
    p.click("#reset")

    term = "VIRT-MIGL"
    p.fill("#f-q", term.lower())
    wait_until(p, "n => document.querySelectorAll('#main article.card:not([hidden])').length < n", len(groups))
    shown = page.visible_cards()
    assert shown and all(term.lower() in c["text"].lower() for c in shown)
    p.fill("#f-q", "no-such-thing-anywhere")
    p.wait_for_selector("#nothing", state="visible")
    assert page.visible_cards() == []


def test_a_move_or_a_host_shows_everything_about_it_on_demand(page: Opened, example: dict[str, Any]) -> None:
    p = page.page
    assert not p.is_visible("#detail")
    link = p.query_selector("#moves tr.mv a.all-link")
    assert link is not None
    no = int(link.get_attribute("data-move") or 0)
    mv = example["moves"][no - 1]
    link.click()
    assert p.is_visible("#detail")
    head = p.inner_text("#detail-h")
    assert mv["source"] in head and mv["destination"] in head
    items = p.query_selector_all("#detail ul.dlist > li")
    # the move's own findings plus both hosts' own problems
    own = {tuple(r) for r in mv["findings"]}
    ends = {tuple(r) for h in (mv["source"], mv["destination"]) for r in example["hosts"][h]["findings"]}
    assert len(items) == len(own | ends)
    first = items[0].query_selector("a")
    assert first is not None
    first.click()
    target = (first.get_attribute("href") or "")[1:]
    assert p.is_visible(f"#{target}")
    p.click("#detail-close")
    assert not p.is_visible("#detail")
    # a host row shows everything about that host
    p.click("#host-table a.all-link")
    assert p.is_visible("#detail") and "Everything about" in p.inner_text("#detail-h")
    assert p.query_selector_all("#detail ul.dlist > li")


def test_copy_button_puts_the_exact_fix_on_the_clipboard(page: Opened, example: dict[str, Any]) -> None:
    p = page.page
    group = next(g for g in example["findings"] if g["members"][0]["fix"] is not None)
    expected = example["fixes"][group["members"][0]["fix"]]["powershell"]
    button = p.query_selector(f"#{group['id']} button.copy")
    assert button is not None and button.is_visible()
    button.click()
    wait_until(p, "b => b.textContent === 'Copied'", button)
    assert p.evaluate("navigator.clipboard.readText()") == expected
    pre = p.query_selector(f"#{group['id']} pre")
    assert pre is not None and pre.inner_text().strip() == expected.strip()
    # the way back has its own cards, and their fixes copy too
    copy = p.query_selector("#return button.copy")
    assert copy is not None
    copy.click()
    wait_until(p, "b => b.textContent === 'Copied'", copy)
    pre_text = copy.evaluate("b => b.closest('.code').querySelector('pre').textContent")
    assert p.evaluate("navigator.clipboard.readText()") == pre_text


def test_print_layout_hides_controls_and_opens_every_detail(page: Opened, artifacts: Path) -> None:
    p = page.page
    assert p.query_selector_all("#findings details:not([open])"), "some details start closed"
    p.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    p.emulate_media(media="print")
    assert p.query_selector_all("details:not([open])") == []
    assert not p.is_visible("#toolbar")
    assert not any(b.is_visible() for b in p.query_selector_all("button"))
    assert "Printed view: status FAIL, ERROR, WARN" in p.inner_text("#print-filter")
    pdf = artifacts / "example-report.pdf"
    p.pdf(path=str(pdf), format="A4", print_background=True)
    assert pdf.stat().st_size > 20_000
    p.evaluate("window.dispatchEvent(new Event('afterprint'))")
    p.emulate_media(media="screen")
    assert p.query_selector_all("#findings details:not([open])")
    assert p.is_visible("#toolbar")


def test_csp_blocks_an_injected_inline_handler(browser: Any, example: dict[str, Any], tmp_path: Path) -> None:
    opened = open_report(browser, example, tmp_path)
    try:
        p = opened.page
        p.evaluate("""() => {
            const img = document.createElement('img');
            img.setAttribute('onerror', 'window.__pwned = 1');
            img.src = 'data:,not-an-image';
            document.body.appendChild(img);
        }""")
        p.wait_for_timeout(300)
        assert p.evaluate("window.__pwned") is None
        assert any("Content Security Policy" in e for e in opened.errors), opened.errors
    finally:
        opened.close()
