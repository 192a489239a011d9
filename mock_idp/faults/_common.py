"""Helpers shared by the fault modules (tree lookups, victimising, attribute picks, keys)."""
from __future__ import annotations

from typing import Any, Callable

from lxml import etree

from ..builder import DS, SAML, ResponseSpec, q
from . import FaultContext, SigningOptions


def _iter_tag(el: etree._Element, *tags: str) -> list[etree._Element]:
    """Descendants by tag, compared as strings: nodes that libxmlsec1 created are not always found
    by lxml's tag-filtered iter()/find() (their names are not in the document's dictionary)."""
    return [c for c in el.iter() if isinstance(c.tag, str) and c.tag in tags]


def _assertion(root: etree._Element) -> etree._Element:
    a = root.find(q(SAML, "Assertion"))
    if a is None:
        raise ValueError("the response has no Assertion to change")
    return a


def _sig(el: etree._Element) -> etree._Element | None:
    tag = q(DS, "Signature")
    return next((c for c in el if c.tag == tag), None)


def _drop_sig(el: etree._Element) -> etree._Element:
    s = _sig(el)
    if s is not None:
        el.remove(s)
    return el


def _victimize(assertion: etree._Element, victim: str | None) -> None:
    """Make `assertion` speak for `victim`: NameID, every attribute value equal to the old NameID, and
    the email attribute (an attacker forges the identity the SP reads, also when the NameID was a
    transient or persistent pseudonym and the SP reads Email)."""
    if not victim:
        return
    nid = assertion.find(f"{q(SAML, 'Subject')}/{q(SAML, 'NameID')}")
    old = nid.text if nid is not None else None
    if nid is not None:
        nid.text = victim
    for attr in assertion.iter(q(SAML, "Attribute")):
        is_email = "mail" in (attr.get("Name") or "").lower() and "@" in victim
        for av in attr.iter(q(SAML, "AttributeValue")):
            if (old and av.text == old) or (is_email and av.text and "@" in av.text):
                av.text = victim


def _attr_el(root: etree._Element, name: str | None) -> etree._Element:
    attrs = list(_assertion(root).iter(q(SAML, "Attribute")))
    if not attrs:
        raise ValueError("the assertion has no attributes")
    if name is None:
        return attrs[0]
    for a in attrs:
        if a.get("Name") == name:
            return a
    raise ValueError(f"the assertion has no attribute {name!r}")


def _pick_attr(
    spec: ResponseSpec,
    name: str | None,
    prefer: tuple[str, ...] = ("Email", "email", "mail"),
    where: Callable[[list[str]], bool] | None = None,
) -> str:
    attrs = spec.user.attributes
    if name is not None:
        if name not in attrs:
            raise ValueError(f"user has no attribute {name!r}")
        return name
    if where is not None:
        for k, v in attrs.items():
            if where(v):
                return k
    for p in prefer:
        if p in attrs:
            return p
    if not attrs:
        raise ValueError("user has no attributes")
    return next(iter(attrs))


def _set_signing(**kw: Any) -> Callable[[SigningOptions, FaultContext], None]:
    def apply(s: SigningOptions, ctx: FaultContext) -> None:
        for k, v in kw.items():
            setattr(s, k, v)

    return apply


def _scd(root: etree._Element) -> etree._Element:
    return next(_assertion(root).iter(q(SAML, "SubjectConfirmationData")))


def _conditions(root: etree._Element) -> etree._Element:
    return _assertion(root).find(q(SAML, "Conditions"))


def _nameid(root: etree._Element) -> etree._Element:
    return _assertion(root).find(f"{q(SAML, 'Subject')}/{q(SAML, 'NameID')}")


def _flip_sigvalue(root: etree._Element, ctx: FaultContext) -> None:
    import base64

    for sv in _iter_tag(root, q(DS, "SignatureValue")):
        raw = bytearray(base64.b64decode("".join((sv.text or "").split())))
        raw[-1] ^= 0x01
        sv.text = base64.b64encode(bytes(raw)).decode()


def _use_attacker(key_info: str, announce_genuine: bool = False) -> Callable[[SigningOptions, FaultContext], None]:
    def apply(s: SigningOptions, ctx: FaultContext) -> None:
        s.key = ctx.idp.attacker_key
        s.key_info = key_info
        s.key_info_cert = ctx.idp.key if announce_genuine else None

    return apply


def _assertion_signed() -> Callable[[SigningOptions, FaultContext], None]:
    return _set_signing(sign_response=False, sign_assertion=True)


def _remove_child(tag: str) -> Callable[[etree._Element, FaultContext], None]:
    def tree(root: etree._Element, ctx: FaultContext) -> None:
        a = _assertion(root)
        for el in a.findall(tag):
            a.remove(el)

    return tree


def _doctype(xml: bytes, doctype: bytes) -> bytes:
    if xml.startswith(b"<?xml"):
        end = xml.index(b"?>") + 2
        return xml[:end] + b"\n" + doctype + b"\n" + xml[end:]
    return doctype + b"\n" + xml


def _asig(root: etree._Element) -> etree._Element:
    s = _sig(_assertion(root))
    if s is None:
        raise ValueError("the Assertion is not signed")
    return s
