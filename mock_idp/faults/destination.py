"""DST: Destination, Recipient and subject confirmation."""
from __future__ import annotations

import copy
from dataclasses import replace
from datetime import timedelta

from lxml import etree

from ..builder import SAML, q, xml_time
from . import Fault, FaultContext, register, register_factory
from ._common import _scd


@register_factory("destination-wrong", "Response Destination is another URL", ("DST-01", "DST-04", "SAML Core 3.2.2"),
                  url="https://other-sp.example.com/saml/acs")
def _dest_wrong(url: str) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(s, destination=url))


register(Fault("destination-missing", "Response without Destination", ("DST-02", "SAML Bind 3.5.5.2"),
               spec=lambda s, ctx: replace(s, destination=None)))
register(Fault("destination-empty", "Response Destination=\"\"", ("DST-03",),
               spec=lambda s, ctx: replace(s, destination="")))


@register_factory("recipient-wrong", "Bearer SubjectConfirmationData Recipient is another URL",
                  ("DST-05", "SAML Prof 4.1.4.3"), url="https://other-sp.example.com/saml/acs")
def _recipient_wrong(url: str) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(s, recipient=url))


def _drop_recipient(root: etree._Element, ctx: FaultContext) -> None:
    _scd(root).attrib.pop("Recipient", None)


register(Fault("recipient-missing", "Bearer SubjectConfirmationData without Recipient", ("DST-06", "SAML Prof 4.1.4.2"),
               tree=_drop_recipient))


def _no_bearer(root: etree._Element, ctx: FaultContext) -> None:
    sc = _scd(root).getparent()
    sc.set("Method", "urn:oasis:names:tc:SAML:2.0:cm:sender-vouches")


register(Fault("no-bearer", "SubjectConfirmation Method is sender-vouches instead of bearer", ("DST-07", "SAML Prof 4.1.4.2"),
               tree=_no_bearer))


@register_factory("scd-mix-and-match",
                  "Two bearer confirmations: right Recipient but expired, and in time but for another Recipient",
                  ("DST-08", "SAML Prof 4.1.4.3"), url="https://other-sp.example.com/saml/acs")
def _mix(url: str) -> Fault:
    def tree(root: etree._Element, ctx: FaultContext) -> None:
        scd = _scd(root)
        sc = scd.getparent()
        sc2 = copy.deepcopy(sc)
        scd.set("NotOnOrAfter", xml_time(ctx.spec.now - timedelta(seconds=600)))
        next(sc2.iter(q(SAML, "SubjectConfirmationData"))).set("Recipient", url)
        sc.addnext(sc2)

    return Fault("", "", tree=tree)


# ============================================================================= positives and parser differentials
