"""SAML bindings: HTTP-Redirect decoding, HTTP-POST forms, and safe AuthnRequest parsing."""
from __future__ import annotations

import base64
import binascii
import html
import zlib
from dataclasses import dataclass, field

from lxml import etree

from .builder import DS, SAML, SAMLP, q

__all__ = [
    "BindingError",
    "AuthnRequestInfo",
    "MAX_ENCODED",
    "MAX_XML",
    "BINDING_REDIRECT",
    "BINDING_POST",
    "safe_parse",
    "decode_redirect_request",
    "decode_post_request",
    "encode_redirect",
    "encode_post",
    "parse_authn_request",
    "post_form_html",
]

BINDING_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
BINDING_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
BINDING_ARTIFACT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"

MAX_ENCODED = 256 * 1024  # base64 characters accepted for one message
MAX_XML = 512 * 1024  # bytes of XML after inflating / decoding


class BindingError(ValueError):
    """A message that cannot be decoded or parsed; str() is one line naming what is wrong."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


def _b64decode(data: str | bytes, what: str) -> bytes:
    if isinstance(data, bytes):
        try:
            data = data.decode("ascii")
        except UnicodeDecodeError:
            raise BindingError(f"{what} is not base64 (non-ASCII bytes)") from None
    if not data or not data.strip():
        raise BindingError(f"{what} is empty")
    if len(data) > MAX_ENCODED:
        raise BindingError(f"{what} is too large ({len(data)} characters; limit {MAX_ENCODED})")
    # Base64 has no spaces: a space is a '+' that the sender left unescaped in a query string
    # (decoded as a space); line breaks are tolerated (some SPs wrap at 76 characters).
    cleaned = "".join(data.strip().replace(" ", "+").split())
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise BindingError(f"{what} is not valid base64") from None


def _inflate(raw: bytes, what: str) -> bytes:
    d = zlib.decompressobj(-15)
    try:
        out = d.decompress(raw, MAX_XML + 1)
    except zlib.error:
        raise BindingError(f"{what} is not raw DEFLATE data (HTTP-Redirect binding)") from None
    if len(out) > MAX_XML or d.unconsumed_tail:
        raise BindingError(f"{what} inflates to more than {MAX_XML} bytes")
    return out


def decode_redirect_request(saml_request_b64: str) -> bytes:
    """SAMLRequest/SAMLResponse of the HTTP-Redirect binding: base64, then raw DEFLATE."""
    return _inflate(_b64decode(saml_request_b64, "SAMLRequest"), "SAMLRequest")


def decode_post_request(b64: str) -> bytes:
    """SAMLRequest/SAMLResponse of the HTTP-POST binding: plain base64."""
    out = _b64decode(b64, "SAMLRequest")
    if len(out) > MAX_XML:
        raise BindingError(f"SAMLRequest is larger than {MAX_XML} bytes")
    return out


def encode_redirect(xml: bytes) -> str:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return base64.b64encode(c.compress(xml) + c.flush()).decode("ascii")


def encode_post(xml: bytes) -> str:
    return base64.b64encode(xml).decode("ascii")


_PARSER_KW = dict(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    dtd_validation=False,
    remove_pis=False,
)


def safe_parse(xml: bytes, what: str = "message", *, limit: int = MAX_XML) -> etree._Element:
    """Parse untrusted XML: no DTD (any DOCTYPE is refused), no entities, no network, size-capped."""
    if len(xml) > limit:
        raise BindingError(f"{what} is larger than {limit} bytes")
    parser = etree.XMLParser(**_PARSER_KW)  # type: ignore[arg-type]
    try:
        tree = etree.fromstring(xml, parser).getroottree()
    except etree.XMLSyntaxError as e:
        raise BindingError(f"{what} is not well-formed XML: {e.msg if hasattr(e, 'msg') else e}") from None
    except ValueError as e:
        raise BindingError(f"{what} cannot be parsed: {e}") from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None or tree.docinfo.externalDTD is not None:
        raise BindingError(f"{what} contains a DOCTYPE; SAML messages must not carry DTDs")
    root = tree.getroot()
    for el in root.iter():
        if isinstance(el, etree._Entity):
            raise BindingError(f"{what} contains an entity reference")
    return root


@dataclass
class AuthnRequestInfo:
    id: str
    issuer: str | None
    acs_url: str | None = None
    acs_index: int | None = None
    protocol_binding: str | None = None
    destination: str | None = None
    force_authn: bool = False
    is_passive: bool = False
    name_id_policy_format: str | None = None
    name_id_policy_allow_create: bool | None = None
    issue_instant: str | None = None
    signed: bool = False  # an enveloped ds:Signature is present (checked by the IdP, not here)
    requested_authn_context: list[str] = field(default_factory=list)


def _bool(v: str | None, where: str) -> bool:
    if v is None:
        return False
    if v in ("true", "1"):
        return True
    if v in ("false", "0"):
        return False
    raise BindingError(f"AuthnRequest {where}={v!r} is not an xs:boolean")


def parse_authn_request(xml: bytes) -> AuthnRequestInfo:
    root = safe_parse(xml, "AuthnRequest")
    if root.tag != q(SAMLP, "AuthnRequest"):
        raise BindingError(f"expected samlp:AuthnRequest, got {etree.QName(root).localname!r}")
    rid = root.get("ID")
    if not rid:
        raise BindingError("AuthnRequest has no ID attribute")
    if root.get("Version") != "2.0":
        raise BindingError(f"AuthnRequest Version is {root.get('Version')!r}, expected '2.0'")
    issuer_el = root.find(q(SAML, "Issuer"))
    idx = root.get("AssertionConsumerServiceIndex")
    acs_index: int | None = None
    if idx is not None:
        try:
            acs_index = int(idx)
        except ValueError:
            raise BindingError(f"AssertionConsumerServiceIndex {idx!r} is not an integer") from None
    nip = root.find(q(SAMLP, "NameIDPolicy"))
    rac = root.find(q(SAMLP, "RequestedAuthnContext"))
    return AuthnRequestInfo(
        id=rid,
        issuer=(issuer_el.text or "").strip() if issuer_el is not None else None,
        acs_url=root.get("AssertionConsumerServiceURL"),
        acs_index=acs_index,
        protocol_binding=root.get("ProtocolBinding"),
        destination=root.get("Destination"),
        force_authn=_bool(root.get("ForceAuthn"), "ForceAuthn"),
        is_passive=_bool(root.get("IsPassive"), "IsPassive"),
        name_id_policy_format=nip.get("Format") if nip is not None else None,
        name_id_policy_allow_create=(
            _bool(nip.get("AllowCreate"), "AllowCreate") if nip is not None and nip.get("AllowCreate") else None
        ),
        issue_instant=root.get("IssueInstant"),
        signed=root.find(q(DS, "Signature")) is not None,
        requested_authn_context=[
            (e.text or "").strip() for e in (rac.iter(q(SAML, "AuthnContextClassRef")) if rac is not None else [])
        ],
    )


def post_form_html(
    url: str,
    saml_response_b64: str,
    relay_state: str | None = None,
    *,
    field_name: str = "SAMLResponse",
) -> str:
    """An auto-submitting HTML form (HTTP-POST binding) with a button for browsers without JS."""
    e = lambda s: html.escape(s, quote=True)  # noqa: E731
    rs = (
        f'<input type="hidden" name="RelayState" value="{e(relay_state)}"/>' if relay_state is not None else ""
    )
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>SAML POST</title></head>"
        '<body onload="document.forms[0].submit()">'
        f'<form method="post" action="{e(url)}">'
        f'<input type="hidden" name="{e(field_name)}" value="{e(saml_response_b64)}"/>{rs}'
        '<noscript><p>JavaScript is off: press the button to continue.</p>'
        '<button type="submit">Continue</button></noscript>'
        "</form></body></html>\n"
    )


def deflate_bomb(size: int = 1 << 30, *, chunk: int = 1 << 20) -> str:
    """Base64 raw DEFLATE of `size` bytes of XML-ish filler (BND-02: a small Redirect value that
    inflates to `size` bytes). Built by streaming, so memory stays small."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = [c.compress(b"<samlp:Response>")]
    block = b"A" * chunk
    left = size
    while left > 0:
        n = min(left, chunk)
        out.append(c.compress(block[:n]))
        left -= n
    out.append(c.compress(b"</samlp:Response>"))
    out.append(c.flush())
    return base64.b64encode(b"".join(out)).decode("ascii")
