"""Drivers carry SAML messages through a target's bindings: `http` (httpx) and `browser` (Playwright)."""
from __future__ import annotations

from typing import Any, Protocol

from ..events import Hop


class DriverSession(Protocol):
    """One user's browser-like session (own cookies) for one scenario or control."""

    hops: list[Hop]

    def set_idp_plan(self, idp_base_url: str, token: str) -> None: ...

    def navigate(self, url: str, *, method: str = "GET", data: dict[str, str] | None = None) -> "PageResult": ...

    def fill_form(self, url: str, fields: dict[str, str]) -> "PageResult": ...

    def whoami(self, url: str) -> tuple[int, Any]: ...

    def close(self) -> None: ...


class PageResult:
    """Where a navigation ended: final URL, status and body text."""

    def __init__(self, url: str, status: int, text: str) -> None:
        self.url = url
        self.status = status
        self.text = text

    def __repr__(self) -> str:
        return f"PageResult({self.url!r}, {self.status})"


DRIVER_NAMES = ("http", "browser")
