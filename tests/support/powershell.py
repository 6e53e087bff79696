"""Parse generated PowerShell with the tree-sitter grammar, so tests prove a fix is valid syntax.

`assert_parses(src)` fails with the offending lines when the grammar finds an error;
`command_names(src)` lists the commands a script would run, so a test can show that a hostile name
stayed inside its string literal instead of becoming a command.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter_powershell
from tree_sitter import Language, Node, Parser

__all__ = ["HOSTILE", "assert_parses", "command_names", "delegation_adds"]

_PARSER = Parser(Language(tree_sitter_powershell.language()))

# A name that would run a command if it were pasted into PowerShell unquoted or double-quoted.
HOSTILE = "HV'01; Remove-Item C:\\ -Recurse"


def _errors(node: Node) -> Iterator[Node]:
    if node.is_error or node.is_missing:
        yield node
    for child in node.children:
        yield from _errors(child)


def assert_parses(src: str) -> None:
    tree = _PARSER.parse(src.encode())
    if not tree.root_node.has_error:
        return
    lines = src.splitlines()
    where = sorted({n.start_point[0] for n in _errors(tree.root_node)})
    shown = "\n".join(f"  {i + 1}: {lines[i] if i < len(lines) else ''}" for i in where) or "  (no error node located)"
    raise AssertionError(f"PowerShell does not parse:\n{shown}\n--- script ---\n{src}")


def command_names(src: str) -> list[str]:
    """The name of every command invoked in the script, in order (cmdlets and native programs)."""
    tree = _PARSER.parse(src.encode())
    names: list[str] = []

    def walk(node: Node) -> None:
        if node.type == "command_name":
            names.append(src.encode()[node.start_byte:node.end_byte].decode())
        for child in node.children:
            walk(child)

    walk(tree.root_node)
    return names


_DELEGATE_TO = re.compile(r"^\s*(?:#\s*)*\$delegateTo = @\((.*)\)$", re.M)
_ADD = re.compile(r"Set-ADComputer -Identity '((?:[^']|'')*)'[^\n]* -Add @\{'msDS-AllowedToDelegateTo' = "
                  r"\[string\[\]\]\$toAdd\}")


def delegation_adds(src: str) -> list[tuple[str, list[str]]]:
    """(computer, entries) of each run-time-checked delegation change (checks._ad.add_delegation_ps) in a fix,
    in order: the entries it adds when the computer object lacks them."""
    out: list[tuple[str, list[str]]] = []
    for m in _DELEGATE_TO.finditer(src):
        entries = [e.replace("''", "'") for e in re.findall(r"'((?:[^']|'')*)'", m.group(1))]
        add = _ADD.search(src, m.end())
        assert add is not None, f"no guarded Set-ADComputer -Add after {m.group(0)!r}"
        out.append((add.group(1).replace("''", "'"), entries))
    return out
