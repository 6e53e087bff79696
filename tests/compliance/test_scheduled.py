"""The shipped scheduled-use files (contrib/scheduled): the systemd service and timer parse (systemd-analyze
verify, and a reading of their keys), the cron line is well formed, and the command line both run
works end to end: keeps history, notifies only on change, exit codes as documented."""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from hvlm.audit.commands.audit_cmd import example_snapshot_path
from hvlm.audit.lock import EXIT_LOCKED, LOCK_NAME
from tests.compliance.procs import REPO, env, hvlm_command
from tests.compliance.test_history import entries
from tests.compliance.test_lock import hold_in_another_process

CONTRIB = REPO / "contrib" / "scheduled"
SCRIPT = CONTRIB / "hvlm-scheduled"
INSTALLED = "/usr/local/bin/hvlm-scheduled"
STATE = "/var/lib/hvlm"
SCAN = ["scan", "-i", "/etc/hvlm/fleet.toml"]  # what a test cannot run here: an audit of a snapshot instead
WAIVERS = """
[[waivers]]
id = "CHG-7"
check = "host-firewall-6600"
host = "hv01"
justification = "Migration network firewalled upstream"
approved_by = "CAB"
created = 2026-11-14
expires = 2099-12-31
"""


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string((CONTRIB / name).read_text("utf-8"))
    return parser


def service_argv() -> list[str]:
    return shlex.split(unit("hvlm-scan.service")["Service"]["ExecStart"])


def cron_argv() -> tuple[list[str], str]:
    lines = [line for line in (CONTRIB / "hvlm.cron").read_text("utf-8").splitlines()
             if line.strip() and not line.startswith("#") and not re.match(r"^[A-Z_]+=", line)]
    assert len(lines) == 1, lines
    fields = lines[0].split(None, 6)
    minute, hour, dom, month, dow, user, command = fields
    for value, top in ((minute, 59), (hour, 23)):
        assert value.isdigit() and 0 <= int(value) <= top
    assert (dom, month, dow) == ("*", "*", "*") and user == "hvlm"
    return shlex.split(command), user


def test_units_parse_with_the_keys_a_scheduled_scan_needs() -> None:
    service, timer = unit("hvlm-scan.service"), unit("hvlm-scan.timer")
    s = service["Service"]
    assert s["Type"] == "oneshot" and s["User"] == "hvlm" and s["StateDirectory"] == "hvlm"
    assert s["SuccessExitStatus"].split() == ["1", "3", "4"]  # findings are results; 2, 5 and 75 fail the unit
    assert s["EnvironmentFile"] == "-/etc/hvlm/scheduled.env"
    argv = service_argv()
    assert argv[:2] == [INSTALLED, STATE] and argv[2:5] == SCAN and "--waivers" in argv
    assert service["Unit"]["After"] == "network-online.target"
    t = timer["Timer"]
    assert t["Persistent"] == "true" and timer["Install"]["WantedBy"] == "timers.target"
    assert set(timer) == {"DEFAULT", "Unit", "Timer", "Install"}
    assert cron_argv()[0] == argv  # cron and systemd run the same command


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here (the key test above still reads the units)")
    for name in ("hvlm-scan.service", "hvlm-scan.timer"):
        text = (CONTRIB / name).read_text("utf-8")
        # verify checks that the program exists: point it at the shipped script (the only change)
        (tmp_path / name).write_text(text.replace(INSTALLED, str(SCRIPT)), "utf-8")
    run = subprocess.run([analyze, "verify", "hvlm-scan.service", "hvlm-scan.timer"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, check=False)
    assert (run.returncode, run.stderr.strip(), run.stdout.strip()) == (0, "", "")
    calendar = unit("hvlm-scan.timer")["Timer"]["OnCalendar"]
    cal = subprocess.run([analyze, "calendar", calendar], capture_output=True, text=True, timeout=60, check=False)
    assert cal.returncode == 0 and "Next elapse:" in cal.stdout
    # and verify does catch a broken unit, so its silence above means something
    broken = (tmp_path / "hvlm-scan.timer").read_text("utf-8").replace(calendar, "nightly-ish")
    (tmp_path / "hvlm-scan.timer").write_text(broken, "utf-8")
    bad = subprocess.run([analyze, "verify", "hvlm-scan.timer"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120, check=False)
    assert bad.returncode != 0 and "nightly-ish" in bad.stderr


class Scheduled:
    """The shipped command line, run for real: the script, a history folder, hvlm from this checkout,
    and an audit of a snapshot the test edits in place of the scan of an inventory."""

    def __init__(self, tmp: Path, argv: list[str]) -> None:
        self.dir = tmp / "state"
        self.dir.mkdir()
        self.snapshot = tmp / "snapshot.json"
        self.snapshot.write_text(Path(example_snapshot_path()).read_text("utf-8"), "utf-8")
        self.waivers = tmp / "waivers.toml"
        self.waivers.write_text(WAIVERS, "utf-8")
        self.notices = tmp / "notices.txt"
        assert argv[:5] == [INSTALLED, STATE, *SCAN]
        rest = [str(self.waivers) if a == "/etc/hvlm/waivers.toml" else a for a in argv[5:]]
        self.argv = [str(SCRIPT), str(self.dir), "audit", str(self.snapshot), *rest]

    def run(self, notify: str | None = None) -> subprocess.CompletedProcess[str]:
        extra = {"HVLM": hvlm_command(), "HVLM_NOTIFY": notify or f"cat >> {shlex.quote(str(self.notices))}"}
        return subprocess.run(self.argv, env=env(**extra), capture_output=True, text=True, timeout=300, check=False)

    def set_migration(self, host: str, enabled: bool) -> None:
        doc = json.loads(self.snapshot.read_text("utf-8"))
        doc["hosts"][host]["vmhost"]["value"]["VirtualMachineMigrationEnabled"] = enabled
        self.snapshot.write_text(json.dumps(doc), "utf-8")

    def notices_text(self) -> str:
        return self.notices.read_text("utf-8") if self.notices.exists() else ""


@pytest.mark.parametrize("source", ["service", "cron"])
def test_the_scheduled_command_keeps_history_and_notifies_only_on_change(source: str, tmp_path: Path) -> None:
    s = Scheduled(tmp_path, service_argv() if source == "service" else cron_argv()[0])
    first = s.run()
    assert first.returncode == 1, first.stderr  # the example has findings: the run's own exit code
    assert len(entries(s.dir)) == 1 and s.notices_text() == ""  # nothing to compare the first run with
    assert first.stdout == first.stderr == ""  # nothing for cron to mail
    kept = json.loads((s.dir / entries(s.dir)[0]).read_text("utf-8"))
    assert any(m.get("waiver", {}).get("id") == "CHG-7" for g in kept["findings"] for m in g["members"])

    again = s.run()
    assert again.returncode == 1 and len(entries(s.dir)) == 2 and s.notices_text() == ""  # no change: no notice
    assert again.stdout == again.stderr == ""
    assert not list(s.dir.glob("changes-*"))

    s.set_migration("hv06.lab.fabrikam.com", True)  # the example's disabled host is fixed
    changed = s.run()
    assert changed.returncode == 1 and changed.stdout == changed.stderr == "", changed.stderr
    notice = s.notices_text()
    assert "Fixed (no longer found):" in notice and "host-migration-enabled: hv06.lab.fabrikam.com" in notice
    assert "New findings:" not in notice
    assert len(list(s.dir.glob("changes-*.txt"))) == 1

    s.set_migration("hv06.lab.fabrikam.com", False)
    failed = s.run(notify="exit 1")  # the notice cannot be sent: the run is kept, exit 5 says so
    assert failed.returncode == 5 and "the change notice could not be sent" in failed.stderr
    assert len(entries(s.dir)) == 4

    holder = hold_in_another_process(s.dir / LOCK_NAME)
    try:
        locked = s.run()
    finally:
        holder.kill()
        holder.wait()
    assert locked.returncode == EXIT_LOCKED and len(entries(s.dir)) == 4
    assert len(locked.stderr.splitlines()) == 1 and "holds the lock" in locked.stderr

    os.rename(s.dir, tmp_path / "gone")
    missing = s.run()
    assert missing.returncode == 2 and missing.stderr.splitlines() == [
        f"hvlm: error: history folder {s.dir} does not exist (create it first)"]
