"""hvlm: preflight validator and compliance auditor for non-clustered Hyper-V live migration."""
__version__ = "0.2.0"

