"""A small structural diff of two XML trees (used by the fault tests and handy in reports)."""
from __future__ import annotations

from lxml import etree

__all__ = ["diff", "pretty", "unified"]

_DS = "http://www.w3.org/2000/09/xmldsig#"


def _name(el: etree._Element) -> str:
    if isinstance(el.tag, str) and el.get("Name") is not None:
        return f"{etree.QName(el).localname}[{el.get('Name')}]"
    if isinstance(el, etree._Comment):
        return "#comment"
    if isinstance(el, etree._ProcessingInstruction):
        return "#pi"
    if isinstance(el, etree._Entity):
        return "#entity"
    return etree.QName(el).localname


def diff(a: etree._Element, b: etree._Element, *, collapse_signatures: bool = True) -> set[str]:
    """Paths (local names, ``/``-joined) where `b` differs from `a`.

    ``path@attr`` an attribute differs, ``path#text`` / ``path#tail`` text differs, ``path/*`` the
    children differ in number or names (not descended). With `collapse_signatures`, any difference
    inside a ds:Signature is reported once as the Signature's path.
    """
    out: set[str] = set()

    def walk(x: etree._Element, y: etree._Element, path: str) -> None:
        if x.tag != y.tag:
            out.add(path + "!tag")
            return
        if isinstance(x.tag, str) and dict(x.attrib) != dict(y.attrib):
            for k in set(x.attrib) | set(y.attrib):
                if x.get(k) != y.get(k):
                    out.add(f"{path}@{etree.QName(k).localname}")
        if (x.text or "") != (y.text or ""):
            out.add(path + "#text")
        xs, ys = list(x), list(y)
        if [_name(c) for c in xs] != [_name(c) for c in ys]:
            out.add(path + "/*")
        else:
            for cx, cy in zip(xs, ys):
                walk(cx, cy, f"{path}/{_name(cx)}")
                if (cx.tail or "") != (cy.tail or ""):
                    out.add(f"{path}/{_name(cx)}#tail")

    walk(a, b, _name(a))
    if collapse_signatures:
        collapsed = set()
        for p in out:
            i = p.find("/Signature")
            collapsed.add(p[: i + len("/Signature")] if i >= 0 else p)
        return collapsed
    return out


MAX_PRETTY = 64 * 1024  # characters of a message kept for a report


def pretty(xml: bytes) -> str:
    """The message indented for people (parsed safely; raw text when it is not well-formed XML),
    cut at MAX_PRETTY characters."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=True)
    try:
        root = etree.fromstring(xml, parser)
        etree.indent(root, space="  ")
        text = etree.tostring(root, encoding="unicode")
    except (etree.XMLSyntaxError, ValueError):
        text = xml.decode("utf-8", "replace")
    return text if len(text) <= MAX_PRETTY else text[:MAX_PRETTY] + "\n<!-- ... cut by samlconf -->"


def unified(a: str, b: str, *, context: int = 2) -> str:
    """A unified diff of two pretty-printed messages (`-` the valid baseline, `+` what was sent)."""
    import difflib

    lines = difflib.unified_diff(a.splitlines(), b.splitlines(), "valid baseline", "sent", n=context, lineterm="")
    return "\n".join(lines)
