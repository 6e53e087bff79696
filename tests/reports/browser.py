"""Opening a rendered report in the real browser, recording anything that must not happen."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hvlm.reports.html import render_html

VIEWPORT = {"width": 1440, "height": 900}


@dataclass
class Opened:
    page: Any
    context: Any
    path: Path
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # page errors and console errors (CSP reports among them)
    requests: list[str] = field(default_factory=list)  # anything the page tried to fetch

    def visible_cards(self, scope: str = "#main") -> list[dict[str, Any]]:
        """The cards a reader sees, in one round trip: attributes, text, and visible subjects."""
        result: list[dict[str, Any]] = self.page.evaluate(
            """scope => Array.from(document.querySelectorAll(scope + ' article.card'))
                .filter(c => c.checkVisibility())
                .map(c => ({st: c.dataset.st, sev: c.dataset.sev, c: c.dataset.c, g: Number(c.dataset.g), id: c.id,
                            text: c.textContent,
                            subjects: Array.from(c.querySelectorAll('ul.subj > li')).map(li => li.title)}))""",
            scope,
        )
        return result

    def close(self) -> None:
        self.context.close()


def open_report(browser: Any, report: dict[str, Any], where: Path, *, clipboard: bool = False,
                viewport: dict[str, int] | None = None) -> Opened:
    path = where / "report.html"
    path.write_text(render_html(report), "utf-8")
    return open_page(browser, path, clipboard=clipboard, viewport=viewport, ready="html[data-ready='1']")


def open_page(browser: Any, path: Path, *, clipboard: bool = False, viewport: dict[str, int] | None = None,
              ready: str | None = None) -> Opened:
    """Open any HTML file hvlm wrote (report, diff, history), recording dialogs, errors and requests;
    `ready` is a selector the page sets when its script has run (the script-free pages have none)."""
    context = browser.new_context(viewport=viewport or VIEWPORT)
    if clipboard:
        context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    opened = Opened(page, context, path)

    def on_dialog(dialog: Any) -> None:
        opened.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda exc: opened.errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: opened.errors.append(f"console {msg.type}: {msg.text}")
            if msg.type in ("error", "warning") else None)
    page.on("request", lambda req: opened.requests.append(req.url))
    page.goto(path.as_uri())
    if ready is not None:
        page.wait_for_selector(ready, state="attached", timeout=30_000)
    else:
        page.wait_for_load_state("load")
    return opened


def wait_until(page: Any, expression: str, arg: Any = None, timeout: float = 10.0) -> None:
    """Poll a JS function until it returns true. (page.wait_for_function evaluates strings with eval,
    which the report's Content-Security-Policy rightly forbids; page.evaluate is not affected.)"""
    deadline = time.monotonic() + timeout
    while True:
        if page.evaluate(expression, arg):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        time.sleep(0.05)
