"""Reading JSON documents the user gives us, with errors that name the file and the path inside."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match

from audit.errors import InputError
from audit.schemas import load_schema

__all__ = ["DEFAULT_MAX_BYTES", "json_pointer", "read_json_file", "validate_document"]

DEFAULT_MAX_BYTES = int(os.environ.get("HVLM_MAX_INPUT_MB", "32")) * 1024 * 1024


def json_pointer(path: Any) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts) if parts else "/"


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
            "(raise it with HVLM_MAX_INPUT_MB if the file is genuine)",
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
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(name, f"invalid JSON: {exc.msg}", f"line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise InputError(name, "invalid JSON: nested too deeply") from None


def validate_document(doc: Any, schema_name: str, name: str) -> None:
    """Validate against a shipped schema; report the most relevant error with its JSON path."""
    validator = Draft202012Validator(load_schema(schema_name), format_checker=FormatChecker())
    error: ValidationError | None = best_match(validator.iter_errors(doc))
    if error is not None:
        message = error.message
        if len(message) > 300:
            message = message[:300] + "..."
        raise InputError(name, message, json_pointer(error.absolute_path))
