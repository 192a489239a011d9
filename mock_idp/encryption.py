"""EncryptedAssertion with the python `xmlsec` binding (AES-CBC/GCM content, RSA-OAEP or RSA 1.5 key transport)."""
from __future__ import annotations

import textwrap
from typing import Any

import xmlsec
from lxml import etree

from .builder import SAML, q

__all__ = ["BLOCK_ALGORITHMS", "KEY_TRANSPORTS", "encrypt_assertions", "encrypt_element", "EncryptionError"]

BLOCK_ALGORITHMS = {
    "aes128-cbc": (xmlsec.constants.TransformAes128Cbc, 128),
    "aes256-cbc": (xmlsec.constants.TransformAes256Cbc, 256),
    "aes128-gcm": (xmlsec.constants.TransformAes128Gcm, 128),
    "aes256-gcm": (xmlsec.constants.TransformAes256Gcm, 256),
}
KEY_TRANSPORTS = {
    "rsa-oaep": xmlsec.constants.TransformRsaOaep,
    "rsa-1_5": xmlsec.constants.TransformRsaPkcs1,
}


class EncryptionError(ValueError):
    pass


def _pem(cert: Any) -> bytes:
    if hasattr(cert, "cert_pem"):
        return cert.cert_pem
    if isinstance(cert, bytes) and cert.startswith(b"-----BEGIN"):
        return cert
    b64 = cert.decode() if isinstance(cert, bytes) else str(cert)
    body = "\n".join(textwrap.wrap("".join(b64.split()), 64))
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n".encode()


def encrypt_element(
    el: etree._Element,
    cert: Any,
    *,
    block: str = "aes256-gcm",
    key_transport: str = "rsa-oaep",
    plaintext_prefix: bytes = b"",
) -> etree._Element:
    """Replace `el` in its tree by xenc:EncryptedData for `cert` (KeyPair, PEM or base64 DER); return it.

    `plaintext_prefix` is put before the element's bytes inside the ciphertext (a DOCTYPE for ENC-10).
    """
    try:
        block_t, bits = BLOCK_ALGORITHMS[block]
        kt = KEY_TRANSPORTS[key_transport]
    except KeyError as e:
        raise EncryptionError(f"unknown encryption algorithm {e.args[0]!r}") from None
    root = el.getroottree().getroot()
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_memory(_pem(cert), xmlsec.constants.KeyDataFormatCertPem))
    enc_data = xmlsec.template.encrypted_data_create(root, block_t, type=xmlsec.constants.TypeEncElement, ns="xenc")
    xmlsec.template.encrypted_data_ensure_cipher_value(enc_data)
    key_info = xmlsec.template.encrypted_data_ensure_key_info(enc_data, ns="ds")
    enc_key = xmlsec.template.add_encrypted_key(key_info, kt)
    xmlsec.template.encrypted_data_ensure_cipher_value(enc_key)
    ctx = xmlsec.EncryptionContext(manager)
    ctx.key = xmlsec.Key.generate(xmlsec.constants.KeyDataAes, bits, xmlsec.constants.KeyDataTypeSession)
    # Serialize the element on its own (with every in-scope namespace declared on it), so the
    # plaintext is a self-contained document fragment for the SP, then put EncryptedData in its place.
    plaintext = plaintext_prefix + etree.tostring(el, encoding="UTF-8", xml_declaration=False)
    try:
        enc = ctx.encrypt_binary(enc_data, plaintext)
    except xmlsec.Error as e:
        raise EncryptionError(f"xmlsec could not encrypt: {e}") from None
    parent = el.getparent()
    if parent is not None:
        el.addnext(enc)
        parent.remove(el)
    return enc


def encrypt_assertions(root: etree._Element, fctx: Any) -> None:
    """Replace every saml:Assertion under `root` by saml:EncryptedAssertion (called by MockIdP)."""
    opts = dict(fctx.signing.encryption or {})
    cert = opts.get("cert")
    if cert is None:
        sp = fctx.sp
        if sp is None or not sp.encryption_certs:
            raise EncryptionError("cannot encrypt: the SP's metadata has no encryption certificate")
        cert = sp.encryption_certs[0]
    for a in root.findall(q(SAML, "Assertion")):
        parent = a.getparent()
        idx = parent.index(a)
        wrapper = etree.Element(q(SAML, "EncryptedAssertion"))
        ed = encrypt_element(
            a, cert, block=opts.get("block", "aes256-gcm"), key_transport=opts.get("key_transport", "rsa-oaep"),
            plaintext_prefix=opts.get("plaintext_prefix", b""),
        )
        parent.remove(ed)
        wrapper.append(ed)
        parent.insert(idx, wrapper)
    fctx.notes["encrypted"] = True
