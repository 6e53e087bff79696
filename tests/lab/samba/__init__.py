"""hvlm's Samba AD DC test lab: real domain controllers on loopback addresses.

- :class:`SambaDC` (``dc.py``): one DC (default LAB.TEST / LAB / dc1 / 127.0.0.2), provisioned from
  a per-machine cache, started, seeded (computers, delegation, users, groups, DNS), stopped.
- :class:`SambaForest` (``forest.py``): LAB.TEST plus LAB2.TEST on 127.0.0.3 with a two-way forest
  trust.
- ``fixtures.py``: session-scoped pytest fixtures ``samba_dc`` and ``samba_forest``.

System packages come from ``.ci/install-samba.sh`` (root).
"""

from ._proc import LabError
from .config import DEFAULT_ADMIN_PASSWORD, DCSettings
from .dc import SambaDC
from .forest import SambaForest
from .seed import ComputerSpec

__all__ = ["DEFAULT_ADMIN_PASSWORD", "ComputerSpec", "DCSettings", "LabError", "SambaDC", "SambaForest"]
