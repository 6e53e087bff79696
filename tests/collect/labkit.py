"""Helpers for driving the real `hvlm` CLI against the WinRM lab's simulated hosts."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hvlm.audit.cli import main
from tests.lab.hostsim import SimHost
from tests.lab.winrm import WinRMLab

USER = "LAB\\auditor"
PASSWORD = "Tr0ub4dor&3-Lab-Pw"  # the lab's test password, grepped for in every output


def toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def write_inventory(
    path: Path,
    lab: WinRMLab,
    sims: list[SimHost],
    *,
    defaults: dict[str, Any],
    per_host: dict[str, dict[str, Any]] | None = None,
    extra_hosts: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """An inventory whose hosts are the lab's simulated hosts (127.0.0.1, one port each)."""
    lines = ["hosts = ["]
    rows: dict[str, dict[str, Any]] = {s.name: {"address": lab.address, "port": lab.port(s.name)} for s in sims}
    rows.update(extra_hosts or {})
    for name, settings in rows.items():
        merged = {**settings, **(per_host or {}).get(name, {})}
        fields = ", ".join(f"{k} = {toml_str(v) if isinstance(v, str) else json.dumps(v)}" for k, v in merged.items())
        lines.append(f"  {{ name = {toml_str(name)}, {fields} }},")
    lines.append("]")
    lines.append("[defaults]")
    for key, value in defaults.items():
        lines.append(f"{key} = {toml_str(value) if isinstance(value, str) else json.dumps(value)}")
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class CliRun:
    code: int
    out: str
    err: str
    seconds: float


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> CliRun:
    capsys.readouterr()
    started = time.monotonic()
    code = main(list(args))
    seconds = time.monotonic() - started
    captured = capsys.readouterr()
    return CliRun(code, captured.out, captured.err, seconds)


def assert_facts_equal_model(host_facts: dict[str, Any], sim: SimHost) -> None:
    """Every section holds exactly what the simulated host holds (value, or error kind and message)."""
    for section, (what, payload) in sim.expected().items():
        fact = host_facts[section]
        if what == "value":
            assert "value" in fact, (sim.name, section, fact.get("error"))
            assert fact["value"] == payload, (sim.name, section)
        else:
            kind, message = payload
            assert fact["error"]["kind"] == kind, (sim.name, section, fact["error"])
            assert fact["error"]["message"].startswith(message), (sim.name, section)
