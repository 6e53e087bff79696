"""Shared fixtures: the example report, waivers files, a frozen clock."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from hvlm.audit.cli import main

FROZEN = dt.date(2026, 12, 1)

WAIVERS = """
[[waivers]]
id = "CHG-1"
check = "host-firewall-6600"
host = "hv01"
justification = "Migration network firewalled upstream"
approved_by = "CAB 2026-11-14"
created = 2026-11-14
expires = 2026-12-31

[[waivers]]
id = "CHG-2"
check = "operator-delegable"
host = ["hv0*.corp.contoso.com"]
justification = "Delegation handled by the PAM team"
approved_by = "CISO"
created = 2026-01-01
expires = 2026-02-01

[[waivers]]
id = "CHG-3"
check = "pair-cpu-vendor"
pair = "hv01 -> hv03"
justification = "Moves on the same vendor only"
approved_by = "CISO"
created = 2026-01-01
expires = 2027-02-01
"""


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> dt.date:
    """Freeze the waivers clock at 2026-12-01."""
    monkeypatch.setattr("hvlm.audit.waivers.today", lambda: FROZEN)
    return FROZEN


@pytest.fixture
def waivers_file(tmp_path: Path) -> Path:
    p = tmp_path / "waivers.toml"
    p.write_text(WAIVERS, "utf-8")
    return p


def run_json(args: list[str], out: Path) -> tuple[int, dict[str, Any]]:
    code = main(["audit", "--example", "--format", "json", "-o", str(out), *args])
    return code, json.loads(out.read_text("utf-8"))


def members(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["id"]: {**m, "status": g["status"], "severity": g["severity"], "check_id": g["check_id"]}
            for g in report["findings"] for m in g["members"]}
