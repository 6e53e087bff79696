"""JSON Schemas shipped with hvlm: the facts snapshot and the report."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["load_schema", "schema_names"]


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Return a shipped schema by name: "snapshot", "report", "diagnosis" or "diff"."""
    text = resources.files(__package__).joinpath(f"{name}.schema.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def schema_names() -> list[str]:
    """Every schema shipped in this package, by name."""
    suffix = ".schema.json"
    return sorted(p.name[: -len(suffix)] for p in resources.files(__package__).iterdir() if p.name.endswith(suffix))
