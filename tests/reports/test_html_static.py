"""The HTML file itself, without a browser: self-contained, CSP-hashed, data escaped, names inert."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from typing import Any

from hvlm.audit.run import audit_snapshot
from hvlm.audit.snapshot import Snapshot
from hvlm.reports.html import render_html, script_json, visible
from tests.reports.conftest import HOSTILE_HOSTS, HOSTILE_VMS
from tests.support.fleet import HostModel, build_snapshot


class Scan(HTMLParser):
    """Collects tags, attributes, <script>/<style> bodies and the text a reader sees."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.styles: list[str] = []
        self.text: list[str] = []
        self._in: tuple[str, dict[str, str | None]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._in = (tag, dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in is None:
            self.text.append(data)
        elif self._in[0] == "script":
            self.scripts.append((self._in[1], data))
        else:
            self.styles.append(data)


def scan(html: str) -> Scan:
    s = Scan()
    s.feed(html)
    s.close()
    return s


def sha(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


def test_one_self_contained_file_with_a_strict_csp(example: dict[str, Any]) -> None:
    html = render_html(example)
    s = scan(html)
    for tag, attrs in s.tags:
        assert not (tag in ("script", "img", "iframe", "link", "object", "embed") and (attrs.get("src") or attrs.get("href"))), \
            (tag, attrs)
        for name, value in attrs.items():
            assert not name.startswith("on"), f"inline handler {name} on <{tag}>"
            if name == "href" and value and not value.startswith("#"):
                assert value.startswith("https://"), value  # only documentation links leave the page
    (csp,) = [a["content"] for t, a in s.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp is not None and "default-src 'none'" in csp and "unsafe-inline" not in csp
    code = [body for attrs, body in s.scripts if attrs.get("type") != "application/json"]
    assert len(code) == 1 and f"script-src '{sha(code[0])}'" in csp
    assert len(s.styles) == 1 and f"style-src '{sha(s.styles[0])}'" in csp
    assert not any("style" in attrs for _, attrs in s.tags), "inline style attributes would need 'unsafe-inline'"
    js = re.sub(r"/\*.*?\*/", "", code[0], flags=re.S)
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute(\"on"):
        assert sink not in js, sink


def test_summary_numbers_match_the_report(example: dict[str, Any]) -> None:
    html = render_html(example)
    for status, n in example["summary"]["by_status"].items():
        assert re.search(rf'id="count-{status}">\s*<span class="n">{n}</span>', html), status
    assert f"Exit code <strong>{example['run']['exit_code']}</strong>" in html


def test_embedded_json_cannot_close_its_script_element() -> None:
    data = {"s": "</script><script>alert(1)</script><!-- & \u2028\u2029 \ud800"}
    text = str(script_json(data))
    assert "<" not in text and ">" not in text and "&" not in text
    assert "\u2028" not in text and "\u2029" not in text and text.isascii()
    assert json.loads(text) == data


def test_visible_shows_hidden_characters_instead_of_obeying_them() -> None:
    assert visible("evil\u202egnp.exe") == "evil⟦U+202E⟧gnp.exe"
    assert visible("a\u200bb\x1b[31m\r\nc\td") == "a⟦U+200B⟧b⟦U+001B⟧[31m\nc\td"
    assert visible("plain hv01.corp.contoso.com") == "plain hv01.corp.contoso.com"


def test_hostile_names_are_text_in_the_file(hostile: dict[str, Any]) -> None:
    html = render_html(hostile)
    s = scan(html)
    text = "".join(s.text)
    assert len([1 for t, a in s.tags if t == "script"]) == 2  # the JSON block and our one script
    assert not any(t == "img" for t, _ in s.tags)
    assert "<script>alert(1)</script>" in text  # shown as text, decoded from &lt;script&gt;
    assert '"><img src=x onerror=alert(1)>' in text
    assert "{{7*7}}" in text and "{% raw %}" in text  # data is never a template
    assert "evil⟦U+202E⟧gnp.exe" in text and "\u202e" not in html
    assert "<script>alert(1)</script>" not in html and "<img src=x" not in html
    for name in HOSTILE_VMS[:3]:
        assert name not in html  # always escaped in markup
    assert any(name in text for name in HOSTILE_HOSTS[:1])


def test_what_could_not_be_checked_and_the_run_metadata_are_listed() -> None:
    hosts = [HostModel(f"HV0{i}", index=i, errors={"vmhost": ("access_denied", "Access is denied.")} if i < 3 else {})
             for i in range(1, 5)]
    doc = build_snapshot(hosts, pairs=[(hosts[0].fqdn, hosts[1].fqdn)])
    report = audit_snapshot(Snapshot.from_document(doc), command="audit")
    assert len(report["uncollected"]) == 2 and report["run"]["exit_code"] in (3, 4)
    text = "".join(scan(render_html(report)).text)
    assert "2 facts could not be collected" in text
    assert "host vmhost" in text and "access_denied" in text and "Access is denied." in text
    assert hosts[0].fqdn in text and hosts[1].fqdn in text
    assert "could not check" in text  # the checks that needed vmhost report errors, listed with the findings
    run = report["run"]
    for value in (report["tool"]["version"], run["run_by"], run["snapshot_created"], run["started"], run["finished"]):
        assert value in text
    assert f"Exit code {run['exit_code']}" in text and "incomplete" in text
