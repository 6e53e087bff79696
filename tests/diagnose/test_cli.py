"""`hvlm diagnose` as a user runs it offline: text, JSON against the shipped schema, HTML, exit codes, errors."""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from hvlm.audit.cli import main
from hvlm.audit.schemas import load_schema
from tests.checks._identity import doc
from tests.support.fleet import ComputerModel, GiB, HostModel, VMModel, build_snapshot

IT = "Impossibile stabilire una connessione con l'host HV02: non sono disponibili nel pacchetto di protezione credenziali"


def _snap(tmp_path: Path, d: dict[str, Any], name: str = "snap.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(d), "utf-8")
    return str(path)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["diagnose", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _valid(d: dict[str, Any]) -> None:
    errors = sorted(Draft202012Validator(load_schema("diagnosis"), format_checker=FormatChecker()).iter_errors(d),
                    key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def test_text_names_the_cause_first_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap = _snap(tmp_path, doc(c1={"any_protocol": False}))
    code, out, err = _run(capsys, "-s", "hv01", "-d", "hv02", "--message", IT, "--snapshot", snap)
    assert code == 1, err
    lines = out.splitlines()
    assert "Error 0x8009030E SEC_E_NO_CREDENTIALS" in out and "the Italian wording of the message" in out
    headline = next(i for i, line in enumerate(lines) if line.startswith("Most likely cause:"))
    assert 'Kerberos only" on HV01' in lines[headline]
    assert lines[headline + 2].startswith(" 1. CONFIRMED")
    assert "PS> Set-ADAccountControl -Identity (Get-ADComputer -Identity 'HV01' -Server 'corp.contoso.com')" in out
    assert "Ruled out:" in out and "\nResult (exit code 1): a cause was found" in out
    assert "\x1b[" not in out  # no colour when not on a terminal


def test_healthy_pair_exits_0_with_the_hand_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "-s", "hv01", "-d", "hv02", "-e", "0x8009030E", "--snapshot", _snap(tmp_path, doc()))
    assert code == 0
    assert "No cause found in the configuration. What remains to check by hand:" in out
    assert "klist purge -li 0x3e7" in out and "Test-NetConnection" in out


def test_json_validates_against_the_shipped_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap = _snap(tmp_path, doc(h1={"auth": "CredSSP"}, h2={"auth": "CredSSP"}))
    target = tmp_path / "diag.json"
    code, out, _ = _run(capsys, "-s", "hv01.corp.contoso.com", "-d", "HV02", "-e", "-2146893042", "--snapshot", snap,
                        "--initiated-from", "admin-pc", "--format", "json", "-o", str(target))
    assert code == 1 and out == ""
    d = json.loads(target.read_text("utf-8"))
    _valid(d)
    assert d["causes"][0]["id"] == "credssp-double-hop" and d["causes"][0]["verdict"] == "confirmed"
    assert d["move"]["initiated"] == "elsewhere" and d["input"]["error"] == "-2146893042"
    assert d["code"]["recognised"] == {"how": "argument", "text": "-2146893042", "language": None}
    ids = [f["id"] for f in d["causes"][0]["evidence"]["findings"]]
    assert ids and all(i.startswith("pair-credssp:") for i in ids)


def test_json_of_every_outcome_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        (doc(), ["-e", "0x8007274D"]),  # no cause
        (doc(), ["-e", "0x80041001"]),  # unknown, nothing found
        (doc(h2={"firewall_enabled": False}), ["-m", "it failed"]),  # no code: full audit
        (doc(domains={"corp.contoso.com": {"domain_controllers": []}}), ["-e", "0x80090311"]),  # likely
    ]
    for i, (d, extra) in enumerate(cases):
        code, out, err = _run(capsys, "-s", "hv01", "-d", "hv02", *extra, "--snapshot", _snap(tmp_path, d, f"{i}.json"),
                              "--format", "json")
        assert code in (0, 1), err
        _valid(json.loads(out))


def test_message_from_stdin(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("Die Verbindung ist fehlgeschlagen.\nIm Sicherheitspaket sind keine "
                                                 "Anmeldeinformationen verfügbar.\n"))
    code, out, _ = _run(capsys, "-s", "hv01", "-d", "hv02", "-m", "-", "--snapshot", _snap(tmp_path, doc()),
                        "--format", "json")
    d = json.loads(out)
    assert code == 0 and d["code"]["code"] == "0x8009030E" and d["code"]["recognised"]["language"] == "de"


@pytest.mark.parametrize(("args", "text"), [
    (["-e", "nonsense"], "is not an error code"),
    (["-e", "0x8009030E", "-d", "hv07"], "is not a host of this snapshot"),
    (["-e", "0x8009030E", "--operator", "CORP\\other"], "--operator applies to a live collection"),
])
def test_usage_and_input_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                       text: str) -> None:
    base = ["-s", "hv01", "--snapshot", _snap(tmp_path, doc())]
    if "-d" not in args:
        base += ["-d", "hv02"]
    code, out, err = _run(capsys, *base, *args)
    assert code == 2 and text in err and out == ""


def test_error_and_message_together_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "-s", "a", "-d", "b", "-e", "0x8009030E", "-m", "x", "--snapshot", "x.json")
    assert code == 2 and "not allowed with argument" in err


HOSTILE_SRC = "<script>alert(1)</script>"
HOSTILE_DST = "hv\u202egnp.exe"
HOSTILE_VM = "</script><img src=x onerror=alert(2)>\x1b[2J"


def _hostile(tmp_path: Path) -> str:
    a = HostModel(HOSTILE_SRC, index=1, vms=[VMModel(HOSTILE_VM, memory_startup=400 * GiB)])
    b = HostModel(HOSTILE_DST, index=2)
    comps = [ComputerModel(a, "S-1-5-21-1-2-3-2101"), ComputerModel(b, "S-1-5-21-1-2-3-2102")]
    return _snap(tmp_path, build_snapshot([a, b], computers={"corp.contoso.com": comps}))


def test_html_escapes_hostile_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap = _hostile(tmp_path)
    src, dst = f"{HOSTILE_SRC.lower()}.corp.contoso.com", f"{HOSTILE_DST.lower()}.corp.contoso.com"
    for code_arg in ("0x8009030E", "0x800705AA"):
        code, out, err = _run(capsys, "-s", src, "-d", dst, "--snapshot", snap, "--format", "html",
                              "--message", f"<b>pasted</b> & \u202e ({code_arg})")
        assert code in (1, 4), err
        assert "<script" not in out.lower() and "<img" not in out and "<b>pasted" not in out
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out and "&lt;b&gt;pasted&lt;/b&gt; &amp;" in out
        assert "\u202e" not in out and "⟦U+202E⟧" in out
        assert "\x1b" not in out
        csp = html.unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', out).group(1))  # type: ignore[union-attr]
        assert "script-src 'none'" in csp and csp.startswith("default-src 'none'; style-src 'sha256-")
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in out  # the VM of the memory cause
    style = re.search(r"<style>(.*?)</style>", out, re.DOTALL).group(1)  # type: ignore[union-attr]
    digest = base64.b64encode(hashlib.sha256(style.encode("utf-8")).digest()).decode("ascii")
    assert f"style-src 'sha256-{digest}'" in html.unescape(out)  # the CSP admits exactly the page's stylesheet


def test_text_drops_control_characters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, dst = f"{HOSTILE_SRC.lower()}.corp.contoso.com", f"{HOSTILE_DST.lower()}.corp.contoso.com"
    code, out, _ = _run(capsys, "-s", src, "-d", dst, "-e", "0x800705AA", "--snapshot", _hostile(tmp_path))
    assert code in (1, 4)
    assert "\x1b" not in out and "\u202e" not in out and "</script><img" in out  # inert text on a terminal


def test_diagnose_runs_offline_on_the_shipped_example(capsys: pytest.CaptureFixture[str]) -> None:
    from hvlm.audit.cli import main

    code = main(["diagnose", "--example", "-s", "hv04", "-d", "hv02", "-e", "0x8009030E"])
    out = capsys.readouterr().out
    assert code == 1
    assert "example-snapshot.json (shipped with hvlm)" in out
    assert 'Delegation set to "Kerberos only" on HV04' in out
    assert main(["diagnose", "--example", "--snapshot", "x.json", "-s", "hv04", "-d", "hv02", "-e", "1"]) == 2
