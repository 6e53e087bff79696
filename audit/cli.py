"""The `hvlm` command line. Each sub-command lives in its own module under audit/commands."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from collections.abc import Sequence

from hvlm.audit import __version__, commands
from hvlm.audit.errors import HvlmError
from hvlm.audit.report import EXIT_USAGE

__all__ = ["build_parser", "entry", "main"]

EPILOG = """exit codes:
  0  all clear: no failure or warning at or above --fail-on
  1  failures or warnings at or above --fail-on
  2  usage or input error (bad arguments, unreadable or invalid file); nothing was audited
  3  incomplete: some facts could not be collected or some checks errored
  4  both 1 and 3
  75 another run holds the lock (--lock FILE, or the --history folder's): this run did nothing
  130 interrupted (Ctrl-C); what was collected is kept and marked incomplete
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hvlm",
        description="Preflight validator and compliance auditor for Hyper-V live migration "
        "between non-clustered Windows Server hosts (2012 R2 to 2025). hvlm only reads; it never "
        "changes a host or the directory.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"hvlm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    given = list(sys.argv[1:] if argv is None else argv)
    if given and given[0].startswith("-") and given[0] not in ("-h", "--help", "--version"):
        print(f"{parser.format_usage().rstrip()}\nhvlm: error: unrecognized option {given[0]!r}: options go after "
              "the command (hvlm COMMAND --help lists them)", file=sys.stderr)
        return EXIT_USAGE
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help exits 0, usage errors exit 2
        return int(exc.code or 0)
    try:
        code: int = args.func(args)
    except HvlmError as exc:
        print(f"hvlm: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("hvlm: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    return code


def entry() -> None:
    """The `hvlm` console script: main(), then leave without tearing the heap down.

    Every output is written and closed by then; what remains is freeing a large fleet's snapshot and
    report object by object, which takes longer than writing them. Streams and log files are flushed
    first, then the process exits with main()'s code.
    """
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # a closed pipe: nothing more to say
        pass
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
