"""A VM's rows in the per-VM host sections (vm_hard_disks, vm_media, vm_security, ...)."""

from __future__ import annotations

from typing import Any


def rows_of(vm: dict[str, Any], rows: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The rows of one VM, matched by its Id (names need not be unique on a host)."""
    vm_id = str(vm.get("Id", "")).lower()
    return [r for r in rows or [] if str(r.get("VMId", "")).lower() == vm_id]


def is_share(path: str | None) -> bool:
    """A UNC path (\\\\server\\share\\...): storage both hosts reach, not copied by a storage move."""
    return bool(path) and str(path).startswith("\\\\") and not str(path).startswith("\\\\?\\")
