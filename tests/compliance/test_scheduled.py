"""The shipped scheduled-use files (contrib/scheduled): the systemd service and timer parse (systemd-analyze
verify, and a reading of their keys), the cron line is well formed, and the command line both run
works end to end: keeps history, notifies only on change, exit codes as documented."""

from __future__ import annotations

import configparser
import gzip
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from hvlm.audit.commands.audit_cmd import example_snapshot_path
from hvlm.audit.history import companion_name
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
    # the notice is named after its run, so hvlm history --prune-* removes it with the run
    assert [p.name for p in s.dir.glob("changes-*.txt")] == [companion_name(entries(s.dir)[-1])]

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
        f"hvlm-scheduled: error: history folder {s.dir} does not exist (create it first)"]


def test_the_job_holds_the_lock_through_the_diff_and_the_notice(tmp_path: Path) -> None:
    """A manual run that starts while the scheduled job is between its scan and its notice waits its
    turn (exit 75): it can neither slip a run in between the pair the job diffs nor send a second
    notice. The notice's own command does not inherit the lock (a mailer left behind cannot hold it)."""
    s = Scheduled(tmp_path, service_argv())
    assert s.run().returncode == 1
    s.set_migration("hv06.lab.fabrikam.com", True)
    probe = tmp_path / "during-notice.txt"
    manual = f"{hvlm_command()} audit {shlex.quote(str(s.snapshot))} --history {shlex.quote(str(s.dir))} -o /dev/null"
    notify = (f"cat > /dev/null; {{ {manual} 2>&1; echo \"manual exit $?\"; "
              f"flock -n {shlex.quote(str(s.dir / LOCK_NAME))} true; echo \"flock exit $?\"; "
              f"test -e /proc/self/fd/9; echo \"fd9 $?\"; }} > {shlex.quote(str(probe))}")
    changed = s.run(notify=notify)
    assert changed.returncode == 1, changed.stderr
    seen = probe.read_text("utf-8")
    assert "another hvlm run holds the lock" in seen and "hvlm-scheduled" in seen and "manual exit 75" in seen
    assert "flock exit 1" in seen  # held by the job all through its notice
    assert "fd9 1" in seen  # and not by the notice's command
    assert len(entries(s.dir)) == 2  # the manual run kept nothing
    assert (s.dir / LOCK_NAME).read_text("utf-8") == ""  # the holder line is cleared at the end
    after = run_manual(s)
    assert after.returncode == 1, after.stderr  # free again once the job ended


def run_manual(s: Scheduled) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*shlex.split(hvlm_command()), "audit", str(s.snapshot), "--history", str(s.dir),
                           "-o", os.devnull], env=env(), capture_output=True, text=True, timeout=300, check=False)


def test_a_second_job_while_one_runs_does_nothing(tmp_path: Path) -> None:
    s = Scheduled(tmp_path, service_argv())
    holder = subprocess.Popen(["flock", str(s.dir / LOCK_NAME), "sleep", "600"])  # as a running job holds it
    try:
        deadline = 50
        while deadline and subprocess.run(["flock", "-n", str(s.dir / LOCK_NAME), "true"], check=False).returncode == 0:
            deadline -= 1
            subprocess.run(["sleep", "0.1"], check=False)
        second = s.run()
    finally:
        holder.kill()
        holder.wait()
    assert second.returncode == EXIT_LOCKED and entries(s.dir) == []
    assert second.stderr.splitlines() == [
        f"hvlm-scheduled: another hvlm run holds the lock {s.dir / LOCK_NAME}; this run did nothing (exit code 75)"]


MAIL_PREVENTING = "NoNewPrivileges"


def _implying_no_new_privileges() -> set[str]:
    """The options that imply NoNewPrivileges=yes for a non-root User=, read from the installed
    systemd.exec(5) when there is one (the list in the unit's comment otherwise)."""
    page = Path("/usr/share/man/man5/systemd.exec.5.gz")
    if page.exists():
        text = re.sub(r"\\f[BIR]|\\&", "", gzip.decompress(page.read_bytes()).decode("utf-8", "replace"))
        text = text.replace("\\-", "-")
        found = set()
        for section in text.split("\n.PP\n"):
            name = section.split("\n", 1)[0].strip()
            body = " ".join(section.split())
            if re.fullmatch(r"[A-Za-z]+=", name) and re.search(
                    r"NoNewPrivileges=(yes)? ?is implied|NoNewPrivileges= ?and RestrictSUIDSGID= ?are implicitly", body):
                found.add(name.rstrip("="))
        assert {"SystemCallFilter", "RestrictSUIDSGID", "ProtectKernelTunables", "DynamicUser"} <= found, found
        return found
    comment = (CONTRIB / "hvlm-scan.service").read_text("utf-8").split("systemd.exec(5):", 1)[1].split(")", 1)[0]
    return {w.rstrip("=,") for w in comment.replace("#", " ").split() if w.endswith(("=", "=,"))}


def test_the_service_can_send_its_mail_notice() -> None:
    """mail(1) hands the notice to the MTA's sendmail, setgid postdrop (Postfix) or setuid root (exim),
    writing under /var/spool: no NoNewPrivileges (nor an option implying it) and no read-only /var."""
    s = unit("hvlm-scan.service")["Service"]
    assert s.get(MAIL_PREVENTING, "no") not in ("yes", "true", "1", "on")
    implying = _implying_no_new_privileges()
    assert not implying & set(s), implying & set(s)
    assert s["ProtectSystem"] in ("full", "yes", "no", "false")  # strict would make /var/spool read-only
    text = (CONTRIB / "hvlm-scan.service").read_text("utf-8")
    assert "HVLM_NOTIFY" in text and "NoNewPrivileges=yes and ProtectSystem=strict" in text  # the other choice


def test_the_cron_line_finds_hvlm_with_crons_own_environment(tmp_path: Path) -> None:
    """cron runs the line with /bin/sh and PATH=/usr/bin:/bin unless the file sets PATH; pip puts
    hvlm in /usr/local/bin. Run the line as cron does (env -i, the file's variables, /bin/sh -c),
    with a stand-in for /usr/local/bin that holds the script and an hvlm that runs this checkout."""
    text = (CONTRIB / "hvlm.cron").read_text("utf-8")
    variables = dict(line.split("=", 1) for line in text.splitlines() if re.match(r"^[A-Z_]+=", line))
    assert "/usr/local/bin" in variables["PATH"].split(":")
    if shutil.which("hvlm", path="/usr/bin:/bin"):
        pytest.skip("an hvlm in /usr/bin or /bin would hide what this test shows")
    local = tmp_path / "usr-local-bin"
    local.mkdir()
    shutil.copy(SCRIPT, local / "hvlm-scheduled")
    shim = local / "hvlm"
    shim.write_text("#!/bin/sh\n" + f"PYTHONPATH={shlex.quote(str(REPO))} exec {hvlm_command()} \"$@\"\n", "utf-8")
    shim.chmod(0o755)
    s = Scheduled(tmp_path, cron_argv()[0])
    command = shlex.join([str(local / "hvlm-scheduled"), *s.argv[1:]])

    def as_cron(path: str) -> subprocess.CompletedProcess[str]:
        cron_env = {"HOME": str(tmp_path), "LOGNAME": "hvlm", "SHELL": "/bin/sh", "PATH": path,
                    "HVLM_NOTIFY": f"cat >> {shlex.quote(str(s.notices))}"}
        return subprocess.run(["env", "-i", *(f"{k}={v}" for k, v in cron_env.items()), "/bin/sh", "-c", command],
                              capture_output=True, text=True, timeout=300, check=False)

    without = as_cron("/usr/bin:/bin")  # cron's default: the defect the PATH line fixes
    assert without.returncode == 127 and "hvlm: not found" in without.stderr and entries(s.dir) == []
    path = variables["PATH"].replace("/usr/local/bin", str(local))
    first = as_cron(path)
    assert first.returncode == 1 and first.stdout == first.stderr == "", first.stderr
    assert len(entries(s.dir)) == 1


def test_the_readme_units_are_the_shipped_ones() -> None:
    """The README's abridged units say what the shipped files say, key by key (a value with a comment
    after it, which systemd would take as part of the value, differs from the shipped one)."""
    section = (REPO / "README.md").read_text("utf-8").split("### Scheduled use", 1)[1].split("\n## ", 1)[0]
    block = next(b for b in re.findall(r"```ini\n(.*?)```", section, flags=re.S) if "[Service]" in b)
    shipped = {"Service": unit("hvlm-scan.service")["Service"], "Timer": unit("hvlm-scan.timer")["Timer"]}
    current = ""
    keys = 0
    for line in block.splitlines():
        if not line.strip() or line.lstrip().startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            continue
        key, value = line.split("=", 1)
        assert shipped[current][key] == value, (current, key, value)
        keys += 1
    assert keys >= 12
    cron = [line for line in section.splitlines() if line.startswith("`30 2 * * * hvlm ")]
    assert len(cron) == 1 and shlex.split(cron[0].strip("`.").split(" hvlm ", 1)[1]) == cron_argv()[0]
