"""A hand-rolled XML-signature check, for the reference SP's mutants only.

The correct reference SP verifies with pysaml2 + libxmlsec1 (reference_sp/xmlsec_backend.py). Several published SAML bypasses live in
libraries that verify signatures with their own code (ruby-saml, xml-crypto, samlify, passport-saml):
the digest and the SignatureValue are checked by two separate lookups, and the identity is read by
a third. This module is such a verifier, careful by default (the Response's one Assertion, its own
Signature, exactly one SignedInfo and Reference, the Reference pointing at that Assertion, the
DigestValue's full text, the document's canonical form), with one switch per published defect. A
mutant turns exactly one switch on; `Defects` documents which library had it.

It parses leniently, as those libraries' parsers do (a DOCTYPE with an internal subset, recovery
from namespace errors), so that the defect under test, not the parser, decides.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from lxml import etree

from .saml import DS, SAML, SAMLP, Rejected, idp_info

DIGESTS = {
    "http://www.w3.org/2001/04/xmlenc#sha256": "sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384": "sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512": "sha512",
    "http://www.w3.org/2000/09/xmldsig#sha1": "sha1",
}
SIG_HASHES = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": "SHA256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": "SHA384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": "SHA512",
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1": "SHA1",
}


@dataclass(frozen=True)
class Defects:
    # the first ds:Signature anywhere in the document is verified, its Reference resolved to any
    # element with that ID; the identity is read from the Response's first direct-child Assertion
    # (XML signature wrapping, Somorovsky et al. 2012; samlify CVE-2025-47949)
    signature_anywhere: bool = False
    # DigestValue read as its first child node's data, a comment's included (xml-crypto, CVE-2025-29775)
    digest_first_child: bool = False
    # References taken from the first SignedInfo found below the Signature, the SignatureValue
    # checked over its direct-child SignedInfo (xml-crypto, CVE-2025-29774)
    signedinfo_first_descendant: bool = False
    # DigestValue taken with //ds:DigestValue: the first one in the document (ruby-saml, CVE-2024-45409)
    digest_document_wide: bool = False
    # ruby-saml's two lookups: the SignatureValue checked on the document's first ds:Signature
    # (//ds:Signature, REXML, which honours a DTD's ATTLIST defaults), the digest on the Assertion's
    # own child named Signature whatever its namespace, canonicalized by a c14n that returns "" on
    # error, as ruby-saml <= 1.17 did (CVE-2025-25292, CVE-2025-66567; with CVE-2025-66568)
    signature_value_document_wide: bool = False
    # a canonicalization error yields the empty string, which is then digested and verified
    # (ruby-saml, CVE-2025-66568: "Golden SAML Response")
    void_canonicalization: bool = False
    # the Assertion's own Signature is checked, but its Reference is resolved to any element with that
    # ID (the enveloped transform removing the Signature wherever it sits): a signature over the
    # Response, or over another (genuine) Assertion parked elsewhere, vouches for the Assertion read
    # (pysaml2 < 5.0.0 ran `xmlsec1 --node-id` without comparing the URI: CVE-2020-5390)
    reference_any_element: bool = False
    # every ds:Reference in the message is processed as generic XML-DSig says, before anything else:
    # a URI that is not same-document is dereferenced over http(s) (pysaml2 < 4.6.0 before
    # `--enabled-reference-uris`: SSRF) and every Transform holding an xsl:stylesheet is run (libxslt,
    # network reads allowed: Brad Hill 2007; Oblique 2026, libxmlsec1 runs whatever it is given)
    processes_references: bool = False


def lenient_parse(data: bytes) -> etree._Element:
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, load_dtd=False,
                             remove_comments=False, remove_pis=False)
    root = etree.fromstring(data, parser)
    if root is None:
        raise Rejected("the message is not XML", "XML-13")
    return root


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _bad_namespaces(el: etree._Element) -> bool:
    """A namespace URI in scope that is relative or not ASCII: libxml2's canonicalizer fails on it."""
    return any(u and (("://" not in u and not u.startswith("urn:")) or not u.isascii())
               for u in el.nsmap.values())


def _c14n(el: etree._Element, d: Defects, scope: etree._Element | None = None, *,
          void: bool = False) -> bytes:
    """Exclusive c14n without comments. The defect turns a canonicalization failure (a relative or
    invalid namespace URI in scope of the original element) into the empty string."""
    void = void or d.void_canonicalization
    if void and _bad_namespaces(scope if scope is not None else el):
        return b""
    try:
        return etree.tostring(el, method="c14n", exclusive=True, with_comments=False)
    except (ValueError, etree.C14NError):
        if void:
            return b""
        raise Rejected("the signed element cannot be canonicalized", "PDF-05") from None


def _digest_input(target: etree._Element, d: Defects, sig: etree._Element | None = None) -> bytes:
    """The enveloped-signature transform (the target's own Signature child removed; or `sig`, the
    Signature being verified, wherever it sits inside the target), then c14n."""
    import copy

    path: list[int] = []
    el = sig
    while el is not None and el is not target:
        parent = el.getparent()
        path.append(parent.index(el) if parent is not None else -1)
        el = parent
    c = copy.deepcopy(target)
    if sig is not None and el is target:
        node = c
        for i in reversed(path):
            node = node[i]
        node.getparent().remove(node)
    for s in [x for x in c if _local(x) == "Signature"]:
        c.remove(s)
    # declarations nothing uses are not part of the exclusive canonical form: drop them (libxml2
    # would otherwise refuse to canonicalize an unused declaration with an invalid URI)
    etree.cleanup_namespaces(c)
    # ruby-saml's digest side (Nokogiri) canonicalized with the same void-on-error c14n
    return _c14n(c, d, scope=target, void=d.signature_value_document_wide)


def _digest_value(dv: etree._Element, d: Defects) -> str:
    if d.digest_first_child:
        if dv.text:
            return dv.text.strip()
        first = dv[0] if len(dv) else None
        return (first.text or "").strip() if first is not None else ""
    return "".join(dv.itertext()).strip()  # the full text; comments are not text


def _find_by_id(root: etree._Element, value: str) -> etree._Element | None:
    return next((e for e in root.iter() if isinstance(e.tag, str) and e.get("ID") == value), None)


def verify(root: etree._Element, metadatas: list[bytes], d: Defects) -> etree._Element:
    """Check the Assertion's signature the hand-rolled way; return the Assertion to read."""
    if d.processes_references:
        process_references(root)
    assertions = root.findall(f"{{{SAML}}}Assertion")
    if not assertions:
        raise Rejected("no Assertion", "MAS-01")
    if d.signature_anywhere:
        a = assertions[0]
        sig = next(root.iter(f"{{{DS}}}Signature"), None)
    elif root.find(f"{{{DS}}}Signature") is not None and not d.signature_value_document_wide:
        # a signed Response: its signature covers the one Assertion in it (as ruby-saml checks)
        if len(assertions) != 1:
            raise Rejected("exactly one Assertion is allowed", "XSW-11")
        a, sig = assertions[0], root.find(f"{{{DS}}}Signature")
    else:
        if len(assertions) != 1:
            raise Rejected("exactly one Assertion is allowed", "XSW-11")
        a = assertions[0]
        sig = a.find(f"{{{DS}}}Signature")
    digest_sig = sig
    if d.signature_value_document_wide:
        sig = next(root.iter(f"{{{DS}}}Signature"), None)
        digest_sig = next((c for c in a if _local(c) == "Signature"), None)
    if sig is None or digest_sig is None:
        raise Rejected("the Assertion is not signed", "SIG-01")
    # SignatureValue: over the Signature's direct-child SignedInfo
    sis = [c for c in sig if c.tag == f"{{{DS}}}SignedInfo"]
    if len(sis) != 1:
        raise Rejected("a Signature needs exactly one SignedInfo", "PDF-08")
    si = sis[0]
    if d.signedinfo_first_descendant:
        ref_si = next(x for x in digest_sig.iter() if _local(x) == "SignedInfo")
    elif digest_sig is sig:
        ref_si = si
    else:
        ref_si = next((c for c in digest_sig if _local(c) == "SignedInfo"), None)
        if ref_si is None:
            raise Rejected("no SignedInfo", "SIG-08")
    refs = [x for x in ref_si if _local(x) == "Reference"]
    if len(refs) != 1:
        raise Rejected("a SignedInfo needs exactly one Reference", "SIG-12")
    ref = refs[0]
    uri = ref.get("URI") or ""
    if not uri.startswith("#"):
        raise Rejected(f"Reference URI {uri!r} is not a same-document #ID", "SIG-13")
    if d.signature_anywhere or d.reference_any_element:
        target = _find_by_id(root, uri[1:])
    elif digest_sig.getparent() is root:
        target = root if root.get("ID") == uri[1:] else None
    else:
        target = a if a.get("ID") == uri[1:] else None
    if target is None:
        raise Rejected(f"Reference {uri} does not point at the Assertion", "SIG-11")
    dm = next((x for x in ref if _local(x) == "DigestMethod"), None)
    algo = DIGESTS.get(dm.get("Algorithm", "") if dm is not None else "")
    if algo is None:
        raise Rejected("unknown DigestMethod", "ALG-03")
    if d.digest_document_wide:
        dv = next(root.iter(f"{{{DS}}}DigestValue"), None)
    else:
        dv = next((x for x in ref if _local(x) == "DigestValue"), None)
    if dv is None:
        raise Rejected("no DigestValue", "SIG-08")
    enveloped = digest_sig if d.reference_any_element else None
    computed = base64.b64encode(hashlib.new(algo, _digest_input(target, d, enveloped)).digest()).decode()
    if _digest_value(dv, d) != computed:
        raise Rejected("the digest does not match the signed element", "SIG-07")
    _check_signature_value(sig, si, metadatas, d)
    return a


XSLT_NS = "http://www.w3.org/1999/XSL/Transform"


def _fetch(url: str) -> bytes:
    """The defect's own fetch (this libxml2 has no HTTP client): bounded, loopback or not."""
    import urllib.request

    with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - the defect itself
        return resp.read(65536)


class _FetchingResolver(etree.Resolver):
    def resolve(self, url: str, pubid: object, context: object) -> object:
        if url.startswith(("http://", "https://")):
            return self.resolve_string(_fetch(url), context)
        return None


def process_references(root: etree._Element) -> None:
    """The `processes_references` defect: each ds:Reference (at most 8) dereferenced and transformed
    as generic XML-DSig allows; the fetches are the finding, the results are not used."""
    for ref in list(root.iter(f"{{{DS}}}Reference"))[:8]:
        uri = ref.get("URI") or ""
        try:
            if uri.startswith(("http://", "https://")):
                _fetch(uri)
                continue
            target = root if not uri.startswith("#") else _find_by_id(root, uri[1:])
            for t in ref.iter(f"{{{DS}}}Transform"):
                ss = next((c for c in t if c.tag == f"{{{XSLT_NS}}}stylesheet"), None)
                if ss is not None and target is not None:
                    _run_xslt(ss, target)
        except Exception:  # noqa: BLE001 - a failing fetch or stylesheet is refused later, as usual
            continue


def _run_xslt(stylesheet: etree._Element, target: etree._Element) -> None:
    """libxslt on the referenced element, network reads through the fetching resolver; template
    recursion capped (libxslt's max depth) so that an exponential stylesheet stays bounded here."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    parser.resolvers.add(_FetchingResolver())
    xslt = etree.XSLT(etree.fromstring(etree.tostring(stylesheet), parser))
    etree.XSLT.set_global_max_depth(12)
    xslt(etree.fromstring(etree.tostring(target)))


def _check_signature_value(sig: etree._Element, si: etree._Element, metadatas: list[bytes],
                           d: Defects) -> None:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    sm = si.find(f"{{{DS}}}SignatureMethod")
    hname = SIG_HASHES.get(sm.get("Algorithm", "") if sm is not None else "")
    if hname is None:
        raise Rejected("unsupported SignatureMethod", "ALG-01")
    sv = sig.find(f"{{{DS}}}SignatureValue")
    try:
        value = base64.b64decode("".join((sv.text if sv is not None else "") .split()))
    except ValueError:
        raise Rejected("SignatureValue is not base64", "SIG-08") from None
    data = _c14n(si, d)
    certs = [c for m in metadatas for c in idp_info(m).signing_certs]
    for pem in certs:
        key = x509.load_pem_x509_certificate(pem).public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            continue
        try:
            key.verify(value, data, padding.PKCS1v15(), getattr(hashes, hname)())
            return
        except InvalidSignature:
            continue
    raise Rejected("the SignatureValue does not verify with the IdP's certificate", "SIG-06")


def split_roots(raw: bytes) -> list[etree._Element] | None:
    """The top-level elements of a document with several roots (the `multiple_roots` defect:
    passport-saml on xmldom, CVE-2022-39299), or None for an ordinary document."""
    body = raw.split(b"?>", 1)[1] if raw.lstrip().startswith(b"<?xml") else raw
    try:
        wrapper = etree.fromstring(b"<roots>" + body + b"</roots>", etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False))
    except etree.XMLSyntaxError:
        return None
    roots = [r for r in wrapper if isinstance(r.tag, str)]
    return roots if len(roots) > 1 else None


def verify_root_signature(first: etree._Element, metadatas: list[bytes]) -> None:
    """The first root's own enveloped signature (its Reference must point at it)."""
    sig = first.find(f"{{{DS}}}Signature")
    if first.tag != f"{{{SAMLP}}}Response" or sig is None:
        raise Rejected("the first root is not a signed Response", "SIG-01")
    si = sig.find(f"{{{DS}}}SignedInfo")
    ref = si.find(f"{{{DS}}}Reference") if si is not None else None
    if si is None or ref is None or ref.get("URI") != "#" + (first.get("ID") or ""):
        raise Rejected("the first root's signature does not cover it", "SIG-11")
    dv = ref.find(f"{{{DS}}}DigestValue")
    dm = ref.find(f"{{{DS}}}DigestMethod")
    algo = DIGESTS.get(dm.get("Algorithm", "") if dm is not None else "", "sha256")
    d = Defects()
    computed = base64.b64encode(hashlib.new(algo, _digest_input(first, d)).digest()).decode()
    if dv is None or _digest_value(dv, d) != computed:
        raise Rejected("the digest does not match", "SIG-07")
    _check_signature_value(sig, si, metadatas, d)
