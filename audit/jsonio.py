"""Reading JSON documents the user gives us, with errors that name the file and the path inside."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match

from hvlm.audit.errors import InputError
from hvlm.audit.schemas import load_schema

__all__ = ["DEFAULT_MAX_BYTES", "clear_validators", "json_pointer", "read_json_file", "read_text", "validate_document"]

# 2,000 hosts with 20 VMs each make a snapshot of about 35 MiB; the default leaves room for
# estates several times that. HVLM_MAX_INPUT_MB raises it, up to a hard cap against abuse.
DEFAULT_INPUT_MB = 256
HARD_CAP_MB = 4096


def _max_input_mb() -> int:
    raw = os.environ.get("HVLM_MAX_INPUT_MB", "")
    try:
        wanted = int(raw) if raw.strip() else DEFAULT_INPUT_MB
    except ValueError:
        wanted = DEFAULT_INPUT_MB
    return max(1, min(wanted, HARD_CAP_MB))


DEFAULT_MAX_BYTES = _max_input_mb() * 1024 * 1024


def json_pointer(path: Any) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts) if parts else "/"


def read_text(path: str | Path) -> str:
    """A user's text file (inventory, waivers) as text; a missing file or a non-UTF-8 one is one InputError."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(name, f"cannot read file: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(name, f"not UTF-8 text (invalid byte at offset {exc.start})") from None


def read_json_file(path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """Read and parse a JSON file; every failure becomes one InputError line."""
    name = str(path)
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise InputError(name, f"cannot read file: {exc.strerror or exc}") from None
    if size > max_bytes:
        raise InputError(
            name,
            f"file is {size / 1048576:.1f} MiB, over the {max_bytes // 1048576} MiB limit "
            f"(raise it with HVLM_MAX_INPUT_MB, up to {HARD_CAP_MB}, if the file is genuine)",
        )
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(name, f"cannot read file: {exc.strerror or exc}") from None
    return parse_json_bytes(raw, name)


def parse_json_bytes(raw: bytes, name: str) -> Any:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(name, f"not UTF-8 text (invalid byte at offset {exc.start})") from None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass  # json says what is wrong in its familiar words, and reads what orjson refuses
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(name, f"invalid JSON: {exc.msg}", f"line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise InputError(name, "invalid JSON: nested too deeply") from None


_COMPILED: dict[str, Any] = {}


def _schema(schema_name: str) -> dict[str, Any]:
    """The shipped schema; for snapshots, with the facts that plug-ins add (audit.catalogue)."""
    if schema_name == "snapshot":
        from hvlm.audit.catalogue import snapshot_schema

        return snapshot_schema()
    return load_schema(schema_name)


def clear_validators() -> None:
    """Forget compiled validators (after the fact catalogue changed)."""
    _COMPILED.clear()


def _compiled(schema_name: str) -> Any:
    validator = _COMPILED.get(schema_name)
    if validator is None:
        validator = _COMPILED[schema_name] = jsonschema_rs.Draft202012Validator(
            _schema(schema_name), validate_formats=True
        )
    return validator


def validate_document(doc: Any, schema_name: str, name: str) -> None:
    """Validate against a shipped schema; report the most relevant error with its JSON path.

    A compiled validator (jsonschema-rs, some hundred times faster on a 2,000-host snapshot)
    decides; only an invalid document goes through the reference validator, whose best match
    names the JSON path and the reason in the words users know.
    """
    try:
        if _compiled(schema_name).is_valid(doc):
            return
    except (ValueError, TypeError, OverflowError):
        pass  # a value the compiled validator cannot represent: let the reference validator judge
    validator = Draft202012Validator(_schema(schema_name), format_checker=FormatChecker())
    error: ValidationError | None = best_match(validator.iter_errors(doc))
    if error is not None:
        message = error.message
        if len(message) > 300:
            message = message[:300] + "..."
        raise InputError(name, message, json_pointer(error.absolute_path))
