"""Collection pieces that need no WinRM peer: parsing, settings, credentials, deadlines, merging."""

from __future__ import annotations

import codecs
import io
import json
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any

import pytest

from hvlm.audit.collect import DOMAIN_SECTIONS, collect, host_domains, read_probe_outputs
from hvlm.audit.collect.classify import DeadlineExceeded, ProbeFailed, classify
from hvlm.audit.collect.credentials import Secret, redact, resolve_passwords
from hvlm.audit.collect.probe import (
    HOST_SECTIONS,
    PROBE_VERSION,
    ProbeOutputError,
    decode_probe_bytes,
    parse_probe_text,
    section_facts,
)
from hvlm.audit.collect.progress import LineProgress, QuietProgress, TtyProgress, format_duration
from hvlm.audit.collect.psrp import ProbeRun, _wsman, timeouts_for
from hvlm.audit.collect.runner import Job, run_jobs
from hvlm.audit.collect.targets import ConnectionOverrides, HostTarget, plan_targets, tls_warnings
from hvlm.audit.errors import InputError, UsageError
from hvlm.audit.inventory import parse_inventory
from hvlm.audit.snapshot import Snapshot
from tests.lab.hostsim import Behaviour, SimHost
from tests.support.fleet import HostModel, VMModel


def sim(name: str = "HV01", **kw: Any) -> SimHost:
    return SimHost(HostModel(name, **kw))


def target(name: str = "hv01.corp.contoso.com", **kw: Any) -> HostTarget:
    base: dict[str, Any] = dict(name=name, address=name, port=5986, transport="https", auth="negotiate",
                                username="CORP\\auditor", ca_bundle=None, verify_tls=True, deadline=60.0,
                                connect_timeout=10.0)
    base.update(kw)
    return HostTarget(**base)


# -- parsing the probe's output ------------------------------------------------------------------


def test_section_facts_keep_every_value_the_host_reported() -> None:
    host = sim(vms=[VMModel("web01"), VMModel("db01", state="Off")])
    facts = section_facts(parse_probe_text(host.output_text()), collector="psrp", host="hv01", when="2026-01-01T00:00:00Z")
    assert set(facts) == set(HOST_SECTIONS)
    for section, (what, payload) in host.expected().items():
        assert what == "value"
        assert facts[section]["value"] == payload, section
        assert facts[section]["source"]["collector"] == "psrp"


def test_section_errors_stay_in_their_section() -> None:
    host = sim(build=9600, errors={"local_groups": ("access_denied", "Get-LocalGroupMember: Access is denied.")})
    facts = section_facts(parse_probe_text(host.output_text()), collector="psrp", host="hv01", when="2026-01-01T00:00:00Z",
                          hint=lambda s, k, m: f"{m} [hint for {s}]")
    assert facts["local_groups"]["error"] == {"kind": "access_denied",
                                              "message": "Get-LocalGroupMember: Access is denied. [hint for local_groups]"}
    assert facts["supported_versions"]["error"]["kind"] == "not_found"
    assert facts["device_guard"]["value"]["SecurityServicesRunning"] == []
    assert "value" in facts["vmhost"]


@pytest.mark.parametrize("behaviour", [Behaviour.PARTIAL_SECTION, Behaviour.MISSING_SECTION])
def test_a_broken_section_costs_that_section_only(behaviour: Behaviour) -> None:
    host = SimHost(HostModel("HV01"), behaviour=behaviour, broken_section="vmhost")
    facts = section_facts(parse_probe_text(host.output_text()), collector="psrp", host="hv01", when="2026-01-01T00:00:00Z")
    assert facts["vmhost"]["error"]["kind"] == "probe_error"
    assert "vmhost" in facts["vmhost"]["error"]["message"]
    assert all("value" in facts[s] for s in HOST_SECTIONS if s != "vmhost")


def test_unknown_error_kinds_and_odd_sections_become_probe_errors() -> None:
    doc = json.loads(sim().output_text())
    doc["sections"]["vms"] = {"error": {"kind": "rm -rf", "message": "x"}}
    doc["sections"]["clock"] = {"value": {"UtcTime": "yesterday"}, "error": {"kind": "x", "message": "y"}}
    doc["sections"]["processor"] = ["not", "an", "object"]
    facts = section_facts(parse_probe_text(json.dumps(doc)), collector="psrp", host="h", when="2026-01-01T00:00:00Z")
    assert facts["vms"]["error"]["kind"] == "probe_error"
    assert facts["clock"]["error"]["kind"] == "probe_error"
    assert facts["processor"]["error"]["kind"] == "probe_error"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty"),
        ("PS C:\\> .\\probe.ps1", "not valid JSON"),
        ("{not json", "not valid JSON"),
        ('{"hello": 1}', "not an hvlm probe"),
        ('{"hvlm_probe": "99.0.0", "sections": {}}', "not compatible"),
        (f'{{"hvlm_probe": "{PROBE_VERSION}"}}', "no 'sections'"),
        ("[" * 100000, "JSON"),
    ],
)
def test_unusable_probe_output_is_refused(text: str, needle: str) -> None:
    with pytest.raises(ProbeOutputError, match=needle):
        parse_probe_text(text)


def test_probe_output_survives_banners_and_windows_encodings() -> None:
    text = sim().output_text()
    noisy = "WARNING: something the profile printed\r\n" + text + "\r\n"
    assert parse_probe_text(noisy).computer_name == "HV01"
    for raw in (codecs.BOM_UTF16_LE + noisy.encode("utf-16-le"), codecs.BOM_UTF8 + text.encode(), text.encode()):
        assert parse_probe_text(decode_probe_bytes(raw)).fqdn == "hv01.corp.contoso.com"


# -- connection settings ---------------------------------------------------------------------------


def inv(extra: str = "", **host: Any) -> Any:
    data: dict[str, Any] = {"hosts": [{"name": "hv01.corp.contoso.com", **host}, "hv02.corp.contoso.com"]}
    return parse_inventory(data, "<test>")


def test_defaults_are_https_5986_with_validation_and_negotiate() -> None:
    t = plan_targets(inv(), ConnectionOverrides(), env={})[0]
    assert (t.transport, t.port, t.auth, t.verify_tls, t.username) == ("https", 5986, "negotiate", True, None)
    assert t.endpoint == "https://hv01.corp.contoso.com:5986/wsman"
    http = plan_targets(inv(transport="http"), ConnectionOverrides(), env={"HVLM_USERNAME": "CORP\\a"})[0]
    assert (http.port, http.username) == (5985, "CORP\\a")


def test_basic_over_http_is_refused_before_any_connection() -> None:
    with pytest.raises(UsageError, match="Basic authentication over HTTP"):
        plan_targets(inv(transport="http", auth="basic", username="a"), ConnectionOverrides(), env={})
    with pytest.raises(UsageError, match="Basic authentication over HTTP"):
        plan_targets(inv(username="a"), ConnectionOverrides(transport="http", auth="basic"), env={})
    assert plan_targets(inv(auth="basic", username="a"), ConnectionOverrides(), env={})[0].auth == "basic"


def test_password_auths_need_a_username() -> None:
    with pytest.raises(UsageError, match="needs a username"):
        plan_targets(inv(auth="ntlm"), ConnectionOverrides(), env={})


def test_http_always_uses_message_encryption_and_never_a_proxy() -> None:
    wsman = _wsman(target(transport="http", port=5985, auth="ntlm"), Secret("pw"))
    assert wsman.transport.wrap_required is True
    assert wsman.transport.no_proxy is True
    https = _wsman(target(ca_bundle="/etc/ssl/certs/ca-certificates.crt"), None)
    assert https.transport.wrap_required is False
    assert https.transport.cert_validation == "/etc/ssl/certs/ca-certificates.crt"


def test_timeouts_stay_within_the_deadline() -> None:
    short = timeouts_for(target(deadline=3))
    assert short.operation < short.read <= 3 and short.connect <= 3
    default = timeouts_for(target(deadline=120))
    assert (default.operation, default.read, default.connect) == (20, 30, 10)


def test_ca_bundle_is_relative_to_the_inventory(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("x")
    data = {"hosts": [{"name": "hv01", "ca_bundle": "ca.pem"}]}
    inventory = parse_inventory(data, str(tmp_path / "fleet.toml"))
    assert plan_targets(inventory, ConnectionOverrides(), env={})[0].ca_bundle == str(tmp_path / "ca.pem")
    with pytest.raises(UsageError, match="does not exist"):
        plan_targets(parse_inventory({"hosts": [{"name": "hv01", "ca_bundle": "nope.pem"}]}, str(tmp_path / "f.toml")),
                     ConnectionOverrides(), env={})


def test_turning_validation_off_is_loud() -> None:
    targets = plan_targets(inv(), ConnectionOverrides(no_verify_tls=True), env={})
    assert not any(t.verify_tls for t in targets)
    warning = " ".join(tls_warnings(targets))
    assert "WARNING" in warning and "hv01.corp.contoso.com" in warning and "--ca-bundle" in warning
    assert tls_warnings(plan_targets(inv(), ConnectionOverrides(), env={})) == []


def test_basic_and_credssp_without_certificate_validation_are_refused() -> None:
    for auth in ("basic", "credssp"):
        with pytest.raises(UsageError, match=rf"{auth} authentication with TLS certificate validation off \(--no-verify-tls\)"):
            plan_targets(inv(), ConnectionOverrides(auth=auth, no_verify_tls=True), env={"HVLM_USERNAME": "u"})
        with pytest.raises(UsageError, match="verify_tls = false in the inventory"):
            plan_targets(inv(verify_tls=False, auth=auth, username="u"), ConnectionOverrides(), env={})
    # NTLM, Kerberos and negotiate prove the password without sending it: allowed, with the loud warning
    for auth in ("ntlm", "negotiate", "kerberos"):
        targets = plan_targets(inv(), ConnectionOverrides(auth=auth, no_verify_tls=True), env={"HVLM_USERNAME": "u"})
        assert "WARNING" in " ".join(tls_warnings(targets))
    # Basic over validated HTTPS stays allowed
    assert plan_targets(inv(), ConnectionOverrides(auth="basic"), env={"HVLM_USERNAME": "u"})[0].verify_tls


# -- credentials ------------------------------------------------------------------------------------


def test_password_from_environment_first() -> None:
    got = resolve_passwords(["a", "b"], env={"HVLM_PASSWORD": "pw1"}, interactive=True, prompt=lambda _: "typed")
    assert [s.reveal() if s else None for s in got.values()] == ["pw1", "pw1"]


def test_password_from_keyring_then_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("keyring")
    fake.get_password = lambda service, user: "from-keyring" if (service, user) == ("hvlm", "a") else None  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "keyring", fake)
    asked: list[str] = []
    got = resolve_passwords(["a", "b"], env={}, interactive=True, prompt=lambda text: asked.append(text) or "typed")
    assert got["a"] and got["a"].reveal() == "from-keyring"
    assert got["b"] and got["b"].reveal() == "typed"
    assert asked == ["Password for b: "]
    assert resolve_passwords(["b"], env={}, interactive=False)["b"] is None


def test_ldap_password_takes_the_winrm_path_env_keyring_prompt_and_stays_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hvlm.audit.collect.credentials import resolve_ldap_password
    from hvlm.audit.collect.ldap_conn import Credentials

    got = resolve_ldap_password("a", env={"HVLM_LDAP_PASSWORD": "ldap-pw", "HVLM_PASSWORD": "winrm-pw"},
                                interactive=False)
    assert isinstance(got, Secret) and got.reveal() == "ldap-pw"
    got = resolve_ldap_password("a", env={"HVLM_PASSWORD": "winrm-pw"}, interactive=False)
    assert got is not None and got.reveal() == "winrm-pw"
    fake = types.ModuleType("keyring")
    stored = {("hvlm-ldap", "a"): "ldap-from-keyring", ("hvlm", "b"): "winrm-from-keyring"}
    fake.get_password = lambda service, user: stored.get((service, user))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "keyring", fake)
    got = resolve_ldap_password("a", env={}, interactive=False)
    assert got is not None and got.reveal() == "ldap-from-keyring"
    got = resolve_ldap_password("b", env={}, interactive=False)  # the same account's WinRM entry
    assert got is not None and got.reveal() == "winrm-from-keyring"
    asked: list[str] = []
    got = resolve_ldap_password("c", env={}, interactive=True, prompt=lambda text: asked.append(text) or "typed-pw")
    assert got is not None and got.reveal() == "typed-pw" and asked == ["LDAP password for c: "]
    assert resolve_ldap_password("c", env={}, interactive=False) is None
    creds = Credentials("simple", "a", "Hunter2-very-secret")
    assert isinstance(creds.password, Secret) and creds.reveal() == "Hunter2-very-secret"
    assert "Hunter2" not in repr(creds) and "Hunter2" not in repr(creds.password)
    assert Credentials("simple", "a", "").password is None


def test_a_secret_never_prints_itself() -> None:
    secret = Secret("Hunter2-very-secret")
    assert "Hunter2" not in repr(secret) and "Hunter2" not in f"{secret}" and "Hunter2" not in str([secret])
    with pytest.raises(TypeError):
        __import__("pickle").dumps(secret)
    assert redact("bad Hunter2-very-secret here", [secret, None]) == "bad ******** here"


# -- classification (the lab tests drive the real exceptions; these pin the messages) --------------


def test_deadline_and_probe_failures_are_classified() -> None:
    t = target(address="hv03", name="hv03")
    kind, message = classify(DeadlineExceeded(7), t)
    assert kind == "timeout" and "7 s" in message and "Test-WSMan -ComputerName 'hv03' -UseSSL" in message
    assert classify(ProbeFailed("boom"), t)[0] == "probe_error"
    assert classify(ProbeOutputError("bad"), t)[0] == "probe_error"
    assert classify(KeyError("x"), t)[0] == "protocol"


def test_commands_in_failure_messages_quote_names_and_are_complete() -> None:
    # The inventory may be someone else's file: a name pasted into a suggested command stays a
    # literal, and the suggested Add-LocalGroupMember names the member it is about.
    from pypsrp.exceptions import WSManFaultError

    t = target(address="hv03;Restart-Computer", name="hv03")
    message = classify(DeadlineExceeded(7), t)[1]
    assert "Test-WSMan -ComputerName 'hv03;Restart-Computer' -UseSSL" in message
    fault = WSManFaultError(5, "w:AccessDenied", "Access is denied.", None, "Access is denied.")
    denied = target(address="hv03", name="hv03", username="CORP\\o'brien")
    kind, message = classify(fault, denied)
    assert kind == "access_denied"
    assert "Add-LocalGroupMember -SID 'S-1-5-32-544' -Member 'CORP\\o''brien'" in message


def test_name_resolution_is_recognised() -> None:
    import socket

    import requests

    exc = requests.exceptions.ConnectionError(OSError("wrapped"))
    exc.__cause__ = socket.gaierror(-2, "Name or service not known")
    kind, message = classify(exc, target(address="nosuch.invalid"))
    assert kind == "name_resolution" and "nosuch.invalid" in message


# -- the deadline runner ----------------------------------------------------------------------------


def test_runner_abandons_a_hung_job_at_its_deadline_and_keeps_the_slot_busy_no_longer() -> None:
    release = threading.Event()
    seen: list[str] = []

    def hang() -> str:
        release.wait(10)
        return "late"

    jobs = [Job("hung", 0.3, hang)] + [Job(f"ok{i}", 5, lambda i=i: f"v{i}") for i in range(4)]
    started = time.monotonic()
    result = run_jobs(jobs, 1, on_done=lambda o: seen.append(o.name))
    elapsed = time.monotonic() - started
    release.set()
    assert elapsed < 2
    assert result.outcomes["hung"].timed_out and not result.outcomes["hung"].ok
    assert [result.outcomes[f"ok{i}"].value for i in range(4)] == ["v0", "v1", "v2", "v3"]
    assert seen[0] == "hung" and len(seen) == 5


def test_runner_respects_the_concurrency_bound() -> None:
    lock = threading.Lock()
    now = [0]
    peak = [0]

    def work() -> int:
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        time.sleep(0.05)
        with lock:
            now[0] -= 1
        return 1

    result = run_jobs([Job(str(i), 5, work) for i in range(20)], 4)
    assert len(result.outcomes) == 20 and all(o.ok for o in result.outcomes.values())
    assert peak[0] == 4


def test_runner_starts_every_worker_before_the_first_job() -> None:
    """Starting a thread waits for it to run; with the first workers already busy that delayed the
    last ones of the first wave. All of them exist before any job starts."""
    seen: list[int] = []
    lock = threading.Lock()

    def work() -> int:
        with lock:
            seen.append(sum(1 for t in threading.enumerate() if t.name == "hvlm-collect"))
        return 1

    result = run_jobs([Job(str(i), 5, work) for i in range(16)], 8)
    assert all(o.ok for o in result.outcomes.values())
    assert seen[0] >= 8


def test_runner_records_exceptions_and_stops_on_ctrl_c() -> None:
    def boom() -> None:
        raise ValueError("x")

    result = run_jobs([Job("bad", 5, boom)], 2)
    assert isinstance(result.outcomes["bad"].error, ValueError)

    gate = threading.Event()
    ticks = [0]

    def on_tick() -> None:
        ticks[0] += 1
        if ticks[0] == 2:
            raise KeyboardInterrupt

    jobs = [Job("fast", 5, lambda: 1)] + [Job(f"slow{i}", 30, lambda: gate.wait(5)) for i in range(3)]
    result = run_jobs(jobs, 2, on_tick=on_tick)
    gate.set()
    assert result.interrupted
    assert result.outcomes["fast"].ok
    assert all(result.outcomes[f"slow{i}"].interrupted for i in range(3))


# -- progress ---------------------------------------------------------------------------------------


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_one_updating_line_on_a_tty_and_plain_lines_otherwise() -> None:
    tty = TtyProgress(FakeTty())
    tty.start(3)
    for name, ok in (("a", True), ("b", False), ("c", True)):
        tty.host_started(name)
        tty.host_done(name, ok, "unreachable: x" if not ok else "")
    tty.finish()
    out = tty.stream.getvalue()  # type: ignore[attr-defined]
    assert "\r" in out and "3/3 done, 1 failed, 0 remaining" in out and "b: FAILED - unreachable: x\n" in out
    plain = LineProgress(io.StringIO())
    plain.start(2)
    plain.host_done("a", True, "0.1 s")
    plain.host_done("b", False, "timeout: y")
    text = plain.stream.getvalue()  # type: ignore[attr-defined]
    assert "\r" not in text and "[2/2] b: FAILED - timeout: y\n" in text
    assert "1/2 done, 0 failed, 1 remaining" in text and "2/2 done, 1 failed, 0 remaining" in text
    quiet = QuietProgress(io.StringIO())
    quiet.message("x")
    assert quiet.stream.getvalue() == ""  # type: ignore[attr-defined]


def test_progress_never_writes_host_supplied_control_characters() -> None:
    # A probe's error text or a WinRM fault comes from the host: an ESC sequence in it must not
    # reach the operator's terminal (retitle it, hide lines, write the clipboard with OSC 52).
    hostile = "boom\x1b]52;c;cm0gLXJmIC8=\x07\x1b[2J\rPASS\nfake line"
    for progress in (TtyProgress(FakeTty()), LineProgress(io.StringIO())):
        progress.start(1)
        progress.host_started("hv01")
        progress.host_done("hv01", False, f"probe_error: {hostile}")
        progress.message(f"ldap corp: {hostile}")
        progress.finish()
        out = progress.stream.getvalue()  # type: ignore[attr-defined]
        assert "\x07" not in out and "\x1b]" not in out and "\x1b[2J" not in out, repr(out)
        assert "?PASS?fake line" in out
        assert "hv01: FAILED - probe_error: boom?]52;c;" in out


# -- orchestration with a fake transport ----------------------------------------------------------


def fake_probe(sims: dict[str, SimHost]) -> Any:
    def probe(t: HostTarget, password: Secret | None, script: str) -> ProbeRun:
        if t.name not in sims:
            raise ConnectionRefusedError(111, "Connection refused")
        return ProbeRun(parse_probe_text(sims[t.name].output_text()), (), 0.01)

    return probe


def test_one_failed_host_does_not_stop_the_others_and_the_snapshot_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hvlm.audit.collect.directory_module", lambda: None)
    good = sim("HV01")
    inventory = parse_inventory({"hosts": [good.name, "hv02.corp.contoso.com"], "operator": "CORP\\op"}, "<t>")
    targets = plan_targets(inventory, ConnectionOverrides(), env={})
    result = collect(inventory, targets, {}, QuietProgress(io.StringIO()), probe=fake_probe({good.name: good}))
    snap = Snapshot.from_document(result.document)
    hosts = snap.doc["hosts"]
    assert hosts[good.name]["vmhost"]["value"] == good.expected()["vmhost"][1]
    assert hosts[good.name]["connection"]["value"]["username"] is None
    bad = hosts["hv02.corp.contoso.com"]
    assert {f["error"]["kind"] for f in bad.values()} == {"unreachable"}
    assert set(bad) == {"connection", *HOST_SECTIONS}
    assert "Enable-PSRemoting" in bad["vmhost"]["error"]["message"]
    # no directory collector in this build: said in the facts, not a crash
    assert set(snap.doc["domains"]) == {"corp.contoso.com"}
    assert set(snap.doc["domains"]["corp.contoso.com"]) == set(DOMAIN_SECTIONS)
    assert snap.doc["operator"]["error"]["kind"] == "not_collected"
    assert snap.complete and result.has_errors


def test_a_directory_collector_that_fails_or_returns_junk_costs_only_the_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    good = sim("HV01")
    inventory = parse_inventory({"hosts": [good.name]}, "<t>")
    targets = plan_targets(inventory, ConnectionOverrides(), env={})
    for behaviour, kind in (("raise", "not_collected"), ("junk", "probe_error")):
        module = types.SimpleNamespace()

        def collect_directory(inv: Any, options: Any, domains: Any, progress: Any = None, b: str = behaviour) -> Any:
            assert domains == {good.name: "corp.contoso.com"}
            if b == "raise":
                raise RuntimeError("LDAP server down")
            return {"domains": {"corp.contoso.com": {"info": {"value": 1}}}, "dns": {}}

        module.collect_directory = collect_directory
        monkeypatch.setattr("hvlm.audit.collect.directory_module", lambda m=module: m)
        result = collect(inventory, targets, {}, QuietProgress(io.StringIO()), probe=fake_probe({good.name: good}),
                         directory_options=object())
        doc = Snapshot.from_document(result.document).doc
        assert doc["domains"]["corp.contoso.com"]["info"]["error"]["kind"] == kind
        assert "value" in doc["hosts"][good.name]["vmhost"]


def test_host_domains_prefer_what_the_host_reports() -> None:
    inventory = parse_inventory({"hosts": ["hv01.a.test", {"name": "hv02", "domain": "B.test"}, "10.0.0.5", "hv04.c.test"]},
                                "<t>")
    hosts = {
        "hv01.a.test": {"computer_system": {"value": {"PartOfDomain": True, "Domain": "Real.Test"}}},
        "hv04.c.test": {"computer_system": {"value": {"PartOfDomain": False, "Domain": "WORKGROUP"}}},
    }
    assert host_domains(inventory, hosts) == {"hv01.a.test": "real.test", "hv02": "b.test", "10.0.0.5": None,
                                              "hv04.c.test": None}


def test_probe_outputs_are_matched_to_inventory_hosts(tmp_path: Path) -> None:
    a, b = sim("HV01"), sim("HV02", index=2)
    (tmp_path / "a.json").write_text(a.output_text())
    (tmp_path / "b.json").write_bytes(codecs.BOM_UTF16_LE + b.output_text().encode("utf-16-le"))
    inventory = parse_inventory({"hosts": ["HV01", "hv02.corp.contoso.com", "hv03"]}, "<t>")
    _inv_out, facts = read_probe_outputs([str(tmp_path / "a.json"), str(tmp_path / "b.json")], inventory)
    assert facts["HV01"]["vms"]["source"]["collector"] == "probe-output"
    assert facts["hv02.corp.contoso.com"]["processor"]["value"] == b.expected()["processor"][1]
    assert facts["hv03"]["vmhost"]["error"]["kind"] == "not_collected"
    with pytest.raises(InputError, match="matches no inventory host"):
        read_probe_outputs([str(tmp_path / "a.json")], parse_inventory({"hosts": ["other"]}, "<t>"))
    with pytest.raises(InputError, match="second probe output"):
        read_probe_outputs([str(tmp_path / "a.json")] * 2, None)
    (tmp_path / "bad.json").write_text("PS C:\\> oops")
    with pytest.raises(InputError, match="not an hvlm probe output"):
        read_probe_outputs([str(tmp_path / "bad.json")], None)
    # two domains, one short name: the output's FQDN picks its host; a bare short name stays ambiguous
    twins = parse_inventory({"hosts": ["hv01.branch.contoso.com", "hv01.corp.contoso.com"]}, "<t>")
    _inv, twin_facts = read_probe_outputs([str(tmp_path / "a.json")], twins)
    assert twin_facts["hv01.corp.contoso.com"]["vms"]["source"]["collector"] == "probe-output"
    assert twin_facts["hv01.branch.contoso.com"]["vms"]["error"]["kind"] == "not_collected"
    short_only = json.loads(a.output_text())
    short_only["computer"]["fqdn"] = "hv01"
    (tmp_path / "short.json").write_text(json.dumps(short_only))
    with pytest.raises(InputError, match="matches several hosts"):
        read_probe_outputs([str(tmp_path / "short.json")], twins)
    inv_none, _facts_none = read_probe_outputs([str(tmp_path / "a.json"), str(tmp_path / "b.json")], None)
    assert inv_none.host_names == ["hv01.corp.contoso.com", "hv02.corp.contoso.com"]
    assert len(inv_none.pairs) == 2


def test_credssp_without_its_package_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from hvlm.audit.collect.options import _check_auth_packages

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "requests_credssp" else real(name, *a))
    with pytest.raises(UsageError, match=r"pypsrp\[credssp\]"):
        _check_auth_packages({"credssp", "ntlm"})
    _check_auth_packages({"ntlm", "basic", "negotiate"})


# -- non-terminating probe errors: notes on their host, never an incomplete run ---------------------


def _snapshot_with_probe_warning(tmp_path: Path, warned: bool = True) -> tuple[Path, str]:
    good = sim("HV01")
    warnings = ("Get-NetRoute: access to a route was denied",) if warned else ()

    def probe(t: HostTarget, password: Secret | None, script: str) -> ProbeRun:
        return ProbeRun(parse_probe_text(good.output_text()), warnings, 0.01)

    inventory = parse_inventory({"hosts": [good.name]}, "<t>")
    targets = plan_targets(inventory, ConnectionOverrides(), env={})
    result = collect(inventory, targets, {}, QuietProgress(io.StringIO()), probe=probe, directory=False)
    path = tmp_path / f"snap-{warned}.json"
    Snapshot(result.document, str(path)).save(path)
    return path, good.name


def test_probe_warnings_are_notes_on_their_host_that_do_not_make_the_snapshot_incomplete(tmp_path: Path) -> None:
    from hvlm.audit.snapshot import NON_BLOCKING_KINDS, NOTE_KINDS

    path, host = _snapshot_with_probe_warning(tmp_path)
    snap = Snapshot.load(path)
    assert snap.doc["hosts"][host]["connection"]["value"]["probe_errors"] == ["Get-NetRoute: access to a route was denied"]
    notes = snap.notes()
    assert notes == [{
        "path": f"hosts/{host}/connection",
        "kind": "probe_warning",
        "message": f"the probe reported an error it recovered from on {host}: Get-NetRoute: access to a route was denied",
        "source": snap.doc["hosts"][host]["connection"]["source"],
    }]
    assert "probe_warning" in NOTE_KINDS and NOTE_KINDS <= NON_BLOCKING_KINDS and "not_found" in NON_BLOCKING_KINDS
    assert snap.uncollected() == []  # what makes a run incomplete is unchanged
    assert snap.uncollected(include_notes=True) == notes


def test_hvlm_audit_lists_probe_warnings_without_making_the_run_incomplete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hvlm.audit.cli import main

    path, host = _snapshot_with_probe_warning(tmp_path)
    code = main(["audit", str(path), "--format", "json", "-o", str(tmp_path / "report.json")])
    report = json.loads((tmp_path / "report.json").read_text())
    assert [u["path"] for u in report["uncollected"] if u["kind"] == "probe_warning"] == [f"hosts/{host}/connection"]
    assert main(["audit", str(path), "--format", "text", "-o", str(tmp_path / "report.txt")]) == code
    text = (tmp_path / "report.txt").read_text()
    assert "Notes from the hosts (1 error the probe recovered from" in text
    assert f"hosts/{host}/connection: the probe reported an error it recovered from" in text
    assert "Could not collect" not in text
    # the same host without the warning audits to the same exit code: a note is not a missing fact
    clean, _host = _snapshot_with_probe_warning(tmp_path, warned=False)
    assert main(["audit", str(clean), "--format", "json", "-o", str(tmp_path / "clean.json")]) == code


# -- progress: rate, time left, and few plain lines (a fake clock) ----------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_progress_line_says_rate_and_time_left_with_a_fake_clock() -> None:
    clock = FakeClock()
    tty = TtyProgress(FakeTty(), clock=clock)
    tty.start(2000)
    assert tty.status() == "0/2000 done, 0 failed, 2000 remaining (0 running), -- hosts/min, time left unknown"
    for i in range(120):  # two hosts a second for a minute, 3 of them failing
        clock.now += 0.5
        tty.host_started(f"h{i}")
        tty.host_done(f"h{i}", i % 40 != 0, "x")
    assert tty.status() == "120/2000 done, 3 failed, 1880 remaining (0 running), 120.0 hosts/min, about 16 min left"
    clock.now += 0.2
    tty.tick()  # redraws are at most ten a second: the tick shows the last one
    out = tty.stream.getvalue()  # type: ignore[attr-defined]
    clock.now += 30  # nothing finishes for 30 s: the rate (last minute) drops and the estimate grows
    assert tty.status().endswith("60.0 hosts/min, about 32 min left")
    assert "\rhvlm: [#-----------------------------] 120/2000 done, 3 failed" in out and "hosts/min, about" in out
    assert [format_duration(s) for s in (0.2, 59.5, 61, 3599, 3661)] == ["1 s", "60 s", "2 min", "1 h 00 min", "1 h 02 min"]
    done = TtyProgress(FakeTty(), clock=clock)
    done.start(1)
    clock.now += 90
    done.host_done("h", True, "")
    assert done.status().endswith("0 remaining (0 running), 1.0 hosts/min, took 2 min")


def test_plain_progress_writes_a_line_every_twentieth_of_the_fleet_or_every_10_s_not_per_host() -> None:
    clock = FakeClock()
    plain = LineProgress(io.StringIO(), clock=clock)
    plain.start(2000)
    for i in range(2000):
        clock.now += 0.01  # 20 s in all: fast hosts, so the count lines come every 100 hosts
        plain.host_started(f"h{i}")
        plain.host_done(f"h{i}", i not in (5, 6), "unreachable: x")
        plain.tick()
    plain.finish()
    lines = plain.stream.getvalue().splitlines()  # type: ignore[attr-defined]
    counts = [line for line in lines if " done, " in line]
    assert 20 <= len(counts) <= 22, len(counts)
    assert counts[0].startswith("hvlm: 100/2000 done, 2 failed, 1900 remaining")
    assert counts[-1].startswith("hvlm: 2000/2000 done, 2 failed, 0 remaining") and "took 20 s" in counts[-1]
    assert [line for line in lines if "FAILED" in line] == ["hvlm: [6/2000] h5: FAILED - unreachable: x",
                                                            "hvlm: [7/2000] h6: FAILED - unreachable: x"]
    # a slow fleet: a line every 10 s even when fewer hosts finished
    slow = LineProgress(io.StringIO(), clock=clock)
    slow.start(2000)
    slow.host_done("a", True, "")
    for _ in range(40):
        clock.now += 1
        slow.tick()
    slow_lines = slow.stream.getvalue().splitlines()  # type: ignore[attr-defined]
    assert len(slow_lines) == 4 and all("1/2000 done" in line for line in slow_lines)
    # failures beyond the first 20 are counted, not listed
    many = LineProgress(io.StringIO(), clock=clock)
    many.start(100)
    for i in range(100):
        many.host_done(f"h{i}", False, "timeout: y")
    text = many.stream.getvalue()  # type: ignore[attr-defined]
    assert text.count("FAILED") == 20 and "more than 20 hosts failed" in text and "100/100 done, 100 failed" in text


def test_directory_progress_shows_domains_done_and_the_current_dc() -> None:
    plain = LineProgress(io.StringIO())
    plain.directory_domain(0, 2, "corp.test", None)
    plain.directory_domain(0, 2, "corp.test", "dc1.corp.test")
    plain.directory_domain(1, 2, "lab.test", "dc1.lab.test")
    plain.directory_domain(2, 2, None, None)
    assert plain.stream.getvalue().splitlines() == [  # type: ignore[attr-defined]
        "hvlm: directory: 0/2 domains done, reading corp.test",
        "hvlm: directory: 0/2 domains done, reading corp.test via dc1.corp.test",
        "hvlm: directory: 1/2 domains done, reading lab.test via dc1.lab.test",
        "hvlm: directory: 2/2 domains done",
    ]
    tty = TtyProgress(FakeTty())
    tty.directory_domain(1, 3, "corp.test", "dc1.corp.test")
    assert tty.stream.getvalue() == "\rhvlm: directory: 1/3 domains done, reading corp.test via dc1.corp.test\x1b[K"  # type: ignore[attr-defined]


def test_directory_collector_reports_each_domain_and_dc(monkeypatch: pytest.MonkeyPatch) -> None:
    from hvlm.audit.collect import directory
    from hvlm.audit.collect.directory import DirectoryOptions, collect_directory

    seen: list[tuple[int, int, str | None, str | None]] = []
    inventory = parse_inventory({"hosts": ["hv01.a.test", "hv02.b.test"]}, "<t>")
    options = DirectoryOptions(dc="dc.invalid", auth="gssapi", timeout=1)
    monkeypatch.setattr(directory.dns_lookup, "discover_dcs", lambda resolver, domain: [])
    monkeypatch.setattr(directory.dns_lookup, "make_resolver", lambda servers, timeout: object())
    monkeypatch.setattr(directory.dns_lookup, "host_records", lambda resolver, name: {"name": name, "A": [], "AAAA": [],
                                                                                       "PTR": {}})

    def refuse(*a: Any, **k: Any) -> Any:
        from hvlm.audit.collect.ldap_conn import DirectoryError

        raise DirectoryError("dc_unreachable", "no")

    monkeypatch.setattr(directory.ldap_conn, "connect", refuse)
    collect_directory(inventory, options, {}, on_domain=lambda *a: seen.append(a))
    assert seen == [(0, 2, "a.test", None), (0, 2, "a.test", "dc.invalid"), (1, 2, "b.test", None),
                    (1, 2, "b.test", "dc.invalid"), (2, 2, None, None)]
