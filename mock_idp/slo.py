"""Single logout (filled in below in phase 2)."""
from __future__ import annotations

from typing import Any


def handle_slo(idp: Any, request: Any) -> Any:
    from .web import error_page

    return error_page("single logout is not implemented yet", 501)
