"""STA: status codes."""
from __future__ import annotations

from dataclasses import replace

from lxml import etree

from ..builder import SAMLP, STATUS_AUTHN_FAILED, STATUS_RESPONDER, q
from . import Fault, FaultContext, register, register_factory


@register_factory("status", "Non-Success status (top-level code + second-level code), no assertion unless with_assertion",
                  ("POS-10", "STA-01", "STA-02", "SAML Core 3.2.2.2"),
                  code=STATUS_RESPONDER, subcode=STATUS_AUTHN_FAILED, with_assertion=False)
def _status(code: str, subcode: str | None, with_assertion: bool) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(
        s, status_code=code, status_subcode=subcode or None, include_assertion=bool(with_assertion)))


def _no_status(root: etree._Element, ctx: FaultContext) -> None:
    root.remove(root.find(q(SAMLP, "Status")))


register(Fault("status-missing", "Response without samlp:Status", ("STA-03",), tree=_no_status))


@register_factory("status-message", "A StatusMessage with the given text (markup for reflection checks) on a Success response",
                  ("STA-05",), message="<script>alert(1)</script>")
def _status_message(message: str) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(s, status_message=message))


@register_factory("status-top-level", "An illegal top-level StatusCode (a second-level code or an unknown URI) with the assertion",
                  ("STA-04",), code=STATUS_AUTHN_FAILED)
def _status_top(code: str) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(s, status_code=code, include_assertion=True))
