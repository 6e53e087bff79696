"""Every evaluation in the test suite also proves its class keys: audit.engine.evaluate judges each
subject in full and, with HVLM_VERIFY_CLASSES set, by class too, and fails on any difference."""

from __future__ import annotations

import os

os.environ.setdefault("HVLM_VERIFY_CLASSES", "1")
