"""Sharded collection (`hvlm collect --shard K/N`) and `hvlm merge`, without a WinRM peer.

The fleet's hosts answer through a fake probe (the lab's simulated hosts' probe output) and the
directory through a fake directory collector, both behind the real `hvlm collect` command line,
so the shards and the unsharded run differ only in what sharding changes.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import types
from pathlib import Path
from typing import Any

import pytest

import hvlm.audit.collect as collect_package
import hvlm.audit.collect.options as collect_options
import hvlm.audit.commands.collect_cmd as collect_cmd
from hvlm.audit.collect import collect
from hvlm.audit.collect.credentials import Secret
from hvlm.audit.collect.probe import parse_probe_text
from hvlm.audit.collect.psrp import ProbeRun
from hvlm.audit.collect.targets import HostTarget
from hvlm.audit.merge import inventory_difference
from hvlm.audit.shard import parse_shard, shard_assignment, shard_hosts
from hvlm.audit.snapshot import Snapshot
from tests.lab.hostsim import SimHost
from tests.support.fleet import ComputerModel, GiB, HostModel, VMModel, build_snapshot, delegation_entries

from .labkit import CliRun, run_cli

CORP_SID = "S-1-5-21-1111111111-2222222222-3333333333"
OPERATORS = ("CORP\\HV-Operators", f"{CORP_SID}-1201")


# -- the shard rule -----------------------------------------------------------------------------


def test_shards_partition_the_fleet_evenly_and_stably() -> None:
    names = [f"hv{i:02d}.corp.contoso.com" for i in range(1, 24)]
    for count in (1, 2, 3, 5, 23):
        slices = [shard_hosts(names, k, count) for k in range(1, count + 1)]
        assert sorted(h for s in slices for h in s) == sorted(names)  # each host in exactly one shard
        assert max(map(len, slices)) - min(map(len, slices)) <= 1
        for s in slices:
            assert s == [n for n in names if n in s]  # inventory order inside a shard
    # the rule depends on the lower-cased names only, not on the inventory's order or case
    assert shard_assignment(names, 3) == {n: k for n, k in shard_assignment(list(reversed(names)), 3).items()}
    upper = shard_assignment([n.upper() for n in names], 3)
    assert {n.lower(): k for n, k in upper.items()} == shard_assignment(names, 3)
    # adding a host moves at most N - 1 others
    for count in (2, 3, 4):
        before, after = shard_assignment(names, count), shard_assignment([*names, "hv99.corp.contoso.com"], count)
        assert sum(1 for n in names if before[n] != after[n]) <= count - 1


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "2", "a/b", "1/2/3", "-1/2", ""])
def test_bad_shard_values_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_shard(text)


def test_good_shard_values() -> None:
    assert parse_shard("1/1") == (1, 1) and parse_shard(" 2 / 3 ") == (2, 3)


# -- a fleet collected in shards and in one run ------------------------------------------------------


def _models() -> list[HostModel]:
    builds = [17763, 20348, 26100, 14393, 20348]
    models = []
    for i, build in enumerate(builds, start=1):
        vms = [VMModel(f"vm{i:02d}-{j}", version="8.0", memory_startup=(2 + j) * GiB) for j in range(i % 3)]
        models.append(HostModel(f"HV{i:02d}", index=i, build=build, vms=vms, hyperv_admins=[OPERATORS],
                                migration_enabled=i != 4))
    return models


def _directory(models: list[HostModel]) -> dict[str, Any]:
    """What the directory holds: delegation complete except from HV02, an operator, DNS for all."""
    computers = [
        ComputerModel(m, f"{CORP_SID}-{2100 + m.index}",
                      delegate_to=[] if m.name == "HV02" else [e for o in models if o is not m for e in delegation_entries(o)])
        for m in models
    ]
    doc = build_snapshot(
        models,
        computers={"corp.contoso.com": computers},
        domains={"corp.contoso.com": {
            "info": {"dnsRoot": "corp.contoso.com", "nETBIOSName": "CORP", "objectSid": CORP_SID,
                     "currentTime": "2026-11-20T09:00:00Z"},
            "domain_controllers": [{"target": "dc01.corp.contoso.com", "port": 389, "priority": 0, "weight": 100}],
            "trusts": [],
        }},
        operator={"domain": "corp.contoso.com", "distinguishedName": "CN=hvadmin,OU=Admins,DC=corp,DC=contoso,DC=com",
                  "sAMAccountName": "hvadmin", "userPrincipalName": "hvadmin@corp.contoso.com",
                  "objectSid": f"{CORP_SID}-1105", "userAccountControl": 0x200,
                  "tokenGroups": [f"{CORP_SID}-513", f"{CORP_SID}-1201"], "memberOf": []},
    )
    return {k: doc[k] for k in ("domains", "dns", "operator")}


@pytest.fixture
def fleet(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """The five-host fleet behind the real `hvlm collect`: fake probe and fake directory collector."""
    models = _models()
    sims = {s.name: s for s in (SimHost(m) for m in models)}
    directory = _directory(models)
    asked: list[dict[str, Any]] = []

    def probe(t: HostTarget, password: Secret | None, script: str) -> ProbeRun:
        return ProbeRun(parse_probe_text(sims[t.name].output_text()), (), 0.01)

    def collect_directory(inventory: Any, options: Any, domains: Any, progress: Any = None, **kw: Any) -> Any:
        asked.append(dict(domains))
        return copy.deepcopy(directory)

    module = types.SimpleNamespace(
        add_directory_options=lambda p: None,
        directory_options_from_args=lambda args, inventory: object(),
        bind_credentials=lambda inventory, options: types.SimpleNamespace(auth="gssapi", user=None, password=None),
        collect_directory=collect_directory,
    )
    # the module objects themselves, so that every patch is undone on the object it was made on
    monkeypatch.setattr(collect_package, "directory_module", lambda: module)
    monkeypatch.setattr(collect_options, "directory_module", lambda: module)
    monkeypatch.setattr(collect_cmd, "collect", functools.partial(collect, probe=probe))
    inventory = tmp_path / "fleet.toml"
    inventory.write_text(
        "hosts = [" + ", ".join(json.dumps(n) for n in sims) + "]\n" + 'operator = "CORP\\\\hvadmin"\n'
        + "[groups]\n" + f"prod = [{', '.join(json.dumps(n) for n in list(sims)[:3])}]\n"
        + f"dev = [{', '.join(json.dumps(n) for n in list(sims)[2:])}]\n"
    )
    return {"inventory": inventory, "names": list(sims), "asked": asked}


def _strip(node: Any) -> Any:
    """Without run times: collected_at and the probe's elapsed time."""
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k not in ("collected_at", "elapsed_seconds")}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def _report(capsys: pytest.CaptureFixture[str], snapshot: Path, out: Path) -> dict[str, Any]:
    # pair-clock-skew compares each clock with the moment it was read: two collections a second apart
    # (the faked probe answers with the time of the run) differ by that second in its wording
    run = run_cli(capsys, "audit", str(snapshot), "--format", "json", "-o", str(out), "--show-passed",
                  "--skip", "pair-clock-skew")
    assert run.code in (1, 3, 4), run.err
    report = json.loads(out.read_text("utf-8"))
    return {k: _strip(v) for k, v in report.items() if k not in ("run", "tool")}


def _collect(capsys: pytest.CaptureFixture[str], inventory: Path, out: Path, *extra: str) -> CliRun:
    return run_cli(capsys, "collect", "-i", str(inventory), "-o", str(out), "-q", *extra)


def test_two_shards_merged_equal_one_unsharded_snapshot(
    fleet: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole, one, two, merged = (tmp_path / f"{n}.json" for n in ("whole", "shard1", "shard2", "merged"))
    assert _collect(capsys, fleet["inventory"], whole).code == 0
    first = _collect(capsys, fleet["inventory"], one, "--shard", "1/2")
    assert first.code == 0, first.err
    assert _collect(capsys, fleet["inventory"], two, "--shard", "2/2").code == 0
    # the directory was asked once per collection that holds it, always for every host of the inventory
    assert len(fleet["asked"]) == 2
    assert all(set(a) == set(fleet["names"]) for a in fleet["asked"])
    assert fleet["asked"][0] == fleet["asked"][1]

    s1, s2 = Snapshot.load(one).doc, Snapshot.load(two).doc
    assert s1["shard"] == {"index": 1, "count": 2, "rule": "sha256-runs"} and s2["shard"]["index"] == 2
    assert set(s1["hosts"]) == set(shard_hosts(fleet["names"], 1, 2))
    assert set(s2["hosts"]) == set(shard_hosts(fleet["names"], 2, 2))
    assert s1["domains"] and s1["dns"] and "operator" in s1
    assert s2["domains"] == {} and s2["dns"] == {} and "operator" not in s2
    assert s1["inventory"] == s2["inventory"] == Snapshot.load(whole).doc["inventory"]

    run = run_cli(capsys, "merge", str(two), str(one), "-o", str(merged))
    assert run.code == 0, run.err
    assert "warning" not in run.err
    assert run.err.strip() == f"hvlm: wrote {merged}: 5 of 5 hosts, 1 domain from 2 snapshots, complete"
    m, w = Snapshot.load(merged).doc, Snapshot.load(whole).doc
    assert m["complete"] is True
    for key in ("inventory", "hosts", "domains", "dns", "operator"):
        assert _strip(m[key]) == _strip(w[key]), key
    assert list(m["hosts"]) == list(w["hosts"])  # inventory order, whichever shard came first
    # every run describes the machine it ran on; the merge keeps the first input's description
    assert m["management"] == s2["management"] and s1["management"]["value"] == s2["management"]["value"]
    # provenance: each fact keeps its collector and time; merged_from says what came from where
    for host, facts in m["hosts"].items():
        origin = s1 if host in s1["hosts"] else s2
        assert facts == origin["hosts"][host]
    assert [e["file"] for e in m["merged_from"]] == [str(two), str(one)]
    assert m["merged_from"][0]["hosts"] == [h for h in fleet["names"] if h in s2["hosts"]]
    assert m["merged_from"][0]["domains"] == [] and m["merged_from"][1]["domains"] == ["corp.contoso.com"]
    assert m["merged_from"][1]["operator"] is True and m["merged_from"][1]["dns"] == 5
    assert m["merged_from"][1]["shard"]["index"] == 1

    # hvlm audit finds exactly the same on the merged snapshot as on the unsharded one
    merged_report = _report(capsys, merged, tmp_path / "merged-report.json")
    whole_report = _report(capsys, whole, tmp_path / "whole-report.json")
    assert merged_report == whole_report
    assert merged_report["findings"]  # the fleet has real problems (HV02's delegation, HV04 migration off)


def test_a_missing_shard_makes_the_merge_incomplete_and_names_it(
    fleet: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shards = [tmp_path / f"s{k}.json" for k in (1, 2, 3)]
    for k in (1, 3):
        assert _collect(capsys, fleet["inventory"], shards[k - 1], "--shard", f"{k}/3").code == 0
    merged = tmp_path / "merged.json"
    run = run_cli(capsys, "merge", str(shards[0]), str(shards[2]), "-o", str(merged))
    assert run.code == 3
    absent = shard_hosts(fleet["names"], 2, 3)
    assert f"inventory hosts in none of the snapshots (shard 2/3 not given): {', '.join(absent)}" in run.err
    doc = Snapshot.load(merged).doc
    assert doc["complete"] is False
    for host in absent:
        error = doc["hosts"][host]["vmhost"]["error"]
        assert error["kind"] == "not_collected" and "shard 2/3 not given" in error["message"]


def test_a_host_collected_twice_keeps_the_newest_complete_copy_with_a_warning(
    fleet: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, shard2 = tmp_path / "old.json", tmp_path / "s2.json"
    assert _collect(capsys, fleet["inventory"], old).code == 0
    assert _collect(capsys, fleet["inventory"], shard2, "--shard", "2/2").code == 0
    doc = json.loads(old.read_text("utf-8"))
    host = shard_hosts(fleet["names"], 2, 2)[0]
    for fact in doc["hosts"][host].values():
        fact["collected_at"] = "2020-01-01T00:00:00Z"
    old.write_text(json.dumps(doc))
    merged = tmp_path / "merged.json"
    run = run_cli(capsys, "merge", str(old), str(shard2), "-o", str(merged))
    assert run.code == 0, run.err
    warning = next(line for line in run.err.splitlines() if host in line)
    assert warning.startswith(f"hvlm: warning: host {host}") and str(old) in warning and str(shard2) in warning
    assert f"kept {shard2}'s (complete, newest" in warning
    m = Snapshot.load(merged).doc
    assert m["hosts"][host] == Snapshot.load(shard2).doc["hosts"][host]

    # complete beats newest: a newer copy with an unreachable section loses to an older complete one
    doc2 = json.loads(shard2.read_text("utf-8"))
    doc2["hosts"][host]["vmhost"] = {**doc2["hosts"][host]["vmhost"], "collected_at": "2030-01-01T00:00:00Z"}
    doc2["hosts"][host]["vmhost"].pop("value")
    doc2["hosts"][host]["vmhost"]["error"] = {"kind": "timeout", "message": "the host did not answer"}
    shard2.write_text(json.dumps(doc2))
    run = run_cli(capsys, "merge", str(shard2), str(old), "-o", str(merged))
    assert run.code == 0, run.err
    assert f"kept {old}'s (complete, newest 2020-01-01T00:00:00Z)" in run.err
    assert "value" in Snapshot.load(merged).doc["hosts"][host]["vmhost"]


def test_the_same_directory_in_two_snapshots_is_taken_once_with_a_warning(
    fleet: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hosts, directory, again = tmp_path / "hosts.json", tmp_path / "dir.json", tmp_path / "dir2.json"
    assert _collect(capsys, fleet["inventory"], hosts, "--only", "hosts").code == 0
    assert _collect(capsys, fleet["inventory"], directory, "--only", "directory").code == 0
    assert _collect(capsys, fleet["inventory"], again, "--only", "directory").code == 0
    merged = tmp_path / "merged.json"
    run = run_cli(capsys, "merge", str(hosts), str(directory), str(again), "-o", str(merged))
    assert run.code == 0, run.err
    assert f"hvlm: warning: domain corp.contoso.com collected in both {directory} and {again}" in run.err \
        or f"hvlm: warning: domain corp.contoso.com collected in both {again} and {directory}" in run.err
    assert "hvlm: warning: operator CORP\\hvadmin collected in both" in run.err
    doc = Snapshot.load(merged).doc
    assert doc["complete"] is True and set(doc["dns"]) == set(fleet["names"])


# -- bad input: one line, exit 2, nothing written ------------------------------------------------------


@pytest.fixture
def shards(fleet: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[Path]:
    out = [tmp_path / "s1.json", tmp_path / "s2.json"]
    for k, path in enumerate(out, start=1):
        assert _collect(capsys, fleet["inventory"], path, "--shard", f"{k}/2").code == 0
    return out


def _edited(path: Path, target: Path, edit: Any) -> Path:
    doc = json.loads(path.read_text("utf-8"))
    edit(doc)
    target.write_text(json.dumps(doc))
    return target


def _refused(capsys: pytest.CaptureFixture[str], tmp_path: Path, files: list[Path], needle: str) -> None:
    out = tmp_path / "merged.json"
    run = run_cli(capsys, "merge", *map(str, files), "-o", str(out))
    assert run.code == 2, run.err
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hvlm: error: "), run.err
    assert needle in lines[0], lines[0]
    assert not out.exists()


def test_not_json_or_not_a_snapshot_is_refused(shards: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.json"
    junk.write_text("hosts = [1, 2]\n")
    _refused(capsys, tmp_path, [shards[0], junk], f"hvlm: error: {junk} at line 1 column 1: invalid JSON")
    other = tmp_path / "other.json"
    other.write_text('{"name": "not hvlm"}')
    _refused(capsys, tmp_path, [shards[0], other], f"{other} at /schema_version: missing schema_version")
    report = tmp_path / "report.json"
    run_cli(capsys, "audit", str(shards[0]), "--format", "json", "-o", str(report))
    _refused(capsys, tmp_path, [shards[0], report], f"{report}: an hvlm report, not a facts snapshot")
    _refused(capsys, tmp_path, [shards[0], tmp_path / "nowhere.json"], "nowhere.json: cannot read file")


def test_schema_invalid_snapshot_is_refused(shards: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _edited(shards[1], tmp_path / "bad.json", lambda d: d["hosts"][next(iter(d["hosts"]))].update(vmhost=7))
    _refused(capsys, tmp_path, [shards[0], bad], f"hvlm: error: {bad} at /hosts/")


@pytest.mark.parametrize(("edit", "needle"), [
    (lambda d: d["inventory"]["hosts"].append("hv77.corp.contoso.com"),
     "its inventory differs from {first}'s: hosts hv77.corp.contoso.com not in {first}'s"),
    (lambda d: d["inventory"]["hosts"].reverse(), "its inventory differs from {first}'s: the hosts are in another order"),
    (lambda d: d["inventory"]["pairs"].pop(), "its inventory differs from {first}'s: no planned moves "),
    (lambda d: d["inventory"].update(operator="CORP\\other"),
     "its inventory differs from {first}'s: operator CORP\\other, {first}'s is CORP\\hvadmin"),
    (lambda d: d["inventory"]["groups"].pop("dev"), "its inventory differs from {first}'s: no group dev"),
])
def test_inventories_that_disagree_are_refused_naming_the_first_difference(
    shards: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: Any, needle: str
) -> None:
    other = _edited(shards[1], tmp_path / "other.json", edit)
    _refused(capsys, tmp_path, [shards[0], other], f"hvlm: error: {other} at /inventory: " + needle.format(first=shards[0]))


def test_inventory_path_may_differ() -> None:
    a = {"path": "/a/fleet.toml", "hosts": ["h1", "h2"], "pairs": [["h1", "h2"]], "operator": None}
    assert inventory_difference(a, {**a, "path": "C:/b/fleet.toml"}, "a") is None


def test_duplicate_hosts_and_duplicate_files_are_refused(
    shards: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    twice = _edited(shards[1], tmp_path / "twice.json", lambda d: d["inventory"]["hosts"].append(d["inventory"]["hosts"][0]))
    _refused(capsys, tmp_path, [twice, shards[0]], f"{twice} at /inventory/hosts: inventory names a host twice")
    # a host key given twice in the JSON: a parser keeps one and loses the other silently
    text = shards[1].read_text("utf-8")
    host = next(iter(json.loads(text)["hosts"]))
    facts = json.dumps(json.loads(text)["hosts"][host])
    doubled = tmp_path / "doubled.json"
    doubled.write_text(text.replace('"hosts": {', f'"hosts": {{{json.dumps(host)}: {facts}, ', 1))
    _refused(capsys, tmp_path, [shards[0], doubled], f"{doubled}: the key '{host}' is given twice in one JSON object")
    stray = _edited(shards[1], tmp_path / "stray.json",
                    lambda d: d["hosts"].update({"hv99.corp.contoso.com": d["hosts"][next(iter(d["hosts"]))]}))
    _refused(capsys, tmp_path, [shards[0], stray], "host hv99.corp.contoso.com has facts but is not in the snapshot's inventory")
    _refused(capsys, tmp_path, [shards[0], shards[1], shards[0]], f"{shards[0]}: given twice")


# -- collect --shard usage errors ----------------------------------------------------------------------


@pytest.mark.parametrize(("args", "needle"), [
    (["--shard", "3/2"], "argument --shard: '3/2': the shard K must be from 1 to 2"),
    (["--shard", "x"], "argument --shard: 'x' is not K/N"),
    (["--shard", "1/9"], "hvlm: error: --shard 1/9: the inventory has 5 hosts, so at most 5 shards"),
    (["--shard", "1/2", "--only", "directory"], "hvlm: error: --shard slices the hosts; the directory is not sharded"),
])
def test_bad_shard_arguments_are_usage_errors(
    fleet: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    out = tmp_path / "s.json"
    run = _collect(capsys, fleet["inventory"], out, *args)
    assert run.code == 2 and needle in run.err, run.err
    assert not out.exists()
