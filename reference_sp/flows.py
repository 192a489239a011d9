"""User-facing routes: metadata, SP-initiated login, the ACS, whoami, password login, tenant switch,
logout and single logout."""
from __future__ import annotations

import base64
import json
import logging
import zlib
import secrets
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from lxml import etree
from flask import Flask, Response, jsonify, redirect, request, session
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from markupsafe import escape

from .provision import ProvisionResult, provision
from .saml import (
    DS,
    KNOWN_SIG,
    LAX_SKEW,
    MD,
    XENC,
    SAML,
    SAMLP,
    SKEW,
    CheckOptions,
    Rejected,
    Verified,
    check_assertion,
    check_encryption,
    check_keyinfo_dates,
    decode_post_message,
    idp_info,
    parse_xml,
    text_of,
    verify_signature_element,
    verify_with_cert,
)
from . import defects, naive_dsig
from .store import check_password

# naive_dsig.Defects field -> the mutant that switches it on
NAIVE_MUTANTS = {
    "signature_anywhere": "xsw_unverified_assertion",
    "digest_first_child": "digest_value_first_child",
    "signedinfo_first_descendant": "signedinfo_first_descendant",
    "digest_document_wide": "digest_value_document_wide",
    "signature_value_document_wide": "split_signature_lookups",
    "void_canonicalization": "void_canonicalization",
    "reference_any_element": "reference_not_checked",
    "processes_references": "processes_references",
}

# mutants whose SP decrypts the EncryptedAssertion itself, before any library sees the message
DECRYPT_FIRST = ("decrypt_then_first_assertion", "defaults_encryption_method", "decrypted_plaintext_entities")

if TYPE_CHECKING:
    from .app import RefSP

log = logging.getLogger("reference_sp")

MAX_PENDING = 8
MAX_RELAY_STATE = 80  # bytes (Bindings 3.4.3 / 3.5.3)


_THROWAWAY: list[Any] = []


def _throwaway_key() -> Any:
    """An RSA key that signs the throwaway certificates of the `trusts_keyinfo_cert` mutant."""
    if not _THROWAWAY:
        from cryptography.hazmat.primitives.asymmetric import rsa

        _THROWAWAY.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return _THROWAWAY[0]


def _throwaway_cert(n: int, e: int) -> str:
    """A certificate (base64 DER) over the public key (n, e), signed by a throwaway key; one per
    key, so the pysaml2 client cache still hits."""
    key = (n, e)
    if key not in _CERTS:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID
        import base64

        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "keyinfo")])
        now = datetime.now(timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(rsa.RSAPublicNumbers(e, n).public_key()).serial_number(1)
                .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=3650))
                .sign(_throwaway_key(), hashes.SHA256()))
        _CERTS[key] = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    return _CERTS[key]


_CERTS: dict[tuple[int, int], str] = {}


def _pending(lifetime: float = 600) -> dict[str, dict[str, Any]]:
    """The AuthnRequests this browser has pending, younger than `lifetime` seconds (IRT-08)."""
    p = session.get("pending") or {}
    now = time.time()
    return {k: v for k, v in p.items() if isinstance(v, dict) and v.get("t", 0) > now - lifetime}


def register_flows(app: Flask, sp: "RefSP") -> None:
    from .app import IDP_INITIATED, SESSION_SECONDS, _safe_next, error_page, page

    cfg = sp.cfg

    # --- metadata ------------------------------------------------------------------------------
    @app.get("/saml/metadata")
    def metadata() -> Response:
        idp_id = request.args.get("idpId") or None
        if idp_id and sp.idp(idp_id) is None:
            return error_page("Unknown SAML configuration", f"no SAML configuration {idp_id!r}", 404)
        return Response(sp.sp_metadata(idp_id), mimetype="application/samlmetadata+xml")

    # --- index / email form --------------------------------------------------------------------
    @app.get("/")
    def index() -> Response:
        if request.args.get("saml"):
            return login()
        me = current_user()
        who = (f"<p id='whoami'>Signed in as {escape(me['email'])}</p>" if me
               else "<p id='whoami'>Not signed in</p>")
        form = ""
        if sp.profile != "redflag":
            form = ("<form method='get' action='/login'><label>Email <input name='email' "
                    "type='email'></label><button type='submit'>Login</button></form>")
        return page("samlconf reference SP", who + form)

    # --- SP-initiated login ----------------------------------------------------------------------
    @app.get("/login")
    def login() -> Response:
        nxt = request.args.get("next") or request.args.get("RelayState") or "/"
        if len(nxt) > 1024:
            nxt = "/"  # an oversized deep link is ignored, never stored or redirected to (RLY-05)
        tenant = None
        if sp.profile == "redflag":
            tenant = (request.args.get("saml") or "").strip()
            if not tenant:
                return error_page("Tenant required", "sign in through your tenant's URL: /?saml=TENANT",
                                  400, "RF-TENANT-URL")
            row = sp.store.one("SELECT * FROM accounts WHERE id = ? AND kind = 'tenant'", (tenant,))
            if row is None or not row["saml_active"] or not row["idp_id"]:
                return error_page("Unknown tenant", f"SAML sign-on is not configured for tenant "
                                  f"{tenant!r}", 404, "RF-TENANT-URL")
            idp_id = row["idp_id"]
        elif sp.profile == "redis_cloud":
            email = (request.args.get("email") or "").strip()
            if not email:
                return page("Sign in with SSO",
                            "<form method='get' action='/login'><label>Email <input name='email' "
                            "type='email'></label><button type='submit'>Login</button></form>")
            if "@" not in email:
                return error_page("Invalid email", f"{email!r} is not an email address", 400)
            domain = email.rsplit("@", 1)[1].lower()
            d = sp.store.one("SELECT * FROM domains WHERE domain = ?", (domain,))
            if d is not None and (d["verified"] or sp.m("skip_domain_check")):
                idp_id = d["idp_id"]
            elif sp.m("skip_domain_check") and sp.idp(cfg.idp_id) is not None:
                idp_id = cfg.idp_id
            else:
                return error_page("Domain not verified", f"the domain {domain!r} is not verified for "
                                  "SAML single sign-on", 403, "RC-DOMAIN")
        else:
            idp_id = request.args.get("idpId") or cfg.idp_id
        idp = sp.idp(idp_id)
        if idp is None:
            return error_page("No identity provider", "no IdP is configured", 409)
        info = idp_info(bytes(idp["metadata"]))
        # AuthnRequest by HTTP-POST instead of Redirect (the `ignores_post_binding` mutant never does)
        post = (request.args.get("binding") == "post" and not sp.m("ignores_post_binding")) \
            or sp.m("authn_request_by_post")
        if not info.sso_redirect and not post:
            return error_page("No SSO endpoint", "the IdP metadata has no HTTP-Redirect "
                              "SingleSignOnService", 409)
        client = sp.request_clients.client([bytes(idp["metadata"])])
        handle = secrets.token_urlsafe(16)
        # 160 random bits per request ID (Core 1.3.4: collision probability <= 2^-128, SHOULD
        # 2^-160); pysaml2's own IDs (17 alphanumerics, ~101 bits) are the `weak_request_id` mutant
        ids = {} if sp.m("weak_request_id") else {"message_id": "_" + secrets.token_hex(20)}
        relay_out = nxt if sp.m("relaystate_raw_url") else handle
        force = request.args.get("force_authn") == "1"  # ask the IdP for a fresh authentication (TIME-13)
        if sp.m("areq_embedded_signature_redirect") and not post:
            req_id, binfo = _redirect_with_embedded_signature(client, info, relay_out, ids)
        else:
            req_id, binfo = client.prepare_for_authenticate(
                entityid=info.entity_id, relay_state=relay_out,
                binding=BINDING_HTTP_POST if post else BINDING_HTTP_REDIRECT, **ids, **_request_signing(sp),
                **({"force_authn": "true"} if force else {}), **_requested_context(cfg.request_authn_context),
                **({"nameid_format": cfg.request_name_id_format} if cfg.request_name_id_format else {}))
        pend = _pending(sp.request_lifetime)
        if len(pend) >= MAX_PENDING:
            for k in sorted(pend, key=lambda k: pend[k]["t"])[: len(pend) - MAX_PENDING + 1]:
                pend.pop(k)
        pend[req_id] = {"idp": idp_id, "tenant": tenant, "next": nxt, "rs": handle, "t": time.time(),
                        "acs": cfg.acs_url,  # the AuthnRequest names the first ACS (DST-10)
                        "ac": cfg.request_authn_context,  # and the authentication it requires (MAS-07)
                        "nif": cfg.request_name_id_format,  # and the NameID Format it asked for (NID-03)
                        **({"force_authn": True} if force else {})}
        session["pending"] = pend
        if sp.m("session_fixation") and not session.get("sid"):
            session["sid"] = secrets.token_urlsafe(32)  # the defect: an id issued before login, kept at it
        if post:
            return Response(binfo["data"], mimetype="text/html")
        location = dict(binfo["headers"])["Location"]
        if any(sp.m(m) for m in _AREQ_MUTANTS):
            location = _tamper_authn_request(location, sp)
        return redirect(location, 302)

    # --- the ACS -------------------------------------------------------------------------------
    @app.post("/saml/acs")
    def acs() -> Response:
        return _acs(cfg.acs_url)

    if len(cfg.acs_urls) > 1:
        @app.post("/saml/acs/1")
        def acs_1() -> Response:
            return _acs(cfg.acs_urls[1])

    def _acs(here: str) -> Response:
        if (len(request.form.getlist("SAMLResponse")) != 1 or "SAMLResponse" in request.args) \
                and not (sp.m("duplicate_saml_response_first_wins") and request.form.get("SAMLResponse")):
            return error_page("Sign-in refused", "exactly one SAMLResponse form field is required",
                              400, "BND-05")
        relay = request.form.get("RelayState")
        b64 = request.form["SAMLResponse"]
        if sp.m("crashes_on_bad_base64"):  # the defect: a decoding error becomes a server error
            try:
                base64.b64decode(b64, validate=True)
            except ValueError:
                return Response("Internal Server Error", 500)
        if sp.m("inflates_post_binding"):
            b64 = _inflate_if_compressed(b64)
        try:
            v, ctx = consume(b64, relay, here)
            result = provision(sp, v, ctx["idp_id"], ctx.get("tenant"))
        except Rejected as r:
            if sp.m("reflects_status_message"):  # the defect: the IdP's StatusMessage written as is
                msg = _status_message(request.form.get("SAMLResponse", ""))
                if msg:
                    return page("Sign-in refused", f"<p class='error'>The IdP said: {msg}</p>", 403)
            return error_page("Sign-in refused", r.message, 403, r.check)
        return sign_in(v, ctx, result, relay)

    if sp.m("acs_accepts_redirect"):
        @app.get("/saml/acs")
        def acs_redirect() -> Response:
            """The defect: the Response taken over HTTP-Redirect (deflated, in the query)."""
            relay = request.args.get("RelayState")
            try:
                raw = zlib.decompress(base64.b64decode(request.args.get("SAMLResponse", "")), -15)
                v, ctx = consume(base64.b64encode(raw).decode(), relay)
                result = provision(sp, v, ctx["idp_id"], ctx.get("tenant"))
            except (Rejected, zlib.error, ValueError) as r:
                return error_page("Sign-in refused", getattr(r, "message", str(r)), 403)
            return sign_in(v, ctx, result, relay)

    def consume(b64: str, relay: str | None, here: str | None = None) -> tuple[Verified, dict[str, Any]]:
        here = here or cfg.acs_url  # the ACS endpoint this Response was posted to
        if sp.m("no_depth_limit"):
            defects.recursive_parse(b64)
        if sp.m("resolves_external_entities"):
            _parse_resolving_entities(b64)
        if sp.m("expands_entities"):
            b64 = _expand_entities(b64)
        if sp.m("processes_xinclude"):
            _process_xinclude(b64)
        naive = _naive_defects()
        roots = view = None
        lenient = naive is not None or sp.m("multiple_roots") or sp.m("recovering_parser") \
            or sp.m("doctype_roundtrip") or sp.m("first_text_node")
        if lenient:
            b64, root, roots, view = _lenient_views(b64, naive is not None)
        else:
            _, root = decode_post_message(b64, allow_doctype=sp.m("accepts_doctype"),
                                          size_limit=not sp.m("no_size_limit"))
        check_encryption(root, sp.m)
        if sp.m("pkix_keyinfo_dates"):
            check_keyinfo_dates(root)
        if root.tag != f"{{{SAMLP}}}Response":
            raise Rejected(f"expected a samlp:Response, got {root.tag}", "BND-01")
        pend = _pending(sp.request_lifetime)
        irt = root.get("InResponseTo")
        ctx: dict[str, Any] = {"solicited": False, "tenant": None, "next": None,
                               "unsolicited": irt is None}
        if irt is not None:
            p = pend.get(irt)
            if p is not None:
                if p.get("acs", here) != here and not sp.m("acs_not_bound_to_request"):
                    raise Rejected(f"the sign-in asked for its Response at {p['acs']}, not at {here}", "DST-10")
                ctx.update(solicited=True, idp_id=p["idp"], tenant=p.get("tenant"),
                           next=p.get("next"), rs=p.get("rs"), ac=p.get("ac"), nif=p.get("nif"),
                           force_authn=p["t"] if p.get("force_authn") else None)
            elif not sp.m("ignores_in_response_to"):
                raise Rejected(f"InResponseTo {irt!r} does not match a sign-in started in this "
                               "browser", "IRT-01")
        if not ctx["solicited"]:
            if not IDP_INITIATED[sp.profile] and not sp.m("accepts_idp_initiated") \
                    and not (irt is not None and sp.m("ignores_in_response_to")):
                raise Rejected("this service supports SP-initiated sign-on only; start at your "
                               "tenant's sign-on URL", "IRT-05")
            idp_id = None
            if relay and "idpId=" in relay:
                q = parse_qs(urlsplit(relay).query or relay.split("?", 1)[-1])
                frag = urlsplit(relay).fragment
                if "idpId" not in q and "?" in frag:
                    q = parse_qs(frag.split("?", 1)[1])
                idp_id = (q.get("idpId") or [None])[0]
                if idp_id and sp.idp(idp_id) is None and sp.m("ignores_relaystate_idpid"):
                    idp_id = None
                if idp_id and sp.idp(idp_id) is None:
                    raise Rejected(f"RelayState names an unknown SAML configuration {idp_id!r}",
                                   "RC-RELAYSTATE")
                if idp_id and sp.m("relaystate_selects_tenant"):
                    # the defect: verified as the Issuer's configuration (below), provisioned
                    # into the configuration the RelayState names
                    ctx["relay_idp_id"], idp_id = idp_id, None
            if not idp_id:
                iss = root.find(f"{{{SAML}}}Assertion/{{{SAML}}}Issuer")
                if iss is None:
                    iss = root.find(f"{{{SAML}}}Issuer")
                row = sp.idp_by_entity(text_of(iss)) if iss is not None else None
                if row is None:
                    raise Rejected("the Response comes from an IdP this SP does not know", "ISS-01")
                idp_id = row["id"]
            ctx["idp_id"] = idp_id
        idp = sp.idp(ctx["idp_id"])
        if idp is None:
            raise Rejected("the SAML configuration of this sign-in no longer exists", "KEY-07")
        rows = sp.idps() if sp.m("any_tenant_idp") else [idp]
        metadatas = [bytes(r["metadata"]) for r in rows]
        if sp.m("keeps_old_idp_cert"):  # the defect: a replaced certificate keeps verifying
            metadatas = [_with_retired_keys(bytes(r["metadata"]), sp.retired_idp_metadata.get(r["id"], []))
                         for r in rows]
        expected_entity = idp["entity_id"]
        if sp.m("ignores_issuer"):
            # the defect: the configured IdP's key verifies whatever Issuer the message names
            known = {r["entity_id"] for r in rows}
            for el in [*root.findall(f"{{{SAML}}}Issuer"),
                       *root.findall(f"{{{SAML}}}Assertion/{{{SAML}}}Issuer")]:
                name = text_of(el).strip()
                if name and name not in known:
                    known.add(name)
                    metadatas.append(_alias_metadata(bytes(idp["metadata"]), name))
        if sp.m("any_tenant_idp"):
            a_iss = root.find(f"{{{SAML}}}Assertion/{{{SAML}}}Issuer")
            other = sp.idp_by_entity(text_of(a_iss)) if a_iss is not None else None
            if other is not None:
                expected_entity = other["entity_id"]
        if sp.m("ignores_key_use"):
            metadatas = [_without_key_use(m) for m in metadatas]
        if root.find(f"{{{SAML}}}EncryptedAssertion") is not None and any(sp.m(n) for n in DECRYPT_FIRST):
            root = _decrypt_first(root, metadatas)
            b64 = base64.b64encode(etree.tostring(root)).decode()
        a: Any
        if roots is not None:  # the `multiple_roots` defect
            naive_dsig.verify_root_signature(roots[0], metadatas)
            a = root.find(f"{{{SAML}}}Assertion")
        elif naive is not None:
            a = naive_dsig.verify(root, metadatas, naive)
        elif view is not None:  # the `doctype_roundtrip` defect: verify one view, read the other
            _pysaml2(base64.b64encode(etree.tostring(view)).decode(), view, metadatas,
                     ctx["solicited"], irt, {})
            a = root.find(f"{{{SAML}}}Assertion")
            if a is None:
                raise Rejected("no Assertion", "MAS-01")
        elif sp.m("xsw_first_assertion"):
            a = _lax_signature(root, metadatas)
        elif sp.m("decrypt_then_first_assertion"):
            a = defects.any_signed_copy(root, [c for m in metadatas for c in idp_info(m).signing_certs],
                                        verify_with_cert)
        elif sp.m("generic_xmldsig"):
            a = _generic_xmldsig(root, metadatas)
        elif sp.m("hmac_key_confusion") and any("hmac" in (sm.get("Algorithm") or "")
                                                 for sm in root.iter(f"{{{DS}}}SignatureMethod")):
            a = _hmac_with_idp_key(root, metadatas)
        elif sp.m("digest_not_checked"):
            a = _signedinfo_only(root, metadatas)
        elif sp.m("lax_timestamps") or sp.m("ignores_unknown_conditions") or sp.m("subject_optional"):
            a = _own_assertion_signature(root, metadatas)
        elif sp.m("xsw_response_signature") and \
                (a := _lax_response_signature(root, metadatas)) is not None:
            pass
        else:
            holder: dict[str, Any] = {}
            a = _pysaml2(b64, root, metadatas, ctx["solicited"], irt, holder)
            root = holder.get("root", root)
        v = check_assertion(root, a, CheckOptions(
            acs_url=here, entity_id=str(cfg.entity_id), idp_entity_id=expected_entity,
            expected_in_response_to=irt if ctx["solicited"] else None,
            # the hand-rolled verifiers of the parser/naive mutants stand for SPs that lack our
            # schema-position and unique-ID checks too
            skip=(lambda n: sp.m(n) or n in SHAPE_CHECKS) if lenient else sp.m,
            skew=0 if sp.m("no_clock_skew") else SKEW))
        if ctx.get("force_authn") and not sp.m("ignores_force_authn"):
            check_fresh_authn(a, ctx["force_authn"])
        if ctx.get("nif") and v.name_id_format != ctx["nif"] and not sp.m("ignores_name_id_policy"):
            raise Rejected(f"the sign-in asked for a {ctx['nif']} NameID, the IdP sent {v.name_id_format!r}",
                           "NID-03")
        if ctx.get("ac") and not sp.m("ignores_authn_context"):
            got = (a.findtext(f"{{{SAML}}}AuthnStatement/{{{SAML}}}AuthnContext/{{{SAML}}}AuthnContextClassRef")
                   or "").strip()
            if got != ctx["ac"]:
                raise Rejected(f"the sign-in required authentication {ctx['ac']!r}, the IdP asserted {got!r}",
                               "MAS-07")
        if not sp.m("no_replay_cache"):
            keys = [f"r|{expected_entity}|{v.response_id}", f"a|{expected_entity}|{v.assertion_id}"]
            if sp.m("replay_cache_in_memory"):  # the defect: a per-process cache, gone at a restart
                fresh = not (set(keys) & sp.memory_replay)
                sp.memory_replay.update(keys)
            else:
                fresh = sp.store.consume_ids(keys, v.not_on_or_after)
            if not fresh:
                raise Rejected("this Response or Assertion was already used (replay)", "RPL-01")
        if ctx["solicited"] and irt in pend:
            pend.pop(irt)  # one response per request
            session["pending"] = pend
        if ctx.get("relay_idp_id"):  # the `relaystate_selects_tenant` defect
            ctx["idp_id"] = ctx.pop("relay_idp_id")
        return v, ctx

    def _pysaml2(b64: str, root: Any, metadatas: list[bytes], solicited: bool,
                 irt: str | None, holder: dict[str, Any]) -> Any:
        time_mut = sp.m("ignores_not_on_or_after") or sp.m("ignores_not_before") \
            or sp.m("lax_timestamps")
        trust_keyinfo = sp.m("trusts_keyinfo_cert")
        if trust_keyinfo and root.find(f".//{{{DS}}}RSAKeyValue") is not None:
            # the mutant takes a raw KeyValue as readily as a certificate (CVE-2021-21239)
            metadatas, trust_keyinfo = _keyvalue_metadata(root, metadatas), False
        elif trust_keyinfo and any(len(d.findall(f"{{{DS}}}X509Certificate")) > 1
                                   for d in root.iter(f"{{{DS}}}X509Data")):
            # ... and, of several certificates in one KeyInfo, takes the one that verifies (KEY-05)
            b64 = _last_keyinfo_cert(root)
        if sp.m("first_signing_key_only"):
            metadatas = [_first_signing_key(m) for m in metadatas]
        unknown_alg = sp.m("unknown_algorithm_unverified") and any(
            sm.get("Algorithm") not in KNOWN_SIG for sm in root.iter(f"{{{DS}}}SignatureMethod"))
        slack = LAX_SKEW if time_mut or sp.m("no_issue_instant_age") else 0 if sp.m("no_clock_skew") else SKEW
        client = sp.clients.client(metadatas, slack, trust_keyinfo=trust_keyinfo,
                                   no_verify=sp.m("signature_not_verified") or unknown_alg,
                                   # the mutant keeps xmlsec1's choice: the first ds:Signature
                                   first_signature=sp.m("signature_position_unchecked"))
        lax_irt = sp.m("ignores_in_response_to")
        allow_unsolicited = (not solicited) or lax_irt
        outstanding = {irt: "/"} if (solicited and irt and not lax_irt) else {}
        extra = []
        if sp.m("ignores_destination") and root.get("Destination"):
            extra.append(root.get("Destination"))
        if sp.m("pi_flattening_c14n"):
            b64 = _flatten_pis(root)  # pysaml2 verifies (and reads) the flattened copy
        encrypted = root.find(f"{{{SAML}}}EncryptedAssertion") is not None
        no_use = sp.m("unsigned_ok_without_key_use") and any(
            kd.get("use") is None for m in metadatas for kd in parse_xml(m).iter(f"{{{MD}}}KeyDescriptor"))
        if encrypted and sp.m("first_encrypted_key_only"):
            b64 = _first_encrypted_key_only(root)
        if sp.m("ignores_status"):
            b64 = _status_forced_success(root)  # pysaml2 is shown a Success status
        try:
            resp = client.parse_acs_post(
                b64, outstanding=outstanding, allow_unsolicited=allow_unsolicited,
                want_assertions_signed=not (sp.m("accepts_unsigned") or no_use or
                                            (encrypted and sp.m("trusts_encrypted_assertion"))),
                extra_return_addrs=extra,
                lax_conditions=time_mut or sp.m("ignores_audience") or sp.m("first_text_node")
                or sp.m("ignores_unknown_conditions"),
                want_response_signed=sp.m("requires_signed_response"),
                recipient_optional=sp.m("recipient_optional"),
                authn_optional=sp.m("authn_statement_optional"),
                response_signature_suffices=sp.m("accepts_response_signature"))
        except Rejected:
            raise
        except Exception as e:  # pysaml2 raises many types; each is a refusal
            if sp.m("saml_errors_unhandled"):
                raise defects.unhandled(e) from None
            msg = str(e).splitlines()[0][:300] if str(e) else ""
            raise Rejected(f"SAML validation failed: {type(e).__name__}: {msg}", "SAML") from None
        if resp is not None and getattr(resp, "assertion", None) is None and sp.m("saml_errors_unhandled"):
            # the defect: the assertion pysaml2 could not decrypt is read anyway (session_info())
            raise defects.unhandled(AttributeError("'NoneType' object has no attribute 'subject'"))
        if resp is None or getattr(resp, "assertion", None) is None:
            raise Rejected("SAML validation failed: the Response did not verify", "SAML")
        if root.find(f"{{{SAML}}}EncryptedAssertion") is not None and sp.m("no_encrypted_assertions"):
            raise Rejected("encrypted assertions are not supported", "POS-05")
        if root.find(f"{{{SAML}}}EncryptedAssertion") is not None:
            # pysaml2 decrypted (and verified) it: read the decrypted document, through the same
            # hardened parser (catalogue ENC-10)
            if len(root.findall(f"{{{SAML}}}EncryptedAssertion")) != 1 or \
                    root.find(f"{{{SAML}}}Assertion") is not None:
                raise Rejected("exactly one (encrypted or plain) Assertion is allowed", "MAS-03")
            xml = resp.xmlstr if isinstance(resp.xmlstr, bytes) else str(resp.xmlstr).encode()
            root = parse_xml(xml)
            holder["root"] = root
            children = root.findall(f"{{{SAML}}}EncryptedAssertion/{{{SAML}}}Assertion")
        else:
            children = root.findall(f"{{{SAML}}}Assertion")
        if len(children) != 1 or children[0].get("ID") != resp.assertion.id:
            raise Rejected("the verified assertion is not the Response's only Assertion", "XSW-11")
        a = children[0]
        _decrypted_name_id(a, resp, sp)
        if not sp.m("nameid_comment_truncation") and not sp.m("pi_flattening_c14n") \
                and not sp.m("first_text_node") and not sp.m("decodes_entities_twice"):
            nid = a.find(f"{{{SAML}}}Subject/{{{SAML}}}NameID")
            ours = text_of(nid).strip() if nid is not None else ""
            theirs = (getattr(resp.name_id, "text", "") or "").strip()
            if ours != theirs:
                raise Rejected("NameID reads differently in the verified assertion", "CMT-01")
        return a

    def _decrypt_first(root: Any, metadatas: list[bytes]) -> Any:
        """The mutants of an SP that decrypts the EncryptedAssertion itself (reference_sp/defects.py)."""
        certs = [c for m in metadatas for c in idp_info(m).signing_certs]
        return defects.decrypt_first(
            root, sp.identity.enc_key_file.read_bytes(), lambda r: any(verify_with_cert(r, r, c) for c in certs),
            default_method=sp.m("defaults_encryption_method"), expand_entities=sp.m("decrypted_plaintext_entities"))

    def _naive_defects() -> "naive_dsig.Defects | None":
        """The hand-rolled verification of the naive-signature mutants (one defect each)."""
        flags = {f: sp.m(m) for f, m in NAIVE_MUTANTS.items()}
        if any(flags.values()):
            return naive_dsig.Defects(**flags)
        # `recovering_parser`: the careful hand-rolled check, on what a recovering parser made of it
        return naive_dsig.Defects() if sp.m("recovering_parser") else None

    def _lenient_views(b64: str, naive: bool) -> tuple[str, Any, Any, Any]:
        """The parsing side of the parser mutants: returns (base64 to verify, the root the claims are
        read from, the roots of a multi-root document, the view a DOCTYPE round trip verifies)."""
        import re

        try:
            raw = base64.b64decode("".join(b64.split()), validate=True)
        except ValueError:
            raise Rejected("SAMLResponse is not valid base64", "BND-04") from None
        if sp.m("multiple_roots"):
            roots = naive_dsig.split_roots(raw)
            if roots is not None:
                holder = next((r for r in roots if r.find(f"{{{SAML}}}Assertion") is not None), roots[-1])
                return b64, holder, roots, None
        if sp.m("doctype_roundtrip") and b"<!DOCTYPE" in raw:
            # the document as a REXML-like writer re-serialises it: the SYSTEM literal re-quoted
            requoted = re.sub(rb"SYSTEM '([^']*)'", rb'SYSTEM "\1"', raw, count=1)
            return b64, naive_dsig.lenient_parse(raw), None, naive_dsig.lenient_parse(requoted)
        if sp.m("first_text_node"):
            _, root = decode_post_message(b64)  # the strict checks first
            keep = etree.XMLParser(strip_cdata=False, resolve_entities=False, no_network=True,
                                   load_dtd=False)
            return b64, etree.fromstring(raw, keep), None, None
        if naive:
            return b64, naive_dsig.lenient_parse(raw), None, None
        _, root = decode_post_message(b64, allow_doctype=sp.m("accepts_doctype"))
        return b64, root, None, None

    def _keyvalue_metadata(root: Any, metadatas: list[bytes]) -> list[bytes]:
        """`trusts_keyinfo_cert` with a raw RSAKeyValue: the IdP metadata with its certificates
        replaced by a throwaway certificate over the message's own key, so that key verifies."""
        import base64

        from lxml import etree

        kv = root.find(f".//{{{DS}}}RSAKeyValue")
        n, e = (int.from_bytes(base64.b64decode("".join(text_of(kv.find(f"{{{DS}}}{t}")).split())), "big")
                for t in ("Modulus", "Exponent"))
        cert_b64 = _throwaway_cert(n, e)
        out = []
        for md in metadatas:
            r = parse_xml(md)
            for c in r.iter(f"{{{DS}}}X509Certificate"):
                c.text = cert_b64
            out.append(etree.tostring(r))
        return out

    def _status_forced_success(root: Any) -> str:
        """The `ignores_status` mutant: a copy whose Status says Success (the Response signature,
        now broken, dropped: the Assertion's own signature still has to verify)."""
        import base64
        import copy

        from lxml import etree

        r = copy.deepcopy(root)
        for sig in r.findall(f"{{{DS}}}Signature"):
            r.remove(sig)
        st = r.find(f"{{{SAMLP}}}Status")
        if st is None:
            st = etree.Element(f"{{{SAMLP}}}Status")
            iss = r.find(f"{{{SAML}}}Issuer")
            (iss.addnext(st) if iss is not None else r.insert(0, st))
        for c in list(st):
            st.remove(c)
        etree.SubElement(st, f"{{{SAMLP}}}StatusCode").set("Value", "urn:oasis:names:tc:SAML:2.0:status:Success")
        return base64.b64encode(etree.tostring(r)).decode()

    def _flatten_pis(root: Any) -> str:
        """The `pi_flattening_c14n` mutant: a copy where every processing instruction inside the
        document is replaced by its text, as a non-standard canonicalization would."""
        import base64
        import copy

        from lxml import etree

        r = copy.deepcopy(root)
        for pi in list(r.iter(etree.ProcessingInstruction)):
            parent = pi.getparent()
            if parent is None:
                continue
            text = (pi.text or "") + (pi.tail or "")
            prev = pi.getprevious()
            if prev is not None:
                prev.tail = (prev.tail or "") + text
            else:
                parent.text = (parent.text or "") + text
            pi.tail = None
            parent.remove(pi)
        return base64.b64encode(etree.tostring(r)).decode()

    def _lax_response_signature(root: Any, metadatas: list[bytes]) -> Any:
        """The deliberately wrong check of `xsw_response_signature`: a valid IdP signature on any
        samlp:Response element (its Reference resolved wherever it points) stands in for the
        Assertion's; the user is read from the outer Response's Assertion."""
        certs = [c for m in metadatas for c in idp_info(m).signing_certs]
        responses = list(root.iter(f"{{{SAMLP}}}Response"))[:8]
        if not any(verify_with_cert(root, r, c) for r in responses for c in certs):
            return None  # no Response signature: the ordinary (pysaml2) path decides
        a = root.find(f"{{{SAML}}}Assertion")
        if a is None:
            raise Rejected("no Assertion", "MAS-01")
        return a

    def _alias_metadata(md: bytes, entity_id: str) -> bytes:
        """A copy of IdP metadata under another entityID (the `ignores_issuer` mutant only)."""
        from lxml import etree

        r = parse_xml(md)
        ed = r if r.tag.endswith("}EntityDescriptor") else next(r.iter("{*}EntityDescriptor"))
        ed.set("entityID", entity_id)
        for k in ("ID",):
            ed.attrib.pop(k, None)
        return etree.tostring(r)

    def _generic_xmldsig(root: Any, metadatas: list[bytes]) -> Any:
        """The deliberately naive check of `generic_xmldsig`: libxmlsec1's generic XML-DSig
        verification of any ds:Signature in the message with the IdP's metadata certificate, none
        of SAML's signature profile (Core 5.4: one enveloped signature per signed element, one
        Reference to its #ID, enveloped + exc-c14n transforms only, nothing fetched); then the
        first Assertion is read."""
        certs = [c for m in metadatas for c in idp_info(m).signing_certs]
        sigs = list(root.iter(f"{{{DS}}}Signature"))[:8]
        if not any(verify_signature_element(root, s, c) for s in sigs for c in certs):
            raise Rejected("no signature in the message verifies", "SIG-01")
        a = root.find(f".//{{{SAML}}}Assertion")
        if a is None:
            raise Rejected("no Assertion", "MAS-01")
        return a

    def _last_keyinfo_cert(root: Any) -> str:
        """`trusts_keyinfo_cert` with several certificates in an X509Data: a copy keeping the
        last one (the attacker's, in the KEY-05 shape), as a verifier trying each would end up."""
        import base64
        import copy

        from lxml import etree

        r = copy.deepcopy(root)
        for d in r.iter(f"{{{DS}}}X509Data"):
            for c in d.findall(f"{{{DS}}}X509Certificate")[:-1]:
                d.remove(c)
        return base64.b64encode(etree.tostring(r)).decode()

    def _first_signing_key(md: bytes) -> bytes:
        """`first_signing_key_only`: the IdP metadata with every signing KeyDescriptor but the
        first removed (a second, rollover key is never tried)."""
        from lxml import etree

        r = parse_xml(md)
        for idp in r.iter(f"{{{MD}}}IDPSSODescriptor"):
            signing = [kd for kd in idp.findall(f"{{{MD}}}KeyDescriptor") if kd.get("use") in (None, "signing")]
            for kd in signing[1:]:
                idp.remove(kd)
        return etree.tostring(r)

    def _own_assertion_signature(root: Any, metadatas: list[bytes]) -> Any:
        """The path of `lax_timestamps` and `ignores_unknown_conditions`: no schema validation
        (pysaml2's would refuse a malformed xs:dateTime or an unknown xsi:type first); the one Assertion's own enveloped signature verified with the IdP's
        metadata certificate; our own checks (with the mutant's lax time parsing) then decide."""
        certs = [c for m in metadatas for c in idp_info(m).signing_certs]
        found = root.findall(f"{{{SAML}}}Assertion")
        if len(found) != 1:
            raise Rejected("exactly one Assertion is required", "MAS-02")
        if not any(verify_with_cert(root, found[0], c) for c in certs):
            raise Rejected("the Assertion's signature does not verify", "SIG-01")
        return found[0]

    def _hmac_with_idp_key(root: Any, metadatas: list[bytes]) -> Any:
        """The naive check of `hmac_key_confusion`: the message's SignatureMethod picks the
        algorithm, and the IdP's configured 'key' (its certificate, DER) is handed to it, so an
        HMAC keyed with that public certificate verifies."""
        import base64

        import xmlsec

        ders = [base64.b64decode(c.split(b"-----")[2]) for m in metadatas
                for c in idp_info(m).signing_certs]
        a = root.find(f"{{{SAML}}}Assertion")
        sig = a.find(f"{{{DS}}}Signature") if a is not None else None
        if sig is None:
            raise Rejected("the Assertion is not signed", "SIG-01")
        for der in ders:
            try:
                ctx = xmlsec.SignatureContext()
                ctx.key = xmlsec.Key.from_binary_data(xmlsec.constants.KeyDataHmac, der)
                ctx.register_id(a, "ID")
                ctx.verify(sig)
                return a
            except (xmlsec.Error, ValueError):
                continue
        raise Rejected("the HMAC signature does not verify", "ALG-05")

    def _signedinfo_only(root: Any, metadatas: list[bytes]) -> Any:
        """The naive check of `digest_not_checked`: the SignatureValue is verified over the
        canonical SignedInfo with the IdP's key, but the Reference digest is never recomputed."""
        import base64

        from cryptography import x509
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        from lxml import etree

        a = root.find(f"{{{SAML}}}Assertion")
        sig = a.find(f"{{{DS}}}Signature") if a is not None else None
        if sig is None:
            raise Rejected("the Assertion is not signed", "SIG-01")
        si = sig.find(f"{{{DS}}}SignedInfo")
        sv = sig.find(f"{{{DS}}}SignatureValue")
        try:
            value = base64.b64decode("".join((sv.text or "").split()))
        except ValueError:
            raise Rejected("bad SignatureValue", "SIG-08") from None
        data = etree.tostring(si, method="c14n", exclusive=True)
        for m in metadatas:
            for pem in idp_info(m).signing_certs:
                try:
                    x509.load_pem_x509_certificate(pem).public_key().verify(
                        value, data, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[call-arg, union-attr]
                    return a
                except (InvalidSignature, TypeError, ValueError):
                    continue
        raise Rejected("the SignatureValue does not verify", "SIG-06")

    def _without_key_use(md: bytes) -> bytes:
        """`ignores_key_use`: the IdP metadata with every KeyDescriptor's `use` dropped, so a key
        published for encryption only also verifies signatures (catalogue KEY-06)."""
        from lxml import etree

        r = parse_xml(md)
        for kd in r.iter(f"{{{MD}}}KeyDescriptor"):
            kd.attrib.pop("use", None)
        return etree.tostring(r)

    def _first_encrypted_key_only(root: Any) -> str:
        """`first_encrypted_key_only`: a copy with every EncryptedKey but the first removed, as
        an SP trying only the first key would see it (catalogue ENC-05)."""
        import base64
        import copy

        from lxml import etree

        r = copy.deepcopy(root)
        for ea in r.iter(f"{{{SAML}}}EncryptedAssertion"):
            for ek in list(ea.iter(f"{{{XENC}}}EncryptedKey"))[1:]:
                ek.getparent().remove(ek)
        return base64.b64encode(etree.tostring(r)).decode()

    def _expand_entities(b64: str) -> str:
        """`expands_entities`: the message parsed with its DTD, entities expanded (internal and
        external, file and network) and no size guard, then handed on without the DOCTYPE."""
        import base64
        import binascii

        from lxml import etree

        try:
            raw = base64.b64decode("".join(b64.split()), validate=True)
            parser = etree.XMLParser(load_dtd=True, resolve_entities=True, no_network=False,
                                     huge_tree=True)
            root = etree.fromstring(raw, parser)
        except (binascii.Error, ValueError, etree.XMLSyntaxError):
            return b64
        return base64.b64encode(etree.tostring(root)).decode()

    def _lax_signature(root: Any, metadatas: list[bytes]) -> Any:
        """The deliberately wrong signature check of `xsw_first_assertion`: verify whichever
        Assertion carries a valid IdP signature, then use the first Assertion in the document."""
        certs = [c for m in metadatas for c in idp_info(m).signing_certs]
        all_a = list(root.iter(f"{{{SAML}}}Assertion"))
        if not all_a:
            raise Rejected("no Assertion", "MAS-01")
        signed = [x for x in all_a if x.find(f"{{{DS}}}Signature") is not None]
        ok = any(verify_with_cert(root, x, c) for x in signed for c in certs)
        if not ok and not (sp.m("accepts_unsigned") and not signed):
            raise Rejected("no Assertion carries a valid signature", "SIG-01")
        return all_a[0]

    def sign_in(v: Verified, ctx: dict[str, Any], result: ProvisionResult, relay: str | None) -> Response:
        old = session.get("sid")
        pend = session.get("pending")
        prev = sp.store.session(old) if old else None
        if prev is not None and prev["user_id"] and prev["user_id"] != result.user_id \
                and ctx.get("unsolicited") and not sp.m("unsolicited_replaces_session"):
            # SES-02 (login CSRF): an unsolicited Response for another user never silently
            # replaces the session this browser already has; the user signs out first
            who = (sp.me(prev["user_id"]) or {}).get("email", "another user")
            return error_page("Already signed in", f"You are signed in as {who}. An unsolicited "
                              "sign-in for another user was not taken: sign out first.", 409, "SES-02")
        if prev is not None and prev["user_id"] and prev["user_id"] != result.user_id \
                and sp.m("session_switch_merges"):
            # the defect: the earlier user's accounts/tenants are carried over to the new one
            with sp.store.tx() as c:
                c.execute("INSERT OR IGNORE INTO memberships (user_id, scope_id, role) SELECT ?, "
                          "scope_id, role FROM memberships WHERE user_id = ?",
                          (result.user_id, prev["user_id"]))
        if sp.m("session_fixation") and old:
            sid = old
        else:
            if old and not cfg.keep_sessions_at_login:
                with sp.store.tx() as c:
                    c.execute("DELETE FROM sessions WHERE sid = ?", (old,))
            session.clear()
            if pend:
                session["pending"] = pend
            sid = secrets.token_urlsafe(32)
        with sp.store.tx() as c:
            c.execute("DELETE FROM sessions WHERE sid = ?", (sid,))
            c.execute(
                "INSERT INTO sessions (sid, user_id, auth_method, name_id, session_index, idp_id, "
                "current_tenant, snapshot, created, expires) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (sid, result.user_id, "saml", v.name_id, v.session_index, ctx["idp_id"],
                 result.current_tenant, json.dumps(result.snapshot), time.time(),
                 min(time.time() + SESSION_SECONDS, v.session_not_on_or_after or float("inf"))))
        session["sid"] = sid
        # the NameID's qualifiers, for the LogoutRequest's byte-identical NameID (SLO-16)
        session["nid_q"] = [v.name_qualifier, v.sp_name_qualifier]
        if ctx.get("solicited"):
            # our own server-side deep link; the RelayState that came back is only our handle
            # (the `trusts_returned_relaystate` mutant redirects to whatever came back instead)
            target = relay if sp.m("trusts_returned_relaystate") else ctx.get("next")
            if sp.m("drops_deep_link"):
                target = "/"
        else:
            target = relay
            if relay and ("idpId=" in relay or (len(relay.encode()) > MAX_RELAY_STATE
                                                and not sp.m("open_redirect_relaystate"))):
                target = "/"  # a configuration selector, or longer than Bindings 3.4.3 allows
        if result.warnings:
            items = "".join(f"<li>{escape(w)}</li>" for w in result.warnings)
            return page("Signed in with refused account mappings",
                        f"<p class='error' id='error'>Some account mappings were refused; you have "
                        f"no access to those accounts.</p><ul>{items}</ul>"
                        f"<p><a href='/'>Continue</a></p>", 200)
        if sp.m("echoes_relaystate") and target:  # the defect: RelayState written into HTML as is
            return page("Signed in", f"<p>Continue to <a id='next' href='{target}'>{target}</a></p>")
        return redirect(_safe_next(target, sp.m("open_redirect_relaystate")), 302)

    # --- who am I ------------------------------------------------------------------------------
    def current_session() -> Any:
        sid = session.get("sid")
        if not sid:
            return None
        if sp.m("last_login_wins"):  # the defect: one process-wide "current user"
            return sp.store.one("SELECT * FROM sessions ORDER BY created DESC, rowid DESC LIMIT 1", ())
        return sp.store.session(sid)

    def current_user() -> dict[str, Any] | None:
        s = current_session()
        if s is None:
            return None
        me = sp.me(s["user_id"]) if s["user_id"] else None
        if me is None and sp.m("session_outlives_user") and s["snapshot"]:
            me = json.loads(s["snapshot"])
        if me is None:
            return None
        me["auth_method"] = s["auth_method"]
        me["current_tenant"] = s["current_tenant"]
        return me

    app.extensions["refsp_current_user"] = current_user

    @app.get("/api/me")
    def api_me() -> Response:
        me = current_user()
        if me is None:
            return jsonify({"error": "not signed in"}), 401  # type: ignore[return-value]
        return jsonify(me)

    @app.post("/api/tenant")
    def switch_tenant() -> Response:
        s = current_session()
        me = current_user()
        if s is None or me is None:
            return jsonify({"error": "not signed in"}), 401  # type: ignore[return-value]
        data = request.get_json(silent=True) or request.form
        t = str(data.get("tenant") or "")
        known = sp.store.one("SELECT id FROM accounts WHERE id = ? AND kind = 'tenant'", (t,))
        if t not in me["tenants"] and not (sp.m("switch_to_any_tenant") and known is not None):
            return jsonify({"error": f"no access to tenant {t!r}"}), 403  # type: ignore[return-value]
        with sp.store.tx() as c:
            c.execute("UPDATE sessions SET current_tenant = ? WHERE sid = ?", (t, s["sid"]))
        return jsonify({"current_tenant": t})

    # --- password sign-in (local / bypass users) -----------------------------------------------
    @app.post("/login/password")
    def password_login() -> Response:
        data = request.get_json(silent=True) or request.form
        email = str(data.get("email") or "").strip().lower()
        pw = str(data.get("password") or "")
        u = sp.store.user_by_email(email) if email else None
        if u is None or u["kind"] != "local" or not check_password(pw, u["password_hash"]):
            return error_page("Sign-in refused", "wrong email or password (SAML users sign in "
                              "with SSO)", 401, "LOCAL")
        mem = sp.store.memberships(u["id"])
        saml_scopes = [r["id"] for r in sp.store.all(
            "SELECT id FROM accounts WHERE saml_active = 1")] if mem else []
        in_saml = [s for s in mem if s in saml_scopes]
        if in_saml:
            if sp.profile == "redflag" and not sp.m("local_login_after_activation"):
                return error_page("Sign-in refused", "SAML single sign-on is on for your tenant; "
                                  "sign in through your identity provider", 403, "RF-LOCAL-OFF")
            if sp.profile == "redis_cloud" and sp.m("locks_bypass_users") and u["bypass"]:
                return error_page("Sign-in refused", "SAML is active for this account", 403,
                                  "RC-BYPASS")
        old = session.get("sid")
        session.clear()
        sid = secrets.token_urlsafe(32)
        with sp.store.tx() as c:
            if old:
                c.execute("DELETE FROM sessions WHERE sid = ?", (old,))
            c.execute(
                "INSERT INTO sessions (sid, user_id, auth_method, created, expires, current_tenant) "
                "VALUES (?,?,?,?,?,?)", (sid, u["id"], "password", time.time(),
                                          time.time() + SESSION_SECONDS,
                                          sorted(mem)[0] if mem and sp.profile == "redflag" else None))
        session["sid"] = sid
        if request.is_json:
            return jsonify(sp.me(u["id"]))
        return redirect("/", 302)

    # --- logout / SLO --------------------------------------------------------------------------
    from .slo import register_slo

    register_slo(app, sp, current_session)


def _with_retired_keys(md: bytes, retired: list[bytes]) -> bytes:
    """The `keeps_old_idp_cert` mutant: the current IdP metadata with the KeyDescriptors of the
    metadata it replaced added to its IDPSSODescriptor."""
    from lxml import etree

    ns = "{urn:oasis:names:tc:SAML:2.0:metadata}"
    root = etree.fromstring(md)
    desc = root.find(f"{ns}IDPSSODescriptor")
    if desc is None:
        return md
    for old in retired:
        for kd in etree.fromstring(old).iter(f"{ns}KeyDescriptor"):
            desc.insert(0, kd)
    return etree.tostring(root)


SHAPE_CHECKS = ("signature_position_unchecked", "ignores_duplicate_ids")


def _process_xinclude(b64: str) -> None:
    """The defect of the `processes_xinclude` mutant: XInclude processing on the message before the
    normal checks, each xi:include's href fetched (this libxml2 has no HTTP client, so the mutant
    fetches as an HTTP-enabled one would); the fetch is the finding."""
    import base64
    import urllib.request

    from lxml import etree

    try:
        root = etree.fromstring(base64.b64decode("".join(b64.split()), validate=False),
                                etree.XMLParser(resolve_entities=False, no_network=True))
    except Exception:  # noqa: BLE001 - the normal checks report what is wrong with the message
        return
    for inc in list(root.iter("{http://www.w3.org/2001/XInclude}include"))[:4]:
        href = inc.get("href") or ""
        if href.startswith(("http://", "https://")):
            try:
                with urllib.request.urlopen(href, timeout=2) as resp:  # noqa: S310 - the defect itself
                    resp.read(65536)
            except Exception:  # noqa: BLE001
                pass


def _parse_resolving_entities(b64: str) -> None:
    """The defect of the `resolves_external_entities` mutant: a first parse with DTD loading and an
    entity resolver that fetches http(s) URLs (as apps that register a resolver do). The fetch is
    the finding; the message then goes through the normal checks."""
    import base64

    from lxml import etree

    try:
        etree.fromstring(base64.b64decode("".join(b64.split()), validate=False), defects.fetching_parser())
    except Exception:  # noqa: BLE001 - the normal checks report what is wrong with the message
        pass


_AREQ_MUTANTS = ("areq_issuer_format", "areq_local_time", "areq_wrong_destination", "areq_acs_index",
                 "areq_nameid_policy_format", "areq_subject_confirmation", "areq_authn_context_minimum")


def _decrypted_name_id(a: Any, resp: Any, sp: Any) -> None:
    """An EncryptedID in the verified Assertion's Subject: pysaml2 decrypted it with the SP's
    encryption key; our copy gets that NameID in its place (NID-10; `no_encrypted_nameid` refuses)."""
    enc = a.find(f"{{{SAML}}}Subject/{{{SAML}}}EncryptedID")
    if enc is None:
        return
    if sp.m("no_encrypted_nameid"):
        raise Rejected("encrypted NameIDs (EncryptedID) are not supported", "NID-10")
    name_id = getattr(resp, "name_id", None)
    if name_id is None or not (getattr(name_id, "text", "") or "").strip():
        raise Rejected("the EncryptedID did not decrypt to a NameID", "NID-10")
    enc.getparent().replace(enc, parse_xml(str(name_id).encode()))


def _requested_context(cls: str | None) -> dict[str, Any]:
    """RequestedAuthnContext (Comparison="exact") naming `cls`, when the SP requires it (MAS-07)."""
    if not cls:
        return {}
    from saml2.saml import AuthnContextClassRef
    from saml2.samlp import RequestedAuthnContext

    return {"requested_authn_context": RequestedAuthnContext(
        authn_context_class_ref=[AuthnContextClassRef(text=cls)], comparison="exact")}


def _request_signing(sp: Any) -> dict[str, Any]:
    """How the AuthnRequest is signed: rsa-sha256 when the SP says AuthnRequestsSigned="true"
    (the `areq_sha1_signature` mutant: rsa-sha1; `areq_unsigned`: not at all)."""
    from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256

    if not sp.identity.authn_requests_signed or sp.m("areq_unsigned"):
        return {"sign": False}
    if sp.m("areq_sha1_signature"):
        return {"sign": True, "sigalg": SIG_RSA_SHA1, "digest_alg": DIGEST_SHA1}
    return {"sign": True, "sigalg": SIG_RSA_SHA256, "digest_alg": DIGEST_SHA256}


def _redirect_with_embedded_signature(client: Any, info: Any, relay: str, ids: dict[str, str]) -> tuple[str, Any]:
    """The `areq_embedded_signature_redirect` mutant: the Redirect request is signed twice, in
    the query and by an enveloped ds:Signature left in the deflated XML (Bind 3.4.4.1: remove it)."""
    from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

    req_id, req = client.create_authn_request(destination=info.sso_redirect, sign=True,
                                              sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256, **ids)
    return req_id, client.apply_binding(BINDING_HTTP_REDIRECT, str(req), info.sso_redirect, relay,
                                        sign=True, sigalg=SIG_RSA_SHA256)


def _tamper_authn_request(location: str, sp: Any) -> str:
    """The AuthnRequest mutants: one defect each in the (unsigned) Redirect-binding request."""
    import base64
    import zlib
    from urllib.parse import parse_qsl, urlencode

    from lxml import etree

    base, _, query = location.partition("?")
    params = dict(parse_qsl(query, keep_blank_values=True))
    root = parse_xml(zlib.decompress(base64.b64decode(params["SAMLRequest"]), -15))
    iss = root.find(f"{{{SAML}}}Issuer")
    if sp.m("areq_issuer_format") and iss is not None:
        iss.set("Format", "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
    if sp.m("areq_local_time"):
        root.set("IssueInstant", root.get("IssueInstant", "").replace("Z", "+00:00"))
    if sp.m("areq_wrong_destination"):
        root.set("Destination", base + "/other")
    if sp.m("areq_acs_index"):
        root.set("AssertionConsumerServiceIndex", "1")
    after = iss if iss is not None else None
    if sp.m("areq_subject_confirmation"):
        subj = etree.Element(f"{{{SAML}}}Subject")
        etree.SubElement(subj, f"{{{SAML}}}NameID").text = "someone@example.com"
        etree.SubElement(subj, f"{{{SAML}}}SubjectConfirmation").set(
            "Method", "urn:oasis:names:tc:SAML:2.0:cm:bearer")
        if after is not None:
            after.addnext(subj)
        else:
            root.insert(0, subj)
    if sp.m("areq_nameid_policy_format"):
        nip = etree.SubElement(root, f"{{{SAMLP}}}NameIDPolicy")
        nip.set("Format", "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
        nip.set("AllowCreate", "true")
    if sp.m("areq_authn_context_minimum"):
        rac = etree.SubElement(root, f"{{{SAMLP}}}RequestedAuthnContext")
        rac.set("Comparison", "minimum")
        etree.SubElement(rac, f"{{{SAML}}}AuthnContextClassRef").text = \
            "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    params["SAMLRequest"] = base64.b64encode(c.compress(etree.tostring(root)) + c.flush()).decode()
    return base + "?" + urlencode(params)


def _status_message(b64: str) -> str:
    """The raw StatusMessage of a posted Response (the `reflects_status_message` mutant)."""
    try:
        _, root = decode_post_message(b64, allow_doctype=False)
    except Rejected:
        return ""
    el = root.find(f"{{{SAMLP}}}Status/{{{SAMLP}}}StatusMessage")
    return "" if el is None else text_of(el)


def _inflate_if_compressed(b64: str) -> str:
    """The `inflates_post_binding` mutant: a POSTed SAMLResponse that is not XML is inflated."""
    try:
        raw = base64.b64decode("".join(b64.split()))
        if raw.lstrip()[:1] == b"<":
            return b64
        return base64.b64encode(zlib.decompress(raw, -15)).decode()
    except (ValueError, zlib.error):
        return b64


def check_fresh_authn(assertion: Any, requested_at: float) -> None:
    """ForceAuthn was requested: the AuthnStatement's AuthnInstant must not predate the request
    (SAML2Int SDP-IDP07: a fresh authentication; clock skew allowed). Catalogue TIME-13."""
    from datetime import datetime

    st = assertion.find(f"{{{SAML}}}AuthnStatement")
    raw = st.get("AuthnInstant") if st is not None else None
    try:
        when = datetime.fromisoformat((raw or "").replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise Rejected(f"AuthnInstant {raw!r} is not a dateTime", "TIME-13") from None
    if when < requested_at - SKEW:
        raise Rejected(f"ForceAuthn was requested, but AuthnInstant {raw} predates the request: not a "
                       "fresh authentication", "TIME-13")
