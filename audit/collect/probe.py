"""The host probe: the shipped PowerShell script and the parsing of what it prints.

The probe is `audit/ps/probe.ps1`, package data and never a Python string, so the text an
administrator reads (`hvlm probe-script`) is exactly what hvlm runs remotely. It prints one JSON
document:

    {"hvlm_probe": "1.0.0", "computer": {"name", "fqdn"}, "powershell": {"version", "edition"},
     "collected_at": "...Z", "sections": {"<section>": {"value": ...} | {"error": {"kind", "message"}}}}

Each section is checked against its own definition in the snapshot schema, so one malformed
section becomes an error fact for that section while the others stay usable.
"""

from __future__ import annotations

import codecs
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match

from hvlm.audit.catalogue import load_catalogue
from hvlm.audit.jsonio import json_pointer
from hvlm.audit.schemas import load_schema
from hvlm.audit.snapshot import error_fact, value_fact

__all__ = [
    "HOST_SECTIONS",
    "PROBE_VERSION",
    "SECTION_COMMANDS",
    "ProbeDocument",
    "ProbeOutputError",
    "decode_probe_bytes",
    "fact_problem",
    "parse_probe_document",
    "parse_probe_text",
    "probe_script",
    "section_facts",
]

# What each section runs, for the facts' provenance (source.command): from the fact catalogue.
SECTION_COMMANDS: dict[str, str] = load_catalogue(include_entry_points=False).probe_sections
HOST_SECTIONS: tuple[str, ...] = tuple(SECTION_COMMANDS)
_PROBE_KINDS = frozenset({"access_denied", "not_found", "probe_error"})
_MAX_MESSAGE = 2000


class ProbeOutputError(Exception):
    """The probe's output is not the document it should print (malformed JSON, wrong shape)."""


@cache
def probe_script() -> str:
    """The probe's PowerShell text, as shipped."""
    return resources.files("hvlm.audit").joinpath("ps/probe.ps1").read_text("utf-8")


def _probe_version() -> str:
    match = re.search(r"^\$HvlmProbeVersion = '([0-9.]+)'", probe_script(), re.MULTILINE)
    if not match:  # pragma: no cover - guarded by the tests
        raise RuntimeError("audit/ps/probe.ps1 does not set $HvlmProbeVersion")
    return match.group(1)


PROBE_VERSION = _probe_version()


@dataclass(frozen=True)
class ProbeDocument:
    """One host's probe output, parsed but not yet checked section by section."""

    probe_version: str
    computer_name: str | None
    fqdn: str | None
    powershell: str | None
    collected_at: str | None
    sections: dict[str, Any]


def decode_probe_bytes(raw: bytes) -> str:
    """Text of a probe output file. Windows PowerShell 5.1's `>` writes UTF-16 with a BOM."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if raw.startswith(bom):
            return raw.decode(encoding)
    return raw.decode("utf-8")


def parse_probe_text(text: str) -> ProbeDocument:
    """Parse what the probe printed. Tolerates lines around the JSON (a transcript, a banner)."""
    stripped = text.strip()
    if not stripped:
        raise ProbeOutputError("the output is empty")
    candidates = [stripped] + [line.strip() for line in stripped.splitlines() if line.strip().startswith("{")]
    last_error = "no JSON object in the output"
    for candidate in candidates:
        try:
            doc = json.loads(candidate)
        except json.JSONDecodeError as exc:
            last_error = f"not valid JSON ({exc.msg}: line {exc.lineno}, column {exc.colno})"
            continue
        except RecursionError:
            last_error = "JSON nested too deeply"
            continue
        if isinstance(doc, dict) and "hvlm_probe" in doc:
            return parse_probe_document(doc)
        last_error = "the JSON is not an hvlm probe document (no hvlm_probe key)"
    raise ProbeOutputError(last_error)


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_probe_document(doc: Any) -> ProbeDocument:
    if not isinstance(doc, dict):
        raise ProbeOutputError("the probe output is not a JSON object")
    version = doc.get("hvlm_probe")
    if not isinstance(version, str):
        raise ProbeOutputError("the probe output has no hvlm_probe version")
    if version.split(".")[0] != PROBE_VERSION.split(".")[0]:
        raise ProbeOutputError(
            f"probe version {version} is not compatible with this hvlm (probe {PROBE_VERSION}); "
            "run the probe printed by `hvlm probe-script` again"
        )
    sections = doc.get("sections")
    if not isinstance(sections, dict):
        raise ProbeOutputError("the probe output has no 'sections' object")
    computer: dict[str, Any] = doc["computer"] if isinstance(doc.get("computer"), dict) else {}
    ps: dict[str, Any] = doc["powershell"] if isinstance(doc.get("powershell"), dict) else {}
    ps_text = " ".join(p for p in (_opt_str(ps.get("edition")), _opt_str(ps.get("version"))) if p) or None
    return ProbeDocument(
        probe_version=version,
        computer_name=_opt_str(computer.get("name")),
        fqdn=_opt_str(computer.get("fqdn")),
        powershell=ps_text,
        collected_at=_opt_str(doc.get("collected_at")),
        sections=sections,
    )


def _section_schema(section: str) -> dict[str, Any]:
    schema = load_schema("snapshot")
    ref = schema["$defs"]["host"]["properties"][section]["$ref"]
    return {"$defs": schema["$defs"], "$ref": ref}


@cache
def _section_validator(section: str) -> Draft202012Validator:
    """The reference validator: slow, but it words the problem in the terms users know."""
    return Draft202012Validator(_section_schema(section), format_checker=FormatChecker())


_COMPILED: dict[str, Any] = {}
_COMPILING = threading.Lock()


def _compiled_section_validator(section: str) -> Any:
    """The compiled validator (jsonschema-rs) that decides, about a hundred times faster: checking
    every section of every host with the reference validator was a quarter of a probe's client CPU.
    Compiled once (2 ms each), under a lock: the first wave of probes ends all at once."""
    validator = _COMPILED.get(section)
    if validator is None:
        with _COMPILING:
            validator = _COMPILED.get(section)
            if validator is None:
                validator = jsonschema_rs.Draft202012Validator(_section_schema(section), validate_formats=True)
                _COMPILED[section] = validator
    return validator


def _schema_problem(section: str, fact: dict[str, Any]) -> str | None:
    try:
        if _compiled_section_validator(section).is_valid(fact):  # the fast path
            return None
    except (ValueError, TypeError, OverflowError):
        pass  # a value the compiled validator cannot represent: let the reference validator judge
    validator = _section_validator(section)
    if validator.is_valid(fact):  # as audit.jsonio: the reference validator has the last word
        return None
    error = best_match(validator.iter_errors(fact))
    if error is None:
        return None
    where = json_pointer(error.absolute_path)
    message = error.message if len(error.message) <= 300 else error.message[:300] + "..."
    return f"{message} (at {where})"


def fact_problem(section: str, fact: dict[str, Any]) -> str | None:
    """Why a host fact does not match the schema, or None. `connection` is any fact."""
    if section != "connection" and section not in SECTION_COMMANDS:
        return f"{section} is not a host section of the snapshot schema"
    return _schema_problem(section, fact)


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "..."


def section_facts(
    doc: ProbeDocument,
    *,
    collector: str,
    host: str,
    when: str,
    hint: Callable[[str, str, str], str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Turn the probe's sections into snapshot facts, one per host section.

    A section the probe reported as an error, a section missing from the output and a section
    whose value does not match the schema each become an error fact for that section only.
    `hint(section, kind, message) -> message` lets the caller add advice to section errors.
    """
    facts: dict[str, dict[str, Any]] = {}
    for section in HOST_SECTIONS:
        command = SECTION_COMMANDS[section]
        raw: Any = doc.sections.get(section)
        kind: str | None = None
        message = ""
        if raw is None:
            kind, message = "probe_error", f"the probe output has no {section} section (probe {doc.probe_version})"
        elif not isinstance(raw, dict) or ("value" in raw) == ("error" in raw):
            kind, message = "probe_error", f"the probe's {section} section is neither a value nor an error"
        elif "error" in raw:
            err = raw["error"] if isinstance(raw["error"], dict) else {}
            probe_kind = err.get("kind")
            kind = probe_kind if probe_kind in _PROBE_KINDS else "probe_error"
            message = str(err.get("message") or "the probe reported an error without a message")
        if kind is None and isinstance(raw, dict):
            fact = value_fact(raw["value"], collector, host, command, when)
            problem = _schema_problem(section, fact)
            if problem is None:
                facts[section] = fact
                continue
            kind, message = "probe_error", f"the probe's {section} section does not match the snapshot schema: {problem}"
        kind = kind or "probe_error"
        if hint is not None:
            message = hint(section, kind, message)
        facts[section] = error_fact(kind, _clip(message), collector, host, command, when)
    return facts
