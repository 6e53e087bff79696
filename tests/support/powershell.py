"""Parse generated PowerShell with the tree-sitter grammar, so tests prove a fix is valid syntax.

`assert_parses(src)` fails with the offending lines when the grammar finds an error;
`command_names(src)` lists the commands a script would run, so a test can show that a hostile name
stayed inside its string literal instead of becoming a command.
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter_powershell
from tree_sitter import Language, Node, Parser

__all__ = ["HOSTILE", "assert_parses", "command_names"]

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
