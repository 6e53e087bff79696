"""One exception root with structured properties, so the CLI can print one clear line."""

from __future__ import annotations

__all__ = ["CheckDefinitionError", "HvlmError", "InputError", "UsageError"]


class HvlmError(Exception):
    """Root of every error hvlm raises on purpose."""


class InputError(HvlmError):
    """A file the user gave us is unusable: names the file and the path inside it."""

    def __init__(self, file: str, message: str, where: str = "") -> None:
        self.file = file
        self.where = where
        self.detail = message
        loc = f" at {where}" if where else ""
        super().__init__(f"{file}{loc}: {message}")


class UsageError(HvlmError):
    """Bad command-line usage, e.g. an unknown check id."""


class CheckDefinitionError(HvlmError):
    """A check's metadata is invalid or its id collides with another check."""
