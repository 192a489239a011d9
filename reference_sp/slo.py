"""Logout and SAML single logout (HTTP-Redirect binding, signed both ways)."""
from __future__ import annotations

import base64
import binascii
import logging
import secrets
import time
import zlib
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import unquote_plus

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from flask import Flask, Response, redirect, request, session
from lxml import etree
from saml2 import BINDING_HTTP_REDIRECT
from saml2.saml import NameID
from saml2.xmldsig import SIG_RSA_SHA256

from .saml import SAML, SAMLP, Rejected, idp_info, parse_xml, text_of

if TYPE_CHECKING:
    from .app import RefSP

NAMEID_UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
log = logging.getLogger("reference_sp")

SIGALGS = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": hashes.SHA256(),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": hashes.SHA384(),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": hashes.SHA512(),
}
SHA1 = {"http://www.w3.org/2000/09/xmldsig#rsa-sha1": hashes.SHA1()}
STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
STATUS_REQUESTER = "urn:oasis:names:tc:SAML:2.0:status:Requester"


def _raw_params(query: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in query.split("&"):
        if "=" in part:
            k, v = part.split("=", 1)
            if k in out:
                raise Rejected(f"the parameter {k} appears twice", "BND-05")
            out[k] = v
    return out


def verify_redirect_signature(raw: dict[str, str], msg_key: str, cert_pems: tuple[bytes, ...],
                              allow_sha1: bool) -> None:
    """Bindings 3.4.4.1: signature over `SAMLxxx=..&RelayState=..&SigAlg=..` as sent."""
    if "Signature" not in raw or "SigAlg" not in raw:
        raise Rejected("the message is not signed", "SLO-01")
    sigalg = unquote_plus(raw["SigAlg"])
    algs = dict(SIGALGS, **(SHA1 if allow_sha1 else {}))
    if sigalg not in algs:
        raise Rejected(f"SigAlg {sigalg!r} is not allowed", "ALG-09")
    signed = f"{msg_key}={raw[msg_key]}"
    if "RelayState" in raw:
        signed += f"&RelayState={raw['RelayState']}"
    signed += f"&SigAlg={raw['SigAlg']}"
    try:
        sig = base64.b64decode(unquote_plus(raw["Signature"]), validate=True)
    except (binascii.Error, ValueError):
        raise Rejected("the Signature parameter is not base64", "SLO-02") from None
    for pem in cert_pems:
        pub = x509.load_pem_x509_certificate(pem).public_key()
        try:
            pub.verify(sig, signed.encode(), padding.PKCS1v15(), algs[sigalg])  # type: ignore[union-attr,call-arg]
            return
        except (InvalidSignature, TypeError, ValueError):
            continue
    raise Rejected("the message signature does not verify with the IdP's certificate", "SLO-02")


def inflate(b64: str, unbounded: bool = False) -> etree._Element:
    try:
        data = base64.b64decode(unquote_plus(b64), validate=False)
        d = zlib.decompressobj(-15)
        xml = d.decompress(data, 0 if unbounded else 256 * 1024)  # the `unbounded_inflate` mutant
        if d.unconsumed_tail:
            raise Rejected("the message inflates beyond 256 KB", "BND-02")
    except (binascii.Error, zlib.error, ValueError):
        raise Rejected("the message is not deflate+base64", "BND-04") from None
    return parse_xml(xml)


def register_slo(app: Flask, sp: "RefSP", current_session: Callable[[], Any]) -> None:
    from .app import error_page, page

    cfg = sp.cfg

    def _format(value: str | None) -> str:
        return "" if not value or value == NAMEID_UNSPECIFIED else value

    @app.route("/logout", methods=["GET", "POST"])
    def logout() -> Response:
        s = current_session()
        session.pop("sid", None)
        nq, spnq = (session.pop("nid_q", None) or [None, None])[:2]
        if s is None:
            return redirect("/", 302)
        with sp.store.tx() as c:  # the local session ends first (saml2int SDP-SP34)
            c.execute("DELETE FROM sessions WHERE sid = ?", (s["sid"],))
        idp = sp.idp(s["idp_id"]) if s["auth_method"] == "saml" else None
        if sp.m("logout_waits_for_idp") and s["auth_method"] == "saml":
            _keep_until_idp_answers(s)  # the defect: the session is back until the IdP says Success
        if idp is None or request.args.get("local") or sp.m("logout_local_only"):
            return page("Signed out", "<p id='signed-out'>You are signed out.</p>")
        info = idp_info(bytes(idp["metadata"]))
        if not info.slo_redirect:
            return page("Signed out", "<p id='signed-out'>You are signed out.</p>")
        client = sp.clients.client([bytes(idp["metadata"])])
        user = sp.store.one("SELECT name_id_format FROM users WHERE id = ?", (s["user_id"],))
        fmt = (user["name_id_format"] if user else "") or None
        # byte-identical to the one received: value, Format and qualifiers (SDP-SP29, SLO-16)
        nid = NameID(text=s["name_id"], format=fmt, name_qualifier=nq, sp_name_qualifier=spnq)
        if sp.m("slo_request_bare_nameid"):
            nid = NameID(text=s["name_id"])  # the defect: Format and qualifiers dropped
        expire = None if sp.m("slo_request_no_expiry") else \
            (datetime.now(timezone.utc) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        req_id, req = client.create_logout_request(
            info.slo_redirect, info.entity_id, name_id=nid,
            session_indexes=[s["session_index"]] if s["session_index"] else None,
            expire=expire, sign=False)
        binfo = client.apply_binding(BINDING_HTTP_REDIRECT, str(req), info.slo_redirect,
                                     relay_state="/", sign=True, sigalg=SIG_RSA_SHA256)
        session["logout_req"] = {"id": req_id, "idp": idp["id"]}
        return redirect(dict(binfo["headers"])["Location"], 302)

    @app.route("/saml/slo", methods=["GET"])
    def slo() -> Response:
        try:
            raw = _raw_params(request.query_string.decode("ascii", "replace"))
            if "SAMLRequest" in raw:
                return _logout_request(raw)
            if "SAMLResponse" in raw:
                return _logout_response(raw)
            raise Rejected("no SAMLRequest or SAMLResponse", "BND-01")
        except Rejected as r:
            return error_page("Logout refused", r.message, 400, r.check)

    def _keep_until_idp_answers(s: Any) -> None:
        """The `logout_waits_for_idp` mutant: the local session is restored and ends only when the
        IdP's LogoutResponse says Success."""
        cols = list(s.keys())
        with sp.store.tx() as c:
            c.execute(f"INSERT INTO sessions ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                      tuple(s[k] for k in cols))
        session["sid"] = s["sid"]
        session["logout_sid"] = s["sid"]

    def _idp_for(root: etree._Element) -> Any:
        iss = root.find(f"{{{SAML}}}Issuer")
        if sp.m("slo_ignores_issuer") and (iss is None or sp.idp_by_entity(text_of(iss)) is None):
            return sp.idp(cfg.idp_id)  # the defect: no or a foreign Issuer is taken as our IdP
        if iss is None:
            raise Rejected("the logout message has no Issuer", "SLO-03")
        row = sp.idp_by_entity(text_of(iss))
        if row is None:
            raise Rejected(f"unknown Issuer {text_of(iss)!r}", "SLO-03")
        return row

    def _logout_request(raw: dict[str, str]) -> Response:
        root = inflate(raw["SAMLRequest"], unbounded=sp.m("unbounded_inflate"))
        if root.tag != f"{{{SAMLP}}}LogoutRequest":
            raise Rejected("expected a LogoutRequest", "BND-01")
        idp = _idp_for(root)
        info = idp_info(bytes(idp["metadata"]))
        if sp.m("slo_xsw") and "Signature" not in raw and _embedded_idp_signature(root, info):
            pass  # the defect: any IdP-signed element inside the message stands for its signature
        elif sp.m("slo_signature_not_verified") and "Signature" in raw and "SigAlg" in raw:
            pass  # the defect: a Signature parameter is required but never verified
        elif not sp.m("slo_accepts_unsigned") or "Signature" in raw:
            verify_redirect_signature(raw, "SAMLRequest", info.signing_certs,
                                      allow_sha1=sp.m("accepts_sha1"))
        if root.get("Destination") != cfg.slo_url and not sp.m("slo_ignores_destination"):
            raise Rejected(f"Destination {root.get('Destination')!r} is not {cfg.slo_url}", "SLO-05")
        noa = root.get("NotOnOrAfter")
        if noa:
            try:
                t = datetime.fromisoformat(noa.replace("Z", "+00:00"))
            except ValueError:
                raise Rejected("NotOnOrAfter is not a dateTime", "SLO-04") from None
            if (t.tzinfo is None or datetime.now(timezone.utc) - timedelta(seconds=120) >= t) \
                    and not sp.m("slo_ignores_time"):
                raise Rejected("the LogoutRequest has expired", "SLO-04")
        nid = root.find(f"{{{SAML}}}NameID")
        by_index_only = sp.m("slo_session_index_only")
        if (nid is None or not text_of(nid).strip()) and not by_index_only:
            raise Rejected("the LogoutRequest has no NameID", "SLO-07")
        rid = root.get("ID") or ""
        if not sp.m("no_replay_cache") and not sp.store.consume_ids(
                [f"slo|{idp['entity_id']}|{rid}"], time.time() + 3600):
            raise Rejected("this LogoutRequest was already used", "SLO-09")
        indexes = [text_of(x) for x in root.findall(f"{{{SAMLP}}}SessionIndex")]
        if sp.m("slo_ignores_session_index"):
            indexes = []  # the defect: every session of the NameID ends
        name = text_of(nid).strip() if nid is not None else ""
        # The NameID must match the one asserted, Format included (SAML Core 3.7.1, 8.3: no
        # Format = unspecified), as mod_auth_mellon and SimpleSAMLphp match it.
        fmt = _format(nid.get("Format")) if nid is not None else None
        with sp.store.tx() as c:
            if by_index_only and indexes:  # the defect: the NameID is not matched at all
                qs = ",".join("?" * len(indexes))
                n = c.execute(f"DELETE FROM sessions WHERE idp_id = ? AND session_index IN ({qs})",
                              (idp["id"], *indexes)).rowcount
            else:
                rows = c.execute("SELECT s.sid, s.session_index, u.name_id_format FROM sessions s "
                                 "JOIN users u ON u.id = s.user_id WHERE s.idp_id = ? AND s.name_id = ?",
                                 (idp["id"], name)).fetchall()
                sids = [r[0] for r in rows if _format(r[2]) == fmt and (not indexes or r[1] in indexes)]
                n = sum(c.execute("DELETE FROM sessions WHERE sid = ?", (sid,)).rowcount for sid in sids)
        log.info("SLO: %d session(s) of %s ended", n, name)
        if sp.m("slo_no_logout_response"):  # the defect: the IdP is never answered
            return page("Signed out", f"<p id='signed-out'>{n} session(s) ended.</p>")
        status = STATUS_SUCCESS if n else STATUS_REQUESTER
        resp = etree.Element(f"{{{SAMLP}}}LogoutResponse", nsmap={"samlp": SAMLP, "saml": SAML})
        resp.set("ID", "_" + secrets.token_hex(20))
        resp.set("Version", "2.0")
        resp.set("IssueInstant", datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        if info.slo_redirect:
            resp.set("Destination", info.slo_redirect)
        resp.set("InResponseTo", rid)
        etree.SubElement(resp, f"{{{SAML}}}Issuer").text = str(cfg.entity_id)
        st = etree.SubElement(resp, f"{{{SAMLP}}}Status")
        etree.SubElement(st, f"{{{SAMLP}}}StatusCode").set("Value", status)
        if not info.slo_redirect:
            return page("Signed out", f"<p id='signed-out'>{n} session(s) ended.</p>")
        client = sp.clients.client([bytes(idp["metadata"])])
        relay = unquote_plus(raw.get("RelayState", ""))
        binfo = client.apply_binding(BINDING_HTTP_REDIRECT, etree.tostring(resp).decode(),
                                     info.slo_redirect, relay_state=relay, response=True,
                                     sign=True, sigalg=SIG_RSA_SHA256)
        return redirect(dict(binfo["headers"])["Location"], 302)

    def _logout_response(raw: dict[str, str]) -> Response:
        root = inflate(raw["SAMLResponse"])
        if root.tag != f"{{{SAMLP}}}LogoutResponse":
            raise Rejected("expected a LogoutResponse", "BND-01")
        idp = _idp_for(root)
        info = idp_info(bytes(idp["metadata"]))
        verify_redirect_signature(raw, "SAMLResponse", info.signing_certs,
                                  allow_sha1=sp.m("accepts_sha1"))
        pending = session.get("logout_req") or {}
        if root.get("InResponseTo") != pending.get("id"):
            raise Rejected("the LogoutResponse does not answer our LogoutRequest", "SLO-12")
        session.pop("logout_req", None)
        sc = root.find(f"{{{SAMLP}}}Status/{{{SAMLP}}}StatusCode")
        if sc is None:
            raise Rejected("the LogoutResponse has no Status", "SLO-15")
        ok = sc.get("Value") == STATUS_SUCCESS and sc.find(f"{{{SAMLP}}}StatusCode") is None
        kept = session.pop("logout_sid", None)
        if kept and ok:  # the `logout_waits_for_idp` mutant ends the session only now
            with sp.store.tx() as c:
                c.execute("DELETE FROM sessions WHERE sid = ?", (kept,))
        relay = unquote_plus(raw.get("RelayState", ""))
        if sp.m("slo_redirects_to_relaystate") and relay:
            return redirect(relay, 302)  # the defect: an open redirect after logout
        msg = "You are signed out everywhere." if ok else \
            "You are signed out here; the identity provider reports the logout may be partial."
        return page("Signed out", f"<p id='signed-out'>{msg}</p>")


def _embedded_idp_signature(root: etree._Element, info: Any) -> bool:
    """The `slo_xsw` mutant's check: does any element inside the message carry a valid IdP
    signature (a captured signed Assertion, say)?"""
    from .saml import DS, verify_with_cert

    for sig in list(root.iter(f"{{{DS}}}Signature"))[:4]:
        parent = sig.getparent()
        if parent is not None and any(verify_with_cert(root, parent, c) for c in info.signing_certs):
            return True
    return False
