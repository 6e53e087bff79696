"""The JSON report: the report document itself, pretty-printed."""

from __future__ import annotations

import json
from typing import Any


def render_json(report: dict[str, Any]) -> str:
    # ASCII with \u escapes: hosts can return names with unpaired UTF-16 surrogates, which
    # cannot be written as UTF-8 but are valid JSON when escaped.
    return json.dumps(report, indent=2, ensure_ascii=True) + "\n"
