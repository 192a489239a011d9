"""IRT: InResponseTo and request correlation."""
from __future__ import annotations

from dataclasses import replace

from ..builder import ResponseSpec, new_id
from . import Fault, FaultContext, register, register_factory


@register_factory("in-response-to-wrong", "InResponseTo (Response and SubjectConfirmationData) is a random ID",
                  ("IRT-01", "SAML Core 3.2.2"), value=None)
def _irt_wrong(value: str | None) -> Fault:
    def spec(s: ResponseSpec, ctx: FaultContext) -> ResponseSpec:
        v = value or new_id()
        ctx.notes["in_response_to"] = v
        return replace(s, in_response_to=v, scd_in_response_to=None)

    return Fault("", "", spec=spec)


register(Fault("in-response-to-missing", "No InResponseTo anywhere (the response looks unsolicited)",
               ("IRT-05", "SAML Prof 4.1.4.2"), spec=lambda s, ctx: replace(s, in_response_to=None, scd_in_response_to=None)))
register(Fault("in-response-to-empty", "InResponseTo=\"\" on the Response and SubjectConfirmationData", ("IRT-07",),
               spec=lambda s, ctx: replace(s, in_response_to="", scd_in_response_to="")))


@register_factory("scd-in-response-to-wrong", "Only the SubjectConfirmationData InResponseTo is wrong",
                  ("IRT-02", "SAML Prof 4.1.4.3"), value=None)
def _scd_irt(value: str | None) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(s, scd_in_response_to=value or new_id()))
