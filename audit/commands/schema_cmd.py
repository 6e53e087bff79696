"""`hvlm schema`: print the shipped JSON Schemas (the snapshot's with installed plug-ins' facts)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from hvlm.audit.catalogue import snapshot_schema
from hvlm.audit.schemas import load_schema, schema_names


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "schema",
        help="print a shipped JSON Schema (snapshot, report, diagnosis, diff, history)",
        description="Print a shipped JSON Schema. The snapshot schema includes the facts that installed plug-in "
        "collectors declare (entry point group hvlm.facts), as snapshots are validated against it.",
    )
    p.add_argument("which", nargs="?", choices=schema_names(), default="snapshot")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    schema = snapshot_schema() if args.which == "snapshot" else load_schema(args.which)
    print(json.dumps(schema, indent=2))
    return 0
