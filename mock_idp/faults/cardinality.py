"""MAS: assertion and statement cardinality."""
from __future__ import annotations

import copy
from dataclasses import replace

from lxml import etree

from ..builder import SAML, new_id, q
from . import Fault, FaultContext, SigningOptions, register, register_factory
from ._common import _assertion, _remove_child, _victimize


register(Fault("zero-assertions", "Status Success but no Assertion", ("MAS-01",),
               spec=lambda s, ctx: replace(s, include_assertion=False)))


register(Fault("no-authn-statement", "Assertion without AuthnStatement", ("MAS-04",), tree=_remove_child(q(SAML, "AuthnStatement"))))
register(Fault("subject-missing", "Assertion without Subject", ("MAS-06",), tree=_remove_child(q(SAML, "Subject"))))
@register_factory("assertion-and-encrypted", "A plaintext unsigned (forged) Assertion next to the genuine EncryptedAssertion",
                  ("MAS-03",), victim="victim@example.com")
def _plain_and_enc(victim: str) -> Fault:
    def signing(s: SigningOptions, ctx: FaultContext) -> None:
        s.encrypt = True
        s.sign_response = False

    def tree(root: etree._Element, ctx: FaultContext) -> None:
        forged = copy.deepcopy(_assertion(root))
        forged.set("ID", new_id())
        _victimize(forged, victim)
        ctx.notes["forged_assertion"] = forged

    def signed(root: etree._Element, ctx: FaultContext) -> None:
        root.append(ctx.notes.pop("forged_assertion"))

    return Fault("", "", signing=signing, tree=tree, signed=signed)


def _two_authn(root: etree._Element, ctx: FaultContext) -> None:
    st = _assertion(root).find(q(SAML, "AuthnStatement"))
    st2 = copy.deepcopy(st)
    st2.set("SessionIndex", st.get("SessionIndex") + "_2")
    st2.find(f"{q(SAML, 'AuthnContext')}/{q(SAML, 'AuthnContextClassRef')}").text = \
        "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
    st.addnext(st2)


register(Fault("two-authn-statements", "Two AuthnStatements with different SessionIndex and AuthnContext", ("MAS-05",),
               tree=_two_authn))


@register_factory("authn-context", "AuthnContextClassRef set to the given class (weaker than requested, ...)",
                  ("MAS-07",), cls="urn:oasis:names:tc:SAML:2.0:ac:classes:Password")
def _authn_ctx(cls: str) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(s, authn_context=cls))
