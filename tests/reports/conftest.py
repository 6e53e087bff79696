"""Shared fixtures for the renderer tests: reports built by the real engine, and a real browser.

The browser is Debian's chromium (/usr/bin/chromium, installed by .ci/install-chromium.sh) driven
by playwright. If it cannot start, every browser test FAILS with the reason: an HTML report that
was never opened in a browser is not tested.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hvlm.audit.commands.audit_cmd import example_snapshot_path
from hvlm.audit.run import audit_snapshot
from hvlm.audit.snapshot import Snapshot
from tests.support.fleet import ComputerModel, HostModel, VMModel, build_snapshot, delegation_entries

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-output" / "html-report"

# Names a hostile or broken host might return. They must reach every output as inert text.
HOSTILE_HOSTS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{7*7}}",
    "evil\u202egnp.exe",
    "x" * 240,
]
HOSTILE_VMS = [
    "<script>alert('vm')</script>",
    "</script><script>alert(2)</script>",
    '"><img src=x onerror=alert(3)>',
    "{{7*7}}{% raw %}",
    "' onmouseover='alert(4)",
    "\u202eVM-rtl-fdp.exe",
    "=cmd|' /C calc'!A0",
    "line1\n#>\nRemove-Item -Path C:\\ -Recurse\n<#",
    "vm-" + "w" * 300,
    "zero\u200bwidth\u2028sep",
]


def example_report() -> dict[str, Any]:
    return audit_snapshot(Snapshot.load(example_snapshot_path()), fail_on="medium")


def hostile_snapshot_doc() -> dict[str, Any]:
    hosts = [
        # the first host's VMs are at 12.0 (Windows Server 2025 only): hostile VM names reach the findings
        HostModel(name, index=i + 1,
                  vms=[VMModel(vm, "12.0" if i == 0 else "9.0") for vm in (HOSTILE_VMS if i == 0 else HOSTILE_VMS[:3])],
                  max_vm_migrations=0 if i % 2 else 2, migration_enabled=i != 2)
        for i, name in enumerate(HOSTILE_HOSTS)
    ]
    names = [h.fqdn for h in hosts]
    pairs = [(names[i], names[i + 1]) for i in range(len(names) - 1)]
    sid = "S-1-5-21-1-2-3"
    computers = [ComputerModel(h, f"{sid}-{2100 + i}", delegation_entries(hosts[(i + 1) % len(hosts)]))
                 for i, h in enumerate(hosts)]
    return build_snapshot(hosts, pairs=pairs, computers={"corp.contoso.com": computers})


def hostile_report() -> dict[str, Any]:
    return audit_snapshot(Snapshot.from_document(hostile_snapshot_doc()), fail_on="medium", command="audit")


@pytest.fixture(scope="session")
def example() -> dict[str, Any]:
    return example_report()


@pytest.fixture(scope="session")
def hostile() -> dict[str, Any]:
    return hostile_report()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium through playwright. Never skipped: a missing browser fails loudly."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        pytest.fail(f"playwright is not installed ({exc}): pip install -e '.[test]'", pytrace=False)
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run `bash .ci/install-chromium.sh` (Debian's chromium package). "
                    "Do not run `playwright install`.", pytrace=False)
    manager = sync_playwright().start()  # launch() gives the browser a fresh temporary profile
    try:
        try:
            chromium = manager.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS], timeout=60_000)
        except Exception as exc:
            pytest.fail(f"Chromium at {CHROMIUM} did not start: {exc}", pytrace=False)
        yield chromium
        chromium.close()
    finally:
        manager.stop()
