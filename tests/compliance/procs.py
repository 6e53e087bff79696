"""Running the real `hvlm` in its own process, from this checkout (the brief's PYTHONPATH rule)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HVLM = [sys.executable, "-m", "hvlm.audit.cli"]


def env(**extra: str) -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = str(REPO) + (os.pathsep + out["PYTHONPATH"] if out.get("PYTHONPATH") else "")
    out.pop("HVLM_VERIFY_CLASSES", None)  # a plain run, as users have it
    out.update(extra)
    return out


def hvlm_command() -> str:
    """The hvlm command as one shell word list, for scripts that take $HVLM."""
    return " ".join(shlex.quote(a) for a in HVLM)


def run_hvlm(*args: str, prefix: tuple[str, ...] = (), timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, *HVLM, *args], env=env(), capture_output=True, text=True, timeout=timeout,
                          check=False)


def unprivileged() -> tuple[str, ...]:
    """A prefix that takes away root's power to write anywhere (so a read-only folder is one for
    root too); empty when not root."""
    if os.geteuid() != 0:
        return ()
    return ("setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--")
