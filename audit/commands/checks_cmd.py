"""`hvlm checks`: list the check catalogue."""

from __future__ import annotations

import argparse
import json
from typing import Any

from hvlm.audit.registry import load_registry


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "checks", help="list the check catalogue", description="List every check: id, severity, subject, title."
    )
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("-v", "--verbose", action="store_true", help="also show rationale, fix and references")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    registry = load_registry()
    if args.format == "json":
        rows = [
            {
                "id": c.meta.id,
                "severity": c.meta.severity.value,
                "subject": c.meta.subject.value,
                "title": c.meta.title,
                "requires": list(c.meta.requires),
                "rationale": c.meta.rationale,
                "fix": c.meta.fix_hint,
                "references": list(c.meta.references),
            }
            for c in registry
        ]
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(c.meta.id) for c in registry)
    print(f"{'ID':{width}}  {'SEVERITY':8}  {'SUBJECT':8}  TITLE")
    for c in registry:
        m = c.meta
        print(f"{m.id:{width}}  {m.severity.value:8}  {m.subject.value:8}  {m.title}")
        if args.verbose:
            print(f"{'':{width}}  why: {m.rationale}")
            print(f"{'':{width}}  fix: {m.fix_hint}")
            for ref in m.references:
                print(f"{'':{width}}  see: {ref}")
    print(f"\n{len(registry)} checks")
    return 0
