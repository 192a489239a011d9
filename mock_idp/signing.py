"""Enveloped XML signatures with the python `xmlsec` binding (libxmlsec1, in-process: fast).

The Signature goes right after the signed element's Issuer, as the SAML schema wants; Reference
``#ID``; transforms enveloped-signature + exclusive c14n; KeyInfo with the X509Certificate.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import os
import threading
from typing import Literal

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from .builder import DS, SAML, SAMLP, q
from .keys import KeyPair

__all__ = [
    "SIGNATURE_ALGORITHMS",
    "DIGEST_ALGORITHMS",
    "SIG_URIS",
    "DIGEST_URIS",
    "sign",
    "sign_response",
    "verify",
    "SigningError",
]

SIGNATURE_ALGORITHMS = {
    "rsa-sha1": xmlsec.constants.TransformRsaSha1,
    "rsa-sha256": xmlsec.constants.TransformRsaSha256,
    "rsa-sha384": xmlsec.constants.TransformRsaSha384,
    "rsa-sha512": xmlsec.constants.TransformRsaSha512,
    "ecdsa-sha256": xmlsec.constants.TransformEcdsaSha256,
    "ecdsa-sha384": xmlsec.constants.TransformEcdsaSha384,
    "ecdsa-sha512": xmlsec.constants.TransformEcdsaSha512,
    "dsa-sha1": xmlsec.constants.TransformDsaSha1,  # ALG-04 only: a real DSA signature, to be refused
}
DIGEST_ALGORITHMS = {
    "sha1": xmlsec.constants.TransformSha1,
    "sha256": xmlsec.constants.TransformSha256,
    "sha384": xmlsec.constants.TransformSha384,
    "sha512": xmlsec.constants.TransformSha512,
}
SIG_URIS = {k: v.href for k, v in SIGNATURE_ALGORITHMS.items()}
DIGEST_URIS = {k: v.href for k, v in DIGEST_ALGORITHMS.items()}

KeyInfoMode = Literal["x509", "keyvalue", "none", "both"]


class SigningError(ValueError):
    pass


_key_cache: dict[tuple[bytes, bytes], xmlsec.Key] = {}
_key_lock = threading.Lock()


def _xmlsec_key(key: KeyPair) -> xmlsec.Key:
    k = (key.key_pem, key.cert_pem)
    with _key_lock:
        found = _key_cache.get(k)
        if found is None:
            found = xmlsec.Key.from_memory(key.key_pem, xmlsec.constants.KeyDataFormatPem)
            found.load_cert_from_memory(key.cert_pem, xmlsec.constants.KeyDataFormatPem)
            if len(_key_cache) > 64:
                _key_cache.clear()
            _key_cache[k] = found
        return found


# The common path computes the same bytes xmlsec would (RSA PKCS#1 v1.5 is deterministic): the
# Reference digest over the exclusive c14n of the element (comments dropped: a bare "#ID" URI), then
# the RSA signature over the exclusive c14n of SignedInfo, base64 wrapped at 64 columns as xmlsec
# writes it. libxmlsec re-derives the RSA key's Montgomery values on every sign (~40 % of a mint);
# a cryptography key loaded once does not. tests/test_mock_idp_signing_fast.py proves the bytes
# equal xmlsec's for every algorithm; SAMLCONF_XMLSEC_SIGN=1 forces xmlsec (for comparison).
_FAST_HASHES = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}
_FAST_SIG_HASHES = {"rsa-sha1": hashes.SHA1, "rsa-sha256": hashes.SHA256, "rsa-sha384": hashes.SHA384,
                    "rsa-sha512": hashes.SHA512}
_rsa_cache: dict[bytes, rsa.RSAPrivateKey | None] = {}


def _rsa_private(key: KeyPair) -> rsa.RSAPrivateKey | None:
    found = _rsa_cache.get(key.key_pem, False)
    if found is False:
        loaded = serialization.load_pem_private_key(key.key_pem, password=None)
        found = loaded if isinstance(loaded, rsa.RSAPrivateKey) else None
        with _key_lock:
            if len(_rsa_cache) > 64:
                _rsa_cache.clear()
            _rsa_cache[key.key_pem] = found
    return found  # type: ignore[return-value]


def _b64_wrapped(data: bytes) -> str:
    """Base64 in 64-column lines joined by a newline, as libxmlsec writes Digest/SignatureValue."""
    b = base64.b64encode(data).decode()
    return "\n".join(b[i:i + 64] for i in range(0, len(b), 64))


def _exc_c14n(el: etree._Element) -> bytes:
    return etree.tostring(el, method="c14n", exclusive=True, with_comments=False)


def _rsa_key_value(key: KeyPair) -> etree._Element:
    pub = x509.load_pem_x509_certificate(key.cert_pem).public_key()
    if not isinstance(pub, rsa.RSAPublicKey):
        raise SigningError("KeyValue is only written for RSA keys")
    nums = pub.public_numbers()

    def b64int(n: int) -> str:
        return base64.b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).decode()

    kv = etree.Element(q(DS, "KeyValue"))
    rkv = etree.SubElement(kv, q(DS, "RSAKeyValue"))
    etree.SubElement(rkv, q(DS, "Modulus")).text = b64int(nums.n)
    etree.SubElement(rkv, q(DS, "Exponent")).text = b64int(nums.e)
    return kv


def _place(element: etree._Element, sig: etree._Element) -> None:
    issuer = element.find(q(SAML, "Issuer"))
    if issuer is not None:
        issuer.addnext(sig)
    else:
        element.insert(0, sig)


def _template(
    element: etree._Element | None, sig_t: object, dig_t: object, key: KeyPair | None, key_info: str,
    key_info_cert: KeyPair | None,
) -> tuple[etree._Element, etree._Element]:
    """The unsigned ds:Signature (xmlsec's template; KeyInfo as asked) and its ds:Reference (URI unset)."""
    sig = xmlsec.template.create(element if element is not None else etree.Element("x"),
                                 xmlsec.constants.TransformExclC14N, sig_t, ns="ds")
    ref = xmlsec.template.add_reference(sig, dig_t)
    xmlsec.template.add_transform(ref, xmlsec.constants.TransformEnveloped)
    xmlsec.template.add_transform(ref, xmlsec.constants.TransformExclC14N)
    if key_info != "none":
        ki = xmlsec.template.ensure_key_info(sig)
        if key_info in ("keyvalue", "both"):
            ki.append(_rsa_key_value(key))  # type: ignore[arg-type]
        if key_info in ("x509", "both"):
            x509d = etree.SubElement(ki, q(DS, "X509Data"))
            etree.SubElement(x509d, q(DS, "X509Certificate")).text = (key_info_cert or key).cert_b64  # type: ignore[union-attr]
    return sig, ref


_templates: dict[tuple, etree._Element] = {}


def _fast_template(sig_t: object, dig_t: object, key_info: str, cert_b64: str) -> etree._Element:
    """A built Signature template per (algorithms, KeyInfo): copying it is cheaper than building it."""
    k = (sig_t, dig_t, key_info, cert_b64)
    found = _templates.get(k)
    if found is None:
        found, _ = _template(None, sig_t, dig_t, None, "none", None)
        if key_info == "x509":
            ki = xmlsec.template.ensure_key_info(found)
            etree.SubElement(etree.SubElement(ki, q(DS, "X509Data")), q(DS, "X509Certificate")).text = cert_b64
        with _key_lock:
            if len(_templates) > 64:
                _templates.clear()
            _templates[k] = found
    return found


def sign(
    root: etree._Element,
    element: etree._Element,
    key: KeyPair,
    *,
    algorithm: str = "rsa-sha256",
    digest: str = "sha256",
    key_info: KeyInfoMode = "x509",
    key_info_cert: KeyPair | None = None,
) -> etree._Element:
    """Add an enveloped signature over `element` (inside the `root` document); return it.

    `key_info`: "x509" (the cert of `key_info_cert or key`), "keyvalue" (raw RSAKeyValue),
    "both", or "none". Signing with one key while announcing another's cert is how the
    untrusted-key faults are made.
    """
    try:
        sig_t = SIGNATURE_ALGORITHMS[algorithm]
        dig_t = DIGEST_ALGORITHMS[digest]
    except KeyError as e:
        raise SigningError(f"unknown algorithm {e.args[0]!r}") from None
    el_id = element.get("ID")
    if not el_id:
        raise SigningError(f"element {element.tag} has no ID attribute to reference")
    rsa_key = (_rsa_private(key) if algorithm in _FAST_SIG_HASHES and not os.environ.get("SAMLCONF_XMLSEC_SIGN")
               else None)
    digest_value = (_b64_wrapped(_FAST_HASHES[digest](_exc_c14n(element)).digest())
                    if rsa_key is not None else None)
    if rsa_key is not None and key_info in ("x509", "none"):
        sig = copy.deepcopy(_fast_template(sig_t, dig_t, key_info, (key_info_cert or key).cert_b64))
        ref = sig[0][2]
    else:
        sig, ref = _template(element, sig_t, dig_t, key, key_info, key_info_cert)
    ref.set("URI", "#" + el_id)
    _place(element, sig)
    if rsa_key is not None and digest_value is not None:
        ref.find(q(DS, "DigestValue")).text = digest_value
        signed_info = _exc_c14n(sig.find(q(DS, "SignedInfo")))
        value = rsa_key.sign(signed_info, padding.PKCS1v15(), _FAST_SIG_HASHES[algorithm]())
        sig.find(q(DS, "SignatureValue")).text = _b64_wrapped(value)
        return sig
    ctx = xmlsec.SignatureContext()
    ctx.key = _xmlsec_key(key)
    ctx.register_id(element, "ID")
    try:
        ctx.sign(sig)
    except xmlsec.Error as e:
        raise SigningError(f"xmlsec could not sign {element.tag}: {e}") from None
    return sig


def sign_response(
    resp: etree._Element,
    key: KeyPair,
    sign_assertion: bool = True,
    sign_response: bool = True,
    *,
    algorithm: str = "rsa-sha256",
    digest: str = "sha256",
    key_info: KeyInfoMode = "x509",
    key_info_cert: KeyPair | None = None,
) -> None:
    """Sign the Response's assertions first (if asked), then the Response itself."""
    kw = dict(algorithm=algorithm, digest=digest, key_info=key_info, key_info_cert=key_info_cert)
    if sign_assertion:
        for a in resp.findall(q(SAML, "Assertion")):
            sign(resp, a, key, **kw)  # type: ignore[arg-type]
    if sign_response:
        sign(resp, resp, key, **kw)  # type: ignore[arg-type]


def verify(root: etree._Element, element: etree._Element, cert_pem: bytes) -> bool:
    """Our own check of the signature that is a direct child of `element` (tests use xmlsec1/pysaml2)."""
    sig = element.find(q(DS, "Signature"))
    if sig is None:
        return False
    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_memory(cert_pem, xmlsec.constants.KeyDataFormatCertPem)
    for el in [element, *root.iter(q(SAMLP, "Response"), q(SAML, "Assertion"))]:
        if el.get("ID"):
            try:
                ctx.register_id(el, "ID")
            except xmlsec.Error:
                pass
    try:
        ctx.verify(sig)
        return True
    except xmlsec.Error:
        return False
