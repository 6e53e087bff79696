"""Third-party checks plug in through the hvlm.checks entry point group; duplicate ids are loud."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hvlm.audit.cli import main
from hvlm.audit.errors import CheckDefinitionError
from hvlm.audit.model import Severity, SubjectKind
from hvlm.audit.registry import check, load_registry

PLUGIN = '''
from hvlm.audit.model import Outcome, Severity, Status, SubjectKind
from hvlm.audit.registry import check

@check(id="{id}", title="Site policy: hosts named in upper case", severity=Severity.LOW,
       subject=SubjectKind.HOST, requires=("host.computer_system",), rationale="Our naming standard.",
       references=("https://intranet.example.com/standards",), fix_hint="Rename the host.")
def run(f):
    name = f["host.computer_system"]["Name"]
    return Outcome(Status.PASS if name.isupper() else Status.FAIL, name)
'''


def install_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, check_id: str, pkg: str = "sitechecks") -> None:
    (tmp_path / pkg).mkdir()
    (tmp_path / pkg / "__init__.py").write_text(PLUGIN.format(id=check_id))
    dist = tmp_path / f"{pkg}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {pkg}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[hvlm.checks]\n{pkg} = {pkg}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, pkg, raising=False)


def test_entry_point_plugin_is_loaded_without_core_edits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    install_plugin(tmp_path, monkeypatch, "site-upper-case-names")
    registry = load_registry()
    assert "site-upper-case-names" in registry
    assert "host-os-supported" in registry
    assert main(["checks"]) == 0
    assert "site-upper-case-names" in capsys.readouterr().out


def test_duplicate_id_from_plugin_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    install_plugin(tmp_path, monkeypatch, "host-os-supported", pkg="badchecks")
    with pytest.raises(CheckDefinitionError, match="duplicate check id 'host-os-supported'"):
        load_registry()
    assert main(["audit", "--example"]) == 2
    err = capsys.readouterr().err
    assert "duplicate check id 'host-os-supported'" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"id": "Bad_ID"}, "lower-case"),
        ({"references": ("http://insecure.example.com",)}, "https"),
        ({"references": ()}, "https"),
        ({"requires": ()}, "declare"),
        ({"requires": ("source.vmhost",)}, "does not fit"),
        ({"requires": ("host.nonsense",)}, "does not fit"),
        ({"rationale": " "}, "empty"),
    ],
)
def test_invalid_metadata_is_rejected(kwargs: dict[str, object], message: str) -> None:
    base: dict[str, object] = dict(id="x-y", title="t", severity=Severity.LOW, subject=SubjectKind.HOST,
                                   requires=("host.vmhost",), rationale="r",
                                   references=("https://learn.microsoft.com/",), fix_hint="f")
    base.update(kwargs)
    with pytest.raises(CheckDefinitionError, match=message):
        check(**base)(lambda f: [])  # type: ignore[arg-type]


def test_builtin_catalogue_loads() -> None:
    ids = load_registry(include_entry_points=False).ids
    assert {"host-hyperv-role", "host-os-supported", "host-migration-enabled", "host-simultaneous-migrations"} <= set(ids)
