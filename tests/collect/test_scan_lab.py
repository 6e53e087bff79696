"""`hvlm scan` and `hvlm collect` against the WinRM lab: real pypsrp, real WS-Management + PSRP.

Each simulated host answers the shipped probe from a fleet HostModel (tests/lab/hostsim.py), so
the collected snapshot can be compared with what the hosts hold, and every failure the lab can
inject must come back classified, on its own host, with the others collected.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pypsrp.encryption import WinRMEncryption

from hvlm.audit.collect.probe import HOST_SECTIONS
from hvlm.audit.snapshot import Snapshot
from tests.lab.hostsim import Behaviour, SimHost
from tests.lab.winrm import Fault, WinRMLab, closed_port
from tests.support.fleet import GiB, HostModel, VMModel
from tests.support.terminal import run_on_terminal

from .labkit import PASSWORD, USER, assert_facts_equal_model, run_cli, write_inventory

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HVLM_PASSWORD", PASSWORD)
    monkeypatch.delenv("HVLM_USERNAME", raising=False)


def model(i: int, build: int, **kw: Any) -> HostModel:
    vms = [VMModel(f"vm{i:02d}-{j}", version="5.0" if build == 9600 else "8.0",
                   state="Running" if j % 2 == 0 else "Off", memory_startup=(2 + j) * GiB)
           for j in range(i % 4)]
    return HostModel(f"HV{i:02d}", index=i, build=build, vms=vms, **kw)


def snapshot_of(path: Path) -> dict[str, Any]:
    return Snapshot.load(path).doc


# -- transports and authentication -------------------------------------------------------------


def test_collect_over_https_with_basic_and_ca_validation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sims = [SimHost(model(1, 17763)), SimHost(model(2, 20348, credential_guard=True)), SimHost(model(3, 26100))]
    with WinRMLab([s.spec() for s in sims], scheme="https", auth="basic", users={USER: PASSWORD}) as lab:
        inventory = write_inventory(tmp_path / "fleet.toml", lab, sims,
                                    defaults={"auth": "basic", "username": USER, "ca_bundle": lab.ca_cert_path})
        run = run_cli(capsys, "collect", "-i", str(inventory), "-o", str(tmp_path / "snap.json"), "--only", "hosts")
    assert run.code == 0, run.err
    assert "WARNING" not in run.err
    doc = snapshot_of(tmp_path / "snap.json")
    assert doc["complete"] is True and doc["domains"] == {} and doc["dns"] == {}
    for sim in sims:
        facts = doc["hosts"][sim.name]
        assert_facts_equal_model(facts, sim)
        conn = facts["connection"]["value"]
        assert conn["username"] == USER and conn["auth"] == "basic" and conn["tls_verified"] is True
        assert conn["endpoint"].startswith("https://127.0.0.1:")
        assert len(sim.calls) == 1


def test_collect_over_http_with_ntlm_and_message_encryption(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    wrapped: list[int] = []
    original = WinRMEncryption.wrap_message

    def counting(self: WinRMEncryption, message: bytes) -> Any:
        wrapped.append(len(message))
        return original(self, message)

    # The lab also admits unencrypted NTLM (AllowUnencrypted=true), so prove from the client side
    # that every SOAP message hvlm sent over HTTP went through message encryption.
    monkeypatch.setattr(WinRMEncryption, "wrap_message", counting)
    sims = [SimHost(model(1, 9600)), SimHost(model(2, 14393))]
    with WinRMLab([s.spec() for s in sims], scheme="http", auth="ntlm", users={USER: PASSWORD}) as lab:
        inventory = write_inventory(tmp_path / "fleet.toml", lab, sims, defaults={"transport": "http", "username": USER},
                                    per_host={sims[0].name: {"auth": "ntlm"}})  # the other: negotiate (-> NTLM)
        run = run_cli(capsys, "collect", "-i", str(inventory), "-o", str(tmp_path / "snap.json"), "--only", "hosts")
        seen = lab.requests_seen(sims[0].name)
    # 2012 R2 has no Get-VMHostSupportedVersion: that one section is reported, so the snapshot is incomplete
    assert run.code == 3, run.err
    doc = snapshot_of(tmp_path / "snap.json")
    for sim in sims:
        assert_facts_equal_model(doc["hosts"][sim.name], sim)
        assert doc["hosts"][sim.name]["connection"]["value"]["endpoint"].startswith("http://")
    assert doc["hosts"][sims[0].name]["supported_versions"]["error"]["kind"] == "not_found"
    assert doc["hosts"][sims[0].name]["local_groups"]["value"]["S-1-5-32-544"]["Members"] == []
    assert seen[0] == "Create" and seen[-1] == "Delete"  # one pool, opened and closed
    assert len(wrapped) >= 2 * len(seen)  # every request of both hosts was wrapped


def test_basic_over_http_is_refused_with_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sims = [SimHost(model(1, 17763))]
    with WinRMLab([s.spec() for s in sims], scheme="http", auth="basic", users={USER: PASSWORD}) as lab:
        inventory = write_inventory(tmp_path / "fleet.toml", lab, sims, defaults={"username": USER})
        run = run_cli(capsys, "collect", "-i", str(inventory), "-o", str(tmp_path / "s.json"), "--only", "hosts",
                      "--transport", "http", "--auth", "basic")
    assert run.code == 2
    assert "Basic authentication over HTTP" in run.err
    assert not sims[0].calls and not (tmp_path / "s.json").exists()


def test_untrusted_certificate_works_only_with_the_explicit_flag_and_a_loud_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sims = [SimHost(model(1, 17763), fault=Fault.UNTRUSTED_CERT)]
    with WinRMLab([s.spec() for s in sims], scheme="https", auth="ntlm", users={USER: PASSWORD}) as lab:
        inventory = write_inventory(tmp_path / "fleet.toml", lab, sims,
                                    defaults={"auth": "ntlm", "username": USER, "ca_bundle": lab.ca_cert_path})
        refused = run_cli(capsys, "collect", "-i", str(inventory), "-o", str(tmp_path / "a.json"), "--only", "hosts")
        insecure = run_cli(capsys, "collect", "-i", str(inventory), "-o", str(tmp_path / "b.json"), "--only", "hosts",
                           "--no-verify-tls")
        # Basic and CredSSP would hand the password (or the delegated credentials) to whoever answers
        basic = run_cli(capsys, "collect", "-i", str(inventory), "-o", str(tmp_path / "c.json"), "--only", "hosts",
                        "--no-verify-tls", "--auth", "basic")
        served = lab.requests_seen(sims[0].name)
    assert basic.code == 2 and "basic authentication with TLS certificate validation off" in basic.err
    assert (not (tmp_path / "c.json").exists() and len(served) == len(set(served))) or served
    assert refused.code == 3
    error = snapshot_of(tmp_path / "a.json")["hosts"][sims[0].name]["connection"]["error"]
    assert error["kind"] == "tls" and "not trusted" in error["message"] and "--ca-bundle" in error["message"]
    assert insecure.code == 0
    assert "WARNING: TLS certificate validation is OFF" in insecure.err
    conn = snapshot_of(tmp_path / "b.json")["hosts"][sims[0].name]["connection"]["value"]
    assert conn["tls_verified"] is False


# -- every failure classified, on its own host ---------------------------------------------------


EXPECTED_KINDS = {
    "ok": None,
    "slow": None,
    "write-error-with-output": None,
    "wrong-user": "authentication",
    "access-denied": "access_denied",
    "broken-pool": "protocol",
    "unavailable": "unreachable",
    "reset": "unreachable",
    "hang-create": "timeout",
    "hang-receive": "timeout",
    "untrusted": "tls",
    "refused": "unreachable",
    "no-such-name": "name_resolution",
    "write-error": "probe_error",
    "throw": "probe_error",
    "malformed": "probe_error",
}


def failure_fleet() -> tuple[list[SimHost], dict[str, str]]:
    """Simulated hosts, one per failure, named after what they do; and name -> fqdn."""
    plan: dict[str, dict[str, Any]] = {
        "ok": {},
        "slow": {"latency": 1.0},
        "write-error-with-output": {"behaviour": Behaviour.WRITE_ERROR_WITH_OUTPUT},
        "wrong-user": {},
        "access-denied": {"fault": Fault.ACCESS_DENIED},
        "broken-pool": {"fault": Fault.BROKEN_POOL},
        "unavailable": {"fault": Fault.SERVICE_UNAVAILABLE},
        "reset": {"fault": Fault.CONNECTION_RESET},
        "hang-create": {"fault": Fault.HANG_ON_CREATE},
        "hang-receive": {"fault": Fault.HANG_ON_RECEIVE},
        "untrusted": {"fault": Fault.UNTRUSTED_CERT},
        "write-error": {"behaviour": Behaviour.WRITE_ERROR},
        "throw": {"behaviour": Behaviour.THROW},
        "malformed": {"behaviour": Behaviour.MALFORMED_JSON},
        "partial": {"behaviour": Behaviour.PARTIAL_SECTION, "broken_section": "vmhost"},
        "missing-section": {"behaviour": Behaviour.MISSING_SECTION, "broken_section": "vms"},
        "denied-section": {},
    }
    sims = []
    for i, (label, kw) in enumerate(plan.items(), start=1):
        denied = ("access_denied", "Get-LocalGroupMember: Access is denied.")
        errors = {"local_groups": denied} if label == "denied-section" else {}
        host = HostModel(label.replace("-", "").upper()[:15], index=i, build=(17763, 20348, 26100)[i % 3], errors=errors)
        sims.append(SimHost(host, **kw))
    return sims, {label: sim.name for label, sim in zip(plan, sims, strict=True)}


def test_scan_classifies_every_failure_and_leaks_no_password(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sims, names = failure_fleet()
    names["refused"], names["no-such-name"] = "refused.corp.contoso.com", "nosuch.corp.contoso.com"
    with WinRMLab([s.spec() for s in sims], scheme="https", auth="basic", users={USER: PASSWORD}) as lab:
        inventory = write_inventory(
            tmp_path / "fleet.toml", lab, sims,
            defaults={"auth": "basic", "username": USER, "ca_bundle": lab.ca_cert_path},
            per_host={names["wrong-user"]: {"username": "LAB\\intruder"}},
            extra_hosts={names["refused"]: {"address": "127.0.0.1", "port": closed_port()},
                         names["no-such-name"]: {"address": "hv-nosuch.invalid"}},
        )
        outputs = {k: tmp_path / f for k, f in (("report", "report.txt"), ("json", "report.json"),
                                                ("html", "report.html"), ("junit", "junit.xml"), ("csv", "report.csv"),
                                                ("snapshot", "snap.json"), ("log", "scan.log"))}
        run = run_cli(capsys, "scan", "-i", str(inventory), "--host-timeout", "3", "--connect-timeout", "2",
                      "-o", str(outputs["report"]), "--json", str(outputs["json"]), "--html", str(outputs["html"]),
                      "--junit", str(outputs["junit"]), "--csv", str(outputs["csv"]),
                      "--save-snapshot", str(outputs["snapshot"]), "--log", str(outputs["log"]))
    assert run.code in (3, 4), run.err
    # two hosts hang; each costs its 3 s deadline, not pypsrp's minutes
    assert run.seconds < 15, run.seconds
    doc = snapshot_of(outputs["snapshot"])
    assert doc["complete"] is True
    for label, kind in EXPECTED_KINDS.items():
        facts = doc["hosts"][names[label]]
        assert set(facts) == {"connection", *HOST_SECTIONS}
        if kind is None:
            assert "value" in facts["connection"], (label, facts["connection"])
            assert all("value" in facts[s] for s in HOST_SECTIONS), label
        else:
            assert facts["connection"]["error"]["kind"] == kind, (label, facts["connection"]["error"])
            assert {facts[s]["error"]["kind"] for s in HOST_SECTIONS} == {kind}, label
    messages = {label: doc["hosts"][names[label]]["connection"].get("error", {}).get("message", "")
                for label in EXPECTED_KINDS}
    assert "within the per-host deadline of 3 s" in messages["hang-receive"]
    assert "connection refused" in messages["refused"] and "Test-WSMan" in messages["refused"]
    assert "Enable-PSRemoting" in messages["refused"]
    assert "LAB\\intruder" in messages["wrong-user"]
    assert "Administrators" in messages["access-denied"]
    assert "hv-nosuch.invalid" in messages["no-such-name"]
    assert "cannot process the request" in messages["throw"]
    assert "not valid JSON" in messages["malformed"]
    assert "Cannot bind argument" in messages["write-error"]
    # the slow host still answered, and a non-terminating error beside the document is kept as such
    assert doc["hosts"][names["write-error-with-output"]]["connection"]["value"]["probe_errors"]
    # broken sections cost their section only
    partial = doc["hosts"][names["partial"]]
    assert partial["vmhost"]["error"]["kind"] == "probe_error" and "schema" in partial["vmhost"]["error"]["message"]
    assert "value" in partial["vms"]
    assert doc["hosts"][names["missing-section"]]["vms"]["error"]["kind"] == "probe_error"
    denied = doc["hosts"][names["denied-section"]]["local_groups"]["error"]
    assert denied["kind"] == "access_denied" and "Administrators group" in denied["message"]
    # the report knows which facts are missing and why
    report = json.loads(outputs["json"].read_text())
    assert report["run"]["command"] == "scan" and report["run"]["exit_code"] == run.code
    assert any(u["kind"] == "timeout" for u in report["uncollected"])
    # progress went to stderr as plain lines (not a terminal): counts with rate and estimate, each failure
    assert f"{len(names)}/{len(names)} done, " in run.err and "hosts/min" in run.err
    failed_hosts = [h for h, facts in doc["hosts"].items() if "error" in facts["connection"]]
    assert run.err.count(": FAILED - ") == len(failed_hosts) >= sum(k is not None for k in EXPECTED_KINDS.values())
    # and the password is nowhere: not in any output, log, snapshot or report, not even as Basic auth
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    texts = {"stdout": run.out, "stderr": run.err} | {k: p.read_text() for k, p in outputs.items()}
    assert all(text.strip() for where, text in texts.items() if where != "stdout"), "an output is empty"
    assert "hangreceive.corp.contoso.com: timeout" in texts["log"]  # the log says what happened...
    for where, text in texts.items():
        assert PASSWORD not in text, where
        assert basic not in text, where
        assert PASSWORD.encode("utf-16-le").decode("latin-1") not in text, where


# -- a fleet of 50 -------------------------------------------------------------------------------


def test_scan_of_50_hosts_of_mixed_versions_collects_exactly_what_they_hold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    builds = (9600, 14393, 17763, 20348, 26100)
    sims = [
        SimHost(model(i, builds[i % 5], credential_guard=i % 7 == 0, rdma=i % 3 == 0,
                      performance=("TCPIP", "Compression", "SMB")[i % 3], auth=("Kerberos", "CredSSP")[i % 2],
                      hyperv_admins=[("CORP\\HV Operators", f"S-1-5-21-100-200-300-{1000 + i}")],
                      administrators=[(f"HV{i:02d}\\Administrator", f"S-1-5-21-9-9-{i}-500")]))
        for i in range(1, 51)
    ]
    with WinRMLab([s.spec() for s in sims], scheme="http", auth="ntlm", users={USER: PASSWORD}) as lab:
        inventory = write_inventory(tmp_path / "fleet.toml", lab, sims,
                                    defaults={"transport": "http", "auth": "ntlm", "username": USER})
        run = run_cli(capsys, "scan", "-i", str(inventory), "--save-snapshot", str(tmp_path / "snap.json"),
                      "--format", "json", "-q")
    doc = snapshot_of(tmp_path / "snap.json")
    assert set(doc["hosts"]) == {s.name for s in sims}
    for sim in sims:
        assert_facts_equal_model(doc["hosts"][sim.name], sim)
    report = json.loads(run.out)
    uncollected = {(u["path"].split("/")[1], u["path"].split("/")[2]) for u in report["uncollected"]
                   if u["path"].startswith("hosts/")}
    assert uncollected == {(s.name, "supported_versions") for s in sims if s.model.build == 9600}
    assert run.err.count("\n") <= 2  # -q: no progress lines, just the summary
    assert run.code in (3, 4)


# -- Ctrl-C ----------------------------------------------------------------------------------------


def test_a_scan_on_a_terminal_shows_one_updating_line_with_rate_and_time_left(tmp_path: Path) -> None:
    sims = [SimHost(model(i, 17763)) for i in range(1, 7)]
    with WinRMLab([s.spec() for s in sims], scheme="http", auth="ntlm", users={USER: PASSWORD}) as lab:
        inventory = write_inventory(tmp_path / "fleet.toml", lab, sims,
                                    defaults={"transport": "http", "auth": "ntlm", "username": USER})
        env = {**os.environ, "HVLM_PASSWORD": PASSWORD, "PYTHONPATH": str(REPO), "TERM": "xterm"}
        code, screen = run_on_terminal(
            [sys.executable, "-m", "hvlm.audit.cli", "collect", "-i", str(inventory), "-o", str(tmp_path / "snap.json"),
             "--only", "hosts", "--concurrency", "2"],
            env=env, cwd=REPO, stdout_to_terminal=False)
    assert code == 0, screen
    assert "\r" in screen and "\x1b[K" in screen  # rewritten in place, not one line per host
    final = [segment for segment in screen.split("\r") if " done, " in segment][-1]
    assert "6/6 done, 0 failed, 0 remaining (0 running)" in final and "hosts/min, took " in final, final
    assert "remaining" in screen and "hosts/min, about " in screen  # an estimate while hosts were left
    assert screen.count("\n") <= 3, screen  # the progress line, the summary


def test_ctrl_c_keeps_what_was_collected_and_marks_the_rest_interrupted(tmp_path: Path) -> None:
    sims = [SimHost(model(i, 17763)) for i in (1, 2, 3)] + [
        SimHost(model(i, 17763), fault=Fault.HANG_ON_RECEIVE) for i in (4, 5)
    ]
    with WinRMLab([s.spec() for s in sims], scheme="http", auth="ntlm", users={USER: PASSWORD}) as lab:
        inventory = write_inventory(tmp_path / "fleet.toml", lab, sims,
                                    defaults={"transport": "http", "auth": "ntlm", "username": USER})
        env = {**os.environ, "HVLM_PASSWORD": PASSWORD, "PYTHONPATH": str(REPO)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "hvlm.audit.cli", "collect", "-i", str(inventory), "-o", str(tmp_path / "snap.json"),
             "--only", "hosts", "--host-timeout", "60"],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            done = 0
            deadline = time.monotonic() + 30
            assert proc.stderr is not None
            while done < 3 and time.monotonic() < deadline:
                line = proc.stderr.readline()
                if "3/5 done" in line:  # plain count lines (one per host for a fleet this small)
                    done = 3
            assert done == 3
            time.sleep(0.3)
            started = time.monotonic()
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=20)
            stopped_in = time.monotonic() - started
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        rest = proc.stderr.read()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()
    assert code == 130, rest
    assert stopped_in < 5
    assert "INTERRUPTED" in rest
    doc = snapshot_of(tmp_path / "snap.json")
    assert doc["complete"] is False
    for sim in sims[:3]:
        assert_facts_equal_model(doc["hosts"][sim.name], sim)
    for sim in sims[3:]:
        assert {f["error"]["kind"] for f in doc["hosts"][sim.name].values()} == {"interrupted"}
