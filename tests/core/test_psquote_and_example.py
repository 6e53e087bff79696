"""Quoting for generated PowerShell, and the shipped example staying in sync with its generator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hvlm.audit.psquote import ps_array, ps_quote

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("HV01", "'HV01'"),
        ("it's", "'it''s'"),
        ("$(Remove-Item C:\\ -Recurse)", "'$(Remove-Item C:\\ -Recurse)'"),
        ("a\u2019b", "'a\u2019\u2019b'"),  # PowerShell treats typographic quotes as quotes
        ("`n\"x\"", "'`n\"x\"'"),
    ],
)
def test_ps_quote(value: str, quoted: str) -> None:
    assert ps_quote(value) == quoted


def test_ps_quote_refuses_nul() -> None:
    with pytest.raises(ValueError, match="NUL"):
        ps_quote("a\x00b")


def test_ps_array() -> None:
    assert ps_array(["cifs/HV02", "x'y"]) == "@('cifs/HV02', 'x''y')"


def test_shipped_example_matches_its_generator() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "make_example.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
