"""IRT and RPL: request correlation (InResponseTo) and replay."""
from __future__ import annotations

from harness.context import ScenarioContext
from harness.registry import ACCEPT, REJECT, scenario
from harness.verdict import Observation

from ._kit import fault, second_login, single_fault

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
             expect={"*": ACCEPT, "redflag": REJECT}, fix_hint="Refuse unsolicited responses when IdP-initiated SSO is off.")
single_fault("IRT-07", "An empty InResponseTo is refused", ["in-response-to-empty"], category="correlation",
             refs=("catalogue IRT-07",), fix_hint=IRT_HINT)


@scenario("RPL-01", "The identical Response posted again is refused", category="replay",
          refs=("Prof 4.1.4.5 MUST", "catalogue RPL-01"), needs=("sp_initiated",), expect=REJECT, fix_hint=RPL_HINT)
def rpl_01(ctx: ScenarioContext) -> Observation:
    return second_login(ctx, ctx.new_user(), [fault("replay")])


@scenario("RPL-02", "A fresh Response re-using a consumed Assertion ID is refused", category="replay",
          refs=("Prof 4.1.4.5 MUST", "catalogue RPL-02"), needs=("sp_initiated",), expect=REJECT,
          fix_hint=RPL_HINT)
def rpl_02(ctx: ScenarioContext) -> Observation:
    return second_login(ctx, ctx.new_user(), [fault("assertion-id-reuse")])


@scenario("RPL-05", "An unsolicited Response replayed is refused", category="replay",
          refs=("Prof 4.1.4.5 MUST", "catalogue RPL-05"), needs=("idp_initiated",), expect=REJECT,
          fix_hint=RPL_HINT)
def rpl_05(ctx: ScenarioContext) -> Observation:
    user = ctx.new_user()
    if ctx.profile.flows.idp_initiated:
        return second_login(ctx, user, [fault("replay")], flow="idp")
    # the profile refuses unsolicited logins: the replay must be refused as well
    ctx.idp_login(user, [fault("replay")])
    return ctx.observe(user, store_check=False)
