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
