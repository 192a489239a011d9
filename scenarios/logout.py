"""SLO-02..SLO-10, SLO-14: single logout messages the SP must refuse, and logout scope.

As in scenarios/slo.py: a fresh user signs in (SP-initiated), the mock IdP sends logout messages
into the same browser session, and the verdict comes from the SP's state (whoami) afterwards. A
refused LogoutRequest is an ACCEPT observation (the session survives), always followed by the
positive control (a correct, signed LogoutRequest must then end the session; otherwise the
surviving session proves nothing and the result is inconclusive).
"""
from __future__ import annotations

from typing import Any

from harness.context import ScenarioContext
from harness.registry import ACCEPT, REJECT, scenario
from harness.verdict import Observation

from .slo import SLO_HINT, control, logout_outcome, logout_request, messages, sign_in

NEEDS = ("sp_initiated", "slo")
STATUS = "urn:oasis:names:tc:SAML:2.0:status:"


def _survives(ctx: ScenarioContext, variants: list[tuple[str, dict[str, Any]]]) -> Observation:
    """Each variant LogoutRequest in turn; the first that ends the session is the finding."""
    who = sign_in(ctx)
    if isinstance(who, Observation):
        return who
    tried = []
    for label, knobs in variants:
        knobs = dict(knobs)
        if callable(knobs.get("name_id")):
            knobs["name_id"] = knobs["name_id"](who)
        name_id = knobs.pop("name_id", who.name_id)
        if knobs.get("key") == "ATTACKER":  # the attacker key exists only at run time
            knobs["key"] = ctx.idp.attacker_key
        knobs.setdefault("session_index", who.session_index)
        msg = ctx.idp.logout_request(ctx.runtime.sp_entity_id, name_id, **{**who.name_knobs(), **knobs})
        ctx.session.navigate(msg.url)
        obs = ctx.observe(who.user, store_check=False)
        tried.append(label)
        if not obs.accepted:
            obs.note = f"the LogoutRequest ({label}) ended the session"
            return obs
    obs = ctx.observe(who.user, store_check=False)
    obs.note = "the session survived: " + "; ".join(tried)
    return control(ctx, who, obs)


def _one(id: str, title: str, refs: tuple[str, ...], variants: list[tuple[str, dict[str, Any]]],
         hint: str = SLO_HINT, level: str = "MUST") -> None:
    def run(ctx: ScenarioContext) -> Observation:
        return _survives(ctx, variants)

    run.__qualname__ = run.__name__ = f"scenario_{id.replace('-', '_').lower()}"
    scenario(id, title, category="slo", refs=refs, needs=NEEDS, expect=ACCEPT, level=level,
             fix_hint=hint)(run)


_one("SLO-02", "A LogoutRequest signed with an untrusted key, or over another parameter order, does not "
     "end the session", ("Bind 3.4.4.1 MUST", "Prof 4.4.4.1 MUST", "catalogue SLO-02"),
     [("signed with the attacker's key", {"key": "ATTACKER"}),
      ("signature over SigAlg&RelayState&SAMLRequest order", {"signed_order": "swapped", "relay_state": "/x"})])
_one("SLO-03", "A LogoutRequest without Issuer, or from another IdP, does not end the session",
     ("Prof 4.4.4.1 MUST (Issuer)", "catalogue SLO-03"),
     [("no Issuer", {"issuer": None}), ("Issuer https://other-idp.example.com", {"issuer": "https://other-idp.example.com"})],
     hint="Require the LogoutRequest's Issuer to be the IdP that signed the user in, and verify with its key.")
_one("SLO-04", "An expired LogoutRequest (NotOnOrAfter 10 minutes ago) does not end the session",
     ("Core 3.7.1 (NotOnOrAfter)", "catalogue SLO-04"), [("NotOnOrAfter 10 min ago", {"lifetime": -600})],
     hint="Discard a LogoutRequest whose NotOnOrAfter has passed (with a small clock skew).")
_one("SLO-05", "A LogoutRequest for another Destination, or without one, does not end the session",
     ("Core 3.2.1 / 3.2.2 (Destination)", "Bind 3.4.5.2 (signed: Destination MUST be present)", "catalogue SLO-05"),
     [("Destination https://other-sp.example.com/saml/slo", {"destination": "https://other-sp.example.com/saml/slo"}),
      ("no Destination", {"destination": None})],
     hint="Require Destination to equal this SP's SingleLogoutService URL.")
_one("SLO-07", "A LogoutRequest without NameID (only the victim's SessionIndex) does not end the session",
     ("Core 3.7.1 (NameID/EncryptedID required)", "catalogue SLO-07"), [("no NameID", {"name_id": None})],
     hint="Refuse a LogoutRequest without an identifier; match NameID and SessionIndex together.")


# --- SLO-06: NameID of another user -----------------------------------------------------------------
@scenario(
    "SLO-06",
    "A signed LogoutRequest naming another user (with this session's SessionIndex) ends nothing and is "
    "answered with a non-success status",
    category="slo",
    refs=("Prof 4.4.4.1 (the identifier must strongly match)", "S2I SDP-SP29", "catalogue SLO-06"),
    needs=NEEDS,
    expect=ACCEPT,
    fix_hint="End only sessions whose NameID (and SessionIndex, when given) match the request; answer "
             "with a non-success status when nothing matched.",
)
def slo_06(ctx: ScenarioContext) -> Observation:
    who = sign_in(ctx)
    if isinstance(who, Observation):
        return who
    other = f"someone.else.{ctx.runtime.next_seed()}@{ctx.target.testdata.email_domain}"
    before = len(ctx.hops)
    msg = ctx.idp.logout_request(ctx.runtime.sp_entity_id, other, **{**who.name_knobs(),
                                                                   "session_index": who.session_index})
    obs = logout_outcome(ctx, who, msg.url, f"a LogoutRequest for {other!r} ended {who.email!r}'s session")
    if not obs.accepted:
        return obs
    answers = [s for _, s in messages(ctx.hops[before:], "SAMLResponse") if s.get("InResponseTo") == msg.message_id]
    obs.check("the SP did not answer Success", not any(s.get("Status") == "Success" for s in answers),
              "the SP answered Success to a LogoutRequest for a user it has no session of")
    return control(ctx, who, obs)


# --- SLO-08: SessionIndex scope ---------------------------------------------------------------------
@scenario(
    "SLO-08",
    "A LogoutRequest naming one SessionIndex ends that session only, not the user's other session",
    category="slo",
    refs=("Core 3.7.1 (SessionIndex)", "Prof 4.4.4.1", "catalogue SLO-08"),
    needs=NEEDS,
    expect=ACCEPT,
    fix_hint="When a LogoutRequest names SessionIndex values, end only the sessions established by "
             "assertions with those SessionIndex values.",
)
def slo_08(ctx: ScenarioContext) -> Observation:
    first = sign_in(ctx)
    if isinstance(first, Observation):
        return first
    one = ctx.session
    two = ctx.open_session()
    ctx.use(two)
    ctx.sp_login(first.user)
    second_index = _index_in(ctx, two.hops)
    if ctx.whoami() != first.email or not second_index or second_index == first.session_index:
        return Observation(signed_in=None, intended=first.email, observable=False,
                           note="could not sign the same user in twice with distinct SessionIndex values")
    ctx.use(one)
    ctx.session.navigate(logout_request(ctx, first).url)  # SessionIndex of the first session only
    gone = ctx.whoami()
    ctx.use(two)
    obs = ctx.observe(first.user, store_check=False)
    if gone is not None:
        return Observation(signed_in=None, intended=first.email, observable=False,
                           note="the LogoutRequest did not end the session it named either (see POS-11)")
    obs.check("the named session (first browser) ended", True)
    if not obs.accepted:
        obs.note = "a LogoutRequest naming the first session's SessionIndex also ended the second session"
    return obs


def _index_in(ctx: ScenarioContext, hops: list[Any]) -> str | None:
    """The SessionIndex of the last Response the IdP posted in these hops."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    saml = "urn:oasis:names:tc:SAML:2.0:assertion"

    for hop in reversed(hops):
        rid = (hop.saml.get("SAMLResponse") or {}).get("ID") if hop.method == "POST" else None
        if rid:
            try:
                root = etree.fromstring(ctx.idp.replay(rid).xml, parser)
            except KeyError:
                return None
            st = root.find(f".//{{{saml}}}AuthnStatement")
            return None if st is None else st.get("SessionIndex")
    return None


# --- SLO-09: replayed LogoutRequest ----------------------------------------------------------------
@scenario(
    "SLO-09",
    "A LogoutRequest replayed after the user signed in again does not end the new session",
    category="slo",
    refs=("Core 1.3.4 / 3.2.1 (ID uniqueness)", "catalogue SLO-09"),
    needs=NEEDS,
    expect=ACCEPT,
    fix_hint="Remember the IDs of consumed LogoutRequests until they expire and ignore a second use.",
)
def slo_09(ctx: ScenarioContext) -> Observation:
    who = sign_in(ctx)
    if isinstance(who, Observation):
        return who
    msg = logout_request(ctx, who, session_index=None)  # every session of the NameID
    ctx.session.navigate(msg.url)
    if ctx.whoami() is not None:
        return Observation(signed_in=None, intended=who.email, observable=False,
                           note="the first (valid) LogoutRequest did not end the session")
    ctx.sp_login(who.user)
    if ctx.whoami() != who.email:
        return Observation(signed_in=None, intended=who.email, observable=False,
                           note="signing in again after the logout failed")
    # the same LogoutRequest, byte for byte
    obs = logout_outcome(ctx, who, msg.url, f"the replayed LogoutRequest {msg.message_id} ended the new session")
    if not obs.accepted:
        return obs
    from dataclasses import replace

    again = replace(who, session_index=_index_in(ctx, ctx.session.hops))
    return control(ctx, again, obs)


# --- SLO-10: wrapping a signed Assertion ---------------------------------------------------------------
@scenario(
    "SLO-10",
    "An unsigned LogoutRequest wrapping a captured IdP-signed Assertion does not end the victim's session",
    category="slo",
    refs=("catalogue SLO-10", "tngan/samlify#634 (GHSA-63ch-w8pw-4mf2)", "Prof 4.4.4.1 MUST"),
    needs=NEEDS,
    expect=ACCEPT,
    fix_hint="Verify the signature of the LogoutRequest itself (Redirect: the query signature; POST: an "
             "enveloped signature whose Reference is the request's own ID); signatures on elements "
             "inside it prove nothing about the request.",
)
def slo_10(ctx: ScenarioContext) -> Observation:
    victim = sign_in(ctx)
    if isinstance(victim, Observation):
        return victim
    attacker = ctx.new_user()
    captured = ctx.idp.issue_response(ctx.runtime.sp_entity_id, attacker)
    msg = logout_request(ctx, victim, sign=False, wrap_assertion_from=captured.xml)
    obs = logout_outcome(ctx, victim, msg.url,
                         "an unsigned LogoutRequest carrying a signed Assertion ended the victim's session")
    return control(ctx, victim, obs)


# --- SLO-14: the local session ends whatever the IdP answers -------------------------------------------
@scenario(
    "SLO-14",
    "SP-initiated logout ends the local session even when the IdP answers Responder or PartialLogout",
    category="slo",
    refs=("S2I SDP-SP34 (the SP's session ends first)", "Core 3.7.3.2 (PartialLogout)", "catalogue SLO-14"),
    needs=NEEDS,
    expect=REJECT,
    fix_hint="End the local session before sending the LogoutRequest; a non-success LogoutResponse only "
             "changes what the user is told (logout may be partial).",
)
def slo_14(ctx: ScenarioContext) -> Observation:
    for status, sub in ((STATUS + "Responder", None), (STATUS + "Success", STATUS + "PartialLogout")):
        ctx.restart()
        who = sign_in(ctx)
        if isinstance(who, Observation):
            return who
        token = ctx.idp.plan_login(who.user, (), logout_status=status, logout_subcode=sub)
        ctx.session.set_idp_plan(ctx.runtime.idp_base_url, token)
        ctx.session.navigate(ctx.target.url(ctx.target.logout_url or ""))
        obs = Observation(signed_in=ctx.whoami(), intended=who.email)
        label = status.rsplit(":", 1)[-1] + (f"/{sub.rsplit(':', 1)[-1]}" if sub else "")
        if obs.accepted:
            obs.note = f"the IdP answered {label} and the user is still signed in at the SP"
            return obs
    obs.note = "signed out locally after Responder and after Success/PartialLogout answers"
    return obs

