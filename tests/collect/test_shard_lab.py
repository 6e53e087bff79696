"""`hvlm collect --shard K/N` against the WinRM lab, then `hvlm merge` and `hvlm audit`.

Two runs of the real command line, each probing its shard of the lab's simulated hosts over real
pypsrp (HTTPS, Basic, the lab's CA); the merge must hold what every host holds, each host probed
exactly once, and audit like an unsharded collection.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hvlm.audit.shard import shard_hosts
from hvlm.audit.snapshot import Snapshot
from tests.lab.hostsim import SimHost
from tests.lab.winrm import WinRMLab
from tests.support.fleet import GiB, HostModel, VMModel

from .labkit import PASSWORD, USER, assert_facts_equal_model, run_cli, write_inventory

pytestmark = pytest.mark.lab


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HVLM_PASSWORD", PASSWORD)
    monkeypatch.delenv("HVLM_USERNAME", raising=False)


def _model(i: int, build: int) -> HostModel:
    vms = [VMModel(f"vm{i:02d}-{j}", version="8.0", memory_startup=(2 + j) * GiB) for j in range(i % 3)]
    return HostModel(f"HV{i:02d}", index=i, build=build, vms=vms)


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k not in ("collected_at", "elapsed_seconds")}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def test_two_shards_collected_over_psrp_merge_into_the_whole_fleet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sims = [SimHost(_model(i, b)) for i, b in enumerate((17763, 20348, 26100, 20348, 17763), start=1)]
    names = [s.name for s in sims]
    shard_files = [tmp_path / "shard1.json", tmp_path / "shard2.json"]
    whole, merged = tmp_path / "whole.json", tmp_path / "merged.json"
    with WinRMLab([s.spec() for s in sims], scheme="https", auth="basic", users={USER: PASSWORD}) as lab:
        inventory = write_inventory(tmp_path / "fleet.toml", lab, sims,
                                    defaults={"auth": "basic", "username": USER, "ca_bundle": lab.ca_cert_path})
        for k, path in enumerate(shard_files, start=1):
            run = run_cli(capsys, "collect", "-i", str(inventory), "-o", str(path), "--only", "hosts",
                          "--shard", f"{k}/2")
            assert run.code == 0, run.err
            n = len(shard_hosts(names, k, 2))
            assert f"wrote {path}: {n} host{'' if n == 1 else 's'}" in run.err
        # each host was probed by exactly one shard
        assert [len(s.calls) for s in sims] == [1] * len(sims)
        assert run_cli(capsys, "collect", "-i", str(inventory), "-o", str(whole), "--only", "hosts", "-q").code == 0

    run = run_cli(capsys, "merge", *map(str, shard_files), "-o", str(merged))
    assert run.code == 0, run.err
    doc = Snapshot.load(merged).doc
    assert doc["complete"] is True and list(doc["hosts"]) == names
    for sim in sims:
        assert_facts_equal_model(doc["hosts"][sim.name], sim)
        assert doc["hosts"][sim.name]["connection"]["source"]["collector"] == "psrp"
    assert [e["shard"]["index"] for e in doc["merged_from"]] == [1, 2]
    assert sorted(h for e in doc["merged_from"] for h in e["hosts"]) == sorted(names)
    assert _strip(doc["hosts"]) == _strip(Snapshot.load(whole).doc["hosts"])

    reports = []
    for snap in (merged, whole):
        out = tmp_path / f"{snap.stem}-report.json"
        audited = run_cli(capsys, "audit", str(snap), "--format", "json", "-o", str(out))
        assert audited.code in (1, 3, 4), audited.err
        report = json.loads(out.read_text("utf-8"))
        reports.append(_strip({k: v for k, v in report.items() if k not in ("run", "tool")}))
    assert reports[0] == reports[1]
