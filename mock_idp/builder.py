"""The SAML Response / Assertion builder: pure functions over lxml, no I/O."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from lxml import etree

from .users import User

__all__ = [
    "NS",
    "SAMLP",
    "SAML",
    "DS",
    "XENC",
    "XSI",
    "XS",
    "STATUS_SUCCESS",
    "STATUS_REQUESTER",
    "STATUS_RESPONDER",
    "STATUS_AUTHN_FAILED",
    "STATUS_NO_PASSIVE",
    "STATUS_REQUEST_DENIED",
    "STATUS_UNKNOWN_PRINCIPAL",
    "AC_PPT",
    "AC_PASSWORD",
    "AC_UNSPECIFIED",
    "ATTRNAME_BASIC",
    "ATTRNAME_UNSPECIFIED",
    "ATTRNAME_URI",
    "CM_BEARER",
    "ResponseSpec",
    "build_response",
    "build_assertion",
    "build_status_response",
    "new_id",
    "xml_time",
    "q",
]

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
XENC = "http://www.w3.org/2001/04/xmlenc#"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XS = "http://www.w3.org/2001/XMLSchema"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
NS = {"samlp": SAMLP, "saml": SAML, "ds": DS, "xenc": XENC, "xsi": XSI, "xs": XS, "md": MD}

STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
STATUS_REQUESTER = "urn:oasis:names:tc:SAML:2.0:status:Requester"
STATUS_RESPONDER = "urn:oasis:names:tc:SAML:2.0:status:Responder"
STATUS_AUTHN_FAILED = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"
STATUS_NO_PASSIVE = "urn:oasis:names:tc:SAML:2.0:status:NoPassive"
STATUS_REQUEST_DENIED = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied"
STATUS_UNKNOWN_PRINCIPAL = "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal"
AC_PPT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
AC_PASSWORD = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"
AC_UNSPECIFIED = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
ATTRNAME_BASIC = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
ATTRNAME_UNSPECIFIED = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"
ATTRNAME_URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
CM_BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"

_NSMAP_RESPONSE = {"samlp": SAMLP, "saml": SAML}
_NSMAP_ASSERTION = {"saml": SAML, "xs": XS, "xsi": XSI}


def q(ns: str, tag: str) -> str:
    """Clark notation: ``q(SAML, "Issuer")`` -> ``{urn:...:assertion}Issuer``."""
    return f"{{{ns}}}{tag}"


def new_id() -> str:
    """A fresh SAML ID: ``_`` + 40 hex digits (160 random bits; IDs must not start with a digit)."""
    return "_" + secrets.token_hex(20)


def xml_time(t: datetime) -> str:
    """xs:dateTime in UTC with a ``Z`` and no fractional seconds."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    elif t.tzinfo is not timezone.utc:
        t = t.astimezone(timezone.utc)
    if 1000 <= t.year:  # what strftime writes, without its cost (it pads no year below 1000)
        return f"{t.year}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z"
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


@dataclass
class ResponseSpec:
    """Everything a Response says. Faults of stage "pre-sign" edit a copy of this before building."""

    issuer: str
    destination: str | None
    acs_url: str
    audience: str | None
    user: User
    in_response_to: str | None = None
    session_index: str = field(default_factory=new_id)
    now: datetime = field(default_factory=_utcnow)
    lifetime: int = 300
    not_before_skew: int = 60
    status_code: str = STATUS_SUCCESS
    status_subcode: str | None = None
    status_message: str | None = None
    authn_context: str = AC_PPT
    attribute_name_format: str = ATTRNAME_BASIC
    response_id: str = field(default_factory=new_id)
    assertion_id: str = field(default_factory=new_id)
    include_assertion: bool | None = None  # None: only when the status is Success
    session_lifetime: int | None = 8 * 3600  # SessionNotOnOrAfter; None to omit
    recipient: str | None = None  # SubjectConfirmationData Recipient; None -> acs_url
    scd_in_response_to: str | None = None  # None -> in_response_to
    scd_lifetime: int | None = None  # None -> lifetime
    assertion_issuer: str | None = None  # None -> issuer
    authn_instant: datetime | None = None  # None -> now
    name_qualifiers: bool = False  # add NameQualifier / SPNameQualifier to NameID
    attribute_value_type: str | None = "xs:string"  # xsi:type of AttributeValue; None to omit

    @property
    def wants_assertion(self) -> bool:
        if self.include_assertion is None:
            return self.status_code == STATUS_SUCCESS
        return self.include_assertion


_SubElement = etree.SubElement


def _sub(parent: etree._Element, ns: str, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    if attrs:
        el = _SubElement(parent, f"{{{ns}}}{tag}", {k: v for k, v in attrs.items() if v is not None})
    else:
        el = _SubElement(parent, f"{{{ns}}}{tag}")
    if text is not None:
        el.text = text
    return el


_T = {t: q(SAML, t) for t in ("Assertion", "Issuer", "Subject", "NameID", "SubjectConfirmation",
                               "SubjectConfirmationData", "Conditions", "AudienceRestriction", "Audience",
                               "AuthnStatement", "AuthnContext", "AuthnContextClassRef", "AttributeStatement",
                               "Attribute", "AttributeValue")}
_XSI_TYPE = q(XSI, "type")


def _present(**attrs: str | None) -> dict[str, str]:
    return {k: v for k, v in attrs.items() if v is not None}


def build_assertion(spec: ResponseSpec) -> etree._Element:
    """The saml:Assertion of `spec` (not signed). Element by element as `_sub` would, with the
    tags looked up once: this runs for every login, so it is written for speed."""
    sub, T = _SubElement, _T
    now = spec.now
    a = etree.Element(T["Assertion"], nsmap=_NSMAP_ASSERTION)
    a.set("ID", spec.assertion_id)
    a.set("Version", "2.0")
    a.set("IssueInstant", xml_time(now))
    sub(a, T["Issuer"]).text = spec.assertion_issuer or spec.issuer
    subj = sub(a, T["Subject"])
    nid = sub(subj, T["NameID"], _present(Format=spec.user.name_id_format))
    if spec.user.name_id is not None:
        nid.text = spec.user.name_id
    if spec.name_qualifiers:
        nid.set("NameQualifier", spec.issuer)
        if spec.audience:
            nid.set("SPNameQualifier", spec.audience)
    sc = sub(subj, T["SubjectConfirmation"], {"Method": CM_BEARER})
    scd_life = spec.scd_lifetime if spec.scd_lifetime is not None else spec.lifetime
    scd_irt = spec.scd_in_response_to if spec.scd_in_response_to is not None else spec.in_response_to
    sub(sc, T["SubjectConfirmationData"], _present(
        InResponseTo=scd_irt,
        NotOnOrAfter=xml_time(now + timedelta(seconds=scd_life)),
        Recipient=spec.recipient if spec.recipient is not None else spec.acs_url,
    ))
    cond = sub(a, T["Conditions"], {
        "NotBefore": xml_time(now - timedelta(seconds=spec.not_before_skew)),
        "NotOnOrAfter": xml_time(now + timedelta(seconds=spec.lifetime)),
    })
    if spec.audience is not None:
        sub(sub(cond, T["AudienceRestriction"]), T["Audience"]).text = spec.audience
    authn = sub(a, T["AuthnStatement"], _present(
        AuthnInstant=xml_time(spec.authn_instant or now),
        SessionIndex=spec.session_index,
        SessionNotOnOrAfter=(
            xml_time(now + timedelta(seconds=spec.session_lifetime)) if spec.session_lifetime else None
        ),
    ))
    sub(sub(authn, T["AuthnContext"]), T["AuthnContextClassRef"]).text = spec.authn_context
    if spec.user.attributes:
        st = sub(a, T["AttributeStatement"])
        name_format, value_type = spec.attribute_name_format, spec.attribute_value_type
        attr_tag, value_tag = T["Attribute"], T["AttributeValue"]
        for name, values in spec.user.attributes.items():
            attr = sub(st, attr_tag, _present(Name=name, NameFormat=name_format))
            for v in values:
                av = sub(attr, value_tag)
                if v is not None:
                    av.text = v
                if value_type:
                    av.set(_XSI_TYPE, value_type)
    return a


def _response_shell(spec: ResponseSpec) -> etree._Element:
    r = etree.Element(q(SAMLP, "Response"), nsmap=_NSMAP_RESPONSE)
    r.set("ID", spec.response_id)
    r.set("Version", "2.0")
    r.set("IssueInstant", xml_time(spec.now))
    if spec.destination is not None:
        r.set("Destination", spec.destination)
    if spec.in_response_to is not None:
        r.set("InResponseTo", spec.in_response_to)
    _sub(r, SAML, "Issuer", spec.issuer)
    status = _sub(r, SAMLP, "Status")
    sc = _sub(status, SAMLP, "StatusCode", Value=spec.status_code)
    if spec.status_subcode:
        _sub(sc, SAMLP, "StatusCode", Value=spec.status_subcode)
    if spec.status_message:
        _sub(status, SAMLP, "StatusMessage", spec.status_message)
    return r


def build_response(spec: ResponseSpec) -> etree._Element:
    """A samlp:Response with one saml:Assertion (when the status is Success), not signed."""
    r = _response_shell(spec)
    if spec.wants_assertion:
        r.append(build_assertion(spec))
    return r


def build_status_response(
    *,
    issuer: str,
    destination: str | None,
    in_response_to: str | None,
    status_code: str,
    status_subcode: str | None = None,
    status_message: str | None = None,
    now: datetime | None = None,
) -> etree._Element:
    """A samlp:Response carrying only a Status (errors: Requester, NoPassive, ...)."""
    from .users import User as _U

    spec = ResponseSpec(
        issuer=issuer,
        destination=destination,
        acs_url=destination or "",
        audience=None,
        user=_U(name_id=""),
        in_response_to=in_response_to,
        status_code=status_code,
        status_subcode=status_subcode,
        status_message=status_message,
        include_assertion=False,
        now=now or _utcnow(),
    )
    return _response_shell(spec)
