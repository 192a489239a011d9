"""Decode SAML protocol messages seen on the wire into short evidence summaries.

Parsing is safe (no DTDs, no entities, no network) and bounded; nothing here trusts the content.
"""
from __future__ import annotations

import base64
import binascii
import zlib
from typing import Any

from lxml import etree

MAX_MESSAGE = 512 * 1024
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"


def decode(value: str, *, deflated: bool) -> bytes | None:
    try:
        raw = base64.b64decode(value.strip(), validate=False)
    except (binascii.Error, ValueError):
        return None
    if deflated:
        try:
            d = zlib.decompressobj(-15)
            raw = d.decompress(raw, MAX_MESSAGE)
        except zlib.error:
            return None
    return raw[:MAX_MESSAGE]


def summarize(xml: bytes | None) -> dict[str, Any]:
    """Type, ID, InResponseTo, Destination, Issuer, status and NameID of a SAML message."""
    if not xml:
        return {"decoded": False}
    try:
        root = etree.fromstring(xml, _PARSER)
    except etree.XMLSyntaxError as exc:
        return {"decoded": False, "error": str(exc)[:200]}
    out: dict[str, Any] = {"type": etree.QName(root).localname}
    for attr in ("ID", "InResponseTo", "Destination", "AssertionConsumerServiceURL"):
        if root.get(attr):
            out[attr] = root.get(attr)
    issuer = root.find(f"{{{SAML}}}Issuer")
    if issuer is not None:
        out["Issuer"] = (issuer.text or "").strip()
    status = root.find(f"{{{SAMLP}}}Status/{{{SAMLP}}}StatusCode")
    if status is not None:
        out["Status"] = status.get("Value", "").rsplit(":", 1)[-1]
    nameid = root.find(f".//{{{SAML}}}Subject/{{{SAML}}}NameID")
    if nameid is not None:
        out["NameID"] = "".join(nameid.itertext())
    n = len(root.findall(f".//{{{SAML}}}Assertion"))
    if out["type"] == "Response":
        out["assertions"] = n
    return out


def summarize_params(params: dict[str, str], *, redirect: bool) -> dict[str, Any]:
    """Summaries of SAMLRequest / SAMLResponse / RelayState found in query or form parameters."""
    out: dict[str, Any] = {}
    for key in ("SAMLRequest", "SAMLResponse"):
        if key in params:
            # the Redirect binding deflates both messages (LogoutResponses travel that way too)
            out[key] = summarize(decode(params[key], deflated=redirect))
    if "RelayState" in params:
        out["RelayState"] = params["RelayState"][:200]
    return out
