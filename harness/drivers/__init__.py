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


def whoami_json(url: str, status: int, text: str) -> tuple[int, Any]:
    """A whoami answer as (status, JSON or None): anything but 200 is nobody; 200 must be JSON."""
    import json

    from ..errors import TargetError

    if status != 200:
        return status, None
    try:
        return 200, json.loads(text)
    except ValueError:
        short = " ".join(text[:120].split())
        raise TargetError(f"whoami {url} answered 200 but not JSON: {short!r}") from None
