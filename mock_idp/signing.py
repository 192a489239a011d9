"""Enveloped XML signatures with the python `xmlsec` binding (libxmlsec1, in-process: fast).

The Signature goes right after the signed element's Issuer, as the SAML schema wants; Reference
``#ID``; transforms enveloped-signature + exclusive c14n; KeyInfo with the X509Certificate.
"""
from __future__ import annotations

import base64
import threading
from typing import Literal

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
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
    sig = xmlsec.template.create(element, xmlsec.constants.TransformExclC14N, sig_t, ns="ds")
    issuer = element.find(q(SAML, "Issuer"))
    if issuer is not None:
        issuer.addnext(sig)
    else:
        element.insert(0, sig)
    ref = xmlsec.template.add_reference(sig, dig_t, uri="#" + el_id)
    xmlsec.template.add_transform(ref, xmlsec.constants.TransformEnveloped)
    xmlsec.template.add_transform(ref, xmlsec.constants.TransformExclC14N)
    if key_info != "none":
        ki = xmlsec.template.ensure_key_info(sig)
        if key_info in ("keyvalue", "both"):
            ki.append(_rsa_key_value(key))
        if key_info in ("x509", "both"):
            x509d = etree.SubElement(ki, q(DS, "X509Data"))
            etree.SubElement(x509d, q(DS, "X509Certificate")).text = (key_info_cert or key).cert_b64
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
