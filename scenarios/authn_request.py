"""AREQ: what the SP's own AuthnRequest must look like (the mock IdP's side of the wire).

Each scenario runs a valid SP-initiated login and reads the AuthnRequest the SP sent from the hops
(the Redirect binding's query string, decoded here; an HTTP-POST request from the form the SP
served). The login must succeed (ACCEPT) and every check on the request must hold; a request that
breaks a rule fails a check, whatever the login did.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable
from urllib.parse import parse_qsl, quote, urlsplit

from lxml import etree

from harness import samlmsg
from harness.context import ScenarioContext
from harness.registry import ACCEPT, REJECT, scenario
from harness.verdict import Observation

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
ENTITY = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
SKEW = timedelta(minutes=5)


@dataclass
class SeenRequest:
    binding: str  # "redirect" | "post"
    url: str  # where it was sent (without the query)
    params: dict[str, str]
    root: etree._Element | None
    full_url: str = ""  # as sent, with its query (the Redirect signature covers the encoded form)


def _seen(ctx: ScenarioContext, start: int) -> list[SeenRequest]:
    idp = _origin(ctx.runtime.idp_base_url)
    out = []
    for hop in ctx.session.hops[start:]:
        if _origin(hop.url) != idp or (hop.saml.get("SAMLRequest") or {}).get("type") != "AuthnRequest":
            continue
        if hop.method == "GET":
            params = dict(parse_qsl(urlsplit(hop.url).query, keep_blank_values=True))
            xml = samlmsg.decode(params.get("SAMLRequest", ""), deflated=True)
            binding = "redirect"
        else:
            params = {}
            xml = _posted(ctx, (hop.saml.get("SAMLRequest") or {}).get("ID"))
            binding = "post"
        root = None
        if xml:
            try:
                root = etree.fromstring(xml, _PARSER)
            except etree.XMLSyntaxError:
                root = None
        out.append(SeenRequest(binding, hop.url.split("?", 1)[0], params, root, hop.url))
    return out


def _posted(ctx: ScenarioContext, request_id: str | None) -> bytes | None:
    """The HTTP-POST AuthnRequest as the mock IdP received it (its event log keeps the form value)."""
    if not request_id:
        return None
    for e in reversed(list(ctx.idp.events)):
        if e.get("event") == "authn-request" and e.get("id") == request_id and e.get("saml_request"):
            return samlmsg.decode(e["saml_request"], deflated=False)
    return None


def _origin(url: str) -> str:
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}".lower()


def _login(ctx: ScenarioContext, **kw: Any) -> tuple[Any, list[SeenRequest], Observation]:
    user = ctx.new_user()
    start = len(ctx.session.hops)
    ctx.sp_login(user, **kw)
    obs = ctx.observe(user, store_check=False)
    return user, _seen(ctx, start), obs


def _inspect(ctx: ScenarioContext, checks: Callable[[SeenRequest, Observation], None], **kw: Any) -> Observation:
    _, seen, obs = _login(ctx, **kw)
    if not seen:
        return obs.check("the SP sent an AuthnRequest to the IdP", False, "no AuthnRequest reached the IdP")
    req = seen[-1]
    if req.root is None and req.binding == "redirect":
        return obs.check("the AuthnRequest decodes (DEFLATE + base64)", False, "the SAMLRequest did not decode")
    checks(req, obs)
    return obs


def _areq(id: str, title: str, refs: tuple[str, ...], fix_hint: str, level: str = "MUST",
          needs: tuple[str, ...] = ("sp_initiated",)) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return scenario(id, title, category="authn-request", refs=refs + (f"catalogue {id}",), needs=needs,
                    expect=ACCEPT, level=level, fix_hint=fix_hint)


# --- AREQ-01 ------------------------------------------------------------------------------------
@_areq("AREQ-01", "The SP sends its AuthnRequest by HTTP-Redirect", ("S2I SDP-SP02", "Prof 4.1.3.3"),
       "Send the AuthnRequest with the HTTP-Redirect binding (DEFLATE, base64, URL-encoded query).",
       level="SHOULD")
def areq_01(ctx: ScenarioContext) -> Observation:
    def check(req: SeenRequest, obs: Observation) -> None:
        obs.check("the AuthnRequest came by HTTP-Redirect", req.binding == "redirect",
                  f"it came by {req.binding}")
    return _inspect(ctx, check)


# --- AREQ-02 ------------------------------------------------------------------------------------
@_areq("AREQ-02", "The AuthnRequest's Issuer is the SP's entityID (Format omitted or entity)",
       ("Prof 4.1.4.1 MUST (Issuer)",), "Put the SP's exact entityID in saml:Issuer, without a Format other "
       "than urn:oasis:names:tc:SAML:2.0:nameid-format:entity.")
def areq_02(ctx: ScenarioContext) -> Observation:
    def check(req: SeenRequest, obs: Observation) -> None:
        iss = req.root.find(f"{{{SAML}}}Issuer") if req.root is not None else None
        text = "".join(iss.itertext()) if iss is not None else None
        obs.check("Issuer is the SP's entityID", text == ctx.runtime.sp_entity_id,
                  f"Issuer {text!r}, entityID {ctx.runtime.sp_entity_id!r}")
        fmt = iss.get("Format") if iss is not None else None
        obs.check("Issuer Format is omitted or entity", fmt in (None, ENTITY), f"Format {fmt!r}")
    return _inspect(ctx, check)


# --- AREQ-03 ------------------------------------------------------------------------------------
def id_bits(value: str) -> float:
    """Entropy estimate of an XML ID: its random-looking part times the bits per character of the
    smallest usual alphabet it fits (hex 4, alphanumeric 5.95, base64/url 6)."""
    body = re.sub(r"^(_|id-|ID_|id_|ONELOGIN_|pfx|a)", "", value)
    if re.fullmatch(r"[0-9a-fA-F]+", body):
        per = 4.0
    elif re.fullmatch(r"[0-9A-Za-z]+", body):
        per = math.log2(62)
    else:
        per = 6.0
    return len(body) * per


@_areq("AREQ-03", "AuthnRequest IDs are unique per request and carry at least 128 random bits",
       ("Core 1.3.4 MUST (collision probability <= 2^-128)",),
       "Use at least 128 (better 160) bits from a CSPRNG for each request ID, e.g. '_' + 40 hex digits.")
def areq_03(ctx: ScenarioContext) -> Observation:
    _, first, _ = _login(ctx)
    ctx.restart()
    _, second, obs = _login(ctx)
    ids = [r.root.get("ID") for r in first[-1:] + second[-1:] if r.root is not None]
    if len(ids) < 2:
        return obs.check("two AuthnRequests were seen", False, f"saw {len(ids)}")
    obs.check("the two requests have different IDs", ids[0] != ids[1], f"both {ids[0]!r}")
    bits = min(id_bits(i or "") for i in ids)
    obs.check("each ID carries at least 128 random bits", bits >= 128,
              f"{ids[0]!r}: about {bits:.0f} bits")
    return obs


# --- AREQ-04 ------------------------------------------------------------------------------------
@_areq("AREQ-04", "The AuthnRequest's IssueInstant is UTC ('Z') and current", ("Core 1.3.3 (xs:dateTime in UTC)",),
       "Write IssueInstant in UTC with a 'Z' suffix, from a synchronised clock.")
def areq_04(ctx: ScenarioContext) -> Observation:
    def check(req: SeenRequest, obs: Observation) -> None:
        ii = req.root.get("IssueInstant") or ""
        ok_z = ii.endswith("Z")
        obs.check("IssueInstant is in UTC ('Z')", ok_z, f"IssueInstant {ii!r}")
        try:
            t = datetime.fromisoformat(ii.replace("Z", "+00:00"))
            fresh = t.tzinfo is not None and abs(datetime.now(timezone.utc) - t) <= SKEW
        except ValueError:
            fresh = False
        obs.check("IssueInstant is within 5 minutes of now", fresh, f"IssueInstant {ii!r}")
    return _inspect(ctx, check)


# --- AREQ-05 ------------------------------------------------------------------------------------
@_areq("AREQ-05", "The AuthnRequest's Destination is the IdP endpoint it was sent to",
       ("Core 3.2.1 (Destination)", "Bind 3.4.5.2 (signed: Destination MUST be present)"),
       "Set Destination to the IdP's SingleSignOnService Location used for this binding.")
def areq_05(ctx: ScenarioContext) -> Observation:
    def check(req: SeenRequest, obs: Observation) -> None:
        dest = req.root.get("Destination")
        obs.check("Destination is the URL the request was sent to", dest == req.url,
                  f"Destination {dest!r}, sent to {req.url!r}")
    return _inspect(ctx, check)


# --- AREQ-06 ------------------------------------------------------------------------------------
@_areq("AREQ-06", "The AuthnRequest names its ACS by a URL byte-identical to the metadata (no index)",
       ("S2I SDP-SP05 / SDP-SP06",), "Send AssertionConsumerServiceURL exactly as published in the SP "
       "metadata, and no AssertionConsumerServiceIndex.")
def areq_06(ctx: ScenarioContext) -> Observation:
    sp = ctx.idp.sp(ctx.runtime.sp_entity_id)

    def check(req: SeenRequest, obs: Observation) -> None:
        url = req.root.get("AssertionConsumerServiceURL")
        obs.check("AssertionConsumerServiceURL is present", url is not None, "absent")
        if url is not None:
            obs.check("AssertionConsumerServiceURL is a metadata ACS, byte for byte",
                      sp.acs_by_url(url) is not None and any(e.location == url for e in sp.acs),
                      f"{url!r} is not an AssertionConsumerService Location of the SP's metadata")
        idx = req.root.get("AssertionConsumerServiceIndex")
        obs.check("no AssertionConsumerServiceIndex", idx is None, f"index {idx!r}")
    return _inspect(ctx, check)


# --- AREQ-07 ------------------------------------------------------------------------------------
@_areq("AREQ-07", "NameIDPolicy is omitted, or AllowCreate=\"true\" without a Format", ("S2I SDP-SP04",),
       "Leave NameIDPolicy out (or send AllowCreate=\"true\" only); let the IdP choose the NameID format.",
       level="SHOULD")
def areq_07(ctx: ScenarioContext) -> Observation:
    def check(req: SeenRequest, obs: Observation) -> None:
        nip = req.root.find(f"{{{SAMLP}}}NameIDPolicy")
        if nip is None:
            obs.check("NameIDPolicy omitted", True)
            return
        obs.check("NameIDPolicy has no Format", nip.get("Format") is None, f"Format {nip.get('Format')!r}")
        obs.check("NameIDPolicy AllowCreate is true", nip.get("AllowCreate") in ("true", "1"),
                  f"AllowCreate {nip.get('AllowCreate')!r}")
    return _inspect(ctx, check)


# --- AREQ-08 ------------------------------------------------------------------------------------
@_areq("AREQ-08", "The AuthnRequest carries no SubjectConfirmation", ("Prof 4.1.4.1 MUST NOT",),
       "Never put a Subject with SubjectConfirmation into an AuthnRequest.")
def areq_08(ctx: ScenarioContext) -> Observation:
    def check(req: SeenRequest, obs: Observation) -> None:
        sc = req.root.find(f"{{{SAML}}}Subject/{{{SAML}}}SubjectConfirmation")
        obs.check("no Subject/SubjectConfirmation", sc is None, "the request carries a SubjectConfirmation")
    return _inspect(ctx, check)


# --- AREQ-11 ------------------------------------------------------------------------------------
@_areq("AREQ-11", "RequestedAuthnContext is omitted, or uses Comparison=\"exact\"", ("S2I SDP-SP07",),
       "Request an authentication context only when needed, with Comparison=\"exact\".", level="SHOULD")
def areq_11(ctx: ScenarioContext) -> Observation:
    def check(req: SeenRequest, obs: Observation) -> None:
        rac = req.root.find(f"{{{SAMLP}}}RequestedAuthnContext")
        if rac is None:
            obs.check("RequestedAuthnContext omitted", True)
            return
        obs.check("RequestedAuthnContext Comparison is exact", rac.get("Comparison") in (None, "exact"),
                  f"Comparison {rac.get('Comparison')!r}")
    return _inspect(ctx, check)


# --- AREQ-12 ------------------------------------------------------------------------------------
@_areq("AREQ-12", "The RelayState the SP sends is an opaque handle of at most 80 bytes, not a URL or PII",
       ("Bind 3.4.3 MUST NOT exceed 80 bytes", "Bind 3.4.3 (integrity: protect the value)"),
       "Send the IdP an opaque random handle and keep the deep link server-side.")
def areq_12(ctx: ScenarioContext) -> Observation:
    kw: dict[str, Any] = {}
    deep = "/?deep=samlconf-areq12"
    if "{relay_state}" in (ctx.target.login.sp_initiated_url or ""):
        kw["relay_state"] = quote(deep, safe="")
    user, seen, obs = _login(ctx, **kw)
    if not seen:
        return obs.check("the SP sent an AuthnRequest to the IdP", False, "no AuthnRequest reached the IdP")
    rs = seen[-1].params.get("RelayState")
    if rs is None:
        return obs.check("no RelayState (nothing to protect)", True)
    obs.check("RelayState is at most 80 bytes", len(rs.encode()) <= 80, f"{len(rs.encode())} bytes")
    looks_url = "://" in rs or rs.startswith("/") or "deep=samlconf-areq12" in rs
    # Bind 3.4.3's MUST is the length; an opaque, PII-free value is its SHOULD ("integrity protected")
    # and common advice: a URL RelayState is a warn, not a fail
    obs.check("RelayState is not a URL or path", not looks_url, f"RelayState {rs!r}", level="SHOULD")
    email = ctx.email_of(user).lower()
    obs.check("RelayState carries no email address", email not in rs.lower() and "@" not in rs,
              f"RelayState {rs!r}", level="SHOULD")
    return obs


# --- AREQ-13 ------------------------------------------------------------------------------------
@scenario("AREQ-13", "The SP binds its AuthnRequest to the browser that started it (a Response in another "
          "browser is refused)", category="authn-request",
          refs=("Shibboleth checkCorrelation", "catalogue AREQ-13", "catalogue IRT-03", "no SAML clause binds a request to its browser: a best practice (Shibboleth), SHOULD"),
          needs=("sp_initiated",), expect=REJECT, level="SHOULD",
          fix_hint="Keep the AuthnRequest ID in the initiating browser's session (cookie-bound state) and "
                   "accept its Response only there.")
def areq_13(ctx: ScenarioContext) -> Observation:
    from .correlation import irt_03

    return irt_03(ctx)


# --- AREQ-09 / AREQ-10: signed AuthnRequests, as the SP's metadata says ----------------------------
XMLDSIG_MORE = "http://www.w3.org/2001/04/xmldsig-more#"
STRONG_SIG = {XMLDSIG_MORE + "rsa-sha256", XMLDSIG_MORE + "rsa-sha384", XMLDSIG_MORE + "rsa-sha512",
              XMLDSIG_MORE + "ecdsa-sha256", XMLDSIG_MORE + "ecdsa-sha384", XMLDSIG_MORE + "ecdsa-sha512"}
STRONG_DIGEST = {"http://www.w3.org/2001/04/xmlenc#sha256", XMLDSIG_MORE + "sha384",
                 "http://www.w3.org/2001/04/xmlenc#sha512"}
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
_SIGNED_NEEDS = ("authn_requests_signed",)


def _metadata_key_note(ctx: ScenarioContext) -> str:
    n = len(ctx.runtime.sp_policy.signing_certs)
    return f"{n} signing certificate(s) in the SP's metadata" if n else "the SP's metadata publishes no signing key"


@_areq("AREQ-09", "Signed HTTP-Redirect AuthnRequests (AuthnRequestsSigned=\"true\"): SigAlg rsa-sha256 or "
       "stronger, the query Signature verifies with the SP metadata's key, no ds:Signature in the XML",
       ("Bind 3.4.4.1 (SigAlg; SAMLRequest, RelayState, SigAlg signed in that order; ds:Signature removed)",
        "Metadata 2.4.4 (AuthnRequestsSigned)", "S2I SDP-IDP04/05"),
       "Sign the Redirect query (SAMLRequest=..&RelayState=..&SigAlg=.., URL-encoded as sent) with "
       "rsa-sha256 and the key whose certificate the SP metadata publishes (use=\"signing\"); leave the "
       "XML itself unsigned.", needs=("sp_initiated",) + _SIGNED_NEEDS)
def areq_09(ctx: ScenarioContext) -> Observation:
    from mock_idp.redirect_sig import verify_query

    def check(req: SeenRequest, obs: Observation) -> None:
        if req.binding != "redirect":
            obs.observable = False
            obs.note = "the SP sent its AuthnRequest by HTTP-POST (AREQ-10 checks that binding)"
            return
        alg = req.params.get("SigAlg")
        obs.check("SigAlg is present", alg is not None, "no SigAlg query parameter")
        obs.check("SigAlg is rsa-sha256 or stronger", alg in STRONG_SIG, f"SigAlg {alg!r}")
        obs.check("the Signature query parameter is present", "Signature" in req.params, "no Signature parameter")
        err = verify_query(urlsplit(req.full_url).query, list(ctx.runtime.sp_policy.signing_certs))
        obs.check("the Signature verifies with the SP metadata's signing key", err is None,
                  f"{err} ({_metadata_key_note(ctx)})")
        embedded = req.root.find(f"{{{DS}}}Signature") if req.root is not None else None
        obs.check("no ds:Signature inside the deflated XML", embedded is None,
                  "the Redirect-binding AuthnRequest also carries an enveloped ds:Signature")
    return _inspect(ctx, check)


@_areq("AREQ-10", "Signed HTTP-POST AuthnRequests (AuthnRequestsSigned=\"true\"): one enveloped signature, "
       "Reference #ID, exc-c14n, rsa-sha256 or stronger, verifying with the SP metadata's key",
       ("Core 5.4.2 (enveloped signature, Reference to the ID)", "Core 5.4.3/5.4.4 (exclusive c14n)",
        "Metadata 2.4.4 (AuthnRequestsSigned)", "S2I SDP-IDP04/05"),
       "Sign the POSTed AuthnRequest with one enveloped ds:Signature: Reference URI=\"#ID\", transforms "
       "enveloped-signature + exc-c14n, rsa-sha256/sha256, with the SP metadata's signing key.",
       needs=("sp_initiated_post",) + _SIGNED_NEEDS)
def areq_10(ctx: ScenarioContext) -> Observation:
    from mock_idp.requests import verify_enveloped

    def check(req: SeenRequest, obs: Observation) -> None:
        if req.binding != "post":
            obs.check("the AuthnRequest came by HTTP-POST", False, f"it came by {req.binding}")
            return
        if req.root is None:
            obs.check("the posted AuthnRequest was read", False, "the IdP kept no copy of the posted message")
            return
        sigs = [c for c in req.root if c.tag == f"{{{DS}}}Signature"]
        obs.check("one enveloped ds:Signature", len(sigs) == 1, f"{len(sigs)} ds:Signature children")
        if not sigs:
            return
        sig = sigs[0]
        refs = sig.findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
        uri = refs[0].get("URI") if len(refs) == 1 else None
        obs.check("one Reference, to the request's own ID", uri == "#" + (req.root.get("ID") or ""),
                  f"References {[r.get('URI') for r in refs]}, ID {req.root.get('ID')!r}")
        c14n = sig.find(f"{{{DS}}}SignedInfo/{{{DS}}}CanonicalizationMethod")
        obs.check("CanonicalizationMethod is exclusive c14n", c14n is not None and c14n.get("Algorithm") == EXC_C14N,
                  f"{c14n.get('Algorithm') if c14n is not None else None!r}")
        transforms = [t.get("Algorithm") for r in refs for t in r.iter(f"{{{DS}}}Transform")]
        obs.check("transforms are enveloped-signature and exc-c14n only",
                  ENVELOPED in transforms and set(transforms) <= {ENVELOPED, EXC_C14N}, f"{transforms}")
        alg = sig.find(f"{{{DS}}}SignedInfo/{{{DS}}}SignatureMethod")
        alg_uri = alg.get("Algorithm") if alg is not None else None
        obs.check("SignatureMethod is rsa-sha256 or stronger", alg_uri in STRONG_SIG, f"{alg_uri!r}")
        digests = [d.get("Algorithm") for d in sig.iter(f"{{{DS}}}DigestMethod")]
        obs.check("DigestMethod is sha256 or stronger", bool(digests) and set(digests) <= STRONG_DIGEST, f"{digests}")
        err = verify_enveloped(etree.tostring(req.root), list(ctx.runtime.sp_policy.signing_certs))
        obs.check("the signature verifies with the SP metadata's signing key", err is None,
                  f"{err} ({_metadata_key_note(ctx)})")
    return _inspect(ctx, check, post=True)
