"""IRT and RPL: request correlation (InResponseTo) and replay."""
from __future__ import annotations

from typing import Any

from harness.context import ScenarioContext
from harness.registry import ACCEPT, REJECT, Outcome, scenario
from harness.verdict import Observation

from ._kit import fault, second_login, single_fault

def unsolicited(runtime: Any) -> Outcome:
    """An unsolicited Response is accepted exactly when the SP accepts IdP-initiated SSO: the
    profile's `[flows] idp_initiated`, unless the target file has `capabilities_off = ["idp_initiated"]`."""
    return ACCEPT if runtime.accepts_unsolicited else REJECT


IRT_HINT = "Keep the AuthnRequest ID in the browser's session and require InResponseTo to equal it, once."
RPL_HINT = "Remember consumed Response and Assertion IDs until they expire; refuse a second use."

single_fault("IRT-01", "A Response whose InResponseTo matches no request is refused", ["in-response-to-wrong"],
             category="correlation", refs=("Prof 4.1.4.3 MUST", "catalogue IRT-01"), fix_hint=IRT_HINT)
single_fault("IRT-02", "A wrong InResponseTo only in SubjectConfirmationData is refused",
             ["scd-in-response-to-wrong"], category="correlation", refs=("Prof 4.1.4.3 MUST", "catalogue IRT-02"),
             fix_hint=IRT_HINT)
single_fault("IRT-05", "A response without InResponseTo is accepted only where the contract allows IdP-initiated SSO",
             ["in-response-to-missing"], category="correlation",
             refs=("catalogue IRT-05", "seed redflag: 'We do not support Identity Provider (IdP)-initiated SAML'"),
             expect={"*": ACCEPT, "redflag": REJECT}, expect_when=unsolicited,
             fix_hint="Refuse unsolicited responses when IdP-initiated SSO is off.")
single_fault("IRT-07", "An empty InResponseTo is refused", ["in-response-to-empty"], category="correlation",
             refs=("catalogue IRT-07",), fix_hint=IRT_HINT)


def _issued_here(ctx: ScenarioContext) -> Any:
    """The Response the IdP issued into this session's last ACS POST (None if not found)."""
    for hop in reversed(ctx.hops):
        rid = (hop.saml.get("SAMLResponse") or {}).get("ID") if hop.method == "POST" else None
        if rid:
            try:
                return ctx.idp.replay(rid)
            except KeyError:
                return None
    return None


def _said(page: Any) -> str:
    """What the SP's answer page says, in a few words (its error line, else its title)."""
    import html
    import re

    text = getattr(page, "text", "") or ""
    m = re.search(r'id=["\']error["\'][^>]*>(.*?)<', text, re.S) or re.search(r"<title>(.*?)</title>", text, re.S)
    said = html.unescape(" ".join(re.sub(r"<[^>]+>", " ", m.group(1)).split()))[:160] if m else ""
    return f"HTTP {getattr(page, 'status', '?')}" + (f", {said!r}" if said else "")


@scenario("RPL-01", "The identical Response posted again is refused, from a fresh browser and into a new login",
          category="replay", refs=("Prof 4.1.4.5 MUST", "catalogue RPL-01"), needs=("sp_initiated",),
          expect=REJECT, fix_hint=RPL_HINT)
def rpl_01(ctx: ScenarioContext) -> Observation:
    """Two replays of one captured, valid Response: (a) as an attacker does it, the captured POST
    sent from a fresh browser with no pending request; (b) into a new SP-initiated login (where an SP
    may refuse it for the wrong reason: its InResponseTo names another request). For (a) the
    evidence says which check refused it: a never-used Response for the same request, posted from
    another fresh browser, tells request correlation (refused too) from the replay cache (accepted)."""
    user = ctx.new_user()
    ctx.sp_login(user)
    if ctx.whoami() != ctx.email_of(user):
        return Observation(signed_in=None, intended=None, observable=False, note="the first login failed")
    issued = _issued_here(ctx)
    if issued is None:
        return Observation(signed_in=None, intended=None, observable=False,
                           note="no Response of this login was found to replay")
    # (a) the captured POST, from a fresh browser
    ctx.restart()
    page = ctx.session.navigate(issued.acs_url, method="POST", data=issued.form_fields())
    first = ctx.observe(user, store_check=False)
    if first.accepted:
        first.note = ("variant (a): the captured POST of a consumed Response, sent again from a fresh "
                      f"browser, signed in ({_said(page)})")
        return first
    # which check refused (a)? a never-used Response for the same request, from another fresh browser
    ctx.restart()
    fresh = ctx.idp.issue_response(ctx.runtime.sp_entity_id, _as_asserted(user, issued.xml),
                                   in_response_to=_irt(issued.xml), acs_url=issued.acs_url,
                                   relay_state=issued.relay_state)
    ctx.session.navigate(fresh.acs_url, method="POST", data=fresh.form_fields())
    why = ("by the replay cache (a never-used Response for the same request was accepted from a fresh browser)"
           if ctx.whoami() is not None else
           "by request correlation, or both (a never-used Response for the same request is refused from a "
           "fresh browser too, so the replay cache was not what stopped it)")
    # (b) into a new SP-initiated login
    ctx.restart()
    ctx.sp_login(user, [fault("replay", response_id=issued.response_id)])
    second = ctx.observe(user, store_check=False)
    a = f"variant (a) captured POST from a fresh browser: refused {why} ({_said(page)})"
    second.note = (f"variant (b): the Response replayed into a new SP-initiated login signed in; {a}"
                   if second.accepted else f"{a}; variant (b) replayed into a new SP-initiated login: refused")
    return second


def _irt(xml: bytes) -> str | None:
    from mock_idp.bindings import safe_parse

    return safe_parse(xml, "issued response").get("InResponseTo")


def _as_asserted(user: Any, xml: bytes) -> Any:
    """`user` named as the issued Response named them (the NameID the SP's request asked for)."""
    from dataclasses import replace

    from mock_idp.slo import asserted_name

    name = asserted_name(xml)
    return user if name is None else replace(user, name_id=name.value, name_id_format=name.format or user.name_id_format)


@scenario("RPL-02", "A fresh Response re-using a consumed Assertion ID is refused", category="replay",
          refs=("Prof 4.1.4.5 MUST", "catalogue RPL-02"), needs=("sp_initiated",), expect=REJECT,
          fix_hint=RPL_HINT)
def rpl_02(ctx: ScenarioContext) -> Observation:
    return second_login(ctx, ctx.new_user(), [fault("assertion-id-reuse")])


@scenario("RPL-05", "An unsolicited Response replayed is refused", category="replay",
          refs=("Prof 4.1.4.5 MUST", "catalogue RPL-05"), needs=("idp_initiated",), expect=REJECT,
          fix_hint=RPL_HINT)
def rpl_05(ctx: ScenarioContext) -> Observation:
    # needs idp_initiated: an SP that refuses unsolicited Responses has nothing to replay (IRT-05)
    return second_login(ctx, ctx.new_user(), [fault("replay")], flow="idp")


@scenario("RPL-04", "A replay after the SP restarts is refused: the replay cache outlives a restart",
          category="replay", refs=("Prof 4.1.4.5 MUST (IDs remembered until NotOnOrAfter)", "catalogue RPL-04"),
          needs=("sp_initiated", "restart"), expect=REJECT,
          fix_hint="Keep consumed IDs in shared, persistent storage (a database or a shared cache) for at least "
                   "NotOnOrAfter plus the skew, so that neither a restart nor another node forgets them.")
def rpl_04(ctx: ScenarioContext) -> Observation:
    """A valid login; the target's `restart` hook; then the replay only a replay cache stops: the
    unsolicited Response again where the SP takes IdP-initiated SSO (RPL-05), else a fresh
    Response re-using the consumed Assertion ID (RPL-02)."""
    idp = ctx.runtime.accepts_unsolicited
    obs = second_login(ctx, ctx.new_user(), [fault("replay" if idp else "assertion-id-reuse")],
                       flow="idp" if idp else "sp", between=lambda: ctx.runtime.call_hook("restart"))
    obs.note = "; ".join(x for x in (obs.note, "replayed after the target's restart hook: "
                                     + ("the unsolicited Response" if idp else "the consumed Assertion ID")) if x)
    return obs


# --- IRT-03, IRT-04, IRT-06: request state bound to the browser, used once ---------------------------
def _pending_request(ctx: ScenarioContext, user: Any) -> str | None:
    """Start an SP-initiated login in the current session but stop at the IdP (no plan: the IdP shows
    its login page); return the ID of the AuthnRequest the SP sent, read from the hops."""
    start = len(ctx.session.hops)
    ctx.session.set_idp_plan(ctx.runtime.idp_base_url, "none")
    login = ctx.target.login
    tenants = user.attributes.get(ctx.profile.attributes.tenant or "", [])
    values = {"email": ctx.email_of(user), "tenant": tenants[0].split(",")[0] if tenants else "",
              "relay_state": ""}
    ctx.session.navigate(ctx.target.url(login.sp_initiated_url or "", **values))
    for hop in ctx.session.hops[start:]:
        req = hop.saml.get("SAMLRequest") or {}
        if req.get("type") == "AuthnRequest" and req.get("ID"):
            return str(req["ID"])
    return None


def _post(ctx: ScenarioContext, issued: Any) -> None:
    ctx.session.navigate(issued.acs_url, method="POST", data=issued.form_fields())


def _only(ctx: ScenarioContext, user: Any) -> Observation:
    """Signed in as `user` (the response's principal) counts; anyone else is not this response."""
    who = ctx.whoami()
    email = ctx.email_of(user)
    return Observation(signed_in=who if who == email else None, intended=email,
                       note="" if who in (None, email) else f"the session still shows {who!r}")


@scenario("IRT-03", "A Response answering an AuthnRequest another browser started is refused",
          category="correlation", refs=("Prof 4.1.4.3 (InResponseTo)", "Shibboleth checkCorrelation",
                                        "catalogue IRT-03", "catalogue AREQ-13", "no SAML clause binds a request to its browser: a best practice (Shibboleth), SHOULD"),
          needs=("sp_initiated",), expect=REJECT, level="SHOULD", fix_hint=IRT_HINT)
def irt_03(ctx: ScenarioContext) -> Observation:
    attacker = ctx.new_user()
    rid = _pending_request(ctx, attacker)
    if not rid:
        return Observation(signed_in=None, intended=None, observable=False,
                           note="no AuthnRequest from the SP was seen in the hops")
    ctx.restart()  # the victim's browser: it never started this login
    issued = ctx.idp.issue_response(ctx.runtime.sp_entity_id, attacker, in_response_to=rid)
    _post(ctx, issued)
    obs = _only(ctx, attacker)
    obs.note = (obs.note + "; " if obs.note else "") + f"Response to AuthnRequest {rid} posted from another browser"
    return obs


@scenario("IRT-04", "A second Response for an AuthnRequest already answered is refused",
          category="correlation", refs=("Core 3.2.2 / Prof 4.1.4.3 (one response per request)", "catalogue IRT-04"),
          needs=("sp_initiated",), expect=REJECT, fix_hint=IRT_HINT)
def irt_04(ctx: ScenarioContext) -> Observation:
    first = ctx.new_user()
    rid = _pending_request(ctx, first)
    if not rid:
        return Observation(signed_in=None, intended=None, observable=False,
                           note="no AuthnRequest from the SP was seen in the hops")
    _post(ctx, ctx.idp.issue_response(ctx.runtime.sp_entity_id, first, in_response_to=rid))
    if ctx.whoami() != ctx.email_of(first):
        return Observation(signed_in=None, intended=None, observable=False,
                           note="the first Response to the AuthnRequest did not sign in")
    second = ctx.new_user()  # a fresh, valid Response (new IDs) for the same, consumed request
    _post(ctx, ctx.idp.issue_response(ctx.runtime.sp_entity_id, second, in_response_to=rid))
    obs = _only(ctx, second)
    obs.note = (obs.note + "; " if obs.note else "") + f"second Response to AuthnRequest {rid}"
    return obs


single_fault("IRT-06", "A solicited-looking Response (InResponseTo set) posted where no request is pending is "
             "refused, even where IdP-initiated SSO is allowed", ["in-response-to-wrong"], category="correlation",
             refs=("Prof 4.1.4.3 (unsolicited: InResponseTo MUST NOT be present)", "catalogue IRT-06"),
             flow="idp", needs=("idp_initiated",), fix_hint=IRT_HINT)


@scenario("IRT-08", "A Response to an AuthnRequest older than the SP's declared request lifetime is refused",
          category="correlation", refs=("Prof 4.1.4.3 (InResponseTo: a request the SP still holds)",
                                        "catalogue IRT-08"),
          needs=("sp_initiated", "request_lifetime"), expect=REJECT, level="SHOULD",
          fix_hint="Expire pending AuthnRequests after the lifetime the SP states, and refuse a Response to "
                   "an expired one.")
def irt_08(ctx: ScenarioContext) -> Observation:
    """An SP-initiated login stopped at the IdP; the SP's declared request lifetime waited out (plus
    two seconds); then a fresh, valid Response to that request, in the same browser."""
    import time

    lifetime = ctx.runtime.sp_policy.request_lifetime_seconds or 0
    user = ctx.new_user()
    rid = _pending_request(ctx, user)
    if not rid:
        return Observation(signed_in=None, intended=None, observable=False,
                           note="no AuthnRequest from the SP was seen in the hops")
    time.sleep(min(lifetime + 2, 122))
    _post(ctx, ctx.idp.issue_response(ctx.runtime.sp_entity_id, user, in_response_to=rid))
    obs = _only(ctx, user)
    obs.note = (obs.note + "; " if obs.note else "") + \
        f"Response to AuthnRequest {rid} posted {lifetime + 2} s after it (declared lifetime {lifetime} s)"
    return obs


# --- RPL-03, RPL-06 ---------------------------------------------------------------------------------
@scenario("RPL-03", "The same Response posted twice at once (two browsers) signs in at most one of them",
          category="replay", refs=("Prof 4.1.4.5 MUST", "W2T LoginBearerReplay (concurrent)", "catalogue RPL-03"),
          needs=("sp_initiated",), expect=REJECT, fix_hint=RPL_HINT + " Make the check-and-store atomic.")
def rpl_03(ctx: ScenarioContext) -> Observation:
    import threading

    from .session import _cookies, _plant

    user = ctx.new_user()
    one = ctx.session
    rid = _pending_request(ctx, user)
    if not rid:
        return Observation(signed_in=None, intended=None, observable=False,
                           note="no AuthnRequest from the SP was seen in the hops")
    two = ctx.open_session()
    _plant(two, [c for c in _cookies(one) if "samlconf_idp_plan" not in c["name"]])
    issued = ctx.idp.issue_response(ctx.runtime.sp_entity_id, user, in_response_to=rid)
    fields = issued.form_fields()

    def post(s: Any) -> None:
        try:
            s.navigate(issued.acs_url, method="POST", data=dict(fields))
        except Exception:  # noqa: BLE001 - a refusal (even a 5xx) is judged by whoami below
            pass

    if ctx.driver == "http":  # httpx clients are independent: truly concurrent
        threads = [threading.Thread(target=post, args=(s,)) for s in (one, two)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    else:  # Playwright's sync API is single-threaded: one after the other
        post(one)
        post(two)
    email = ctx.email_of(user)
    seen = []
    for s in (one, two):
        ctx.use(s)
        seen.append(ctx.whoami())
    ctx.use(one)
    wins = [w for w in seen if w == email]
    if not wins:
        return Observation(signed_in=None, intended=email, observable=False,
                           note="neither submission signed in (the Response itself was refused)")
    # one sign-in is the valid use; a second one is the replay
    return Observation(signed_in=email if len(wins) > 1 else None, intended=email,
                       note=f"{len(wins)} of 2 submissions signed in")


@scenario("RPL-06", "An Assertion carrying OneTimeUse is accepted once, and its Response replayed is refused",
          category="replay", refs=("Core 2.5.1.5 (OneTimeUse)", "Prof 4.1.4.5 MUST", "catalogue RPL-06"),
          needs=("sp_initiated",), expect=REJECT, fix_hint=RPL_HINT)
def rpl_06(ctx: ScenarioContext) -> Observation:
    user = ctx.new_user()
    ctx.sp_login(user, [fault("one-time-use")])
    if ctx.whoami() is None:
        return Observation(signed_in=None, intended=None, observable=False,
                           note="the first login (with OneTimeUse) failed")
    ctx.restart()
    ctx.sp_login(user, [fault("replay")])
    return ctx.observe(user, store_check=False)


# --- DST-04 ---------------------------------------------------------------------------------------
def _near_misses(ctx: ScenarioContext) -> list[Any]:
    from urllib.parse import urlsplit, urlunsplit

    acs = ctx.idp.sp(ctx.runtime.sp_entity_id).default_acs().location
    p = urlsplit(acs)
    other_scheme = "https" if p.scheme == "http" else "http"
    host = p.hostname or ""
    variants = [
        urlunsplit((other_scheme, p.netloc, p.path, p.query, "")),
        urlunsplit((p.scheme, p.netloc, p.path.rstrip("/") + "/", p.query, "")) if not p.path.endswith("/")
        else urlunsplit((p.scheme, p.netloc, p.path.rstrip("/"), p.query, "")),
        urlunsplit((p.scheme, p.netloc, p.path, (p.query + "&" if p.query else "") + "x=1", "")),
        urlunsplit((p.scheme, p.netloc.replace(host, host.upper()) if host.upper() != host
                    else p.netloc.replace(host, "localhost" if host == "127.0.0.1" else host), p.path, p.query, "")),
    ]
    if p.port is None:
        variants.append(urlunsplit((p.scheme, f"{host}:{443 if p.scheme == 'https' else 80}", p.path, p.query, "")))
    return [v for v in dict.fromkeys(variants) if v != acs]


@scenario("DST-04", "Near-miss Destinations (scheme, trailing slash, extra query, host spelling) are refused",
          category="destination", refs=("Core 3.2.2 (Destination)", "S2I SDP-SP06 (exact ACS match)",
                                        "php-saml destinationStrictlyMatches", "catalogue DST-04"),
          needs=("sp_initiated",), expect=REJECT, level="SHOULD",
          fix_hint="Compare Response/@Destination with the ACS URL byte for byte (no normalisation).")
def dst_04(ctx: ScenarioContext) -> Observation:
    user = None
    for i, url in enumerate(_near_misses(ctx)):
        if i:
            ctx.restart()
        user = ctx.new_user()
        ctx.sp_login(user, [fault("destination-wrong", url=url)])
        obs = ctx.observe(user, store_check=False)
        if obs.accepted:
            obs.note = f"Destination {url!r} was accepted"
            return obs
    return ctx.observe(user, store_check=False)


single_fault("DST-08", "Two bearer confirmations that each fail one check (expired / wrong Recipient) are refused",
             ["scd-mix-and-match"], category="destination",
             refs=("Prof 4.1.4.3 (one SubjectConfirmation must satisfy every check)", "catalogue DST-08"),
             fix_hint="Accept the subject only when one single bearer SubjectConfirmationData passes every "
                      "check (Recipient, NotOnOrAfter, InResponseTo, no NotBefore).")


# --- DST-10: the Response goes to another ACS of the same SP -------------------------------------------
@scenario("DST-10", "A Response posted to another ACS of the same SP than the one its AuthnRequest named "
          "is refused", category="correlation",
          refs=("Core 3.4.1 (AssertionConsumerServiceURL/Index: where the Response must be returned)",
                "catalogue DST-10"),
          needs=("sp_initiated", "multiple_acs"), expect=REJECT, level="MAY",
          fix_hint="Remember which ACS the AuthnRequest named and accept its Response only there.")
def dst_10(ctx: ScenarioContext) -> Observation:
    """The IdP answers at an ACS other than the SP's default (Destination and Recipient = that ACS,
    all valid for it). If the AuthnRequest named that same ACS there is nothing to test."""
    sp = ctx.idp.sp(ctx.runtime.sp_entity_id)
    default = sp.default_acs().location
    other = next((e for e in sp.acs if e.index is not None and e.location != default
                  and e.binding.endswith("HTTP-POST")), None)
    if other is None:
        return Observation(signed_in=None, intended=None, observable=False,
                           note="the SP's metadata gives no index for its second HTTP-POST ACS")
    user = ctx.new_user()
    start = len(ctx.hops)
    ctx.sp_login(user, answer_acs_index=other.index)
    named = [(h.saml.get("SAMLRequest") or {}) for h in ctx.hops[start:]
             if (h.saml.get("SAMLRequest") or {}).get("type") == "AuthnRequest"]
    asked = named[-1].get("AssertionConsumerServiceURL") if named else None
    if asked == other.location:
        return Observation(signed_in=None, intended=None, observable=False,
                           note=f"the AuthnRequest itself named {other.location}: no other ACS to answer at")
    obs = ctx.observe(user, store_check=False)
    obs.note = (f"the AuthnRequest named {asked or 'no ACS URL (the default, ' + default + ')'}; the Response "
                f"was posted to ACS index {other.index}, {other.location}")
    return obs
