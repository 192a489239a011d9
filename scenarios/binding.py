"""BND: binding-level handling at the ACS and SLO endpoints (Redirect/POST encodings, inflation
bounds, ambiguous parameters) and META: the SP metadata itself (static checks).

The message-carrying scenarios judge by the SP's state as always. A 5xx answer is a refusal like
any other for the verdict, but where the catalogue asks for *graceful* handling (BND-04) it is the
finding itself, recorded as a check that counts whether or not anyone was signed in.
"""
from __future__ import annotations

import base64
import ipaddress
import zlib
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from lxml import etree

from harness.context import ScenarioContext
from harness.errors import TargetError
from harness.registry import ACCEPT, REJECT, scenario
from harness.verdict import Observation

from .correlation import _pending_request

BND_HINT = ("Accept the Response only by HTTP-POST (base64, not compressed), exactly one SAMLResponse, "
            "and bound every inflation (check the size after inflating, not before).")


def _solicited(ctx: ScenarioContext, user: Any, **options: Any) -> Any:
    """A pending SP-initiated request in this browser, and the IdP's valid Response to it (not sent)."""
    rid = _pending_request(ctx, user)
    if not rid:
        raise TargetError("no AuthnRequest from the SP was seen in the hops")
    return ctx.idp.issue_response(ctx.runtime.sp_entity_id, user, in_response_to=rid, **options)


def _deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


# --- BND-01 ------------------------------------------------------------------------------------------
@scenario("BND-01", "A Response sent by HTTP-Redirect (GET with a deflated SAMLResponse) is refused",
          category="binding", refs=("Prof 4.1.2 (HTTP-Redirect MUST NOT be used for the Response)",
                                    "S2I SDP-SP08", "catalogue BND-01"),
          needs=("sp_initiated",), expect=REJECT, fix_hint=BND_HINT)
def bnd_01(ctx: ScenarioContext) -> Observation:
    user = ctx.new_user()
    issued = _solicited(ctx, user)
    query = {"SAMLResponse": base64.b64encode(_deflate(issued.xml)).decode()}
    if issued.relay_state is not None:
        query["RelayState"] = issued.relay_state
    url = issued.acs_url + ("&" if "?" in issued.acs_url else "?") + urlencode(query)
    try:
        ctx.session.navigate(url)
    except TargetError as exc:
        if "answered HTTP 5" not in str(exc):
            raise
    return ctx.observe(user, store_check=False)


# --- BND-02 ------------------------------------------------------------------------------------------
@scenario("BND-02", "A signed LogoutRequest that inflates to 8 MB is refused (bounded inflation); the session "
          "survives", category="binding",
          refs=("catalogue BND-02", "CVE-2025-25293 (size checked before inflation)", "CVE-2023-28119 (deflate bomb)"),
          needs=("sp_initiated", "slo"), expect=ACCEPT, fix_hint=BND_HINT)
def bnd_02(ctx: ScenarioContext) -> Observation:
    from mock_idp.bindings import BINDING_REDIRECT
    from mock_idp.slo import build_logout_request, send

    from .slo import control, sign_in

    who = sign_in(ctx)
    if isinstance(who, Observation):
        return who
    sp = ctx.idp.sp(ctx.runtime.sp_entity_id)
    ep = sp.slo_endpoint(BINDING_REDIRECT)
    if ep is None:
        raise TargetError("the SP's metadata has no HTTP-Redirect SingleLogoutService")
    knobs = who.name_knobs()
    req = build_logout_request(issuer=ctx.idp.entity_id, destination=ep.location, name_id=who.name_id,
                               name_id_format=knobs.get("name_id_format"), session_index=who.session_index,
                               lifetime=300)
    req.append(etree.Comment(" " + "A" * 8_000_000 + " "))  # 8 MB inflated, ~8 KB deflated
    msg = send(req, ep.location, ep.binding, ctx.idp.key)
    try:
        ctx.session.navigate(msg.url)
    except TargetError as exc:
        if "answered HTTP" not in str(exc) and "HTTP error" not in str(exc):
            raise
    obs = ctx.observe(who.user, store_check=False)
    if not obs.accepted:
        obs.note = f"the LogoutRequest ({len(msg.url)} bytes of URL, 8 MB inflated) was processed"
        return obs
    return control(ctx, who, obs)


# --- BND-03 ------------------------------------------------------------------------------------------
@scenario("BND-03", "A DEFLATE-compressed SAMLResponse posted by HTTP-POST is refused", category="binding",
          refs=("Bind 3.5.4 (POST: base64 only, no DEFLATE)", "RADB CVE-2025-25293 (compressed messages)",
                "catalogue BND-03"),
          needs=("sp_initiated",), expect=REJECT, fix_hint=BND_HINT)
def bnd_03(ctx: ScenarioContext) -> Observation:
    user = ctx.new_user()
    issued = _solicited(ctx, user)
    fields = dict(issued.form_fields())
    fields["SAMLResponse"] = base64.b64encode(_deflate(issued.xml)).decode()
    ctx.session.navigate(issued.acs_url, method="POST", data=fields)
    return ctx.observe(user, store_check=False)


# --- BND-04 ------------------------------------------------------------------------------------------
def _variants(b64: str) -> list[tuple[str, str]]:
    url_safe = b64.replace("+", "-").replace("/", "_")
    return [
        ("padding removed", b64.rstrip("=")),
        ("URL-safe alphabet", url_safe if url_safe != b64 else b64[:-4] + "-_" + b64[-2:]),
        ("line breaks every 76 characters", "\r\n".join(b64[i:i + 76] for i in range(0, len(b64), 76))),
        ("URL-encoded twice", quote(quote(b64, safe=""), safe="")),
    ]


@scenario("BND-04", "Malformed base64 (no padding, URL-safe alphabet, line breaks, double URL-encoding) is "
          "refused gracefully or decoded consistently, never a server error", category="binding",
          refs=("Bind 3.5.4 (base64 form encoding)", "catalogue BND-04"),
          needs=("sp_initiated",), expect=ACCEPT, level="SHOULD",
          fix_hint="Decode base64 strictly (or per RFC 2045), refuse what does not decode with a clear error; "
                   "never answer a malformed message with a 5xx.")
def bnd_04(ctx: ScenarioContext) -> Observation:
    errors: list[str] = []
    obs = None
    for i in range(4):
        if i:
            ctx.restart()
        user = ctx.new_user()
        issued = _solicited(ctx, user)
        label, value = _variants(issued.saml_response_b64)[i]
        fields = dict(issued.form_fields(), SAMLResponse=value)
        before = len(_server_errors(ctx))
        ctx.session.navigate(issued.acs_url, method="POST", data=fields)
        errors += [f"{label}: {e}" for e in _server_errors(ctx)[before:]]
        obs = Observation(signed_in=ctx.whoami(), intended=ctx.email_of(user),
                          refusal_ok="refusing a malformed encoding is graceful")
        if obs.accepted and obs.signed_in != obs.intended:
            obs.note = f"{label}: decoded into another identity"
            return obs
    assert obs is not None
    return obs.check("no server error on a malformed encoding", not errors, "; ".join(errors)[:400], always=True)


def _server_errors(ctx: ScenarioContext) -> list[str]:
    errs = ctx.server_errors
    return list(errs() if callable(errs) else errs)


# --- BND-05 ------------------------------------------------------------------------------------------
@scenario("BND-05", "Two SAMLResponse parameters (one in the query, one in the body) are refused as ambiguous",
          category="binding", refs=("catalogue BND-05 (parameter pollution)",),
          needs=("sp_initiated",), expect=REJECT, level="SHOULD",
          fix_hint="Refuse a request carrying more than one SAMLResponse (query or body).")
def bnd_05(ctx: ScenarioContext) -> Observation:
    user = ctx.new_user()
    issued = _solicited(ctx, user)
    decoy = base64.b64encode(b"<samlp:Response xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol'/>").decode()
    url = issued.acs_url + ("&" if "?" in issued.acs_url else "?") + urlencode({"SAMLResponse": decoy})
    ctx.session.navigate(url, method="POST", data=dict(issued.form_fields()))
    return ctx.observe(user, store_check=False)


# --- BND-06 and META: the SP's metadata --------------------------------------------------------------
def _loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _metadata(ctx: ScenarioContext) -> Observation:
    return Observation(signed_in="SP metadata", intended="SP metadata",
                       note=f"static check of the SP's metadata ({ctx.runtime.sp_entity_id})")


@scenario("BND-06", "Every ACS in the SP's metadata is https (plain http only on a loopback lab host)",
          category="metadata", refs=("S2I SDP-SP09 (ACS MUST be protected by TLS)", "catalogue BND-06"),
          expect=ACCEPT, fix_hint="Publish only https:// AssertionConsumerService locations.")
def bnd_06(ctx: ScenarioContext) -> Observation:
    obs = _metadata(ctx)
    plain = [e.location for e in ctx.runtime.sp_policy.acs
             if urlsplit(e.location).scheme.lower() != "https" and not _loopback(e.location)]
    lab = [e.location for e in ctx.runtime.sp_policy.acs if _loopback(e.location)]
    if lab:
        obs.note += "; loopback ACS (a lab setup) allowed over http: " + ", ".join(lab)
    return obs.check("no plain-http ACS", not plain, "plain http: " + ", ".join(plain))


def _md_root(ctx: ScenarioContext) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    return etree.fromstring(ctx.runtime.sp_metadata, parser)


MD = "urn:oasis:names:tc:SAML:2.0:metadata"


@scenario("META-01", "The SP metadata has an ACS, an encryption key, a technical contact and a sane entityID",
          category="metadata", refs=("S2I SDP-SP39", "S2I SDP-G04 (entityID <= 256)", "Core 8.3.6 (<= 1024)",
                                     "catalogue META-01"),
          expect=ACCEPT, level="SHOULD",
          fix_hint="Publish an SPSSODescriptor with its AssertionConsumerService, a KeyDescriptor for encryption, "
                   "a technical ContactPerson, and an absolute entityID of at most 256 characters.")
def meta_01(ctx: ScenarioContext) -> Observation:
    obs = _metadata(ctx)
    pol = ctx.runtime.sp_policy
    root = _md_root(ctx)
    ed = root if etree.QName(root).localname == "EntityDescriptor" else next(root.iter(f"{{{MD}}}EntityDescriptor"))
    entity = ed.get("entityID") or ""
    obs.check("at least one AssertionConsumerService", bool(pol.acs), "none")
    obs.check("an encryption key (KeyDescriptor use=encryption or unspecified)", bool(pol.encryption_certs), "none")
    contacts = [c for c in ed.iter(f"{{{MD}}}ContactPerson") if c.get("contactType") == "technical"]
    obs.check("a technical ContactPerson", bool(contacts), "no ContactPerson contactType=\"technical\"")
    parts = urlsplit(entity)
    obs.check("entityID is an absolute URI", bool(parts.scheme) and (bool(parts.netloc) or parts.scheme == "urn"),
              f"entityID {entity!r}")
    obs.check("entityID is at most 256 characters", len(entity) <= 256, f"{len(entity)} characters")
    return obs


@scenario("META-02", "The SP signs and decrypts with different key pairs", category="metadata",
          refs=("OWASP SAML Cheat Sheet (separate signing and encryption keys)", "catalogue META-02"),
          needs=("encryption_key",), expect=ACCEPT, level="SHOULD",
          fix_hint="Use one key pair for signing and another for encryption.")
def meta_02(ctx: ScenarioContext) -> Observation:
    obs = _metadata(ctx)
    pol = ctx.runtime.sp_policy
    norm = {"".join(c.split()) for c in pol.signing_certs}
    shared = [c for c in pol.encryption_certs if "".join(c.split()) in norm]
    if not pol.signing_certs:
        obs.note += "; the metadata publishes no signing key"
    return obs.check("no certificate is both the signing and the encryption key", not shared,
                     "the encryption certificate is also a signing certificate")
