"""KEY: which key and certificate sign (attacker keys, rollover, expired certificates)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from lxml import etree

from ..builder import DS, q
from . import Fault, FaultContext, SigningOptions, register
from ._common import _iter_tag, _set_signing, _use_attacker


def _reissued_cert(ctx: FaultContext, *, expired: bool) -> Any:
    """A cert for the IdP's own key whose validity window lies in the past / the future."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    from ..keys import KeyPair

    key = serialization.load_pem_private_key(ctx.idp.key.key_pem, password=None)
    now = datetime.now(timezone.utc)
    start = now - timedelta(days=400) if expired else now + timedelta(days=30)
    end = now - timedelta(days=30) if expired else now + timedelta(days=400)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ctx.idp.entity_id[:64])])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(ctx.idp.key.key_pem, cert.public_bytes(serialization.Encoding.PEM))


register(Fault("sig-attacker-keyvalue", "Signed with an attacker key given as a raw RSAKeyValue in KeyInfo (no X509)",
               ("KEY-02", "CVE-2021-21239"), signing=_use_attacker("keyvalue")))
register(Fault("sig-attacker-key-genuine-cert", "Signed with an attacker key while KeyInfo carries the genuine IdP certificate",
               ("KEY-04",), signing=_use_attacker("x509", announce_genuine=True)))
register(Fault("sig-no-keyinfo", "Signatures carry no KeyInfo (the SP must use the IdP's metadata key)",
               ("KEY-01", "OWASP SAML: ignore KeyInfo"), signing=_set_signing(key_info="none")))


def _expired_cert(expired: bool) -> Callable[[SigningOptions, FaultContext], None]:
    def apply(s: SigningOptions, ctx: FaultContext) -> None:
        s.key = _reissued_cert(ctx, expired=expired)

    return apply


register(Fault("cert-expired", "KeyInfo certificate (same IdP key) is expired; the signature still verifies with the trusted key",
               ("KEY-09",), signing=_expired_cert(True)))
register(Fault("cert-not-yet-valid", "KeyInfo certificate (same IdP key) is not valid yet; the signature still verifies",
               ("KEY-09",), signing=_expired_cert(False)))
def _two_certs(s: SigningOptions, ctx: FaultContext) -> None:
    s.key = ctx.idp.attacker_key
    s.key_info = "x509"
    ctx.notes["two_certs"] = True


def _add_genuine_first(root: etree._Element, ctx: FaultContext) -> None:
    for sig in _iter_tag(root, q(DS, "Signature")):
        x509d = _iter_tag(sig, q(DS, "X509Data"))[0]
        genuine = etree.Element(q(DS, "X509Certificate"))
        genuine.text = ctx.idp.key.cert_b64
        x509d.insert(0, genuine)


register(Fault("key-two-certs", "KeyInfo holds the genuine IdP cert first and the attacker's second; signed by the attacker",
               ("KEY-05",), signing=_two_certs, signed=_add_genuine_first))


def _rollover(s: SigningOptions, ctx: FaultContext) -> None:
    extra = getattr(ctx.idp, "extra_signing_keys", [])
    if not extra:
        raise ValueError("key-rollover needs MockIdP(extra_signing_keys=[...]) (a second published key)")
    s.key = extra[0]


register(Fault("key-rollover", "Signed with the second signing key published in the IdP metadata (must be ACCEPTED)",
               ("POS-08", "SAML2Int SDP-SP37"), signing=_rollover))


def _encryption_key_signs(s: SigningOptions, ctx: FaultContext) -> None:
    keys = getattr(ctx.idp, "encryption_keys", [])
    if not keys:
        raise ValueError("key-encryption-only needs MockIdP(encryption_keys=[...]) (a key published with use=\"encryption\")")
    s.key = keys[0]


register(Fault("key-encryption-only", "Signed with the IdP key its metadata publishes for encryption only",
               ("KEY-06",), signing=_encryption_key_signs))


def _random_keyinfo_cert(s: SigningOptions, ctx: FaultContext) -> None:
    from ..keys import ephemeral

    s.key_info = "x509"
    s.key_info_cert = ephemeral("samlconf random embedded cert")


register(Fault("sig-random-keyinfo-cert", "Signed with the IdP's own key, an unrelated random certificate in KeyInfo "
               "(pysaml2's signed-assertion-random-embedded-cert fixture: the SP must ignore it)",
               ("KEY-03", "CVE-2021-21239"), signing=_random_keyinfo_cert))
