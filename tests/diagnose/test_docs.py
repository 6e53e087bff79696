"""docs/diagnose.md lists every code and cause the catalogue has, in the catalogue's order."""

from __future__ import annotations

from pathlib import Path

from hvlm.audit.diagnose.catalogue import CATALOGUE
from hvlm.audit.diagnose.causes import CAUSES

DOC = (Path(__file__).resolve().parents[2] / "docs" / "diagnose.md").read_text("utf-8")


def test_every_code_and_cause_is_documented_in_order() -> None:
    for cause in CAUSES:
        assert cause in DOC, cause
    for code, entry in CATALOGUE.items():
        row = next((line for line in DOC.splitlines() if line.startswith("|") and code in line.split("|")[1]), None)
        assert row is not None, code
        assert row.split("|")[2].strip() == ", ".join(entry.causes), code
