"""AUD: AudienceRestriction."""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

from lxml import etree

from ..builder import SAML, q
from . import Fault, FaultContext, register, register_factory
from ._common import _conditions


@register_factory("audience-wrong", "Audience is another SP's entityID", ("AUD-01", "AUD-05", "SAML Core 2.5.1.4"),
                  audience="https://other-sp.example.com/saml")
def _aud_wrong(audience: str) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(s, audience=audience))


register(Fault("audience-missing", "Conditions without AudienceRestriction", ("AUD-02", "SAML Prof 4.1.4.2"),
               spec=lambda s, ctx: replace(s, audience=None)))


def _aud_tree(mode: str, other: str = "https://other-sp.example.com/saml") -> Callable[[etree._Element, FaultContext], None]:
    def tree(root: etree._Element, ctx: FaultContext) -> None:
        ar = _conditions(root).find(q(SAML, "AudienceRestriction"))
        aud = ar.find(q(SAML, "Audience"))
        if mode == "extra":
            extra = etree.Element(q(SAML, "Audience"))
            extra.text = other
            aud.addprevious(extra)
        elif mode == "two":
            ar2 = etree.Element(q(SAML, "AudienceRestriction"))
            etree.SubElement(ar2, q(SAML, "Audience")).text = other
            ar.addnext(ar2)
        elif mode == "empty":
            aud.text = " "

    return tree


register(Fault("audience-extra", "AudienceRestriction lists another SP first, then the right one",
               ("AUD-03", "SAML Core 2.5.1.4"), tree=_aud_tree("extra")))
register(Fault("audience-two-restrictions", "A second AudienceRestriction naming only another SP",
               ("AUD-04",), tree=_aud_tree("two")))
register(Fault("audience-empty", "Audience is whitespace only", ("AUD-06",), tree=_aud_tree("empty")))
