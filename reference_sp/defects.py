"""Defects of real SPs that the reference SP can be switched to (mutants of issue 10), kept out
of the correct processing in `saml.py` and `flows.py`, which call them only when the mutant is on.

- `decrypt_first`: the SP that decrypts an EncryptedAssertion itself (before any library sees the
  message), with three switchable defects: a missing EncryptionMethod defaulted to AES-CBC
  (`defaults_encryption_method`), the plaintext parsed with DTDs and entities resolved, network
  on (`decrypted_plaintext_entities`); the caller may then read the plaintext wrongly
  (`decrypt_then_first_assertion`).
- `subject_from_attributes`: an Assertion without Subject taken, the user named by its email
  attribute (`subject_optional`).
- `recursive_parse`: the message parsed with no depth limit and walked recursively
  (`no_depth_limit`).
- `without_valid_until`: IdP metadata used past its validUntil (`ignores_metadata_valid_until`).
- `unhandled`: what an exception nobody catches becomes (`saml_errors_unhandled`).
"""
from __future__ import annotations

import base64
import binascii
import copy
import urllib.request
import xml.etree.ElementTree as ET  # noqa: S405 - the `no_depth_limit` defect itself
from typing import Any

from lxml import etree

XENC = "http://www.w3.org/2001/04/xmlenc#"
XENC11 = "http://www.w3.org/2009/xmlenc11#"
DS = "http://www.w3.org/2000/09/xmldsig#"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"


class _Fetching(etree.Resolver):
    """An entity resolver that fetches http(s) URLs (as apps that register one do)."""

    def resolve(self, url: str, pubid: Any, context: Any) -> Any:
        if url.startswith(("http://", "https://")):
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - the defect itself
                return self.resolve_string(resp.read(65536), context)
        return None


def fetching_parser() -> etree.XMLParser:
    """A parser with DTD loading, entity expansion and an http(s)-fetching resolver."""
    parser = etree.XMLParser(resolve_entities=True, no_network=False, load_dtd=True, huge_tree=False)
    parser.resolvers.add(_Fetching())
    return parser


def _b64(el: etree._Element | None) -> bytes:
    try:
        return base64.b64decode("".join((el.text or "").split()) if el is not None else "", validate=True)
    except (binascii.Error, ValueError):
        return b""


def _hash(uri: str) -> Any:
    """The hash a DigestMethod or MGF URI names (SHA-1, the default of rsa-oaep-mgf1p)."""
    from cryptography.hazmat.primitives import hashes

    return next((getattr(hashes, n.upper())() for n in ("sha512", "sha384", "sha256") if uri.endswith(n)),
                hashes.SHA1())


def _unwrap(ek: etree._Element, key: Any) -> bytes | None:
    from cryptography.hazmat.primitives.asymmetric import padding

    em = ek.find(f"{{{XENC}}}EncryptionMethod")
    alg = em.get("Algorithm", "") if em is not None else ""
    if alg.endswith("rsa-1_5"):
        pad: Any = padding.PKCS1v15()
    else:
        dm = em.find(f"{{{DS}}}DigestMethod") if em is not None else None
        mgf = em.find(f"{{{XENC11}}}MGF") if em is not None else None
        h, m = (_hash(x.get("Algorithm", "") if x is not None else "") for x in (dm, mgf))
        pad = padding.OAEP(mgf=padding.MGF1(algorithm=m), algorithm=h, label=None)
    try:
        return key.decrypt(_b64(ek.find(f"{{{XENC}}}CipherData/{{{XENC}}}CipherValue")), pad)
    except ValueError:
        return None


def _content(alg: str, session_key: bytes, data: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if alg.endswith("-gcm"):
        return AESGCM(session_key).decrypt(data[:12], data[12:], None)
    dec = Cipher(algorithms.AES(session_key), modes.CBC(data[:16])).decryptor()
    out = dec.update(data[16:]) + dec.finalize()
    return out[:-out[-1]] if out and 0 < out[-1] <= 16 else out


def decrypt_first(root: etree._Element, key_pem: bytes, response_signed_ok: Any, *,
                  default_method: bool = False, expand_entities: bool = False) -> etree._Element:
    """Verify the Response's own signature, if it has one (`response_signed_ok(root)`), then return a
    copy of the Response with every EncryptedAssertion replaced by its decrypted plaintext (and the
    Response signature, which covered the ciphertext, dropped). Raise `saml.Rejected` on failure."""
    from cryptography.hazmat.primitives import serialization

    from .saml import Rejected, parse_xml

    if root.find(f"{{{DS}}}Signature") is not None and not response_signed_ok(root):
        raise Rejected("the Response signature does not verify", "SIG-01")
    out = copy.deepcopy(root)
    sig = out.find(f"{{{DS}}}Signature")
    if sig is not None:
        out.remove(sig)
    key = serialization.load_pem_private_key(key_pem, None)
    for ea in list(out.iter(f"{{{SAML}}}EncryptedAssertion")):
        ed = ea.find(f"{{{XENC}}}EncryptedData")
        if ed is None:
            raise Rejected("EncryptedAssertion without EncryptedData", "ENC-09")
        session = next((k for ek in ea.iter(f"{{{XENC}}}EncryptedKey") if (k := _unwrap(ek, key))), None)
        if session is None:
            raise Rejected("no EncryptedKey decrypts with this SP's key", "ENC-04")
        em = ed.find(f"{{{XENC}}}EncryptionMethod")
        alg = em.get("Algorithm", "") if em is not None else ""
        if not alg:
            if not default_method:
                raise Rejected("EncryptedData without EncryptionMethod", "ENC-09")
            alg = f"aes{len(session) * 8}-cbc"  # the defect: a default algorithm guessed
        try:
            plain = _content(alg, session, _b64(ed.find(f"{{{XENC}}}CipherData/{{{XENC}}}CipherValue")))
        except Exception as e:  # noqa: BLE001 - cryptography's InvalidTag, ValueError...
            raise Rejected(f"the EncryptedAssertion does not decrypt ({type(e).__name__})", "ENC-04") from None
        if expand_entities:  # the defect: the plaintext parsed by a default, entity-resolving parser
            try:
                a = etree.fromstring(plain, fetching_parser())
            except etree.XMLSyntaxError as e:
                raise Rejected(f"the decrypted assertion is not well-formed ({e})", "ENC-10") from None
        else:
            a = parse_xml(plain)
        ea.getparent().replace(ea, a)
    return out


def any_signed_copy(root: etree._Element, certs: list[bytes], verify: Any) -> etree._Element:
    """The check of `decrypt_then_first_assertion` on the decrypted plaintext: a signature is good
    when it verifies over SOME Assertion carrying the ID its Reference names (a copy parked in
    ds:Object will do, taken on its own with the signature put back); the user is then read from
    the first Assertion in document order, which is not the node that was verified."""
    from .saml import Rejected

    found = list(root.iter(f"{{{SAML}}}Assertion"))
    if not found:
        raise Rejected("no Assertion", "MAS-01")
    for sig in list(root.iter(f"{{{DS}}}Signature"))[:4]:
        ref = sig.find(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
        uri = (ref.get("URI") or "") if ref is not None else ""
        for x in (x for x in found if uri and x.get("ID") == uri[1:]):
            cand = copy.deepcopy(x)
            for old in cand.findall(f"{{{DS}}}Signature"):
                cand.remove(old)
            s = copy.deepcopy(sig)
            for obj in s.findall(f"{{{DS}}}Object"):
                s.remove(obj)
            iss = cand.find(f"{{{SAML}}}Issuer")
            (iss.addnext if iss is not None else (lambda e: cand.insert(0, e)))(s)
            if any(verify(cand, cand, c) for c in certs):
                return found[0]
    raise Rejected("no Assertion carries a valid signature", "SIG-01")


def subject_from_attributes(a: etree._Element, acs_url: str, in_response_to: str | None) -> etree._Element:
    """The `subject_optional` defect (ruby-saml's `skip_subject_confirmation`, the user taken from
    an attribute): an Assertion without Subject stands for the user its email attribute names, and
    no bearer confirmation is asked for. Returns the Subject such an SP in effect assumes."""
    from .saml import Rejected

    email = next((v.text for at in a.iter(f"{{{SAML}}}Attribute") if "mail" in (at.get("Name") or "").lower()
                  for v in at.iter(f"{{{SAML}}}AttributeValue") if v.text), None)
    if not email:
        raise Rejected("the assertion has no Subject and no email attribute", "MAS-06")
    cond = a.find(f"{{{SAML}}}Conditions")
    subj = etree.Element(f"{{{SAML}}}Subject")
    nid = etree.SubElement(subj, f"{{{SAML}}}NameID", Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
    nid.text = email.strip()
    scd = etree.SubElement(etree.SubElement(subj, f"{{{SAML}}}SubjectConfirmation",
                                            Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"),
                           f"{{{SAML}}}SubjectConfirmationData", Recipient=acs_url)
    if in_response_to:
        scd.set("InResponseTo", in_response_to)
    if cond is not None and cond.get("NotOnOrAfter"):
        scd.set("NotOnOrAfter", cond.get("NotOnOrAfter"))
    return subj


def without_valid_until(md: bytes) -> bytes:
    """The `ignores_metadata_valid_until` defect: IdP metadata used whatever its validUntil says
    (the attribute dropped before the SAML library sees it)."""
    from .saml import parse_xml

    r = parse_xml(md)
    for el in r.iter():
        if isinstance(el.tag, str):
            el.attrib.pop("validUntil", None)
    return etree.tostring(r)


def unhandled(e: BaseException) -> Exception:
    """The `saml_errors_unhandled` / `no_depth_limit` defects: an exception nobody catches, which
    the web framework answers with a server error (500)."""
    from werkzeug.exceptions import InternalServerError

    return InternalServerError(f"unhandled {type(e).__name__}")


def recursive_parse(b64: str) -> None:
    """The `no_depth_limit` defect: the message parsed by a parser without depth (or size) limit
    and turned into objects by a recursive walk (as pysaml2's class builder does on ElementTree):
    a deeply nested document overflows the stack, and nothing catches the RecursionError."""
    try:
        root = ET.fromstring(base64.b64decode("".join(b64.split()), validate=True))  # noqa: S314
    except (binascii.Error, ValueError, ET.ParseError):
        return

    def walk(el: Any) -> dict[str, Any]:
        return {"tag": el.tag, "attrib": dict(el.attrib), "text": el.text, "children": [walk(c) for c in el]}

    try:
        walk(root)
    except RecursionError as e:
        raise unhandled(e) from None
