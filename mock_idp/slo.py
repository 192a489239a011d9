"""Single logout: LogoutRequest / LogoutResponse builders, both bindings, signed; the /slo endpoint."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from lxml import etree

from .bindings import (
    BINDING_POST,
    BINDING_REDIRECT,
    BindingError,
    decode_post_request,
    decode_redirect_request,
    encode_post,
    encode_redirect,
    post_form_html,
    safe_parse,
)
from .builder import SAML, SAMLP, STATUS_REQUEST_DENIED, STATUS_REQUESTER, STATUS_SUCCESS, new_id, q, xml_time
from .keys import KeyPair
from .redirect_sig import sign_query
from .signing import sign

if TYPE_CHECKING:  # pragma: no cover
    from .idp import MockIdP

__all__ = [
    "OutgoingMessage",
    "LogoutInfo",
    "AssertedName",
    "asserted_name",
    "build_logout_request",
    "build_logout_response",
    "send",
    "parse_logout",
    "handle_slo",
]


@dataclass(frozen=True)
class OutgoingMessage:
    """A SAML message ready for a binding: a Redirect URL, or a POST form."""

    binding: str
    url: str  # Redirect: the full URL with the query; POST: the form's action
    xml: bytes
    message_id: str
    param: str  # SAMLRequest or SAMLResponse
    fields: dict[str, str]  # POST form fields (empty for Redirect)

    def form_html(self) -> str:
        return post_form_html(self.url, self.fields[self.param], self.fields.get("RelayState"), field_name=self.param)


@dataclass(frozen=True)
class LogoutInfo:
    kind: str  # "LogoutRequest" | "LogoutResponse"
    id: str
    issuer: str | None
    destination: str | None
    in_response_to: str | None = None
    name_id: str | None = None
    session_indexes: tuple[str, ...] = ()
    status: str | None = None
    not_on_or_after: str | None = None


@dataclass(frozen=True)
class AssertedName:
    """The NameID of an issued assertion, exactly as asserted (SAML Core 3.7.1: a LogoutRequest names
    the principal with the same identifier, Format and qualifiers), and its SessionIndex."""

    value: str
    format: str | None = None
    name_qualifier: str | None = None
    sp_name_qualifier: str | None = None
    session_index: str | None = None


def asserted_name(response_xml: bytes) -> AssertedName | None:
    """The NameID (with Format, NameQualifier, SPNameQualifier) and SessionIndex of the first plain
    Assertion of an issued Response; None when it has none (an encrypted one, or no Subject)."""
    root = safe_parse(response_xml, "issued response")
    a = root.find(q(SAML, "Assertion")) if root.tag != q(SAML, "Assertion") else root
    nid = None if a is None else a.find(f"{q(SAML, 'Subject')}/{q(SAML, 'NameID')}")
    if nid is None:
        return None
    st = a.find(q(SAML, "AuthnStatement"))
    return AssertedName(
        value=nid.text or "",
        format=nid.get("Format"),
        name_qualifier=nid.get("NameQualifier"),
        sp_name_qualifier=nid.get("SPNameQualifier"),
        session_index=None if st is None else st.get("SessionIndex"),
    )


def build_logout_request(
    *,
    issuer: str | None,
    destination: str | None,
    name_id: str | None,
    name_id_format: str | None = None,
    name_qualifier: str | None = None,
    sp_name_qualifier: str | None = None,
    session_index: str | None = None,
    reason: str | None = "urn:oasis:names:tc:SAML:2.0:logout:user",
    now: datetime | None = None,
    lifetime: int = 300,
) -> etree._Element:
    """issuer/destination/name_id None: left out (SLO-03/05/07 faults); lifetime < 0: expired (SLO-04)."""
    now = now or datetime.now(timezone.utc)
    r = etree.Element(q(SAMLP, "LogoutRequest"), nsmap={"samlp": SAMLP, "saml": SAML})
    r.set("ID", new_id())
    r.set("Version", "2.0")
    r.set("IssueInstant", xml_time(now))
    if destination is not None:
        r.set("Destination", destination)
    r.set("NotOnOrAfter", xml_time(now + timedelta(seconds=lifetime)))
    if reason:
        r.set("Reason", reason)
    if issuer is not None:
        etree.SubElement(r, q(SAML, "Issuer")).text = issuer
    if name_id is not None:
        nid = etree.SubElement(r, q(SAML, "NameID"))
        nid.text = name_id
        if name_qualifier:
            nid.set("NameQualifier", name_qualifier)
        if sp_name_qualifier:
            nid.set("SPNameQualifier", sp_name_qualifier)
        if name_id_format:
            nid.set("Format", name_id_format)
    if session_index:
        etree.SubElement(r, q(SAMLP, "SessionIndex")).text = session_index
    return r


def build_logout_response(
    *, issuer: str | None, destination: str | None, in_response_to: str | None, status: str | None = STATUS_SUCCESS,
    subcode: str | None = None, message: str | None = None, now: datetime | None = None,
) -> etree._Element:
    """issuer None: no Issuer; status None: no Status at all (SLO-15)."""
    r = etree.Element(q(SAMLP, "LogoutResponse"), nsmap={"samlp": SAMLP, "saml": SAML})
    r.set("ID", new_id())
    r.set("Version", "2.0")
    r.set("IssueInstant", xml_time(now or datetime.now(timezone.utc)))
    if destination:
        r.set("Destination", destination)
    if in_response_to:
        r.set("InResponseTo", in_response_to)
    if issuer is not None:
        etree.SubElement(r, q(SAML, "Issuer")).text = issuer
    if status is None:
        return r
    st = etree.SubElement(r, q(SAMLP, "Status"))
    sc = etree.SubElement(st, q(SAMLP, "StatusCode"), Value=status)
    if subcode:
        etree.SubElement(sc, q(SAMLP, "StatusCode"), Value=subcode)
    if message:
        etree.SubElement(st, q(SAMLP, "StatusMessage")).text = message
    return r


def send(
    el: etree._Element,
    url: str,
    binding: str,
    key: KeyPair | None,
    *,
    relay_state: str | None = None,
    algorithm: str = "rsa-sha256",
    signed_order: str = "standard",
    relay_state_sent: str | None = None,
) -> OutgoingMessage:
    """Sign (unless key is None) and encode `el` for `binding`: a query signature for Redirect
    (no enveloped signature, as Bindings 3.4.4.1 wants), an enveloped one for POST."""
    param = "SAMLResponse" if el.tag.endswith("Response") else "SAMLRequest"
    if binding == BINDING_REDIRECT:
        xml = etree.tostring(el, encoding="UTF-8")
        enc = encode_redirect(xml)
        if key is not None:
            query = sign_query(param, enc, relay_state, key, algorithm,
                               signed_order=signed_order, relay_state_sent=relay_state_sent)
        else:
            from urllib.parse import urlencode

            query = urlencode({param: enc, **({"RelayState": relay_state} if relay_state is not None else {})})
        sep = "&" if "?" in url else "?"
        return OutgoingMessage(binding, url + sep + query, xml, el.get("ID") or "", param, {})
    if key is not None:
        sign(el, el, key, algorithm=algorithm)
    xml = etree.tostring(el, xml_declaration=True, encoding="UTF-8")
    fields = {param: encode_post(xml)}
    if relay_state is not None:
        fields["RelayState"] = relay_state
    return OutgoingMessage(BINDING_POST, url, xml, el.get("ID") or "", param, fields)


def _decrypted_name_id(root: etree._Element, keys: "list[KeyPair] | tuple[KeyPair, ...]") -> str | None:
    """The NameID inside a LogoutRequest's saml:EncryptedID (Core 3.7.1: BaseID, NameID or EncryptedID),
    decrypted with one of the IdP's encryption keys; None if there is none or no key opens it.
    Shibboleth SP encrypts it when the IdP's metadata publishes an encryption key."""
    import xmlsec

    enc = root.find(f"{q(SAML, 'EncryptedID')}/{{http://www.w3.org/2001/04/xmlenc#}}EncryptedData")
    if enc is None:
        return None
    for kp in keys:
        manager = xmlsec.KeysManager()
        manager.add_key(xmlsec.Key.from_memory(kp.key_pem, xmlsec.constants.KeyDataFormatPem))
        try:
            out = xmlsec.EncryptionContext(manager).decrypt(etree.fromstring(etree.tostring(enc)))
        except xmlsec.Error:
            continue
        el = out if isinstance(out, etree._Element) else safe_parse(out, "decrypted EncryptedID")
        if el.tag == q(SAML, "NameID"):
            return el.text
        return el.findtext(f".//{q(SAML, 'NameID')}")
    return None


def parse_logout(xml: bytes, decrypt_keys: "list[KeyPair] | tuple[KeyPair, ...]" = ()) -> LogoutInfo:
    """`decrypt_keys`: the IdP's encryption keys, to read a NameID sent as saml:EncryptedID."""
    root = safe_parse(xml, "logout message")
    kind = etree.QName(root).localname
    if root.tag not in (q(SAMLP, "LogoutRequest"), q(SAMLP, "LogoutResponse")):
        raise BindingError(f"expected LogoutRequest or LogoutResponse, got {kind!r}")
    if not root.get("ID"):
        raise BindingError(f"{kind} has no ID attribute")
    sc = root.find(f"{q(SAMLP, 'Status')}/{q(SAMLP, 'StatusCode')}")
    return LogoutInfo(
        kind=kind,
        id=root.get("ID") or "",
        issuer=(root.findtext(q(SAML, "Issuer")) or "").strip() or None,
        destination=root.get("Destination"),
        in_response_to=root.get("InResponseTo"),
        name_id=root.findtext(q(SAML, "NameID")) if root.find(q(SAML, "NameID")) is not None
        else _decrypted_name_id(root, decrypt_keys),
        session_indexes=tuple(e.text or "" for e in root.findall(q(SAMLP, "SessionIndex"))),
        status=sc.get("Value") if sc is not None else None,
        not_on_or_after=root.get("NotOnOrAfter"),
    )


def handle_slo(idp: "MockIdP", request: Any) -> Any:
    """/slo: a LogoutRequest from an SP gets a signed LogoutResponse on the same binding; a
    LogoutResponse (to a logout the IdP started) is recorded and acknowledged."""
    from flask import Response, redirect

    from .idp import UnknownSP
    from .requests import check_request_signature
    from .web import _e, _page, error_page

    src = request.args if request.method == "GET" else request.form
    param = "SAMLRequest" if "SAMLRequest" in src else "SAMLResponse" if "SAMLResponse" in src else None
    if param is None:
        return error_page("missing SAMLRequest or SAMLResponse parameter")
    relay = src.get("RelayState")
    # a login plan (cookie) may ask for another RelayState or status in the IdP's answer (RLY-08, SLO-14)
    from .idp import PLAN_COOKIE

    plan = idp.get_plan(request.cookies.get(PLAN_COOKIE))
    plan_opts = plan.options if plan is not None else {}
    relay = plan_opts.get("returned_relay_state", relay)
    try:
        xml = decode_redirect_request(src[param]) if request.method == "GET" else decode_post_request(src[param])
        info = parse_logout(xml, idp.encryption_keys)
    except BindingError as e:
        idp.record({"event": "bad-logout", "error": str(e)})
        return error_page(str(e))
    try:
        sp = idp.sp(info.issuer)
    except UnknownSP:
        return error_page(f"{info.kind} from unknown SP {info.issuer!r}")
    # An SP that publishes a signing key must sign its logout messages (SAML Prof 4.4.3.1).
    sig_error = check_request_signature(idp, sp, request, xml, None, param, required=bool(sp.signing_certs))
    idp.record({"event": info.kind, "sp": sp.entity_id, "id": info.id, "name_id": info.name_id,
                       "status": info.status, "signature_error": sig_error})
    if info.kind == "LogoutResponse":
        if sig_error:
            return error_page(f"LogoutResponse rejected: {sig_error}")
        ok = info.status == STATUS_SUCCESS
        return _page("samlconf mock IdP: logged out" if ok else "samlconf mock IdP: logout failed",
                     f'<p id="slo-status">{_e(info.status)}</p><p>RelayState: <code>{_e(relay)}</code></p>')
    binding = BINDING_REDIRECT if request.method == "GET" else BINDING_POST
    ep = sp.slo_endpoint(binding)
    if ep is None:
        return error_page(f"SP {sp.entity_id} has no SingleLogoutService endpoint to answer to")
    resp = build_logout_response(
        issuer=idp.entity_id,
        destination=ep.response_location or ep.location,
        in_response_to=info.id,
        status=STATUS_REQUESTER if sig_error else plan_opts.get("logout_status", STATUS_SUCCESS),
        subcode=STATUS_REQUEST_DENIED if sig_error else plan_opts.get("logout_subcode"),
        message=sig_error,
    )
    out = send(resp, ep.response_location or ep.location, ep.binding, idp.key, relay_state=relay)
    if out.binding == BINDING_REDIRECT:
        return redirect(out.url, code=302)
    return Response(out.form_html(), mimetype="text/html")
