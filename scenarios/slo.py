"""SLO: single logout (catalogue POS-11, SLO-01, SLO-11) and SP-initiated logout (FLOW-03).

Every scenario first signs a fresh user in (SP-initiated), then carries logout messages through the
same browser session, and judges by the SP's state afterwards (its whoami), never by an HTTP status.
The SAML the SP sends back is read from the hops (decoded here: a Redirect-binding SAMLResponse is
DEFLATEd like a SAMLRequest) and from what the mock IdP's `/slo` endpoint recorded (whether the SP's
signature over its logout message verified).

The negative SLO checks (SLO-01, SLO-11) are "the session survives" observations (ACCEPT: the
intended user is still signed in). A session that survives proves nothing if the SP ignores logout
altogether, so each of them ends with its own positive control: a correctly signed LogoutRequest for
the same session must then end it, otherwise the scenario is inconclusive.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from harness import samlmsg
from harness.context import ScenarioContext
from harness.errors import TargetError
from harness.events import Hop
from harness.registry import ACCEPT, REJECT, scenario
from harness.runtime import json_path
from harness.verdict import Observation

NEEDS = ("sp_initiated", "slo")
SLO_HINT = ("Verify the signature of every LogoutRequest (Redirect: over the query string as sent, with "
            "the IdP's metadata key) before ending any session; refuse unsigned ones (Prof 4.4.4.1).")


@dataclass
class SignedIn:
    user: Any
    email: str
    name_id: str
    session_index: str | None
    name_id_format: str | None = None
    name_qualifier: str | None = None
    sp_name_qualifier: str | None = None

    def name_knobs(self) -> dict[str, Any]:
        """The NameID exactly as asserted, for a LogoutRequest (SAML Core 3.7.1)."""
        return {"name_id_format": self.name_id_format, "name_qualifier": self.name_qualifier,
                "sp_name_qualifier": self.sp_name_qualifier}


def _sign_in(ctx: ScenarioContext, faults: Any = ()) -> SignedIn | Observation:
    """A fresh user signed in by SP-initiated SSO (with `faults`: a NameID shape, say); an
    unobservable Observation if that failed."""
    user = ctx.new_user()
    ctx.sp_login(user, list(faults))
    data = ctx.whoami_data()
    email = ctx.email_of(user)
    who = None if data is None else json_path(data, ctx.target.whoami.json_path)
    if who is None or str(who) != email:
        return Observation(signed_in=None if who is None else str(who), intended=email, observable=False,
                           note=f"the login before the logout failed (whoami: {who!r})")
    asserted = _asserted(ctx)
    if asserted is not None:
        return SignedIn(user, email, asserted.value, asserted.session_index, asserted.format,
                        asserted.name_qualifier, asserted.sp_name_qualifier)
    name_id = None
    if ctx.target.whoami.name_id_path:
        name_id = json_path(data, ctx.target.whoami.name_id_path)
    return SignedIn(user, email, str(name_id or user.name_id), None, user.name_id_format)


def _asserted(ctx: ScenarioContext) -> Any:
    """The NameID (value, Format, qualifiers) and SessionIndex of the last Response the IdP issued
    into this session, exactly as asserted (None if not found)."""
    from mock_idp.slo import asserted_name

    for hop in reversed(ctx.hops):
        rid = (hop.saml.get("SAMLResponse") or {}).get("ID") if hop.method == "POST" else None
        if not rid:
            continue
        try:
            return asserted_name(ctx.idp.replay(rid).xml)
        except KeyError:
            return None
    return None


def _messages(hops: list[Hop], param: str) -> list[tuple[Hop, dict[str, Any]]]:
    """Every `param` (SAMLRequest / SAMLResponse) carried in the hops, decoded.

    Redirect (GET) values are DEFLATEd for both parameters (Bindings 3.4.4.1); POST values are not."""
    out = []
    for hop in hops:
        if hop.method == "GET":
            value = dict(parse_qsl(urlsplit(hop.url).query)).get(param)
            if value is None:
                continue
            summary = samlmsg.summarize(samlmsg.decode(value, deflated=True))
        else:
            summary = hop.saml.get(param)
            if not summary:
                continue
        out.append((hop, summary))
    return out


def _origin(url: str) -> str:
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}".lower()


def _idp_events(ctx: ScenarioContext, kind: str, message_id: str | None) -> list[dict[str, Any]]:
    return [e for e in list(ctx.idp.events) if e.get("event") == kind and e.get("id") == message_id]


def _logout_request(ctx: ScenarioContext, who: SignedIn, **knobs: Any) -> Any:
    knobs.setdefault("session_index", who.session_index)
    for k, v in who.name_knobs().items():
        knobs.setdefault(k, v)
    return ctx.idp.logout_request(ctx.runtime.sp_entity_id, who.name_id, **knobs)


def _control(ctx: ScenarioContext, who: SignedIn, obs: Observation) -> Observation:
    """Positive control after a refused logout: a correct, signed LogoutRequest must end the session."""
    if not obs.accepted or obs.signed_in != obs.intended:
        return obs  # the finding stands as observed
    ctx.session.navigate(_logout_request(ctx, who).url)
    left = ctx.whoami()
    if left is not None:
        return Observation(signed_in=left, intended=who.email, observable=False,
                           note="positive control failed: a signed LogoutRequest did not end the session "
                                "either, so the surviving session proves nothing")
    obs.check("a signed LogoutRequest then ended the session (positive control)", True)
    return obs


def _logout_outcome(ctx: ScenarioContext, who: SignedIn, url: str, ended: str) -> Observation:
    """Carry a logout message (its URL) into the signed-in session and observe the user: when the
    session ended, `ended` says what ended it (the caller then runs `_control` on a survivor)."""
    ctx.session.navigate(url)
    obs = ctx.observe(who.user, store_check=False)
    if not obs.accepted:
        obs.note = ended
    return obs


# --- POS-11 ---------------------------------------------------------------------------------
@scenario(
    "POS-11",
    "IdP-initiated single logout ends the session and is answered with a signed Success LogoutResponse",
    category="slo",
    refs=("Prof 4.4.3.5", "Prof 4.4.4.2", "S2I SDP-SP26/SP31/SP33", "catalogue POS-11",
          "seed redflag: 'Single Sign-Out (SLO) URL'"),
    needs=NEEDS,
    expect=REJECT,
    fix_hint="On a valid signed LogoutRequest end the sessions it names, then answer the IdP with a signed "
             "LogoutResponse (Status Success, InResponseTo = the request's ID) on the IdP's SLO endpoint.",
)
def pos_11(ctx: ScenarioContext) -> Observation:
    """Encoding: expect REJECT = "nobody is signed in after the IdP's logout" (the session the
    LogoutRequest named is gone), plus checks on the SP's answer: exactly the LogoutResponse the
    Profiles ask for (type LogoutResponse, InResponseTo = our request ID, Status Success), delivered
    to the IdP's SLO endpoint, and signed (the IdP verified it with the SP's metadata key). A user
    still signed in is a failure; an SP that logs out but does not answer correctly fails a check.
    The engine's positive control (a valid login) runs first, as for every REJECT scenario."""
    who = _sign_in(ctx)
    if isinstance(who, Observation):
        return who
    before = len(ctx.hops)
    msg = _logout_request(ctx, who)
    ctx.session.navigate(msg.url)
    obs = Observation(signed_in=ctx.whoami(), intended=who.email, note=f"LogoutRequest {msg.message_id}")
    idp_origin = _origin(ctx.runtime.idp_base_url)
    answers = [(h, s) for h, s in _messages(ctx.hops[before:], "SAMLResponse") if _origin(h.url) == idp_origin]
    if not answers:
        return obs.check("the SP answered with a LogoutResponse", False,
                         "no SAMLResponse reached the IdP's SLO endpoint")
    _, s = answers[-1]
    obs.check("the answer is a LogoutResponse", s.get("type") == "LogoutResponse",
              f"got {s.get('type') or s}")
    obs.check("its InResponseTo is the LogoutRequest's ID", s.get("InResponseTo") == msg.message_id,
              f"InResponseTo {s.get('InResponseTo')!r}, request ID {msg.message_id!r}")
    obs.check("its Status is Success", s.get("Status") == "Success", f"Status {s.get('Status')!r}")
    seen = _idp_events(ctx, "LogoutResponse", s.get("ID"))
    obs.check("the IdP verified the LogoutResponse's signature",
              bool(seen) and not seen[-1].get("signature_error"),
              seen[-1].get("signature_error") or "" if seen else "the IdP did not record the LogoutResponse")
    obs.note = (f"LogoutResponse {s.get('ID')} InResponseTo {s.get('InResponseTo')}, Status {s.get('Status')}, "
                f"signature {'verified' if seen and not seen[-1].get('signature_error') else 'NOT verified'} "
                f"by the IdP")
    return obs


# --- SLO-01 ---------------------------------------------------------------------------------
@scenario(
    "SLO-01",
    "An unsigned LogoutRequest (HTTP-Redirect) does not end the session",
    category="slo",
    refs=("Prof 4.4.4.1 MUST", "S2I SDP-IDP26", "catalogue SLO-01"),
    needs=NEEDS,
    expect=ACCEPT,
    fix_hint=SLO_HINT,
)
def slo_01(ctx: ScenarioContext) -> Observation:
    """The IdP's own LogoutRequest for the live session (right Issuer, Destination, NameID and
    SessionIndex) but with no Signature/SigAlg: the user must still be signed in (ACCEPT), and the SP
    must not report a successful logout. Then the signed request (positive control) must end it."""
    who = _sign_in(ctx)
    if isinstance(who, Observation):
        return who
    before = len(ctx.hops)
    msg = _logout_request(ctx, who, sign=False)
    obs = _logout_outcome(ctx, who, msg.url, "the unsigned LogoutRequest ended the session")
    success = [s for _, s in _messages(ctx.hops[before:], "SAMLResponse")
               if s.get("InResponseTo") == msg.message_id and s.get("Status") == "Success"]
    obs.check("no Success LogoutResponse to the unsigned request", not success,
              "the SP answered the unsigned LogoutRequest with Status Success" if success else "")
    return _control(ctx, who, obs)


# --- SLO-11 ---------------------------------------------------------------------------------
@scenario(
    "SLO-11",
    "Logout CSRF: a cross-site GET to the SP's SLO endpoint, bare or with an unsigned LogoutRequest, "
    "does not end the session",
    category="slo",
    refs=("Prof 4.4.4.1 MUST", "catalogue SLO-11", "catalogue SLO-01"),
    needs=NEEDS,
    expect=ACCEPT,
    fix_hint=SLO_HINT + " A GET to the SLO endpoint without a verified IdP message must change nothing.",
)
def slo_11(ctx: ScenarioContext) -> Observation:
    """What a third-party page can make the victim's browser fetch: (a) the SP's SLO endpoint with no
    SAML message at all; (b) an unsigned LogoutRequest the attacker forged for the victim's NameID,
    without a SessionIndex (the attacker does not know it) and with an attacker RelayState. After
    both, the victim must still be signed in (ACCEPT); then a signed request (control) ends it."""
    who = _sign_in(ctx)
    if isinstance(who, Observation):
        return who
    try:
        ctx.session.navigate(_slo_location(ctx))
    except TargetError as exc:
        # No SAML message, so the driver cannot tell a refusal from a crash: a server error to a bare
        # GET at the SLO endpoint is the SP refusing it (Shibboleth answers 500), judged by whoami.
        if not re.search(r"answered HTTP 5\d\d$", str(exc)):
            raise
        getattr(ctx.session, "server_errors", []).append(str(exc))
    if ctx.whoami() != who.email:
        obs = ctx.observe(who.user, store_check=False)
        obs.note = "variant (a): a bare GET to the SLO endpoint ended the session"
        return obs
    forged = ctx.idp.logout_request(ctx.runtime.sp_entity_id, who.name_id, sign=False,
                                    relay_state="https://evil.example/", **who.name_knobs())
    obs = _logout_outcome(ctx, who, forged.url,
                          "variant (b): a forged unsigned LogoutRequest (no SessionIndex) ended the session")
    return _control(ctx, who, obs)


def _slo_location(ctx: ScenarioContext) -> str:
    from mock_idp.bindings import BINDING_REDIRECT

    ep = ctx.idp.sp(ctx.runtime.sp_entity_id).slo_endpoint(BINDING_REDIRECT)
    if ep is None:
        from harness.errors import TargetError

        raise TargetError("the SP's metadata has no SingleLogoutService endpoint")
    return ep.location


# --- FLOW-03 --------------------------------------------------------------------------------
@scenario(
    "FLOW-03",
    "SP-initiated logout ends the SP session and completes the SAML logout round trip with the IdP",
    category="flow",
    refs=("Prof 4.4.3.1", "Prof 4.4.4.1", "S2I SDP-SP25/SP28/SP34", "catalogue SLO-16",
          "seed redis_cloud: 'Single logout URL: The URL used to sign out of the identity provider and "
          "connected apps (optional)'"),
    needs=NEEDS,
    expect=REJECT,
    fix_hint="On logout, end the local session first, then send the IdP a signed LogoutRequest naming the "
             "user's NameID (HTTP-Redirect), and accept the IdP's LogoutResponse at the SLO endpoint.",
)
def flow_03(ctx: ScenarioContext) -> Observation:
    """Encoding: expect REJECT = "nobody is signed in after GET logout_url", plus checks that the SP
    sent the IdP a LogoutRequest (seen in the hops) that the IdP accepted (signed, naming the NameID
    the SP holds for the user), and that the IdP's LogoutResponse to it came back to the SP."""
    who = _sign_in(ctx)
    if isinstance(who, Observation):
        return who
    before = len(ctx.hops)
    ctx.session.navigate(ctx.target.url(ctx.target.logout_url or ""))
    hops = ctx.hops[before:]
    obs = Observation(signed_in=ctx.whoami(), intended=who.email)
    idp_origin = _origin(ctx.runtime.idp_base_url)
    reqs = [s for h, s in _messages(hops, "SAMLRequest")
            if _origin(h.url) == idp_origin and s.get("type") == "LogoutRequest"]
    if not reqs:
        return obs.check("the SP sent the IdP a LogoutRequest", False, "no LogoutRequest reached the IdP")
    req_id = reqs[-1].get("ID")
    seen = _idp_events(ctx, "LogoutRequest", req_id)
    obs.check("the IdP verified the LogoutRequest's signature",
              bool(seen) and not seen[-1].get("signature_error"),
              seen[-1].get("signature_error") or "" if seen else "the IdP did not record the LogoutRequest")
    got_nid = seen[-1].get("name_id") if seen else None
    obs.check("the LogoutRequest names the user's NameID", got_nid == who.name_id,
              f"NameID {got_nid!r}, the SP's session holds {who.name_id!r}")
    back = [s for h, s in _messages(hops, "SAMLResponse")
            if _origin(h.url) != idp_origin and s.get("type") == "LogoutResponse"
            and s.get("InResponseTo") == req_id]
    obs.check("the IdP's LogoutResponse returned to the SP", bool(back),
              "" if back else "no LogoutResponse answering the request reached the SP")
    obs.note = (f"LogoutRequest {req_id} (NameID {got_nid!r}) signed and accepted by the IdP; "
                f"its LogoutResponse returned to the SP" if all(c.ok for c in obs.checks) else
                f"LogoutRequest {req_id}")
    return obs


# --- SLO-16 ---------------------------------------------------------------------------------
@scenario(
    "SLO-16",
    "The SP's own LogoutRequest: HTTP-Redirect, signed with its metadata key, the NameID exactly as received "
    "(value, Format, qualifiers), never encrypted, with NotOnOrAfter; the session is over",
    category="slo",
    refs=("S2I SDP-SP25/SP28/SP29/SP30/SP34/SP35", "Core 3.7.1 (NotOnOrAfter; NameID)", "Bind 3.4.4.1",
          "catalogue SLO-16"),
    needs=NEEDS,
    expect=REJECT,
    fix_hint="Build the LogoutRequest's NameID from the one received, attributes included (Format, "
             "NameQualifier, SPNameQualifier), unencrypted; set NotOnOrAfter; sign the Redirect query with "
             "the key the SP metadata publishes; end the local session before sending it.",
)
def slo_16(ctx: ScenarioContext) -> Observation:
    """Encoding as FLOW-03 (REJECT = nobody signed in after logout), with checks on the request the
    SP sent. The login's NameID carries a persistent Format and both qualifiers (this IdP, this SP),
    so dropping any attribute shows."""
    from datetime import datetime, timezone

    from lxml import etree

    from mock_idp.redirect_sig import verify_query

    from ._kit import fault

    who = _sign_in(ctx, [fault("nameid-format", format="persistent"),
                         fault("name-qualifier", name_qualifier=ctx.idp.entity_id,
                               sp_name_qualifier=ctx.runtime.sp_entity_id)])
    if isinstance(who, Observation):
        return who
    before = len(ctx.hops)
    ctx.session.navigate(ctx.target.url(ctx.target.logout_url or ""))
    obs = Observation(signed_in=ctx.whoami(), intended=who.email)
    idp_origin = _origin(ctx.runtime.idp_base_url)
    sent = [h for h, m in _messages(ctx.hops[before:], "SAMLRequest")
            if _origin(h.url) == idp_origin and m.get("type") == "LogoutRequest"]
    if not sent:
        return obs.check("the SP sent the IdP a LogoutRequest", False, "no LogoutRequest reached the IdP")
    hop = sent[-1]
    obs.check("the LogoutRequest came by HTTP-Redirect", hop.method == "GET", f"it came by {hop.method}")
    query = urlsplit(hop.url).query
    raw = dict(parse_qsl(query)).get("SAMLRequest", "") if hop.method == "GET" else ""
    xml = samlmsg.decode(raw, deflated=True) if raw else None
    try:
        root = etree.fromstring(xml or b"", etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return obs.check("the Redirect LogoutRequest decodes", False, "the SAMLRequest did not decode")
    err = verify_query(query, list(ctx.runtime.sp_policy.signing_certs))
    obs.check("signed: the query Signature verifies with the SP metadata's signing key", err is None, err or "")
    saml = "urn:oasis:names:tc:SAML:2.0:assertion"
    obs.check("the NameID is not encrypted", root.find(f"{{{saml}}}EncryptedID") is None,
              "the LogoutRequest carries an EncryptedID")
    nid = root.find(f"{{{saml}}}NameID")
    got = None if nid is None else ("".join(nid.itertext()), nid.get("Format"), nid.get("NameQualifier"),
                                    nid.get("SPNameQualifier"))
    want = (who.name_id, who.name_id_format, who.name_qualifier, who.sp_name_qualifier)
    obs.check("the NameID is the one received (value, Format, NameQualifier, SPNameQualifier)", got == want,
              f"sent {got}, received {want}")
    noa = root.get("NotOnOrAfter")
    try:
        later = noa is not None and datetime.fromisoformat(noa.replace("Z", "+00:00")) > datetime.now(timezone.utc)
    except ValueError:
        later = False
    obs.check("NotOnOrAfter is set, in the future", later, f"NotOnOrAfter {noa!r}")
    obs.note = f"LogoutRequest {root.get('ID')}"
    return obs


# shared with the other logout scenarios (scenarios/logout.py, scenarios/relay.py)
sign_in = _sign_in
control = _control
logout_outcome = _logout_outcome
logout_request = _logout_request
messages = _messages
idp_events = _idp_events
origin = _origin
