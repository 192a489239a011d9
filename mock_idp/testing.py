"""Helpers for tests and scenarios: SP metadata on the fly, AuthnRequests, independent verification."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from lxml import etree

from .bindings import BINDING_POST, BINDING_REDIRECT, encode_post, encode_redirect
from .builder import DS, MD, SAML, SAMLP, new_id, q, xml_time
from .keys import KeyPair

__all__ = ["sp_metadata", "authn_request", "xmlsec1_verify", "XMLSEC1"]

XMLSEC1 = shutil.which("xmlsec1")


def sp_metadata(
    entity_id: str,
    acs_urls: Sequence[str],
    *,
    slo_url: str | None = None,
    signing_cert: KeyPair | None = None,
    encryption_cert: KeyPair | None = None,
    want_assertions_signed: bool = True,
    authn_requests_signed: bool = False,
    default_index: int | None = None,
) -> bytes:
    """SPSSODescriptor metadata with one POST ACS per URL (index 0, 1, ...)."""
    ed = etree.Element(q(MD, "EntityDescriptor"), nsmap={"md": MD, "ds": DS}, entityID=entity_id)
    sp = etree.SubElement(
        ed,
        q(MD, "SPSSODescriptor"),
        protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol",
        AuthnRequestsSigned="true" if authn_requests_signed else "false",
        WantAssertionsSigned="true" if want_assertions_signed else "false",
    )
    for use, k in (("signing", signing_cert), ("encryption", encryption_cert)):
        if k is not None:
            kd = etree.SubElement(sp, q(MD, "KeyDescriptor"), use=use)
            x = etree.SubElement(etree.SubElement(kd, q(DS, "KeyInfo")), q(DS, "X509Data"))
            etree.SubElement(x, q(DS, "X509Certificate")).text = k.cert_b64
    if slo_url:
        for b in (BINDING_REDIRECT, BINDING_POST):
            etree.SubElement(sp, q(MD, "SingleLogoutService"), Binding=b, Location=slo_url)
    etree.SubElement(sp, q(MD, "NameIDFormat")).text = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    for i, url in enumerate(acs_urls):
        attrs = {"Binding": BINDING_POST, "Location": url, "index": str(i)}
        if default_index is not None:
            attrs["isDefault"] = "true" if i == default_index else "false"
        etree.SubElement(sp, q(MD, "AssertionConsumerService"), attrs)
    return etree.tostring(ed, xml_declaration=True, encoding="UTF-8")


def authn_request(
    issuer: str,
    *,
    destination: str | None = None,
    acs_url: str | None = None,
    acs_index: int | None = None,
    request_id: str | None = None,
    is_passive: bool = False,
    force_authn: bool = False,
    name_id_format: str | None = None,
    binding: str = "redirect",
) -> tuple[str, str, bytes]:
    """(request_id, encoded SAMLRequest for `binding`, xml) of a minimal AuthnRequest."""
    rid = request_id or new_id()
    r = etree.Element(q(SAMLP, "AuthnRequest"), nsmap={"samlp": SAMLP, "saml": SAML})
    r.set("ID", rid)
    r.set("Version", "2.0")
    r.set("IssueInstant", xml_time(datetime.now(timezone.utc)))
    if destination:
        r.set("Destination", destination)
    if acs_url:
        r.set("AssertionConsumerServiceURL", acs_url)
        r.set("ProtocolBinding", BINDING_POST)
    if acs_index is not None:
        r.set("AssertionConsumerServiceIndex", str(acs_index))
    if is_passive:
        r.set("IsPassive", "true")
    if force_authn:
        r.set("ForceAuthn", "true")
    etree.SubElement(r, q(SAML, "Issuer")).text = issuer
    if name_id_format:
        etree.SubElement(r, q(SAMLP, "NameIDPolicy"), Format=name_id_format, AllowCreate="true")
    xml = etree.tostring(r)
    enc = encode_redirect(xml) if binding == "redirect" else encode_post(xml)
    return rid, enc, xml


ID_ELEMENTS = (
    "urn:oasis:names:tc:SAML:2.0:protocol:Response",
    "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
    "urn:oasis:names:tc:SAML:2.0:protocol:LogoutRequest",
    "urn:oasis:names:tc:SAML:2.0:protocol:LogoutResponse",
    "urn:oasis:names:tc:SAML:2.0:protocol:AuthnRequest",
)


def xmlsec1_verify(
    xml: bytes, cert_pem: bytes, *, node_id: str | None = None, id_elements: Sequence[str] = ID_ELEMENTS
) -> tuple[bool, str]:
    """Verify with the `xmlsec1` command-line tool given only `cert_pem` (an independent verifier).

    `node_id`: verify the Signature enveloped in the element with that ID (default: the first
    Signature in the document).
    """
    if XMLSEC1 is None:
        raise RuntimeError("xmlsec1 command not found (Debian package xmlsec1)")
    with tempfile.TemporaryDirectory(prefix="samlconf-xmlsec1-") as d:
        doc, cert = Path(d) / "doc.xml", Path(d) / "cert.pem"
        doc.write_bytes(xml)
        cert.write_bytes(cert_pem)
        cmd = [
            XMLSEC1, "--verify", "--pubkey-cert-pem", str(cert), "--enabled-reference-uris", "same-doc",
        ]
        for el in id_elements:
            cmd += ["--id-attr:ID", el]
        if node_id:
            cmd += ["--node-xpath", f"//*[@ID='{node_id}']/*[local-name()='Signature']"]
        cmd.append(str(doc))
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return p.returncode == 0, p.stderr
