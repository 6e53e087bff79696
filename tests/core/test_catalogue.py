"""The fact catalogue is the one list of facts: the probe, the schema, the registry and the
resolver follow it, and plug-ins extend it through the hvlm.facts entry point group."""

from __future__ import annotations

import copy
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from hvlm.audit.catalogue import BUILTIN, FactDefinitionError, catalogue, load_catalogue, refresh_catalogue
from hvlm.audit.collect.probe import HOST_SECTIONS, SECTION_COMMANDS, probe_script
from hvlm.audit.engine import evaluate
from hvlm.audit.errors import InputError
from hvlm.audit.model import Status
from hvlm.audit.registry import load_registry
from hvlm.audit.schemas import load_schema
from hvlm.audit.snapshot import Snapshot, value_fact
from tests.support.fleet import HostModel, build_snapshot

CAT = load_catalogue(include_entry_points=False)


def test_probe_sections_are_the_catalogues_and_the_probe_writes_each() -> None:
    assert CAT.probe_sections == SECTION_COMMANDS
    assert tuple(CAT.probe_sections) == HOST_SECTIONS
    written = set(re.findall(r"\$sections\['([a-z_]+)'\] = \[ordered\]@\{ value", probe_script()))
    assert written == set(HOST_SECTIONS)


def test_schema_host_and_domain_properties_are_the_catalogues() -> None:
    schema = load_schema("snapshot")
    host = schema["$defs"]["host"]["properties"]
    assert set(host) == {s.name for s in CAT.of_scope("host", "connection")}
    assert set(schema["$defs"]["domain"]["properties"]) == CAT.domain_facts
    for spec in CAT:
        assert spec.schema_def in schema["$defs"], spec
        if spec.scope in ("host", "connection"):
            assert host[spec.name] == {"$ref": f"#/$defs/{spec.schema_def}"}, spec.name
        if spec.scope == "domain":
            assert schema["$defs"]["domain"]["properties"][spec.name] == {"$ref": f"#/$defs/{spec.schema_def}"}
    assert schema["properties"]["dns"]["additionalProperties"]["$ref"] == "#/$defs/fact_dns_host"
    assert schema["properties"]["operator"]["$ref"] == "#/$defs/fact_operator"


def test_views_name_domain_sections_and_every_entry_is_described() -> None:
    assert set(CAT.domain_views.values()) <= CAT.domain_facts
    assert CAT.domain_views["ad_computer"] == "computers"
    assert all(s.description and s.source for s in BUILTIN)
    # what checks may declare for a host role: host sections, views and DNS; never "connection"
    assert {"vmhost", "ad_computer", "dns", "domain_info", "vm_hard_disks", "volumes"} <= CAT.host_facts
    assert "connection" not in CAT.host_facts


def test_duplicate_builtin_name_is_rejected() -> None:
    with pytest.raises(FactDefinitionError, match="duplicate fact 'vmhost'"):
        load_catalogue(include_entry_points=False).add(BUILTIN[5])


# -- plug-ins --------------------------------------------------------------------------------------

FACT_PLUGIN = '''
from hvlm.audit.catalogue import FactSpec

FACTS = (
    FactSpec("{name}", "host", "Get-ItemProperty HKLM:\\\\SOFTWARE\\\\Contoso\\\\Backup", "fact_contoso_backup",
             "the backup agent's state", collector="contoso"),
)
SCHEMA_DEFS = {{
    "fact_contoso_backup": {{
        "$ref": "#/$defs/fact_base",
        "properties": {{"value": {{"type": "object", "required": ["Paused"],
                                  "properties": {{"Paused": {{"type": "boolean"}}}}}}}},
    }},
}}
'''

CHECK_PLUGIN = '''
from hvlm.audit.model import Fix, Outcome, Severity, Status, SubjectKind
from hvlm.audit.registry import check

@check(id="site-backup-paused", title="Backups are paused before a move", severity=Severity.LOW,
       subject=SubjectKind.HOST, requires=("host.contoso_backup",), rationale="Our change standard.",
       references=("https://intranet.example.com/standards",), fix_hint="Pause the agent.")
def run(f):
    paused = f["host.contoso_backup"]["Paused"]
    if paused:
        return Outcome(Status.PASS, "paused")
    return Outcome(Status.FAIL, "running", Fix("Pause the agent.", "the host", "an admin", "Suspend-ContosoBackup"))
'''


@pytest.fixture
def plugins(tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp
    refresh_catalogue()  # the plug-ins are gone from sys.path again


def install(mp: pytest.MonkeyPatch, root: Path, pkg: str, code: str, group: str) -> None:
    (root / pkg).mkdir()
    (root / pkg / "__init__.py").write_text(code)
    dist = root / f"{pkg}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {pkg}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{group}]\n{pkg} = {pkg}\n")
    mp.syspath_prepend(str(root))
    mp.delitem(sys.modules, pkg, raising=False)


def with_backup_fact(paused: bool) -> dict[str, object]:
    doc = build_snapshot([HostModel("HV01")])
    doc["hosts"]["hv01.corp.contoso.com"]["contoso_backup"] = value_fact(
        {"Paused": paused}, "contoso", "hv01.corp.contoso.com", "Get-ItemProperty", "2026-11-20T09:00:00Z")
    return doc


def test_plugin_check_uses_a_fact_a_plugin_collector_adds(tmp_path: Path, plugins: pytest.MonkeyPatch) -> None:
    with pytest.raises(InputError, match="contoso_backup"):  # unknown to the snapshot schema alone
        Snapshot.from_document(with_backup_fact(True))
    install(plugins, tmp_path, "contosofacts", FACT_PLUGIN.format(name="contoso_backup"), "hvlm.facts")
    install(plugins, tmp_path, "contosochecks", CHECK_PLUGIN, "hvlm.checks")
    registry = load_registry()
    assert "contoso_backup" in catalogue().host_facts
    assert catalogue().snapshot_schema()["$defs"]["host"]["properties"]["contoso_backup"]
    chk = registry.get("site-backup-paused")
    good = evaluate(Snapshot.from_document(with_backup_fact(True)), [chk])
    assert [f.status for f in good] == [Status.PASS]
    bad = evaluate(Snapshot.from_document(with_backup_fact(False)), [chk])
    assert [f.status for f in bad] == [Status.FAIL]
    missing = evaluate(Snapshot.from_document(build_snapshot([HostModel("HV01")])), [chk])
    assert [f.status for f in missing] == [Status.ERROR]


def test_plugin_fact_colliding_with_a_builtin_is_loud(tmp_path: Path, plugins: pytest.MonkeyPatch) -> None:
    install(plugins, tmp_path, "badfacts", FACT_PLUGIN.format(name="vmhost"), "hvlm.facts")
    with pytest.raises(FactDefinitionError, match="duplicate fact 'vmhost'"):
        load_catalogue()


def test_plugin_fact_without_its_schema_is_loud(tmp_path: Path, plugins: pytest.MonkeyPatch) -> None:
    code = FACT_PLUGIN.format(name="contoso_backup").replace('"fact_contoso_backup":', '"fact_other":')
    install(plugins, tmp_path, "halffacts", code, "hvlm.facts")
    with pytest.raises(FactDefinitionError, match="no schema \\$def 'fact_contoso_backup'"):
        load_catalogue()


def test_catalogue_without_plugins_is_the_shipped_schema() -> None:
    assert load_catalogue(include_entry_points=False).snapshot_schema() == copy.deepcopy(load_schema("snapshot"))


def test_schema_command_prints_the_facts_plugins_declare(
    tmp_path: Path, plugins: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hvlm.audit.cli import main

    assert main(["schema", "snapshot"]) == 0
    shipped = json.loads(capsys.readouterr().out)
    assert "contoso_backup" not in shipped["$defs"]["host"]["properties"]
    assert shipped == load_schema("snapshot")
    install(plugins, tmp_path, "contosofacts", FACT_PLUGIN.format(name="contoso_backup"), "hvlm.facts")
    refresh_catalogue()
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$defs"]["host"]["properties"]["contoso_backup"] == {"$ref": "#/$defs/fact_contoso_backup"}
    assert schema["$defs"]["fact_contoso_backup"]["properties"]["value"]["required"] == ["Paused"]
    # what it prints is what snapshots are held to: a snapshot with the plug-in's fact validates against it
    Draft202012Validator(schema).validate(with_backup_fact(True))
