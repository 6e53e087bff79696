"""History: --history DIR keeps each run, hvlm history DIR shows the trend and prunes on request."""

from __future__ import annotations

import datetime as dt
import html as html_mod
import json
import os
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from hvlm.audit.cli import main
from hvlm.audit.commands.audit_cmd import example_snapshot_path
from hvlm.audit.history import ENTRY_RE, companion_name, entry_name, keep_run
from hvlm.audit.schemas import load_schema
from tests.compliance.conftest import members
from tests.compliance.procs import run_hvlm, unprivileged

FIREWALL = "host-firewall-6600"


def entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ENTRY_RE.match(p.name))


def history_json(folder: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any], str]:
    capsys.readouterr()
    code = main(["history", str(folder), "--json", *extra])
    out = capsys.readouterr()
    doc = json.loads(out.out)
    Draft202012Validator(load_schema("history"), format_checker=Draft202012Validator.FORMAT_CHECKER).validate(doc)
    return code, doc, out.err


def audit(folder: Path, *extra: str) -> int:
    return main(["audit", "--example", "--history", str(folder), "--format", "json", "-o", os.devnull, *extra])


def test_each_run_is_kept_and_the_trend_counts_what_diff_counts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], frozen: dt.date, waivers_file: Path) -> None:
    h = tmp_path / "hist"
    h.mkdir()
    assert audit(h) == 1
    assert audit(h, "--waivers", str(waivers_file)) == 1
    assert audit(h, "--skip", FIREWALL) == 1
    assert audit(h) == 1
    names = entries(h)
    assert len(names) == 4 and names == sorted(names)
    err = capsys.readouterr().err
    assert f"kept this run as {h / names[0]}\n" in err
    assert f"kept this run as {h / names[3]} (1 new finding, 0 fixed since {names[2]})" in err
    reports = [json.loads((h / n).read_text("utf-8")) for n in names]
    assert all(r["report_version"] == 2 for r in reports)
    waived_n = sum(1 for m in members(reports[1]).values() if m.get("waiver"))
    assert waived_n >= 1

    code, doc, err = history_json(h, capsys)
    assert code == 0 and [r["file"] for r in doc["runs"]] == names and doc["skipped"] == [] == doc["removed"]
    failures = sum(1 for m in members(reports[0]).values() if m["status"] == "fail")
    warnings = sum(1 for m in members(reports[0]).values() if m["status"] == "warning")
    firewall = sum(1 for m in members(reports[0]).values() if m["check_id"] == FIREWALL)
    assert firewall >= 1
    first, waived, skipped, back = doc["runs"]
    assert (first["failures"], first["warnings"], first["waived"], first["new"], first["fixed"]) == (
        failures, warnings, 0, None, None)
    assert (waived["failures"], waived["waived"], waived["new"], waived["fixed"]) == (failures, waived_n, 0, 0)
    # --skip: the firewall findings were not evaluated, not fixed
    assert (skipped["new"], skipped["fixed"], skipped["not_evaluated"]) == (0, 0, firewall)
    assert (back["new"], back["fixed"], back["waived"], back["not_evaluated"]) == (firewall, 0, 0, 0)
    # the same numbers as hvlm diff of the two files
    capsys.readouterr()
    assert main(["diff", str(h / names[2]), str(h / names[3]), "--format", "json"]) == 1
    diff = json.loads(capsys.readouterr().out)
    assert (diff["summary"]["new"], diff["summary"]["fixed"]) == (back["new"], back["fixed"])

    # text and HTML
    capsys.readouterr()
    page = tmp_path / "trend.html"
    assert main(["history", str(h), "--html", str(page)]) == 0
    text = capsys.readouterr().out
    assert f"history of {h}: 4 runs" in text
    rows = text.splitlines()[3:7]
    assert rows[3].startswith(f"{back['kept']}  audit ")
    assert rows[3].split()[2:] == ["1", f"{failures:,}", f"{warnings:,}", "0", "0", f"{firewall:,}", "0", "0"]
    assert rows[2].split()[-3:] == ["0", "0", f"{firewall:,}"]  # new, fixed, not evaluated
    assert rows[0].split()[-3:] == ["-", "-", "-"]  # the first run has nothing to compare with
    html = page.read_text("utf-8")
    assert "<svg" in html and "<script" not in html and "script-src 'none'" in html_mod.unescape(html)


def test_names_sort_by_time_and_a_taken_name_is_never_overwritten(tmp_path: Path) -> None:
    when = dt.datetime(2026, 12, 1, 2, 30, 0, 999_999, tzinfo=dt.UTC)
    a = keep_run(str(tmp_path), b'{"run": 1}\n', when)
    b = keep_run(str(tmp_path), b'{"run": 2}\n', when)  # the same microsecond: the next one
    c = keep_run(str(tmp_path), b'{"run": 3}\n', when - dt.timedelta(days=400))
    assert a.name == "report-20261201T023000.999999Z.json" and b.name == "report-20261201T023001.000000Z.json"
    assert entries(tmp_path) == [c.name, a.name, b.name]
    assert [json.loads(p.read_text())["run"] for p in (a, b, c)] == [1, 2, 3]
    assert sorted(p.name for p in tmp_path.iterdir()) == entries(tmp_path)  # no temporary file left
    assert entry_name(dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=dt.timezone(dt.timedelta(hours=2)))) == \
        "report-20260102T010405.000006Z.json"  # UTC whatever the zone


def test_pruning_only_on_request_says_what_it_removed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = Path(example_snapshot_path())  # a snapshot is not a report: use a real report below
    assert main(["audit", "--example", "--format", "json", "-o", str(tmp_path / "r.json")]) == 1
    data = (tmp_path / "r.json").read_bytes()
    h = tmp_path / "hist"
    h.mkdir()
    now = dt.datetime.now(dt.UTC)
    kept = [keep_run(str(h), data, now - dt.timedelta(days=d)).name for d in (400, 100, 40, 10, 1)]
    foreign = h / "notes.json"
    foreign.write_text(report.read_text("utf-8"), "utf-8")  # not named like a run: left alone
    (h / "trend.html").write_text("<p>old page</p>", "utf-8")

    code, doc, err = history_json(h, capsys)  # no prune option: nothing removed
    assert code == 0 and len(doc["runs"]) == 5 and entries(h) == sorted(kept)

    code, doc, err = history_json(h, capsys, "--prune-older-than", "30")
    assert code == 0 and entries(h) == sorted(kept[3:])
    assert sorted(doc["removed"]) == sorted(kept[:3]) and [r["file"] for r in doc["runs"]] == sorted(kept[3:])
    for name in kept[:3]:
        assert f"hvlm: removed {h}/{name}\n" in err
    assert "hvlm: pruned 3 runs from" in err
    code, doc, err = history_json(h, capsys, "--prune-keep", "1")
    assert code == 0 and entries(h) == [kept[4]] and doc["removed"] == [kept[3]]
    assert "hvlm: pruned 1 run from" in err
    code, doc, err = history_json(h, capsys, "--prune-keep", "1", "--prune-older-than", "0")
    assert code == 0 and entries(h) == [kept[4]] and doc["removed"] == []  # the newest run stays
    assert "hvlm: pruned 0 runs from" in err
    assert foreign.exists() and (h / "trend.html").exists()
    assert main(["history", str(h), "--prune-keep", "0"]) == 2
    assert "--prune-keep needs at least 1" in capsys.readouterr().err
    assert entries(h) == [kept[4]]


def test_pruning_removes_each_runs_change_notice_with_it(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """hvlm-scheduled writes changes-<time>Z.txt beside a run that changed something: it goes with
    its run, and one whose run was pruned before (by an older hvlm) goes too; others stay."""
    assert main(["audit", "--example", "--format", "json", "-o", str(tmp_path / "r.json")]) == 1
    data = (tmp_path / "r.json").read_bytes()
    h = tmp_path / "hist"
    h.mkdir()
    now = dt.datetime.now(dt.UTC)
    kept = [keep_run(str(h), data, now - dt.timedelta(days=d)).name for d in (50, 40, 1)]
    notices = [companion_name(n) for n in kept]
    assert notices[0] == "changes-" + kept[0][len("report-"):-len(".json")] + ".txt"
    for n in notices:
        (h / n).write_text("changes\n", "utf-8")
    orphan = companion_name(entry_name(now - dt.timedelta(days=90)))  # its run was pruned long ago
    (h / orphan).write_text("changes\n", "utf-8")
    (h / "changes-notes.txt").write_text("not a notice of a run\n", "utf-8")
    code, doc, err = history_json(h, capsys, "--prune-older-than", "45")
    assert code == 0 and entries(h) == kept[1:]
    assert sorted(doc["removed"]) == sorted([kept[0], notices[0], orphan])
    assert "hvlm: pruned 1 run and 2 change notices (changes-*.txt) from" in err
    for name in (kept[0], notices[0], orphan):
        assert f"hvlm: removed {h}/{name}\n" in err
    assert sorted(p.name for p in h.glob("changes-*")) == sorted([*notices[1:], "changes-notes.txt"])


@pytest.mark.parametrize("bad", ["garbage", "snapshot", "v1", "empty"])
def test_a_run_file_that_is_not_a_report_is_named_and_skipped(bad: str, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    h = tmp_path / "hist"
    h.mkdir()
    assert audit(h) == 1 and audit(h) == 1
    good = entries(h)
    intruder = h / entry_name(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    report = json.loads((h / good[0]).read_text("utf-8"))
    content = {"garbage": "{not json", "snapshot": Path(example_snapshot_path()).read_text("utf-8"),
               "v1": json.dumps({**report, "report_version": 1}), "empty": ""}[bad]
    intruder.write_text(content, "utf-8")
    code, doc, err = history_json(h, capsys)
    assert code == 2 and [r["file"] for r in doc["runs"]] == good
    lines = [line for line in err.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith(f"hvlm: error: skipped {intruder}") and doc["skipped"]
    assert entries(h) == sorted([*good, intruder.name])  # nothing removed, the intruder neither
    # a later run still keeps, and compares with the newest entry (a real run here)
    assert audit(h) == 1
    assert "fixed since" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["missing", "file", "read-only"])
def test_a_history_folder_that_cannot_be_written_is_exit_2_before_anything(kind: str, tmp_path: Path) -> None:
    h = tmp_path / "hist"
    out = tmp_path / "report.txt"
    earlier = None
    if kind == "file":
        h.write_text("not a folder", "utf-8")
    elif kind == "read-only":
        h.mkdir()
        earlier = keep_run(str(h), b'{"earlier": true}\n')
        h.chmod(0o555)
    try:
        run = run_hvlm("audit", "--example", "--history", str(h), "-o", str(out), prefix=unprivileged())
    finally:
        if h.is_dir():
            h.chmod(0o755)
    expected = {"missing": f"hvlm: error: history folder {h} does not exist (create it first)",
                "file": f"hvlm: error: history folder {h} is not a folder",
                "read-only": f"hvlm: error: history folder {h} is not writable: Permission denied"}[kind]
    assert (run.returncode, run.stderr.splitlines()) == (2, [expected])
    assert not out.exists()  # nothing was audited or written
    if earlier is not None:
        assert earlier.read_text() == '{"earlier": true}\n' and entries(h) == [earlier.name]
    if kind == "file":
        assert h.read_text("utf-8") == "not a folder"
