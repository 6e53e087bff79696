"""The CLI: the example audit, JSON report validity, exit codes, and bad input (one line, exit 2)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from hvlm.audit.cli import build_parser, main
from hvlm.audit.commands.audit_cmd import example_snapshot_path
from hvlm.audit.schemas import load_schema
from hvlm.reports.aggregate import flat_findings
from tests.support.fleet import HostModel, build_snapshot


def write(tmp_path: Path, doc: object, name: str = "snap.json") -> str:
    p = tmp_path / name
    p.write_text(json.dumps(doc))
    return str(p)


def healthy(tmp_path: Path) -> str:
    return write(tmp_path, build_snapshot([HostModel("HV01", index=1), HostModel("HV02", index=2)]))


def test_example_audit_prints_summary_and_valid_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.json"
    code = main(["audit", "--example", "--json", str(out)])
    text = capsys.readouterr().out
    assert "Planned moves:" in text and "Verdicts (" in text and "Result:" in text
    report = json.loads(out.read_text())
    Draft202012Validator(load_schema("report"), format_checker=Draft202012Validator.FORMAT_CHECKER).validate(report)
    assert report["run"]["exit_code"] == code
    assert code in (1, 4)  # the example is full of mistakes
    assert report["summary"]["by_status"]["fail"] > 0
    fails = [f for f in flat_findings(report) if f["status"] in ("fail", "warning")]
    assert fails and all(f["fix"] and f["fix"]["powershell"] for f in fails)


def test_format_json_to_file(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    code = main(["audit", healthy(tmp_path), "--format", "json", "-o", str(out)])
    report = json.loads(out.read_text())
    assert report["run"]["exit_code"] == code
    assert report["tool"]["name"] == "hvlm"


def test_exit_codes_threshold_and_incomplete(tmp_path: Path) -> None:
    snap = build_snapshot([HostModel("HV01", index=1, max_vm_migrations=0), HostModel("HV02", index=2)])
    path = write(tmp_path, snap)
    only = ["--checks", "host-simultaneous-migrations"]
    assert main(["audit", path, *only, "--fail-on", "high", "--format", "json", "-o", str(tmp_path / "a")]) == 1
    assert main(["audit", path, *only, "--fail-on", "critical", "--format", "json", "-o", str(tmp_path / "b")]) == 0
    del snap["hosts"]["hv02.corp.contoso.com"]["vmhost"]
    path = write(tmp_path, snap, "incomplete.json")
    assert main(["audit", path, *only, "--fail-on", "critical", "--format", "json", "-o", str(tmp_path / "c")]) == 3
    assert main(["audit", path, *only, "--fail-on", "high", "--format", "json", "-o", str(tmp_path / "d")]) == 4


def test_uncollected_fact_makes_the_report_incomplete(tmp_path: Path) -> None:
    snap = build_snapshot([HostModel("HV01", errors={"wsman_credssp": ("access_denied", "Access is denied")})])
    out = tmp_path / "r.json"
    code = main(["audit", write(tmp_path, snap), "--checks", "host-os-supported", "--format", "json", "-o", str(out)])
    report = json.loads(out.read_text())
    assert code == 3
    assert report["uncollected"][0]["path"] == "hosts/hv01.corp.contoso.com/wsman_credssp"


def test_no_colour_when_not_a_tty_or_no_color(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    main(["audit", "--example"])
    assert "\x1b[" not in capsys.readouterr().out
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    main(["audit", "--example"])
    assert "\x1b[" not in capsys.readouterr().out
    monkeypatch.delenv("NO_COLOR")
    main(["audit", "--example"])
    assert "\x1b[31m" in capsys.readouterr().out


def test_checks_and_schema_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["checks", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["id"] for r in rows} >= {"host-os-supported"}
    assert main(["schema", "report"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "hvlm audit report"
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "hvlm facts snapshot"


def test_help_on_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "exit codes:" in capsys.readouterr().out
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    commands = sorted(sub.choices)
    assert {"audit", "checks", "schema"} <= set(commands)
    for command in commands:
        assert main([command, "--help"]) == 0, command
        assert "usage: hvlm" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("hvlm ")


# -- bad input ------------------------------------------------------------------------------------

def bad(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    cap = capsys.readouterr()
    err = cap.err.strip()
    assert "Traceback" not in cap.err and len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    ("content", "where", "message"),
    [
        (b"{not json", " at line 1 column 2", "invalid JSON: Expecting property name enclosed in double quotes"),
        (b"\xff\xfe\x00garbage", "", "not UTF-8 text (invalid byte at offset 0)"),
        (b"[1, 2]", " at /", "a snapshot must be a JSON object"),
        (b"{}", " at /schema_version", "missing schema_version (is this an hvlm snapshot?)"),
        (b'{"schema_version": 99}', " at /schema_version", "unsupported schema_version 99; this hvlm reads 1"),
        (b'{"schema_version": 1}', " at /", "'created' is a required property"),
        (b"", " at line 1 column 1", "invalid JSON: Expecting value"),
    ],
)
def test_bad_snapshot_files(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, where: str,
                            message: str) -> None:
    p = tmp_path / "bad.json"
    p.write_bytes(content)
    assert bad(tmp_path, capsys, ["audit", str(p)]) == f"hvlm: error: {p}{where}: {message}"


def test_missing_field_names_the_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = build_snapshot([HostModel("HV01")])
    del doc["hosts"]["hv01.corp.contoso.com"]["vmhost"]["value"]["VirtualMachineMigrationEnabled"]
    err = bad(tmp_path, capsys, ["audit", write(tmp_path, doc)])
    assert "/hosts/hv01.corp.contoso.com/vmhost/value" in err
    assert "'VirtualMachineMigrationEnabled' is a required property" in err


def test_wrong_type_names_the_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = build_snapshot([HostModel("HV01")])
    doc["hosts"]["hv01.corp.contoso.com"]["vmhost"]["value"]["MaximumVirtualMachineMigrations"] = "two"
    err = bad(tmp_path, capsys, ["audit", write(tmp_path, doc)])
    assert "/hosts/hv01.corp.contoso.com/vmhost/value/MaximumVirtualMachineMigrations" in err
    assert "'two' is not of type 'integer'" in err


def test_fact_with_both_value_and_error_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = build_snapshot([HostModel("HV01")])
    doc["hosts"]["hv01.corp.contoso.com"]["clock"]["error"] = {"kind": "x", "message": "y"}
    err = bad(tmp_path, capsys, ["audit", write(tmp_path, doc)])
    assert "/hosts/hv01.corp.contoso.com/clock" in err


def test_oversized_snapshot_is_refused_before_parsing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "huge.json"
    with p.open("wb") as fh:
        fh.write(b'{"schema_version": 1, "pad": "')
        fh.write(b"x" * (300 * 1024 * 1024))
        fh.write(b'"}')
    err = bad(tmp_path, capsys, ["audit", str(p)])
    assert "over the 256 MiB limit" in err and "HVLM_MAX_INPUT_MB" in err


def test_unknown_check_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = bad(tmp_path, capsys, ["audit", "--example", "--checks", "host-os-supported,no-such-check"])
    assert err == "hvlm: error: unknown check id: no-such-check (see `hvlm checks` for the catalogue)"
    err = bad(tmp_path, capsys, ["audit", "--example", "--skip", "nope"])
    assert "unknown check id: nope" in err


def test_snapshot_inventory_naming_a_host_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = build_snapshot([HostModel("HV01")])
    doc["inventory"]["hosts"].append("hv01.corp.contoso.com")
    err = bad(tmp_path, capsys, ["audit", write(tmp_path, doc)])
    assert err.endswith("snap.json at /inventory/hosts: inventory names a host twice")


def test_missing_file_and_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = bad(tmp_path, capsys, ["audit", str(tmp_path / "nope.json")])
    assert "cannot read file: No such file or directory" in err
    err = bad(tmp_path, capsys, ["audit"])
    assert "give either a SNAPSHOT file or --example" in err


def test_console_script_runs_and_never_prints_a_traceback(tmp_path: Path) -> None:
    p = tmp_path / "bad.json"
    p.write_text("{")
    proc = subprocess.run([sys.executable, "-m", "hvlm.audit.cli", "audit", str(p)], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and str(p) in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "hvlm.audit.cli", "audit", example_snapshot_path(), "--format", "json"],
                          capture_output=True, text=True)
    assert proc.returncode in (1, 4) and json.loads(proc.stdout)["report_version"] == 2


def test_json_to_stdout_survives_unpaired_surrogates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = build_snapshot([HostModel("HV01", max_vm_migrations=0)])
    # the host name, which every finding's subject carries, with a lone surrogate (escaped in JSON)
    text = json.dumps(doc).replace("hv01.corp.contoso.com", "hv01\\ud800.corp.contoso.com")
    p = tmp_path / "s.json"
    p.write_text(text)
    main(["audit", str(p), "--format", "json"])
    out = capsys.readouterr().out
    out.encode("utf-8")  # what a UTF-8 stdout will do
    assert json.loads(out)["findings"][0]["members"][0]["subject"]["host"] == "hv01\ud800.corp.contoso.com"


def test_a_fact_absent_on_that_os_is_listed_but_not_incomplete(tmp_path: Path) -> None:
    # Get-VMHostSupportedVersion does not exist on 2012 R2: the checks fall back on the documented table
    host = HostModel("HV01", build=9600, errors={"supported_versions": ("not_found", "The term "
                     "'Get-VMHostSupportedVersion' is not recognized as the name of a cmdlet")})
    out = tmp_path / "r.json"
    code = main(["audit", write(tmp_path, build_snapshot([host])), "--checks", "host-os-supported",
                 "--format", "json", "-o", str(out)])
    report = json.loads(out.read_text())
    assert code == 0
    assert report["uncollected"][0]["kind"] == "not_found"


@pytest.mark.parametrize("command", [["collect", "-o", "out.json"], ["scan"], ["collect", "--only", "directory", "-o", "o.json"]])
def test_inventory_naming_a_host_twice_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            command: list[str]) -> None:
    inv = tmp_path / "fleet.toml"
    inv.write_text('hosts = ["hv01.corp.contoso.com", "HV01.corp.contoso.com"]\n')
    err = bad(tmp_path, capsys, [*command, "--inventory", str(inv)])
    assert err == (f"hvlm: error: {inv} at hosts[1]: host 'HV01.corp.contoso.com' is named twice (also hosts[0])")
    assert not (tmp_path / "out.json").exists()


def test_an_unknown_option_before_the_command_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--frobnicate"]) == 2
    err = capsys.readouterr().err
    assert "unrecognized option '--frobnicate'" in err and "hvlm COMMAND --help" in err


def test_schema_with_a_bogus_name_lists_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "bogus"]) == 2
    err = capsys.readouterr().err
    assert "'diagnosis', 'diff', 'history', 'report', 'snapshot'" in err
