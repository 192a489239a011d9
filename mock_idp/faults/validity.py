"""TIME: validity windows, clock skew and timestamps."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Callable

from lxml import etree

from ..builder import SAML, q, xml_time
from . import Fault, FaultContext, register, register_factory
from ._common import _assertion, _conditions, _scd


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


register(Fault("expires-now", "Conditions and SubjectConfirmationData NotOnOrAfter equal the issue instant (expired at once)",
               ("TIME-07", "SAML Core 2.5.1.2"), spec=lambda s, ctx: replace(s, lifetime=0, scd_lifetime=0)))
