"""Tests of the Active Directory and DNS collector (audit/collect/directory.py and helpers)."""
