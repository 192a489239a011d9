"""ISS: Issuer."""
from __future__ import annotations

from dataclasses import replace

from lxml import etree

from ..builder import SAML, q
from . import Fault, FaultContext, register, register_factory
from ._common import _assertion


@register_factory("issuer-wrong", "Response and Assertion Issuer are another IdP's entityID (signature by the real IdP key)",
                  ("ISS-01", "ISS-07", "SAML Prof 4.1.4.2"), issuer="https://other-idp.example.com/idp")
def _issuer_wrong(issuer: str) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(s, issuer=issuer, assertion_issuer=issuer))


@register_factory("assertion-issuer-mismatch", "Assertion Issuer differs from the Response Issuer",
                  ("ISS-02",), issuer="https://other-idp.example.com/idp")
def _aiss(issuer: str) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(s, assertion_issuer=issuer))


@register_factory("response-issuer-mismatch", "Only the Response's Issuer differs (default: a near miss of the "
                  "IdP's entityID); the Assertion's Issuer stays right",
                  ("ISS-02", "ISS-07"), issuer=None)
def _riss(issuer: str | None) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(s, issuer=issuer or s.issuer + ".evil",
                                                    assertion_issuer=s.assertion_issuer or s.issuer))


def _no_assertion_issuer(root: etree._Element, ctx: FaultContext) -> None:
    a = _assertion(root)
    a.remove(a.find(q(SAML, "Issuer")))


register(Fault("assertion-issuer-missing", "Assertion without Issuer", ("ISS-03", "SAML Core 2.3.3"), tree=_no_assertion_issuer))


@register_factory("issuer-format", "Issuer elements carry a Format other than entity", ("ISS-05",),
                  format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
def _iss_format(format: str) -> Fault:
    def tree(root: etree._Element, ctx: FaultContext) -> None:
        for el in (root.find(q(SAML, "Issuer")), _assertion(root).find(q(SAML, "Issuer"))):
            el.set("Format", format)

    return Fault("", "", tree=tree)


@register_factory("issuer-duplicate", "A second Issuer element in the Response (another IdP)", ("ISS-06",),
                  issuer="https://other-idp.example.com/idp")
def _iss_dup(issuer: str) -> Fault:
    def tree(root: etree._Element, ctx: FaultContext) -> None:
        el = etree.Element(q(SAML, "Issuer"))
        el.text = issuer
        root.find(q(SAML, "Issuer")).addnext(el)

    return Fault("", "", tree=tree)


def _no_response_issuer(root: etree._Element, ctx: FaultContext) -> None:
    root.remove(root.find(q(SAML, "Issuer")))


register(Fault("response-issuer-missing", "The (signed) Response has no Issuer", ("ISS-04", "SAML Prof 4.1.4.2"),
               tree=_no_response_issuer))
