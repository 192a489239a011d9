"""A small SP of our own on python-xmlsec (not pysaml2, not the reference SP): real XML signature
verification with the IdP certificate from the metadata the harness hands it, and three ways of
reading a Response, each a kind of SP seen in the wild:

- `strict`: Shibboleth-like. Exactly one Assertion, signed by a direct-child enveloped signature
  referencing its own ID, IDs unique, allow-listed algorithms and transforms, Issuer, Destination,
  Recipient, Audience, time window, InResponseTo, replay, AuthnStatement, non-empty NameID. Every
  refusal is an unhandled exception: HTTP 500, as Shibboleth SP answers by design.
- `lax_signed`: "verify what you use". Any signature that verifies over the element its Reference
  names (checked on a copy of that element alone) is enough, however the message is wrapped; the
  identity is then read from the verified copy only. It accepts wrapped messages (lax parsing) but
  always signs in the identity the IdP really signed.
- `first_assertion`: the classic XSW-vulnerable SP. Some signature in the document must verify
  in place; the identity is read from the first Assertion in document order.

Refusals are HTTP 500 in every mode. Sessions are a random cookie; `/api/me` is the whoami JSON
(`{"email": ..., "name_id": ...}`, 401 when nobody is signed in).
"""
from __future__ import annotations

import base64
import copy
import secrets
import threading
import zlib
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import xmlsec
from flask import Flask, Response, jsonify, redirect, request
from lxml import etree

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
ENTITY_ID = "urn:samlconf:test:xmlsec-sp"
TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
SKEW = timedelta(seconds=120)
SIG_METHODS = {"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
               "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"}
DIGESTS = {"http://www.w3.org/2001/04/xmlenc#sha256", "http://www.w3.org/2001/04/xmldsig-more#sha384",
           "http://www.w3.org/2001/04/xmlenc#sha512"}
TRANSFORMS = {"http://www.w3.org/2000/09/xmldsig#enveloped-signature", "http://www.w3.org/2001/10/xml-exc-c14n#"}
MODES = ("strict", "lax_signed", "first_assertion")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


class Refused(Exception):
    """The SP refuses the message (the app lets it escape: HTTP 500)."""


def q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _text(el: etree._Element | None) -> str:
    return "".join(el.itertext()).strip() if el is not None else ""


class XmlsecSP:
    def __init__(self, mode: str, *, transient: bool = False) -> None:
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}: one of {MODES}")
        self.mode = mode
        self.transient = transient
        self.idp_entity_id: str | None = None
        self.idp_sso: str | None = None
        self.idp_cert_pem: bytes | None = None
        self.pending: set[str] = set()
        self.seen: set[str] = set()
        self.sessions: dict[str, dict[str, str]] = {}
        self.lock = threading.Lock()

    # --- configuration ---------------------------------------------------------------------
    def configure(self, metadata_xml: str) -> None:
        root = etree.fromstring(metadata_xml.encode(), _PARSER)
        desc = root.find(f".//{q(MD, 'IDPSSODescriptor')}")
        sso = [e for e in desc.iter(q(MD, "SingleSignOnService")) if e.get("Binding") == REDIRECT]
        certs = [k for k in desc.iter(q(MD, "KeyDescriptor")) if k.get("use") in (None, "signing")]
        b64 = "".join(_text(certs[0].find(f".//{q(DS, 'X509Certificate')}")).split())
        lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
        self.idp_cert_pem = ("-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n").encode()
        self.idp_entity_id = root.get("entityID")
        self.idp_sso = sso[0].get("Location")

    def metadata(self, base: str) -> str:
        return (f'<md:EntityDescriptor xmlns:md="{MD}" entityID="{ENTITY_ID}">'
                f'<md:SPSSODescriptor WantAssertionsSigned="true" '
                f'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
                + (f'<md:NameIDFormat>{TRANSIENT}</md:NameIDFormat>' if self.transient else "")
                + f'<md:AssertionConsumerService Binding="{POST}" Location="{base}saml/acs" index="0" isDefault="true"/>'
                f'</md:SPSSODescriptor></md:EntityDescriptor>')

    def authn_request(self, acs: str) -> tuple[str, str]:
        rid = "_" + secrets.token_hex(16)
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        xml = (f'<samlp:AuthnRequest xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="{rid}" Version="2.0" '
               f'IssueInstant="{now}" Destination="{self.idp_sso}" AssertionConsumerServiceURL="{acs}" '
               f'ProtocolBinding="{POST}"><saml:Issuer>{ENTITY_ID}</saml:Issuer>'
               + (f'<samlp:NameIDPolicy Format="{TRANSIENT}" AllowCreate="true"/>' if self.transient else "")
               + '</samlp:AuthnRequest>')
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        deflated = c.compress(xml.encode()) + c.flush()
        with self.lock:
            self.pending.add(rid)
        return rid, base64.b64encode(deflated).decode()

    # --- signatures ---------------------------------------------------------------------------
    def _key(self) -> xmlsec.Key:
        if self.idp_cert_pem is None:
            raise Refused("no IdP configured")
        return xmlsec.Key.from_memory(self.idp_cert_pem, xmlsec.constants.KeyDataFormatCertPem)

    def _verify_in_place(self, sig: etree._Element) -> bool:
        ctx = xmlsec.SignatureContext()
        ctx.key = self._key()
        try:
            ctx.verify(sig)
            return True
        except xmlsec.Error:
            return False

    @staticmethod
    def _check_algorithms(sig: etree._Element) -> str:
        """The Reference's ID (without '#'), after checking algorithms and transforms."""
        method = sig.find(f"{q(DS, 'SignedInfo')}/{q(DS, 'SignatureMethod')}")
        refs = sig.findall(f"{q(DS, 'SignedInfo')}/{q(DS, 'Reference')}")
        if method is None or method.get("Algorithm") not in SIG_METHODS:
            raise Refused("signature algorithm not allowed")
        if len(refs) != 1:
            raise Refused("a signature must have exactly one Reference")
        ref = refs[0]
        digest = ref.find(q(DS, "DigestMethod"))
        if digest is None or digest.get("Algorithm") not in DIGESTS:
            raise Refused("digest algorithm not allowed")
        for t in ref.iter(q(DS, "Transform")):
            if t.get("Algorithm") not in TRANSFORMS:
                raise Refused(f"transform {t.get('Algorithm')} not allowed")
        uri = ref.get("URI") or ""
        if not uri.startswith("#") or len(uri) < 2:
            raise Refused("the Reference must name an element by ID")
        return uri[1:]

    def _verify_copy(self, sig: etree._Element, target: etree._Element) -> etree._Element | None:
        """Verify `sig` over a copy of `target` alone (enveloped or detached); the verified copy."""
        wrapper = etree.Element("{urn:samlconf:test}verify")
        t = copy.deepcopy(target)
        wrapper.append(t)
        path: list[int] = []
        node = sig
        while node is not None and node is not target:
            parent = node.getparent()
            if parent is None:
                break
            path.append(parent.index(node))
            node = parent
        if node is target:  # enveloped: the same Signature inside the copy
            s = t
            for i in reversed(path):
                s = s[i]
        else:  # detached (e.g. the signed copy moved elsewhere): the Signature next to the copy
            s = copy.deepcopy(sig)
            for child in list(s):  # keep what a signature is made of; drop what was hidden in it
                if child.tag not in (q(DS, "SignedInfo"), q(DS, "SignatureValue"), q(DS, "KeyInfo")):
                    s.remove(child)
            wrapper.append(s)
        ids = [e.get("ID") for e in wrapper.iter() if e.get("ID")]
        if len(ids) != len(set(ids)):
            return None
        xmlsec.tree.add_ids(wrapper, ["ID"])
        return t if self._verify_in_place(s) else None

    # --- the ACS ------------------------------------------------------------------------------
    def consume(self, saml_response: str, acs_url: str) -> dict[str, Any]:
        try:
            raw = base64.b64decode(saml_response, validate=False)
        except ValueError:
            raise Refused("SAMLResponse is not base64") from None
        if b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
            raise Refused("DTDs are not allowed")
        root = etree.fromstring(raw, _PARSER)
        if root.tag != q(SAMLP, "Response"):
            raise Refused("not a samlp:Response")
        status = root.find(f"{q(SAMLP, 'Status')}/{q(SAMLP, 'StatusCode')}")
        if status is None or status.get("Value") != SUCCESS:
            raise Refused("status is not Success")
        if root.get("Destination") not in (None, acs_url):
            raise Refused("wrong Destination")
        issuer = root.find(q(SAML, "Issuer"))
        if issuer is not None and _text(issuer) != self.idp_entity_id:
            raise Refused("wrong Issuer on the Response")
        assertion = {"strict": self._strict, "lax_signed": self._lax_signed,
                     "first_assertion": self._first_assertion}[self.mode](root)
        return self._check_assertion(assertion, root, acs_url)

    def _strict(self, root: etree._Element) -> etree._Element:
        ids = [e.get("ID") for e in root.iter() if e.get("ID")]
        if len(ids) != len(set(ids)):
            raise Refused("duplicate IDs")
        assertions = list(root.iter(q(SAML, "Assertion")))
        if len(assertions) != 1 or assertions[0].getparent() is not root:
            raise Refused("exactly one Assertion, a child of the Response, is required")
        a = assertions[0]
        xmlsec.tree.add_ids(root, ["ID"])
        for element in (root, a):
            sigs = element.findall(q(DS, "Signature"))
            if element is a and len(sigs) != 1:
                raise Refused("the Assertion must carry one signature (WantAssertionsSigned)")
            for sig in sigs:
                if self._check_algorithms(sig) != element.get("ID"):
                    raise Refused("the signature does not reference its own element")
                if not self._verify_in_place(sig):
                    raise Refused("signature does not verify")
        other = [s for s in root.iter(q(DS, "Signature")) if s.getparent() not in (root, a)]
        if other:
            raise Refused("a signature in an unexpected place")
        return a

    def _lax_signed(self, root: etree._Element) -> etree._Element:
        for sig in root.iter(q(DS, "Signature")):
            try:
                ref_id = self._check_algorithms(sig)
            except Refused:
                continue
            for target in root.iter():
                if target.get("ID") != ref_id:
                    continue
                verified = self._verify_copy(sig, target)
                if verified is None:
                    continue
                if verified.tag == q(SAML, "Assertion"):
                    return verified
                inner = verified.findall(q(SAML, "Assertion"))
                if verified.tag == q(SAMLP, "Response") and len(inner) == 1:
                    return inner[0]
        raise Refused("no signature verifies")

    def _first_assertion(self, root: etree._Element) -> etree._Element:
        xmlsec.tree.add_ids(root, ["ID"])
        if not any(self._verify_in_place(s) for s in root.iter(q(DS, "Signature"))):
            raise Refused("no signature verifies")
        first = next(root.iter(q(SAML, "Assertion")), None)
        if first is None:
            raise Refused("no Assertion")
        return first

    def _check_assertion(self, a: etree._Element, root: etree._Element, acs_url: str) -> dict[str, Any]:
        now = datetime.now(timezone.utc)
        if _text(a.find(q(SAML, "Issuer"))) != self.idp_entity_id:
            raise Refused("wrong Issuer on the Assertion")
        cond = a.find(q(SAML, "Conditions"))
        if cond is None:
            raise Refused("no Conditions")
        nb, noa = _time(cond.get("NotBefore")), _time(cond.get("NotOnOrAfter"))
        if (nb and now + SKEW < nb) or (noa and now - SKEW >= noa):
            raise Refused("outside the Conditions' time window")
        restrictions = cond.findall(q(SAML, "AudienceRestriction"))
        if not restrictions or any(ENTITY_ID not in [_text(x) for x in r.findall(q(SAML, "Audience"))]
                                   for r in restrictions):
            raise Refused("not for this audience")
        subject = a.find(q(SAML, "Subject"))
        name_id = _text(subject.find(q(SAML, "NameID")) if subject is not None else None)
        if not name_id:
            raise Refused("no NameID")
        bearer = [sc for sc in subject.findall(q(SAML, "SubjectConfirmation"))
                  if sc.get("Method") == "urn:oasis:names:tc:SAML:2.0:cm:bearer"]
        ok = False
        irt = root.get("InResponseTo")
        for sc in bearer:
            d = sc.find(q(SAML, "SubjectConfirmationData"))
            if d is None or d.get("Recipient") != acs_url:
                continue
            exp = _time(d.get("NotOnOrAfter"))
            if exp is None or now - SKEW >= exp or (d.get("InResponseTo") or irt) != irt:
                continue
            ok = True
        if not ok:
            raise Refused("no valid bearer SubjectConfirmation")
        if a.find(q(SAML, "AuthnStatement")) is None:
            raise Refused("no AuthnStatement")
        with self.lock:
            if irt is not None:
                if irt not in self.pending:
                    raise Refused("InResponseTo matches no request")
                self.pending.discard(irt)
            if a.get("ID") in self.seen:
                raise Refused("assertion replayed")
            self.seen.add(a.get("ID") or "")
        email = None if self.transient else name_id
        for attr in a.findall(f"{q(SAML, 'AttributeStatement')}/{q(SAML, 'Attribute')}"):
            values = attr.findall(q(SAML, "AttributeValue"))
            if attr.get("Name") == "Email" and values:
                email = _text(values[0])
                break
        if self.transient:  # mellon-like: the session shows the NameID; the email only if sent
            return {"user": name_id, "email": email}
        return {"email": email, "name_id": name_id}


def create_app(mode: str, *, refuse_offsite_relay_state: bool = False, transient: bool = False,
               insecure_samesite_none: bool = False) -> Flask:
    """The SP as a Flask app; `refuse_offsite_relay_state`: refuse (500) the whole login when the
    RelayState is an absolute URL (a safe answer to an open-redirect attempt, SES-04); `transient`:
    ask for a transient NameID and show `{"user": <NameID>, "email": <Email attribute or null>}`
    (like mod_auth_mellon with a whoami page of MELLON_NAME_ID); `insecure_samesite_none`: the session
    cookie is `SameSite=None` without `Secure` (a current Chromium drops it)."""
    sp = XmlsecSP(mode, transient=transient)
    app = Flask(f"xmlsec_sp_{mode}")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.extensions["xmlsec_sp"] = sp

    @app.errorhandler(Refused)
    def refused(exc: Refused) -> Response:
        return Response(f"Internal Server Error: SAML message refused ({exc})", status=500)

    @app.get("/saml/metadata")
    def metadata() -> Response:
        return Response(sp.metadata(request.url_root), mimetype="application/samlmetadata+xml")

    @app.post("/admin/configure-idp")
    def configure() -> Any:
        sp.configure((request.get_json() or {})["idp_metadata"])
        return jsonify({"ok": True})

    @app.get("/login")
    def login() -> Any:
        _, req = sp.authn_request(request.url_root + "saml/acs")
        query = {"SAMLRequest": req, "RelayState": request.args.get("relay_state", "")}
        return redirect(f"{sp.idp_sso}?{urlencode(query)}", code=302)

    @app.post("/saml/acs")
    def acs() -> Any:
        relay = request.form.get("RelayState", "")
        if refuse_offsite_relay_state and "//" in relay:
            raise Refused("RelayState is not a local path")
        who = sp.consume(request.form.get("SAMLResponse", ""), request.base_url)
        sid = secrets.token_urlsafe(16)
        with sp.lock:
            sp.sessions[sid] = who
        resp = redirect("/", code=302)
        if insecure_samesite_none:
            resp.headers.add("Set-Cookie", f"sid={sid}; Path=/; HttpOnly; SameSite=None")
        else:
            resp.set_cookie("sid", sid, httponly=True, samesite="Lax")
        return resp

    @app.get("/")
    def home() -> Any:
        return Response("<html><body>home</body></html>", mimetype="text/html")

    @app.get("/api/me")
    def me() -> Any:
        who = sp.sessions.get(request.cookies.get("sid", ""))
        if who is None:
            return jsonify({"error": "not signed in"}), 401
        return jsonify(who)

    return app


TARGET_TOML = """
name = "xmlsec-sp ({mode})"
profile = "generic"
base_url = "{base}"

[sp]
metadata_url = "/saml/metadata"

[login]
sp_initiated_url = "/login?email={{email}}&relay_state={{relay_state}}"

[whoami]
url = "/api/me"
json_path = "email"
name_id_path = "name_id"

[hooks.configure_idp]
method = "POST"
url = "/admin/configure-idp"
json = {{ idp_metadata = "{{idp_metadata}}" }}
"""
