"""The shipped playbook (contrib/ansible/hvlm-collect.yml) run by real ansible-core against the WinRM lab.

`ansible-playbook` connects with Ansible's own psrp connection plugin (pypsrp underneath) to the
lab's simulated hosts, runs the probe through the `raw` action (the simulated hosts answer only
the probe: tests/lab/hostsim.is_probe accepts it as the psrp plugin wraps it, nothing else), saves
one output per host on the controller, then runs `hvlm collect --from-probe-output` and `hvlm
audit`. The audit must match a direct `hvlm scan` of the same hosts from the same Ansible
inventory (via `hvlm inventory from-ansible`). Everything Ansible writes (HOME, temp folders) stays
in the test's folder; nothing is fetched (no collection, no galaxy).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from hvlm.audit.snapshot import Snapshot
from tests.lab.hostsim import Behaviour, SimHost
from tests.lab.winrm import WinRMLab, closed_port
from tests.support.fleet import GiB, HostModel, VMModel

from .labkit import PASSWORD, USER, assert_facts_equal_model, run_cli

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "contrib" / "ansible" / "hvlm-collect.yml"
PASSWORD_ENV = "HVLM_LAB_PSRP_PASSWORD"  # the only way the password reaches Ansible


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HVLM_PASSWORD", PASSWORD)  # for the direct scan, in this process
    monkeypatch.delenv("HVLM_USERNAME", raising=False)


def model(i: int, build: int) -> HostModel:
    vms = [VMModel(f"vm{i:02d}-{j}", version="5.0" if build == 9600 else "8.0",
                   state="Running" if j % 2 == 0 else "Off", memory_startup=(2 + j) * GiB)
           for j in range(i % 4)]
    return HostModel(f"HV{i:02d}", index=i, build=build, vms=vms)


def ansible_playbook() -> str:
    """ansible-playbook of the ansible-core installed beside this Python (the test extra)."""
    path = Path(sys.executable).with_name("ansible-playbook")
    assert path.exists(), "ansible-core is not installed: pip install -e '.[test]'"
    return str(path)


def write_ansible_inventory(path: Path, hosts: dict[str, int], connection: dict[str, Any],
                            vaulted: str | None = None) -> Path:
    """A YAML inventory: one group `hyperv` of the lab's hosts, each at 127.0.0.1 on its own port,
    with the psrp connection variables on the group. The password comes from the environment
    through Ansible's env lookup, or is `vaulted` (the `!vault` block ansible-vault printed)."""
    group_vars = {
        "ansible_connection": "psrp",
        "ansible_user": USER,
        "ansible_password": "{{ lookup('ansible.builtin.env', '" + PASSWORD_ENV + "') }}",
        "ansible_psrp_connection_timeout": 5,
        "ansible_psrp_read_timeout": 30,
        "ansible_psrp_operation_timeout": 20,
        **connection,
    }
    doc = {"all": {"children": {"hyperv": {
        "hosts": {name: {"ansible_host": "127.0.0.1", "ansible_port": port} for name, port in hosts.items()},
        "vars": group_vars,
    }}}}
    text = yaml.safe_dump(doc, sort_keys=False, width=1000)
    if vaulted is not None:
        line = next(line for line in text.splitlines() if line.lstrip().startswith("ansible_password:"))
        indent = line[: len(line) - len(line.lstrip())]
        block = "\n".join(indent + row for row in vaulted.strip().splitlines())
        text = text.replace(line, block)
    path.write_text(text, "utf-8")
    return path


def vault(tmp_path: Path) -> tuple[str, list[str], dict[str, str]]:
    """Encrypt the password with ansible-vault as an operator would: the secret on stdin, the vault
    password from a client script that reads the environment. Returns the `!vault` block, the
    ansible-playbook arguments and environment that open it."""
    client = tmp_path / "vault-client.sh"
    client.write_text('#!/bin/sh\nprintf %s "$HVLM_LAB_VAULT_PASSWORD"\n', "utf-8")
    client.chmod(0o700)
    env = {"HVLM_LAB_VAULT_PASSWORD": "lab-vault-secret", "HOME": str(tmp_path / "home"), "LANG": "C.UTF-8",
           "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    (tmp_path / "home").mkdir(exist_ok=True)
    done = subprocess.run(
        [str(Path(ansible_playbook()).with_name("ansible-vault")), "encrypt_string", "--vault-password-file",
         str(client), "--stdin-name", "ansible_password"],
        input=PASSWORD, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True,
    )
    assert PASSWORD not in done.stdout and "$ANSIBLE_VAULT;1.1;AES256" in done.stdout
    return done.stdout, ["--vault-password-file", str(client)], {"HVLM_LAB_VAULT_PASSWORD": "lab-vault-secret"}


def run_playbook(tmp_path: Path, inventory: Path, out: Path, *, args: tuple[str, ...] = (),
                 env_extra: dict[str, str] | None = None, **extra: Any) -> subprocess.CompletedProcess[str]:
    """Run the shipped playbook as an operator would, in a clean environment kept under tmp_path."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (tmp_path / "ansible.cfg").write_text("[defaults]\nforks = 8\n", "utf-8")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",  # ansible-core refuses a non-UTF-8 locale
        "HOME": str(home),
        "ANSIBLE_CONFIG": str(tmp_path / "ansible.cfg"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local-tmp"),
        "ANSIBLE_REMOTE_TEMP": str(tmp_path / "ansible-remote-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "PYTHONPATH": str(REPO),  # the playbook runs this worktree's hvlm
        **(env_extra if env_extra is not None else {PASSWORD_ENV: PASSWORD}),
    }
    extra_vars = {"hvlm_output_dir": str(out), "hvlm_command": [sys.executable, "-m", "hvlm.audit.cli"], **extra}
    cmd = [ansible_playbook(), "-i", str(inventory), str(PLAYBOOK), "-e", json.dumps(extra_vars), *args]
    assert PASSWORD not in " ".join(cmd)
    played = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    (tmp_path / "ansible-playbook.log").write_text(played.stdout + played.stderr, "utf-8")  # to read after a failure
    return played


def comparable(report: dict[str, Any]) -> Any:
    """A JSON report without what differs between two routes to the same facts: when (timestamps,
    the run), and how (each fact's `source`: collector `probe-output` instead of `psrp`, and the
    computer's own name instead of the inventory name; the inventory file's path)."""
    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in ("collected_at", "generated_at", "source")}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node
    doc = {k: v for k, v in report.items() if k not in ("run", "tool", "snapshot")}
    doc["inventory"] = {k: v for k, v in doc["inventory"].items() if k != "path"}
    return strip(doc)


def collectors(report: dict[str, Any]) -> list[str]:
    return [f["source"]["collector"] for key in ("facts", "uncollected") for f in report[key]]


def assert_no_password(root: Path, *texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text
    for path in root.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path


def test_playbook_over_psrp_audits_like_a_direct_scan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sims = [SimHost(model(i, b)) for i, b in enumerate((17763, 20348, 9600, 26100), start=1)]
    # Ansible names: the hosts' DNS names, and one hostile name (hvlm matches it to HV03 by its
    # short name) whose output file must still land inside the output folder.
    hostile = "hv03../../../escape"
    names = {(hostile if s is sims[2] else s.name): s for s in sims}
    out = tmp_path / "out"
    real_home_ansible = (Path.home() / ".ansible").exists()
    with WinRMLab([s.spec() for s in sims], scheme="https", auth="basic", users={USER: PASSWORD}) as lab:
        inventory = write_ansible_inventory(
            tmp_path / "inventory.yml", {name: lab.port(sim.name) for name, sim in names.items()},
            {"ansible_psrp_protocol": "https", "ansible_psrp_auth": "basic", "ansible_psrp_ca_cert": lab.ca_cert_path},
        )
        played = run_playbook(tmp_path, inventory, out)
        assert played.returncode == 0, played.stdout[-4000:] + played.stderr
        # each host received the probe once, through raw, exactly as the psrp plugin sends it
        assert [[script.endswith("\nexit $LASTEXITCODE") for script, _ in s.calls] for s in sims] == [[True]] * 4

        # the direct scan, from the same Ansible inventory
        fleet = tmp_path / "fleet.toml"
        converted = run_cli(capsys, "inventory", "from-ansible", str(inventory), "-o", str(fleet))
        assert converted.code == 0, converted.err
        with fleet.open("a", encoding="utf-8") as f:
            f.write(f'\n[defaults]\nauth = "basic"\nusername = {json.dumps(USER)}\nca_bundle = {json.dumps(lab.ca_cert_path)}\n')
        scanned = run_cli(capsys, "scan", "-i", str(fleet), "--format", "json", "-o", str(tmp_path / "scan.json"),
                          "--save-snapshot", str(tmp_path / "scan-snapshot.json"), "-q")
        assert scanned.code in (1, 3, 4), scanned.err

    # the output folder holds one file per host, inside probe-outputs/, and nothing escaped it
    outputs = sorted(p.name for p in (out / "probe-outputs").iterdir())
    assert len(outputs) == 4 and any(n.startswith("hv03.._.._.._escape-") for n in outputs), outputs
    assert not (tmp_path / "escape").exists() and not list(tmp_path.parent.glob("escape*"))
    assert {p.name for p in out.iterdir()} == {"probe-outputs", "inventory-ansible.json", "inventory.toml",
                                               "snapshot.json", "report.txt", "report.json", "report.html"}

    # the snapshot holds what every host holds, each under its Ansible name
    snap = Snapshot.load(out / "snapshot.json").doc
    assert list(snap["hosts"]) == list(names)
    for name, sim in names.items():
        assert_facts_equal_model(snap["hosts"][name], sim)
        assert snap["hosts"][name]["connection"]["source"]["collector"] == "probe-output"
    assert snap["inventory"]["groups"] == {"hyperv": list(names)}

    # and its audit is the direct scan's: same verdicts, findings, fixes, uncollected facts
    by_ansible = json.loads((out / "report.json").read_text("utf-8"))
    direct = json.loads((tmp_path / "scan.json").read_text("utf-8"))
    assert by_ansible["run"]["exit_code"] == direct["run"]["exit_code"] == scanned.code
    assert comparable(by_ansible) == comparable(direct)
    assert collectors(by_ansible) == [c.replace("psrp", "probe-output") for c in collectors(direct)]
    assert "probe-output" in collectors(by_ansible)
    # the play showed the audit's summary line
    assert "Verdicts (" in played.stdout and "Result: " in played.stdout
    assert_no_password(tmp_path, played.stdout, played.stderr, scanned.out, scanned.err)
    # Ansible kept to the test's folder (HOME, ANSIBLE_LOCAL_TEMP, ANSIBLE_REMOTE_TEMP there)
    assert (tmp_path / "home" / ".ansible").is_dir() and (Path.home() / ".ansible").exists() == real_home_ansible


def test_hosts_that_fail_do_not_stop_the_others_and_the_audit_names_them(tmp_path: Path) -> None:
    # HTTP with NTLM and message encryption, as the README shows; the password vaulted, and the
    # environment of ansible-playbook holds only the vault's password
    vaulted, vault_args, vault_env = vault(tmp_path)
    good = [SimHost(model(1, 20348)), SimHost(model(2, 17763))]
    throws = SimHost(model(3, 20348), behaviour=Behaviour.THROW)
    cut_short = SimHost(model(4, 20348), behaviour=Behaviour.MALFORMED_JSON)
    refused = "hv09.corp.contoso.com"
    out = tmp_path / "out"
    with WinRMLab([s.spec() for s in [*good, throws, cut_short]], scheme="http", auth="ntlm", users={USER: PASSWORD}) as lab:
        ports = {s.name: lab.port(s.name) for s in [*good, throws, cut_short]} | {refused: closed_port()}
        inventory = write_ansible_inventory(tmp_path / "inventory.yml", ports, {
            "ansible_psrp_protocol": "http", "ansible_psrp_auth": "ntlm", "ansible_psrp_message_encryption": "always",
        }, vaulted=vaulted)
        assert PASSWORD not in inventory.read_text("utf-8")
        # the operator's own hvlm inventory (one planned move) instead of the one made from the play
        fleet = tmp_path / "fleet.toml"
        fleet.write_text(f"hosts = {json.dumps(list(ports))}\n\n[[migrations]]\nsource = {json.dumps(good[0].name)}\n"
                         f"destination = {json.dumps(good[1].name)}\n", "utf-8")
        played = run_playbook(tmp_path, inventory, out, args=tuple(vault_args), env_extra=vault_env,
                              hvlm_collect_args=["--only", "hosts"], hvlm_inventory=str(fleet))
    assert played.returncode == 0, played.stdout[-4000:] + played.stderr
    assert [len(s.calls) for s in [*good, throws, cut_short]] == [1, 1, 1, 1]

    # Ansible says which hosts failed and why; only the others have an output file
    said = [line.strip() for line in played.stdout.splitlines() if line.strip().startswith('"msg": "hv0')]
    assert said == [
        f'"msg": "{throws.name}: non-zero return code: The WinRM client cannot process the request: probe aborted by '
        'the simulated host."',
        f'"msg": "{cut_short.name}: its output is not the probe\'s JSON document (cut short, or another program\'s)"',
        next(line for line in said if line.startswith(f'"msg": "{refused}: ')),
    ]
    assert "Failed to connect to the host via PSRP" in said[2] and "Connection refused" in said[2]
    assert len(list((out / "probe-outputs").iterdir())) == 2

    snap = Snapshot.load(out / "snapshot.json").doc
    assert list(snap["hosts"]) == list(ports)
    assert snap["inventory"]["path"] == str(fleet) and snap["inventory"]["pairs"] == [[good[0].name, good[1].name]]
    assert not (out / "inventory.toml").exists() and not (out / "inventory-ansible.json").exists()
    for sim in good:
        assert_facts_equal_model(snap["hosts"][sim.name], sim)
    # the audit names every fact it could not check on the failed hosts, host by host
    report = json.loads((out / "report.json").read_text("utf-8"))
    assert report["run"]["exit_code"] in (3, 4)
    missing = {u["path"].split("/")[1] for u in report["uncollected"] if u["kind"] == "not_collected"}
    assert missing == {throws.name, cut_short.name, refused}
    text = (out / "report.txt").read_text("utf-8")
    for name in (throws.name, cut_short.name, refused):
        assert f"no probe output was given for {name}" in text
    assert_no_password(tmp_path, played.stdout, played.stderr)


def test_the_playbook_refuses_a_used_or_relative_folder_and_stops_when_no_host_answers(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "snapshot.json").write_text("{}", "utf-8")
    inventory = write_ansible_inventory(tmp_path / "inventory.yml", {"hv01.corp.contoso.com": closed_port()}, {})
    played = run_playbook(tmp_path, inventory, out)
    assert played.returncode != 0
    assert f"{out} is not an empty folder: give a new folder for each run" in played.stdout
    assert [p.name for p in out.iterdir()] == ["snapshot.json"]
    # a relative folder would be taken from the playbook's folder by Ansible's local tasks: refused
    played = run_playbook(tmp_path, inventory, Path("relative-out"))
    assert played.returncode != 0
    assert "give the output folder as an absolute path: -e hvlm_output_dir=/path/to/a/new/folder" in played.stdout
    assert not (tmp_path / "relative-out").exists() and not (PLAYBOOK.parent / "relative-out").exists()
    # no host answered: the play names it and stops before collecting anything
    played = run_playbook(tmp_path, inventory, tmp_path / "fresh")
    assert played.returncode != 0
    assert '"msg": "hv01.corp.contoso.com: Task failed: Failed to connect to the host via PSRP' in played.stdout
    assert "no host returned a probe output (see the hosts listed above); nothing to audit" in played.stdout
    assert [p.name for p in (tmp_path / "fresh").iterdir()] == ["probe-outputs"]


def test_the_example_inventory_reads_in_ansible_and_in_hvlm(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    example = REPO / "contrib" / "ansible" / "inventory.example.yml"
    (tmp_path / "home").mkdir()
    env = {"HOME": str(tmp_path / "home"), "LANG": "C.UTF-8", "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local-tmp")}
    listed = subprocess.run([str(Path(ansible_playbook()).with_name("ansible-inventory")), "-i", str(example), "--list"],
                            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True)
    hostvars = json.loads(listed.stdout)["_meta"]["hostvars"]
    assert sorted(hostvars) == ["hv01.corp.example.com", "hv02.corp.example.com", "hv11.branch.example.com",
                                "hv12.branch.example.com"]
    for name, hv in hostvars.items():
        assert hv["ansible_connection"] == "psrp" and "lookup('ansible.builtin.env'" in hv["ansible_password"]
        if name.startswith("hv1"):  # site_b: HTTP with message encryption
            assert (hv["ansible_psrp_protocol"], hv["ansible_psrp_message_encryption"]) == ("http", "always")
        else:  # HTTPS checked against the CA
            assert hv["ansible_psrp_protocol"] == "https" and "ansible_psrp_message_encryption" not in hv
            assert hv["ansible_psrp_ca_cert"].endswith(".pem")
    converted = run_cli(capsys, "inventory", "from-ansible", str(example), "-o", str(tmp_path / "fleet.toml"))
    assert converted.code == 0, converted.err
    assert "4 hosts, 3 groups" in converted.err
