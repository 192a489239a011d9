"""An example target adapter (used by tests/test_adapter.py): hooks as Python methods."""
from __future__ import annotations

from typing import Any

import httpx


class ReferenceSPAdapter:
    """Lists the bundled reference SP's users through its admin API."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    def list_users(self) -> list[dict[str, Any]]:
        token = self.runtime.secrets["SAMLCONF_REFSP_TOKEN"]
        url = self.runtime.target.url("/admin/api/users")
        resp = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        resp.raise_for_status()
        return resp.json()["users"]
