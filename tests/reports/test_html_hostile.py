"""Hostile host and VM names in real Chromium: shown as text, nothing runs, nothing is injected, layout holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hvlm.reports.html import visible
from tests.reports.browser import Opened, open_report, wait_until
from tests.reports.conftest import HOSTILE_HOSTS

pytestmark = pytest.mark.lab

INJECTED = """() => ({
    scripts: document.scripts.length,
    imgs: document.images.length,
    handlers: Array.from(document.querySelectorAll('*')).flatMap(
        el => Array.from(el.attributes).filter(a => a.name.startsWith('on')).map(a => el.tagName + ' ' + a.name)),
    foreign: document.querySelectorAll(
        'iframe, object, embed, link, base, form:not(#toolbar), meta[http-equiv=refresh]').length,
})"""

OVERFLOW = """() => {
    const main = document.getElementById('main');
    return {
        main: main.scrollWidth - main.clientWidth,
        page: document.documentElement.scrollWidth - window.innerWidth,
    };
}"""


def _assert_inert(o: Opened, where: str) -> None:
    state = o.page.evaluate(INJECTED)
    assert state == {"scripts": 2, "imgs": 0, "handlers": [], "foreign": 0}, (where, state)
    overflow = o.page.evaluate(OVERFLOW)
    assert overflow["main"] <= 1 and overflow["page"] <= 1, (where, overflow)
    assert o.dialogs == [], (where, o.dialogs)


@pytest.mark.parametrize("width", [1440, 900])
def test_hostile_names_render_as_text_and_the_layout_holds(browser: Any, hostile: dict[str, Any], tmp_path: Path,
                                                            artifacts: Path, width: int) -> None:
    o = open_report(browser, hostile, tmp_path, clipboard=True, viewport={"width": width, "height": 900})
    try:
        p = o.page
        _assert_inert(o, "loaded")
        text = p.inner_text("body")
        assert "<script>alert(1)</script>" in text
        assert '"><img src=x onerror=alert(1)>' in text
        assert "{{7*7}}" in text
        assert "evil⟦U+202E⟧gnp.exe" in text and "\u202e" not in text
        if width == 1440:
            p.screenshot(path=str(artifacts / "hostile-names.png"))

        # everything opened: details, every subject and the evidence of every card, each hostile host as
        # the filter, each move's and host's details, and a hostile search
        p.click("#expand")
        _assert_inert(o, "expanded")
        for selector in ("button.show-subjects", "button.show-evidence", "button.show-fixes", "button.show-rows"):
            while (button := p.query_selector(f"#main {selector}:visible")) is not None:
                button.click()
            _assert_inert(o, selector)
        # a hostile VM name, in a finding, as text (cards off screen skip rendering: content-visibility auto)
        subject = p.locator("#main li", has_text="{% raw %}").first
        subject.scroll_into_view_if_needed()
        wait_until(p, "() => [...document.querySelectorAll('#main li')].some(li => li.innerText.includes('{% raw %}'))")
        assert "{{7*7}}{% raw %}" in subject.inner_text()
        hosts = p.evaluate("JSON.parse(document.getElementById('hvlm-data').textContent).hosts")
        for name in HOSTILE_HOSTS:
            no = next(i for i, h in enumerate(hosts) if h.startswith(visible(name.lower())))
            if p.query_selector(f"#f-host option[value='{no}']"):
                p.select_option("#f-host", str(no))
                _assert_inert(o, f"host filter {name[:20]}")
        p.click("#reset")
        for link in p.query_selector_all("a.all-link"):
            link.click()
            _assert_inert(o, "details")
            assert p.is_visible("#detail")
        p.fill("#f-q", "<img src=x onerror=alert(1)>")
        wait_until(p, "() => !document.getElementById('shown').textContent.includes('of 0')")
        _assert_inert(o, "search")

        # copying a fix with hostile names copies it exactly, and runs nothing
        p.fill("#f-q", "")
        p.click("#reset")
        button = p.query_selector("#view-check article.card:not([hidden]) button.copy")
        assert button is not None
        button.click()
        wait_until(p, "b => b.textContent === 'Copied'", button)
        fixes = [f["powershell"] for f in hostile["fixes"]]
        assert p.evaluate("navigator.clipboard.readText()") in fixes

        # print layout with everything open still fits the page width
        p.evaluate("window.dispatchEvent(new Event('beforeprint'))")
        p.emulate_media(media="print")
        _assert_inert(o, "print")
        assert o.errors == [], o.errors
    finally:
        o.close()


def test_long_names_are_cut_in_the_matrix_not_the_page(browser: Any, hostile: dict[str, Any], tmp_path: Path) -> None:
    o = open_report(browser, hostile, tmp_path)
    try:
        widths = o.page.evaluate(
            "() => Array.from(document.querySelectorAll('#matrix th')).map(th => th.getBoundingClientRect().width)"
        )
        assert widths and max(widths) < 200, widths
        cells = o.page.evaluate("() => document.querySelectorAll('#matrix td.cell[data-move]').length")
        assert cells == 2 * len(hostile["inventory"]["pairs"])
    finally:
        o.close()
