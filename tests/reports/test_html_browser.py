"""The example report in real headless Chromium: summary, matrix, filters, search, views, copy, print."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reports.aggregate import PROBLEM_STATUSES, fix_variants, group_findings, moves_view
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


def _problem_groups(report: dict[str, Any]) -> list[Any]:
    return [g for g in group_findings(report["findings"]) if g.status in PROBLEM_STATUSES]


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
    # the moves table explains every move that is not clear, planned moves first
    problem = [m for m in moves if m.verdict in PROBLEM_STATUSES]
    assert len(p.query_selector_all("#moves tr.mv")) == len(problem)
    first_row = p.query_selector("#moves tr.mv")
    assert first_row is not None and "return" not in first_row.inner_text()
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
    problems = _problem_groups(example)
    assert len(page.visible_cards()) == len(problems) > 0  # problems only by default
    assert "Showing" in p.inner_text("#shown")

    p.uncheck("input[name=status][value=fail]")
    shown = page.visible_cards()
    assert shown and all(c["st"] != "fail" for c in shown)
    p.check("input[name=status][value=pass]")
    assert any(c["st"] == "pass" for c in page.visible_cards())
    p.click("#reset")
    assert len(page.visible_cards()) == len(problems)

    p.uncheck("input[name=severity][value=critical]")
    assert all(c["sev"] != "critical" for c in page.visible_cards())
    p.click("#reset")

    host_no = 1
    p.select_option("#f-host", str(host_no))
    shown = page.visible_cards()
    assert 0 < len(shown) < len(problems)
    assert all(f" {host_no} " in c["h"] for c in shown)
    for card in shown:  # subjects of other hosts are hidden inside a shared card
        for li in card["subjects"]:
            assert li["shown"] == (f" {host_no} " in li["h"])
    p.click("#reset")

    p.select_option("#f-check", "0")
    assert {c["c"] for c in page.visible_cards()} == {"0"}
    p.click("#reset")

    term = "VIRT-MIGL"
    p.fill("#f-q", term.lower())
    wait_until(p, "n => document.querySelectorAll('#view-check article.card:not([hidden])').length < n", len(problems))
    shown = page.visible_cards()
    assert shown and all(term.lower() in c["text"].lower() for c in shown)
    p.fill("#f-q", "no-such-thing-anywhere")
    p.wait_for_selector("#nothing", state="visible")
    assert page.visible_cards() == []


def test_findings_regroup_by_host_and_by_move(page: Opened, example: dict[str, Any]) -> None:
    p = page.page
    hosts = p.evaluate("JSON.parse(document.getElementById('hvlm-data').textContent).hosts")
    p.check("input[name=view][value=host]")
    sections = p.query_selector_all("#view-alt section.altgroup")
    assert not p.is_visible("#view-check") and sections
    titles = [s.query_selector("h3 bdi").inner_text() for s in sections]  # type: ignore[union-attr]
    assert set(titles) <= set(hosts) and len(titles) == len(set(titles))
    hv = titles[0]
    no = hosts.index(hv)
    for li in sections[0].query_selector_all("ul.subj > li"):
        assert f" {no} " in (li.get_attribute("data-h") or "")  # each copy holds this host's subjects only

    p.check("input[name=view][value=move]")
    move_sections = p.query_selector_all("#view-alt section.altgroup")
    problem_moves = [m for m in moves_view(example) if m.verdict in PROBLEM_STATUSES]
    assert len(move_sections) == len(problem_moves)

    p.click("#reset")
    link = p.query_selector("#moves tr.mv a.all-link")
    assert link is not None
    link.click()
    assert p.is_checked("input[name=view][value=move]")
    assert len(p.query_selector_all("#view-alt section.altgroup")) == 1
    assert "only" in p.inner_text("#shown")
    # a host row shows everything about that host
    p.click("#host-table a.all-link")
    assert p.is_checked("input[name=view][value=host]")
    assert len(p.query_selector_all("#view-alt section.altgroup")) == 1


def test_copy_button_puts_the_exact_fix_on_the_clipboard(page: Opened, example: dict[str, Any]) -> None:
    p = page.page
    group = next(g for g in _problem_groups(example) if fix_variants(g.members))
    expected = fix_variants(group.members)[0].fix["powershell"]
    button = p.query_selector(f"#{group.gid} button.copy")
    assert button is not None and button.is_visible()
    button.click()
    wait_until(p, "b => b.textContent === 'Copied'", button)
    assert p.evaluate("navigator.clipboard.readText()") == expected
    pre = p.query_selector(f"#{group.gid} pre")
    assert pre is not None and pre.inner_text().strip() == expected.strip()
    # copies made for the other views copy too
    p.check("input[name=view][value=host]")
    copy = p.query_selector("#view-alt button.copy")
    assert copy is not None
    copy.click()
    wait_until(p, "b => b.textContent === 'Copied'", copy)
    alt_pre = copy.evaluate("b => b.closest('.code').querySelector('pre').textContent")
    assert p.evaluate("navigator.clipboard.readText()") == alt_pre


def test_print_layout_hides_controls_and_opens_every_detail(page: Opened, artifacts: Path) -> None:
    p = page.page
    assert p.query_selector_all("#findings details:not([open])"), "some details start closed"
    p.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    p.emulate_media(media="print")
    assert p.query_selector_all("details:not([open])") == []
    assert not p.is_visible("#toolbar")
    assert not any(b.is_visible() for b in p.query_selector_all("button"))
    assert "Printed view: grouped by check" in p.inner_text("#print-filter")
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
