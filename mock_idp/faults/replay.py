"""RPL: replayed responses and reused assertion IDs."""
from __future__ import annotations

from dataclasses import replace

from lxml import etree

from ..builder import SAML, ResponseSpec, q
from . import Fault, FaultContext, register, register_factory
from ._common import _conditions


@register_factory("replay", "Send again, byte for byte, an earlier response (by response_id; default the last one for this SP)",
                  ("RPL-01", "RPL-05", "SAML Prof 4.1.4.5"), response_id=None)
def _replay(response_id: str | None) -> Fault:
    def b(xml: bytes, ctx: FaultContext) -> bytes:
        idp = ctx.idp
        if response_id:
            old = idp.replay(response_id)
        else:
            sp_id = ctx.sp.entity_id if ctx.sp else None
            earlier = [r for r in idp.issued if r.sp_entity_id == sp_id]
            if not earlier:
                raise ValueError("replay: nothing was issued to this SP yet")
            old = earlier[-1]
        ctx.notes["replayed_response_id"] = old.response_id
        return old.xml

    return Fault("", "", bytes_=b)


@register_factory("assertion-id-reuse", "A fresh Response re-using an earlier Assertion ID (default: the last one sent to this SP)",
                  ("RPL-02",), assertion_id=None)
def _aid_reuse(assertion_id: str | None) -> Fault:
    def spec(s: ResponseSpec, ctx: FaultContext) -> ResponseSpec:
        aid = assertion_id
        if not aid:
            sp_id = ctx.sp.entity_id if ctx.sp else None
            earlier = [r for r in ctx.idp.issued if r.sp_entity_id == sp_id and r.assertion_id]
            if not earlier:
                raise ValueError("assertion-id-reuse: nothing was issued to this SP yet")
            aid = earlier[-1].assertion_id
        return replace(s, assertion_id=aid)

    return Fault("", "", spec=spec)


def _one_time_use(root: etree._Element, ctx: FaultContext) -> None:
    etree.SubElement(_conditions(root), q(SAML, "OneTimeUse"))


register(Fault("one-time-use", "Conditions carry <OneTimeUse/> (replay it to check the SP's cache)", ("RPL-06", "SAML Core 2.5.1.5"),
               tree=_one_time_use))
