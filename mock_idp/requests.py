"""Signature checks for AuthnRequests (HTTP-Redirect query signatures and POST enveloped signatures)."""
from __future__ import annotations


import textwrap
from typing import TYPE_CHECKING, Any

import xmlsec
from lxml import etree

from .bindings import safe_parse
from .builder import DS, q
from .redirect_sig import verify_query

if TYPE_CHECKING:  # pragma: no cover
    from .bindings import AuthnRequestInfo
    from .idp import MockIdP
    from .metadata import SPInfo

__all__ = ["check_request_signature", "verify_enveloped"]


def _pem(b64: str) -> bytes:
    body = "\n".join(textwrap.wrap("".join(b64.split()), 64))
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n".encode()


def verify_enveloped(xml: bytes, certs_b64: list[str]) -> str | None:
    """None when the root element's enveloped signature (Reference = the root's ID) verifies."""
    root = safe_parse(xml, "message")
    sig = next((c for c in root if c.tag == q(DS, "Signature")), None)
    if sig is None:
        return "the message is not signed (no ds:Signature)"
    refs = [e for e in sig.iter() if e.tag == q(DS, "Reference")]
    if len(refs) != 1 or refs[0].get("URI") != "#" + (root.get("ID") or ""):
        return "the signature must have one Reference to the signed element's ID"
    for c in certs_b64:
        ctx = xmlsec.SignatureContext()
        ctx.key = xmlsec.Key.from_memory(_pem(c), xmlsec.constants.KeyDataFormatCertPem)
        ctx.register_id(root, "ID")
        try:
            ctx.verify(sig)
            return None
        except xmlsec.Error:
            continue
    return "the enveloped signature does not verify with the SP's signing certificate"


def check_request_signature(
    idp: "MockIdP",
    sp: "SPInfo",
    request: Any,
    xml: bytes,
    info: "AuthnRequestInfo | None",
    param: str = "SAMLRequest",
    required: bool | None = None,
) -> str | None:
    """None when acceptable, else a one-line reason.

    A signature present is always checked against the SP's signing certificates; one absent is
    refused when the SP's metadata says AuthnRequestsSigned="true" (or the IdP requires it).
    """
    if required is None:
        required = sp.authn_requests_signed or idp.require_signed_requests
    if request.method == "GET":
        present = "Signature" in request.args
        if not present:
            return f"the SP must sign its messages (metadata), but its {param} is not signed" if required else None
        if not sp.signing_certs:
            return "the request is signed but the SP's metadata has no signing certificate"
        return verify_query(request.query_string, sp.signing_certs, param)
    root_has_sig = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)).find(q(DS, "Signature")) is not None
    if not root_has_sig:
        return f"the SP must sign its messages (metadata), but its {param} is not signed" if required else None
    if not sp.signing_certs:
        return "the request is signed but the SP's metadata has no signing certificate"
    return verify_enveloped(xml, sp.signing_certs)


