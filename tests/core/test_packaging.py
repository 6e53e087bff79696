"""One installed top-level name: `hvlm`. Generic names (audit, checks, reports) are neither installed
nor able to stand in for ours."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hvlm.audit.registry import load_registry

REPO = Path(__file__).resolve().parents[2]


def test_the_wheel_installs_hvlm_and_nothing_else_at_the_top(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("hvlm-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"hvlm"}
    for needed in ("hvlm/audit/engine.py", "hvlm/checks/pair_kcd_cifs.py", "hvlm/reports/templates/report.js",
                   "hvlm/audit/schemas/report.schema.json", "hvlm/audit/data/example-snapshot.json",
                   "hvlm/audit/ps/probe.ps1", "hvlm/py.typed"):
        assert needed in names, needed
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry).decode()
    assert "hvlm = hvlm.audit.cli:entry" in text and "builtin = hvlm.checks" in text


def test_a_foreign_checks_package_cannot_stand_in_for_ours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "checks"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('someone else\\'s checks package')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "checks", raising=False)
    registry = load_registry(include_entry_points=False)
    assert len(registry) > 30 and all(c.meta.module.startswith("hvlm.checks.") for c in registry)
