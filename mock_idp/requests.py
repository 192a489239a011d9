"""Signature checks for AuthnRequests (HTTP-Redirect query signatures and POST enveloped signatures)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .bindings import AuthnRequestInfo
    from .idp import MockIdP
    from .metadata import SPInfo


def check_request_signature(idp: "MockIdP", sp: "SPInfo", request: Any, xml: bytes, info: "AuthnRequestInfo") -> str | None:
    """None when acceptable, else a one-line reason (filled in with the SLO work)."""
    return None
