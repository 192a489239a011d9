"""ATTR and TEN: attributes."""
from __future__ import annotations

import copy
from dataclasses import replace
from typing import Callable

from lxml import etree

from ..builder import SAML, ResponseSpec, q
from . import Fault, FaultContext, register, register_factory
from ._common import _assertion, _attr_el, _pick_attr, _remove_child


def _with_attrs(spec: ResponseSpec, attrs: dict[str, list[str]]) -> ResponseSpec:
    return replace(spec, user=replace(spec.user, attributes=attrs))


register(Fault("attribute-statement-missing", "Assertion without AttributeStatement", ("ATTR-02",),
               tree=_remove_child(q(SAML, "AttributeStatement"))))


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
