"""The faults themselves (registered into `mock_idp.faults.REGISTRY` on import)."""
from __future__ import annotations
