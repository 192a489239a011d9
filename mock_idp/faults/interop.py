"""POS: benign variations a correct SP must accept."""
from __future__ import annotations

from lxml import etree

from . import Fault, FaultContext, register_factory


_TIME_ATTRS = ("IssueInstant", "NotBefore", "NotOnOrAfter", "AuthnInstant", "SessionNotOnOrAfter")


@register_factory("benign-variations",
                  "Same content, unusual form: saml2/samlp2 prefixes, pretty-printed, fractional seconds (signed after; must be ACCEPTED)",
                  ("POS-06",), prefixes=True, pretty=True, fractional=True)
def _benign(prefixes: bool, pretty: bool, fractional: bool) -> Fault:
    def tree(root: etree._Element, ctx: FaultContext) -> etree._Element:
        if fractional:
            for el in root.iter():
                if not isinstance(el.tag, str):
                    continue
                for a in _TIME_ATTRS:
                    v = el.get(a)
                    if v and v.endswith("Z") and "." not in v:
                        el.set(a, v[:-1] + ".123Z")
        if prefixes:
            xml = etree.tostring(root).decode()
            xml = xml.replace("xmlns:saml=", "xmlns:saml2=").replace("<saml:", "<saml2:").replace("</saml:", "</saml2:")
            xml = xml.replace("xmlns:samlp=", "xmlns:samlp2=").replace("<samlp:", "<samlp2:").replace("</samlp:", "</samlp2:")
            root = etree.fromstring(xml)
        if pretty:
            etree.indent(root, space="    ")
        return root

    return Fault("", "", tree=tree)
