"""`hvlm schema`: print the shipped JSON Schemas."""

from __future__ import annotations

import argparse
import json
from typing import Any

from hvlm.audit.schemas import load_schema, schema_names


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "schema",
        help="print a shipped JSON Schema (snapshot, report, diagnosis, diff, history)",
        description="Print a shipped JSON Schema.",
    )
    p.add_argument("which", nargs="?", choices=schema_names(), default="snapshot")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(json.dumps(load_schema(args.which), indent=2))
    return 0
