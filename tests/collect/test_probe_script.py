"""The probe is read-only and speaks the snapshot schema: proved on its syntax tree.

The script is parsed with tree-sitter-powershell (a real PowerShell grammar, no PowerShell needed).
Every command it calls must be on a read-only allow-list, every .NET method it calls on another,
and nothing may write a file, invoke a string as code or set an environment variable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import tree_sitter_powershell
from tree_sitter import Language, Node, Parser

from hvlm.audit.cli import main
from hvlm.audit.collect.probe import HOST_SECTIONS, PROBE_VERSION, probe_script
from hvlm.audit.schemas import load_schema
from tests.lab.hostsim import SimHost
from tests.support.fleet import HostModel, VMModel

# Read-only cmdlets (Get-*, Test-Path), pure pipeline/formatting commands, and ConvertTo-HgsKeyProtector,
# which only parses the bytes Get-VMKeyProtector returned into an object (the VM is untouched).
READ_ONLY_COMMANDS = {
    "ConvertTo-HgsKeyProtector", "ConvertTo-Json", "ForEach-Object", "Get-ChildItem", "Get-HgsClientConfiguration",
    "Get-HgsGuardian", "Get-CimInstance", "Get-Command", "Get-Item", "Get-LocalGroupMember",
    "Get-NetAdapterRdma", "Get-NetFirewallRule", "Get-NetIPAddress", "Get-NetRoute", "Get-Service", "Get-VHD",
    "Get-VM", "Get-VMAssignableDevice", "Get-VMDvdDrive", "Get-VMFloppyDiskDrive", "Get-VMHardDiskDrive",
    "Get-VMHost", "Get-VMHostSupportedVersion", "Get-VMKeyProtector", "Get-VMMigrationNetwork", "Get-VMProcessor",
    "Get-VMSecurity", "Get-VMSwitch", "Get-WindowsFeature", "New-Object", "Select-Object", "Sort-Object",
    "Test-Path", "Where-Object",
    # VM storage and GPU partitions: list files (names and sizes, no content), checkpoints, GPU-P adapters
    "Get-ChildItem", "Get-VMSnapshot", "Get-VMGpuPartitionAdapter", "Get-VMHostPartitionableGpu",
    # user rights in force: secedit /export reads the local security database into a file in a folder the
    # probe creates under $env:TEMP, reads back and deletes (each pinned below to that one use)
    "Join-Path", "Get-Content", *(RIGHTS_EXPORT_COMMANDS := ("New-Item", "secedit.exe", "Remove-Item")),
}
# .NET members the probe may call: all of them read.
READ_ONLY_METHODS = {
    "ContainsKey", "Dispose", "GetIPGlobalProperties", "GetType", "GetValue", "GetValueNames", "Invoke", "InvokeMember",
    "Open", "Read", "Replace", "Split", "Substring", "ToLowerInvariant", "ToString", "ToUniversalTime", "Translate",
    "TrimEnd", "Trim", "GetRandomFileName",
}
# The one file the probe opens, and how: read access, sharing read and write so Group Policy is never blocked.
POLICY_OPEN = "[System.IO.File]::Open($polPath, 'Open', 'Read', 'ReadWrite')"
# New-Object builds two .NET types, neither of which touches the host: a SID from bytes, and a certificate
# parsed from the DER bytes a guardian holds (to name its thumbprint).
NEW_OBJECTS = [
    "New-Object -TypeName 'System.Security.Cryptography.X509Certificates.X509Certificate2' -ArgumentList (,$bytes)",
    "New-Object -TypeName 'System.Security.Principal.SecurityIdentifier' -ArgumentList $sidBytes, 0",
]
# The only commands of the probe that create or delete anything, or run a program: exactly these, once each.
RIGHTS_DIR = "$rightsDir = Join-Path -Path $env:TEMP -ChildPath ('hvlm-rights-' + [System.IO.Path]::GetRandomFileName())"
RIGHTS_EXPORT = {
    "New-Item": "New-Item -ItemType 'Directory' -Path $rightsDir",
    "secedit.exe": "secedit.exe /export /areas USER_RIGHTS /cfg $rightsFile /quiet",
    "Remove-Item": "Remove-Item -LiteralPath $rightsDir -Recurse -Force",
}
FORBIDDEN_WORDS = re.compile(
    r"\b(Invoke-Expression|iex|Invoke-Command|Start-Process|Set-|Remove-|Enable-|Disable-|Add-|Install-|"
    r"New-(?!Object -TypeName '(System\.Security\.Principal\.SecurityIdentifier|"
    r"System\.Security\.Cryptography\.X509Certificates\.X509Certificate2)' )|"
    r"Out-File|Set-Content|Add-Content|Invoke-CimMethod|Invoke-WmiMethod|Stop-|Restart-)",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def tree() -> Node:
    parser = Parser(Language(tree_sitter_powershell.language()))
    return parser.parse(probe_script().encode("utf-8")).root_node


def walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from walk(child)


def text(node: Node) -> str:
    return node.text.decode("utf-8") if node.text is not None else ""


def strip_comments(src: str) -> str:
    src = re.sub(r"<#.*?#>", "", src, flags=re.DOTALL)
    return "\n".join(line.split("#", 1)[0] if line.lstrip().startswith("#") else line for line in src.splitlines())


def test_probe_parses_without_error(tree: Node) -> None:
    assert tree.type == "program"
    assert not tree.has_error, [text(n)[:80] for n in walk(tree) if n.type == "ERROR" or n.is_missing]


def test_probe_calls_only_read_only_commands(tree: Node) -> None:
    defined = {text(n) for n in walk(tree) if n.type == "function_name"}
    assert defined and all(name.startswith("Get-Hvlm") for name in defined), defined
    commands = [n for n in walk(tree) if n.type == "command"]
    assert len(commands) > 20
    called = set()
    for command in commands:
        name = command.child_by_field_name("command_name")
        assert name is not None and name.type == "command_name", f"dynamic invocation: {text(command)[:80]}"
        called.add(text(name))
    assert not [n for n in walk(tree) if n.type == "command_invokation_operator"], "& or . invocation"
    unknown = {c for c in called if c not in READ_ONLY_COMMANDS | defined}
    assert not unknown, f"commands not on the read-only allow-list: {sorted(unknown)}"
    assert {"Get-VMHost", "Get-VM", "Get-CimInstance", "ConvertTo-Json"} <= called


def test_probe_calls_only_read_only_methods(tree: Node) -> None:
    calls = [n for n in walk(tree) if n.type == "invokation_expression"]
    assert calls
    for call in calls:
        members = [c for c in call.children if c.type == "member_name"]
        assert members, text(call)[:80]
        method = text(members[-1])
        assert method in READ_ONLY_METHODS, f"method {method} is not on the allow-list: {text(call)[:100]}"
        args = text(call)
        if method == "Invoke":  # ADSI: only reading the members of a group
            assert args.endswith(".Invoke('Members')"), args
        if method == "InvokeMember":  # ADSI: only property reads
            assert "'GetProperty'" in args, args
        if method == "Replace":  # only the ASCII escaping of the finished JSON text
            assert args.startswith("[regex]::Replace($json, "), args
        if method == "Open":  # only Registry.pol, for reading
            assert args == POLICY_OPEN, args
        if method == "Read":  # only the first bytes of that file
            assert args == "$polStream.Read($polBytes, 0, 8)", args


def test_probe_writes_nothing_and_runs_no_strings(tree: Node) -> None:
    assert not [n for n in walk(tree) if n.type in ("redirection", "redirections")], "output redirection"
    code = strip_comments(probe_script())
    for command in RIGHTS_EXPORT.values():  # pinned by test_the_user_rights_export_touches_only_its_temp_folder
        code = code.replace(command, "")
    assert not FORBIDDEN_WORDS.search(code), FORBIDDEN_WORDS.search(code)
    for node in walk(tree):
        if node.type == "left_assignment_expression":
            target = text(node).lower()
            assert not target.startswith(("$env:", "$global:")), target


def test_probe_is_ascii_and_versioned() -> None:
    src = probe_script()
    assert src.isascii()  # Windows PowerShell 5.1 reads a BOM-less script in the ANSI code page
    assert re.fullmatch(r"\d+\.\d+\.\d+", PROBE_VERSION)
    assert "ConvertTo-Json -InputObject $document -Depth 16 -Compress" in src


def test_probe_avoids_syntax_newer_than_windows_powershell_5_1() -> None:
    code = strip_comments(probe_script())
    for pattern in (r"\?\?", r"\?\.", r"&&", r"\|\|", r"\bclean\s*\{", r"-Parallel", r"\? *\w+ *:"):
        assert not re.search(pattern, code), pattern
    # nor newer than 4.0 where 2012 R2 runs it (stock 2012 R2 has no WMF 5.1): no ::new(), no classes
    assert not re.search(r"::new\(|^\s*class\s", code, re.IGNORECASE | re.MULTILINE)


def test_get_childitem_only_lists_literal_paths(tree: Node) -> None:
    """File sizes come from listings of folders the host names (VM paths): never expanded as wildcards,
    never read, never followed into anything but the VM's own files; and the one certificate store the
    guardians live in."""
    calls = [text(n) for n in walk(tree) if n.type == "command" and text(n).startswith("Get-ChildItem")]
    assert len(calls) == 3
    assert "Get-ChildItem -LiteralPath $localStore" in calls
    for call in calls:
        assert call.startswith("Get-ChildItem -LiteralPath ") and "-Path " not in call, call
        assert not re.search(r"Get-Content|-Include|-Exclude", call), call


@pytest.mark.parametrize("cmdlet", ["Get-VMAssignableDevice", "Get-VMSecurity", "Get-VMGpuPartitionAdapter",
                                    "Get-VMHostPartitionableGpu"])
def test_cmdlets_of_newer_releases_are_looked_up_first(cmdlet: str) -> None:
    """Absent on 2012 R2 (GPU partitioning also on 2016, Get-VMHostPartitionableGpu before 2022): the
    probe asks Get-Command before calling them, so an older host reports "none", not an error."""
    code = strip_comments(probe_script())
    lookup = code.find(f"Get-Command -Name '{cmdlet}'")
    first_call = re.search(rf"{cmdlet}(?!')", code)
    assert lookup >= 0 and first_call is not None and lookup < first_call.start(), cmdlet


def test_new_object_only_builds_a_sid_and_parses_a_certificate(tree: Node) -> None:
    """New-Object could start COM servers (-ComObject): the probe uses it for two .NET types only."""
    calls = [text(n) for n in walk(tree) if n.type == "command" and text(n).startswith("New-Object")]
    assert sorted(calls) == NEW_OBJECTS


def test_new_commands_of_the_host_guardian_and_policy_sections_are_read_only(tree: Node) -> None:
    """The guardian, key protector, user-rights and policy-file sections call only what they must, as
    the allow-lists above admit: no Export-, Grant-, secedit other than the one export, or file write."""
    src = probe_script()
    called = {text(c.child_by_field_name("command_name")) for c in walk(tree) if c.type == "command"}
    assert {"Get-HgsClientConfiguration", "Get-HgsGuardian", "Get-VMKeyProtector", "ConvertTo-HgsKeyProtector",
            "Get-ChildItem"} <= called
    assert "Get-ChildItem -LiteralPath $localStore" in src
    assert "$localStore = 'Cert:\\LocalMachine\\Shielded VM Local Certificates'" in src
    assert "ConvertTo-HgsKeyProtector -Bytes $rawProtector" in src
    assert "-Namespace $rsopNamespace -ClassName 'RSOP_UserPrivilegeRight'" in src
    assert src.count("[System.IO.File]::") == 1 and POLICY_OPEN in src
    code = strip_comments(src).replace(RIGHTS_EXPORT["secedit.exe"], "")
    assert not re.search(r"secedit|Export-|Import-|Grant-|Revoke-|\.Write\(|WriteAllBytes", code, re.IGNORECASE)


def test_the_user_rights_export_touches_only_its_temp_folder(tree: Node) -> None:
    """secedit /export (read-only: it reads the local security database) is the one program the probe runs;
    it writes into a folder with a random name the probe creates under $env:TEMP, and that folder, only
    it, is removed in `finally`, after the file is read. New-Item, Remove-Item and secedit appear once
    each, exactly as pinned; $rightsDir and $rightsFile are assigned once, beneath $env:TEMP."""
    src = probe_script()
    commands = [text(n) for n in walk(tree) if n.type == "command"]
    for name, pinned in RIGHTS_EXPORT.items():
        assert [c for c in commands if c.split()[0].lower() == name.lower()] == [pinned], name
    assert not [c for c in commands if re.match(r"New-(?!Object )|Remove-|secedit", c, re.IGNORECASE)
                and c not in RIGHTS_EXPORT.values()]
    assigned = {name: [line.strip() for line in src.splitlines() if line.strip().startswith(f"${name} =")]
                for name in ("rightsDir", "rightsFile", "rightsCreated")}
    assert assigned["rightsDir"] == [RIGHTS_DIR]
    assert assigned["rightsFile"] == ["$rightsFile = Join-Path -Path $rightsDir -ChildPath 'user-rights.inf'"]
    assert assigned["rightsCreated"] == ["$rightsCreated = $false", "$rightsCreated = $true"]
    section = src[src.index(RIGHTS_DIR):src.index("$sections['logon_rights'] = [ordered]@{ value")]
    # the folder is created, the export runs and is read inside try; removal is in finally, only when created
    body, cleanup = section.split("} finally {")
    assert body.index("$null = " + RIGHTS_EXPORT["New-Item"]) < body.index("$rightsCreated = $true") \
        < body.index(RIGHTS_EXPORT["secedit.exe"]) < body.index("Get-Content -LiteralPath $rightsFile")
    assert "$effectiveError = [string]$_.Exception.Message" in body  # a failure stays in the section
    assert cleanup.strip().startswith("if ($rightsCreated) { " + RIGHTS_EXPORT["Remove-Item"] + " }")
    assert "Get-Content" in src and all(c == "Get-Content -LiteralPath $rightsFile"
                                        for c in commands if c.startswith("Get-Content"))


def schema_fields() -> dict[str, set[str]]:
    """The property names of each host section's value in the snapshot schema."""
    schema = load_schema("snapshot")
    out = {}
    for section in HOST_SECTIONS:
        ref = schema["$defs"]["host"]["properties"][section]["$ref"].rsplit("/", 1)[1]
        value = schema["$defs"][ref]["properties"]["value"]
        names: set[str] = set()
        stack = [value]
        while stack:
            shape = stack.pop()
            names |= set(shape.get("properties", {}))
            stack.extend(p for p in shape.get("properties", {}).values() if isinstance(p, dict))
            for key in ("items", "additionalProperties"):
                if isinstance(shape.get(key), dict):
                    stack.append(shape[key])
        out[section] = names
    return out


def test_probe_sections_and_field_names_are_the_schemas(tree: Node) -> None:
    schema = load_schema("snapshot")
    assert set(HOST_SECTIONS) == set(schema["$defs"]["host"]["properties"]) - {"connection"}
    src = probe_script()
    written = set(re.findall(r"\$sections\['([a-z_]+)'\]", src))
    assert written == set(HOST_SECTIONS)
    keys = {text(n) for n in walk(tree) if n.type == "key_expression"}
    for section, names in schema_fields().items():
        missing = names - keys
        assert not missing, f"{section}: the probe never writes {sorted(missing)}"


def depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def test_convertto_json_depth_covers_the_deepest_document() -> None:
    model = HostModel("HV01", vms=[VMModel("vm1")], hyperv_admins=[("CORP\\HV Admins", "S-1-5-21-1-2-3-1111")])
    assert depth(SimHost(model).document()) < 16  # ConvertTo-Json writes deeper levels as strings


def test_probe_script_command_prints_the_shipped_probe(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    assert main(["probe-script"]) == 0
    assert capsys.readouterr().out == probe_script()
    target = tmp_path / "hvlm-probe.ps1"
    assert main(["probe-script", "-o", str(target)]) == 0
    raw = target.read_bytes()
    assert raw.decode("ascii").replace("\r\n", "\n") == probe_script()
    assert b"\r\n" in raw


def test_section_commands_name_what_the_probe_runs() -> None:
    from hvlm.audit.collect.probe import SECTION_COMMANDS

    src = probe_script()
    for section, command in SECTION_COMMANDS.items():
        first = command.split()[0].rstrip(";")
        if first.startswith("Get-"):
            assert first in src, (section, first)
    json.dumps(SECTION_COMMANDS)  # provenance strings are plain data


def test_probe_output_is_ascii_so_no_code_page_can_mangle_names() -> None:
    """The probe escapes every non-ASCII character of its JSON as \\uXXXX (UTF-16 code units, as
    .NET's regex sees them). Replayed here on a document with Cyrillic, CJK and an emoji: the
    text is ASCII, survives an OEM code page (cp437) and parses back to the same names."""
    src = probe_script()
    match = re.search(r"\[regex\]::Replace\(\$json, '([^']+)', \{ param\(\$m\) '([^']+)' -f \[int\]\[char\]\$m\.Value \}\)", src)
    assert match, "the probe no longer escapes its output"
    pattern, fmt = match.groups()
    assert fmt == "\\u{0:x4}"
    assert re.search(r"^if \(\$escaped\) \{ \$escaped \} else \{ \$json \}$", src, re.MULTILINE), "not the last output"
    doc = {"hvlm_probe": PROBE_VERSION, "sections": {"vms": {"value": [{"Name": "Внешний-ВМ 東京 \U0001f600 \\ü"}]}}}
    raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))  # what ConvertTo-Json writes
    units = raw.encode("utf-16-le")
    chars = [chr(int.from_bytes(units[i:i + 2], "little")) for i in range(0, len(units), 2)]
    escaped = "".join("\\u" + format(ord(c), "04x") if re.fullmatch(pattern, c) else c for c in chars)
    assert escaped.isascii()
    back = json.loads(escaped.encode("cp437").decode("cp437"))
    assert back == doc


def test_probe_reads_the_firewall_rule_in_force(tree: Node) -> None:
    """Get-NetFirewallRule reads the local PersistentStore unless told otherwise; the rule in force
    (Group Policy merged in, or local rules ignored by it) is in the ActiveStore."""
    calls = [text(n) for n in walk(tree) if n.type == "command" and text(n).startswith("Get-NetFirewallRule")]
    assert calls == ["Get-NetFirewallRule -Name 'VIRT-MIGL-In-TCP-NoScope' -PolicyStore 'ActiveStore'"]


SUPPORTED = "Windows PowerShell 4.0 (2012 R2), 5.1 and PowerShell 7"


def readme_usage_line() -> str:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    lines = [line.lstrip("# ").strip() for line in readme.splitlines() if "powershell.exe -NoProfile" in line]
    assert len(lines) == 1, lines
    return lines[0]


def test_probe_header_and_help_say_which_powershell_and_the_readme_usage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    header = probe_script().split("#>", 1)[0]
    header_lines = [line.strip() for line in header.splitlines()]
    usage = readme_usage_line()
    assert usage.endswith('| Out-File -Encoding utf8 "$env:COMPUTERNAME.json"')
    assert usage in header_lines  # the whole command on one line, as the README has it
    assert SUPPORTED in " ".join(header.split())
    assert main(["probe-script", "--help"]) == 0
    help_text = capsys.readouterr().out
    assert SUPPORTED in " ".join(help_text.split())
    assert usage in [line.strip() for line in help_text.splitlines()]


# Constructs and cmdlets newer than Windows PowerShell 4.0 (the stock shell of 2012 R2).
NEWER_THAN_4 = {
    r"::new\(": "[type]::new() is 5.0",
    r"^\s*(class|enum)\s+\w+": "classes and enums are 5.0",
    r"^\s*using\s+(namespace|module)\b": "using is 5.0",
    r"-AsHashtable\b": "ConvertFrom-Json -AsHashtable is 6.0",
    r"-EscapeHandling\b": "ConvertTo-Json -EscapeHandling is 6.2",
    r"-AsArray\b": "ConvertTo-Json -AsArray is 6.2",
    r"\b(Get-ComputerInfo|Get-TimeZone|Get-LocalGroup|Get-LocalUser|New-TemporaryFile|Format-Hex|"
    r"ConvertFrom-String|Get-Clipboard|Expand-Archive)\b": "cmdlet added in 5.0/5.1",
    r"\$PSVersionTable\.PSEdition\b(?!\s*\})": "PSEdition exists from 5.1 only (read it as [string], may be empty)",
}


def test_probe_uses_nothing_newer_than_windows_powershell_4_0_where_it_must_run() -> None:
    code = strip_comments(probe_script())
    guarded = "Get-Command -Name 'Get-LocalGroupMember'"
    assert guarded in code  # the one 5.1 cmdlet is looked up before use, the ADSI path covers 4.0
    code = code.replace(guarded, "").replace("Get-LocalGroupMember -SID", "")
    for pattern, why in NEWER_THAN_4.items():
        found = re.search(pattern, code, re.IGNORECASE | re.MULTILINE)
        assert not found, f"{why}: {found.group(0) if found else ''}"
    assert "edition = [string]$PSVersionTable.PSEdition" in code
