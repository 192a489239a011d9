"""FLOW: the SSO flows themselves (SP-initiated, IdP-initiated), judged by the SP's state."""
from __future__ import annotations

from harness.context import ScenarioContext
from harness.registry import ACCEPT, REJECT, scenario
from harness.verdict import Observation


@scenario(
    "FLOW-01",
    "SP-initiated login signs the user in and provisions them just in time",
    category="flow",
    refs=("Prof 4.1.4.3", "catalogue POS-01", "seed redis_cloud: JIT provisioning",
          "seed redflag: provision users just-in-time"),
    needs=("sp_initiated",),
    expect=ACCEPT,
    fix_hint="After validating the Response, create (or update) the user from the assertion's "
             "attributes and start a session for exactly the asserted principal.",
)
def flow_01(ctx: ScenarioContext) -> Observation:
    user = ctx.new_user()
    ctx.sp_login(user)
    return ctx.observe(user)


@scenario(
    "FLOW-02",
    "IdP-initiated (unsolicited) login is accepted exactly when the profile supports it",
    category="flow",
    refs=("Prof 4.1.4.3", "catalogue POS-02", "catalogue IRT (unsolicited)",
          "seed redflag: 'We do not support Identity Provider (IdP)-initiated SAML'"),
    needs=("idp_initiated",),
    expect={"*": ACCEPT, "redflag": REJECT},
    fix_hint="Under an SP-initiated-only contract, refuse any Response without InResponseTo "
             "matching a request this SP sent.",
)
def flow_02(ctx: ScenarioContext) -> Observation:
    user = ctx.new_user()
    ctx.idp_login(user, relay_state="/")
    return ctx.observe(user)
