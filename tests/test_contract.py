"""The registry contract: every check has valid metadata, a fix, and pass/fail/missing-facts tests."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hvlm.audit.commands.audit_cmd import example_snapshot_path
from hvlm.audit.engine import evaluate
from hvlm.audit.model import Status
from hvlm.audit.registry import load_registry
from hvlm.audit.snapshot import Snapshot

REGISTRY = load_registry()
CHECK_TESTS = Path(__file__).parent / "checks"
KINDS = ("test_pass", "test_fail", "test_missing")


def _tests_by_check() -> dict[str, set[str]]:
    """For each check id, which kinds of test mention it (by a string literal in the test body)."""
    found: dict[str, set[str]] = {}
    for path in CHECK_TESTS.rglob("test_*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            kind = next((k for k in KINDS if node.name.startswith(k)), None)
            if kind is None:
                continue
            for sub in ast.walk(node):
                if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and sub.value in REGISTRY:
                    found.setdefault(sub.value, set()).add(kind)
    return found


TESTS = _tests_by_check()


@pytest.mark.parametrize("check_id", REGISTRY.ids)
def test_check_metadata_is_valid(check_id: str) -> None:
    meta = REGISTRY.get(check_id).meta
    meta.validate()
    assert meta.module.startswith("hvlm.checks."), meta.module
    assert meta.module.rsplit(".", 1)[1] == check_id.replace("-", "_"), "one module per check, named by its id"


@pytest.mark.parametrize("check_id", REGISTRY.ids)
def test_check_has_pass_fail_and_missing_tests(check_id: str) -> None:
    assert TESTS.get(check_id, set()) == set(KINDS), f"{check_id} lacks tests: {set(KINDS) - TESTS.get(check_id, set())}"


def test_every_failure_and_warning_in_the_example_has_a_fix() -> None:
    snapshot = Snapshot.load(example_snapshot_path())
    findings = evaluate(snapshot, list(REGISTRY))
    bad = [f for f in findings if f.status in (Status.FAIL, Status.WARNING) and f.fix is None]
    assert not bad, [(f.check_id, f.subject.label) for f in bad]


@pytest.mark.parametrize("check_id", REGISTRY.ids)
def test_example_makes_every_check_pass_somewhere_and_fail_somewhere(check_id: str) -> None:
    snapshot = Snapshot.load(example_snapshot_path())
    statuses = {f.status for f in evaluate(snapshot, [REGISTRY.get(check_id)])}
    assert Status.PASS in statuses, f"{check_id} passes nowhere in the example"
    assert statuses & {Status.FAIL, Status.WARNING}, f"{check_id} fails nowhere in the example"
    assert Status.ERROR not in statuses, f"{check_id} errors on the example"
