"""FLOW: the SSO flows themselves (SP-initiated, IdP-initiated), judged by the SP's state."""
from __future__ import annotations

from harness.context import ScenarioContext
from harness.registry import ACCEPT, REJECT, scenario
from harness.verdict import Observation

from .correlation import unsolicited


@scenario(
    "FLOW-01",
    "SP-initiated login signs the user in and provisions them just in time",
    category="flow",
    refs=("Prof 4.1.4.3", "catalogue POS-01", "seed redis_cloud: 'Enter the email address associated with your SAML user account'",
          "seed redflag: 'enabling us to provision users just-in-time based on their assignments'"),
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
          "seed redis_cloud: 'Redis Cloud supports both IdP-initiated and SP-initiated single sign-on'",
          "seed redflag: 'We do not support Identity Provider (IdP)-initiated SAML'"),
    expect={"*": ACCEPT, "redflag": REJECT},
    expect_when=unsolicited,
    fix_hint="Under an SP-initiated-only contract, refuse any Response without InResponseTo "
             "matching a request this SP sent.",
)
def flow_02(ctx: ScenarioContext) -> Observation:
    user = ctx.new_user()
    ctx.idp_login(user, relay_state="/")
    return ctx.observe(user)


@scenario(
    "FLOW-04",
    "Signing in again updates the same user from the new assertion (no duplicate, no stale data)",
    category="flow",
    refs=("seed redis_cloud: 'Redis Cloud automatically creates a user account the first time a new "
          "user signs in with SAML SSO'", "seed redflag: 'reprovision ... upon login'",
          "catalogue ATTR-14"),
    needs=("sp_initiated",),
    expect=ACCEPT,
    fix_hint="Look the user up by its stable identifier at every login and update names, roles, "
             "accounts and tenants from the assertion.",
)
def flow_04(ctx: ScenarioContext) -> Observation:
    user = ctx.new_user()
    ctx.sp_login(user)
    if ctx.whoami() is None:
        return Observation(signed_in=None, intended=None, observable=False, note="the first login failed")
    ctx.restart()
    last = ctx.profile.attributes.last_name
    renamed = user.with_attributes(**{last: ["Renamed-" + str(ctx.runtime.next_seed())]})
    ctx.sp_login(renamed)
    obs = ctx.observe(renamed)
    new_last = renamed.attributes[last][0]
    me = ctx.whoami_data()
    if isinstance(me, dict) and "last_name" in me:
        obs.check("the new last name is shown", me.get("last_name") == new_last,
                  f"the SP shows {me.get('last_name')!r}, the assertion said {new_last!r}")
    if ctx.has("user_inspection"):
        email = ctx.email_of(renamed).lower()
        records = [u for u in ctx.users() if str(u.get("email", "")).lower() == email]
        obs.check("exactly one user record", len(records) == 1, f"{len(records)} records for {email}")
        if records and "last_name" in records[0]:
            obs.check("the user store holds the new last name", records[0]["last_name"] == new_last,
                      f"store: {records[0]['last_name']!r}")
    return obs


@scenario(
    "FLOW-05",
    "SP-initiated login with the AuthnRequest sent by HTTP-POST signs the user in",
    category="flow",
    refs=("Bindings 3.5 HTTP POST binding", "Prof 4.1.3.3 (AuthnRequest binding)", "catalogue BND"),
    needs=("sp_initiated_post",),
    expect=ACCEPT,
    fix_hint="Send the AuthnRequest in an auto-submitting form to the IdP's HTTP-POST "
             "SingleSignOnService, and correlate its ID as with the Redirect binding.",
)
def flow_05(ctx: ScenarioContext) -> Observation:
    user = ctx.new_user()
    ctx.sp_login(user, post=True)
    obs = ctx.observe(user)
    posted = [h for h in ctx.hops if h.method == "POST" and "SAMLRequest" in h.saml]
    obs.check("the AuthnRequest reached the IdP by HTTP-POST", bool(posted),
              "no POST carrying SAMLRequest was seen (the SP used another binding)")
    if posted:
        req = posted[0].saml["SAMLRequest"]
        obs.check("the posted AuthnRequest decoded", req.get("type") == "AuthnRequest", str(req))
    return obs


@scenario(
    "FLOW-06",
    "Two users signed in at once in two browsers each stay themselves",
    category="flow",
    refs=("Prof 4.1.4.3 (the session is established for the asserted principal)", "catalogue SES-03"),
    needs=("sp_initiated",),
    expect=ACCEPT,
    fix_hint="Bind the signed-in user to the browser's own session, never to process-wide state.",
)
def flow_06(ctx: ScenarioContext) -> Observation:
    first, second = ctx.new_user(), ctx.new_user()
    one = ctx.session
    ctx.sp_login(first)
    two = ctx.open_session()
    ctx.use(two)
    ctx.sp_login(second)
    seen_second = ctx.whoami()
    ctx.use(one)
    obs = ctx.observe(first)
    obs.check("the second browser shows the second user", seen_second == ctx.email_of(second),
              f"second browser shows {seen_second!r}")
    return obs
