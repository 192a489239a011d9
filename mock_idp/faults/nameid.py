"""NID: NameID."""
from __future__ import annotations

from dataclasses import replace

from lxml import etree

from ..builder import SAML, q
from . import Fault, FaultContext, register, register_factory
from ._common import _nameid


register(Fault("nameid-missing", "Subject without NameID", ("NID-01",),
               tree=lambda root, ctx: _nameid(root).getparent().remove(_nameid(root))))


def _nameid_empty(root: etree._Element, ctx: FaultContext) -> None:
    _nameid(root).text = None


register(Fault("nameid-empty", "Empty NameID element", ("NID-02",), tree=_nameid_empty))


@register_factory("nameid-format", "NameID Format changed (email, persistent, transient, unspecified or a URN)",
                  ("NID-03",), format="persistent")
def _nameid_format(format: str) -> Fault:
    from ..users import NAMEID_FORMATS

    fmt = NAMEID_FORMATS.get(format, format)
    return Fault("", "", spec=lambda s, ctx: replace(s, user=replace(s.user, name_id_format=fmt)))


@register_factory("nameid-value", "NameID set to the given value (victim, confusable, too long, ...)",
                  ("NID-04", "NID-07", "NID-09", "TEN-06"), value="victim@example.com")
def _nameid_value(value: str) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(s, user=replace(s.user, name_id=value)))


def _encrypt_nameid(root: etree._Element, ctx: FaultContext) -> None:
    from ..encryption import encrypt_element

    sp = ctx.sp
    cert = (ctx.signing.encryption or {}).get("cert") or (sp.encryption_certs[0] if sp and sp.encryption_certs else None)
    if cert is None:
        raise ValueError("nameid-encrypted needs the SP's encryption certificate")
    nid = _nameid(root)
    wrapper = etree.Element(q(SAML, "EncryptedID"))
    nid.addprevious(wrapper)
    wrapper.append(nid)
    encrypt_element(nid, cert, block=(ctx.signing.encryption or {}).get("block", "aes256-gcm"))


register(Fault("nameid-encrypted", "NameID replaced by EncryptedID (to the SP's encryption cert), inside the signed Assertion",
               ("NID-10", "SAML Core 2.2.4"), tree=_encrypt_nameid))


def _base_id(root: etree._Element, ctx: FaultContext) -> None:
    nid = _nameid(root)
    b = etree.Element(q(SAML, "BaseID"), nsmap={"ext": "urn:samlconf:ext"})
    b.set("{http://www.w3.org/2001/XMLSchema-instance}type", "ext:CustomID")
    b.text = nid.text
    nid.addprevious(b)
    nid.getparent().remove(nid)


register(Fault("nameid-baseid", "BaseID (xsi:type ext:CustomID) instead of NameID", ("NID-11",), tree=_base_id))


# ============================================================================= batch: certs, IDs, char refs, encryption shapes
@register_factory("name-qualifier", "NameID carries NameQualifier (default: another IdP) and SPNameQualifier (default: the SP)",
                  ("NID-05", "NID-06", "SAML Core 2.2.2"), name_qualifier="https://other-idp.example.com/idp", sp_name_qualifier=None)
def _qualifiers(name_qualifier: str | None, sp_name_qualifier: str | None) -> Fault:
    def tree(root: etree._Element, ctx: FaultContext) -> None:
        nid = _nameid(root)
        nid.set("NameQualifier", name_qualifier or ctx.idp.entity_id)
        nid.set("SPNameQualifier", sp_name_qualifier or (ctx.spec.audience or ""))

    return Fault("", "", tree=tree)
