"""`hvlm inventory`: make an hvlm inventory from another tool's (`from-ansible`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hvlm.audit.ansible_inventory import read_ansible, to_toml
from hvlm.audit.errors import UsageError
from hvlm.audit.words import count

EPILOG_ANSIBLE = """what is read, and nothing else:
  hosts            every host, by its Ansible inventory name (ranges such as hv[01:20] expand)
  ansible_host     the host's address (a host variable: on its INI line, or under it in YAML)
  ansible_port     the host's WinRM port (a host variable)
  groups           each group (but all and ungrouped) becomes an hvlm group of its hosts, a parent
                   group (:children) of its children's hosts; hvlm plans every ordered pair inside
                   each group (with no group: every ordered pair)
Group variables are not read (a note says when they set ansible_host or ansible_port). The format
is told by the extension as Ansible does (.yml, .yaml, .json: YAML; else INI), or by --format.

exit codes:
  0  written
  2  unreadable or invalid inventory, or it cannot become an hvlm inventory; nothing was written

examples:
  hvlm inventory from-ansible hosts.ini -o fleet.toml
  hvlm inventory from-ansible inventory.yml -o fleet.toml && hvlm collect -i fleet.toml -o snap.json
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "inventory",
        help="make an hvlm inventory from another tool's (Ansible)",
        description="Make an hvlm inventory (TOML) from another tool's inventory.",
    )
    inner = p.add_subparsers(dest="inventory_command", metavar="SUBCOMMAND")
    inner.required = True
    a: argparse.ArgumentParser = inner.add_parser(
        "from-ansible",
        help="convert an Ansible inventory (INI or YAML)",
        description="Convert an Ansible inventory (INI or YAML) to an hvlm inventory: hosts, their "
        "ansible_host and ansible_port, and groups.",
        epilog=EPILOG_ANSIBLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    a.add_argument("file", metavar="FILE", help="the Ansible inventory")
    a.add_argument("-o", "--output", metavar="FILE", help="where to write the hvlm inventory (default: stdout)")
    a.add_argument("--format", choices=["ini", "yaml"], help="the Ansible inventory's format (default: by extension)")
    a.add_argument("--force", action="store_true", help="overwrite the output file if it exists")
    a.set_defaults(func=run_from_ansible)


def run_from_ansible(args: argparse.Namespace) -> int:
    converted = read_ansible(args.file, args.format)
    text = to_toml(converted, args.file)
    for note in converted.notes:
        print(f"hvlm: note: {args.file}: {note}", file=sys.stderr)
    if not args.output:
        sys.stdout.write(text)
        return 0
    out = Path(args.output)
    if out.exists() and not args.force:
        raise UsageError(f"{args.output} exists; give --force to overwrite it")
    try:
        out.write_text(text, "utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    print(f"hvlm: wrote {args.output}: {count(len(converted.hosts), 'host')}, {count(len(converted.groups), 'group')}",
          file=sys.stderr)
    return 0
