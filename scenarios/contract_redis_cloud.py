"""RC: the redis_cloud contract (shared/seeds/000_...): account mapping, domains, SAML lifecycle.

Attribute rules run under any profile that states them (`accounts`, `lifecycle.domain_verification`)
and are vacuous (the valid baseline, with a note) elsewhere. Lifecycle rules need the target's admin
hooks (saml_admin, bypass_users, link_accounts), so they are `not tested` where a target lacks them.
"""
from __future__ import annotations

from typing import Any

from harness.context import ScenarioContext
from harness.registry import ACCEPT, REJECT, scenario
from harness.verdict import Observation

from .session import hook, need_ok, new_account_id, new_password, unobservable, password_sign_in

SEED = "seed redis_cloud"


def _accounts(ctx: ScenarioContext) -> list[str] | None:
    if ctx.profile.accounts is None or not ctx.profile.attributes.account_mapping:
        return None
    return list(ctx.target.testdata.accounts)


def _two_accounts(ctx: ScenarioContext) -> tuple[str, str] | Observation:
    """Two SAML-enabled account numbers from the target's testdata, or why there are none."""
    accts = _accounts(ctx)
    if accts is None:
        return unobservable("no account mapping attribute")
    if len(accts) < 2:
        return unobservable("testdata.accounts needs two SAML-enabled accounts")
    return accts[0], accts[1]


def _granted(ctx: ScenarioContext) -> dict[str, str] | None:
    data = ctx.whoami_data()
    if not isinstance(data, dict):
        return None
    return {str(k): str(v) for k, v in (data.get("accounts") or {}).items()}


# --- RC-MAPPING-MULTI ---------------------------------------------------------------------------
@scenario(
    "RC-MAPPING-MULTI",
    "redisAccountMapping grants every account/role pair, multi-valued and comma-joined alike",
    category="contract",
    refs=(f"{SEED}: 'Multiple strings, where each represents a single account/role pair'",
          f"{SEED}: 'A single string that contains a comma-separated list'", "catalogue ATTR-08"),
    needs=("sp_initiated", "account_mapping"),
    expect=ACCEPT,
    fix_hint="Read every AttributeValue of redisAccountMapping and split each on ','; grant each "
             "valid ACCOUNT=role pair.",
)
def rc_mapping_multi(ctx: ScenarioContext) -> Observation:
    pair = _two_accounts(ctx)
    if isinstance(pair, Observation):
        return pair
    a, b = pair
    # (a) multi-valued: one AttributeValue per pair
    multi = ctx.new_user(accounts=[f"{a}=manager", f"{b}=viewer"])
    ctx.sp_login(multi)
    got_multi = _granted(ctx) if ctx.whoami() == ctx.email_of(multi) else None
    # (b) one comma-joined AttributeValue
    ctx.restart()
    joined = ctx.new_user(accounts=[f"{a}=viewer,{b}=manager"])
    ctx.sp_login(joined)
    obs = ctx.observe(joined)
    want_multi = {a: "manager", b: "viewer"}
    obs.check("multi-valued mapping: every pair granted", got_multi == want_multi,
              f"sent two AttributeValues {want_multi}, the SP granted {got_multi}")
    got_joined = _granted(ctx)
    want_joined = {a: "viewer", b: "manager"}
    obs.check("comma-joined mapping: every pair granted", got_joined == want_joined,
              f"sent '{a}=viewer,{b}=manager', the SP granted {got_joined}")
    return obs


# --- RC-ROLE-UNKNOWN ----------------------------------------------------------------------------
@scenario(
    "RC-ROLE-UNKNOWN",
    "An unknown role in redisAccountMapping grants no access to that account (never a default)",
    category="contract",
    refs=(f"{SEED}: roles owner, member, manager, billing_admin, viewer (lowercase)",
          "least privilege"),
    needs=("sp_initiated", "account_mapping"),
    expect=ACCEPT,
    fix_hint="Refuse a pair whose role is not in the role vocabulary: the account is not granted "
             "(the other, valid pairs still are).",
)
def rc_role_unknown(ctx: ScenarioContext) -> Observation:
    pair = _two_accounts(ctx)
    if isinstance(pair, Observation):
        return pair
    a, b = pair
    user = ctx.new_user(accounts=[f"{a}=viewer", f"{b}=superuser"])
    ctx.sp_login(user)
    obs = ctx.observe(user)
    got = _granted(ctx) or {}
    obs.check("the unknown role grants nothing", b not in got,
              f"'{b}=superuser' gave the role {got.get(b)!r} on account {b}")
    obs.check("the valid pair is granted as sent", got.get(a) == "viewer",
              f"'{a}=viewer' gave {got.get(a)!r}")
    return obs


# --- RC-DOMAIN ----------------------------------------------------------------------------------
@scenario(
    "RC-DOMAIN",
    "Users whose email domain is not verified for the SAML configuration cannot sign in",
    category="contract",
    refs=(f"{SEED}: 'If the TXT record does not exist ... users with that domain won't be able to "
          "sign in using SAML SSO'",),
    needs=("sp_initiated", "domain_rule"),
    expect=REJECT,
    fix_hint="Before starting or accepting a SAML sign-in, require the email's domain to be "
             "verified and bound to the SAML configuration that signed the assertion.",
)
def rc_domain(ctx: ScenarioContext) -> Observation:
    if not ctx.profile.lifecycle.domain_verification or ctx.expected is ACCEPT:
        return unobservable("no domain verification rule")
    other = ctx.target.testdata.other_domain
    attempts: list[tuple[str, Any]] = []
    # (a) a domain never added
    u1 = ctx.new_user(domain=other)
    attempts.append(("SP-initiated, domain never added", u1))
    ctx.sp_login(u1)
    first = ctx.observe(u1)
    if first.accepted or not all(c.ok for c in first.checks):
        first.note = "SP-initiated login with an unverified domain was accepted"
        return first
    # (b) a domain added but still pending (not verified), when the target lets us add one
    if "add_domain" in ctx.target.hooks:
        pending = f"pending{ctx.runtime.next_seed()}.{other}"
        need_ok(ctx, "add_domain", domain=pending)
        ctx.restart()
        u2 = ctx.new_user(domain=pending)
        ctx.sp_login(u2)
        second = ctx.observe(u2)
        if second.accepted or not all(c.ok for c in second.checks):
            second.note = "SP-initiated login with a pending (unverified) domain was accepted"
            return second
    # (c) IdP-initiated: the ACS itself must check the domain
    if not ctx.profile.flows.idp_initiated:
        return first
    ctx.restart()
    u3 = ctx.new_user(domain=other)
    ctx.idp_login(u3)
    third = ctx.observe(u3)
    if third.accepted:
        third.note = "IdP-initiated login with an unverified domain was accepted"
    return third


# --- lifecycle: an account of our own, its local owner and local member --------------------------
class _Account:
    def __init__(self, ctx: ScenarioContext, *, saml_active: bool = False) -> None:
        self.id = new_account_id(ctx)
        need_ok(ctx, "add_account", account=self.id, saml_active=saml_active, idp_id="default")
        self.owner = self.local(ctx, "owner")
        self.owner_pw = self.last_pw

    def local(self, ctx: ScenarioContext, role: str) -> str:
        u = ctx.new_user(accounts=[f"{self.id}={role}"])
        email = ctx.email_of(u)
        self.last_pw = new_password()
        need_ok(ctx, "add_local_user", email=email, password=self.last_pw,
                accounts={self.id: role})
        return email


def _local_state(ctx: ScenarioContext, email: str) -> str:
    rec = ctx.find_user(email)
    return "deleted" if rec is None else str(rec.get("kind"))


@scenario(
    "RC-ACTIVATE-OWNER",
    "Activating SAML keeps the owner who activated it a local user who can still sign in",
    category="lifecycle",
    refs=(f"{SEED}: 'all existing local users ... except for the user that set up SAML SSO, are "
          "converted'", f"{SEED}: 'The account owner remains a local user'"),
    needs=("saml_admin", "user_inspection", "local_users"),
    expect=ACCEPT,
    fix_hint="At activation convert every local user of the account except the owner who "
             "activated it.",
)
def rc_activate_owner(ctx: ScenarioContext) -> Observation:
    acct = _Account(ctx)
    need_ok(ctx, "activate_saml", account=acct.id, by=acct.owner)
    password_sign_in(ctx, acct.owner, acct.owner_pw)
    obs = Observation(signed_in=ctx.whoami(), intended=acct.owner)
    kind = _local_state(ctx, acct.owner)
    obs.check("the activating owner is still a local user", kind == "local",
              f"after activation the owner is {kind!r}")
    return obs


@scenario(
    "RC-ACTIVATE-CONVERT",
    "Activating SAML converts the account's other local users: their password no longer works",
    category="lifecycle",
    refs=(f"{SEED}: 'They can no longer sign in with their previous sign-in method and must use "
          "SAML SSO instead'",),
    needs=("saml_admin", "user_inspection", "local_users"),
    expect=REJECT,
    fix_hint="At activation turn the account's local users (but the activating owner) into SAML "
             "users and refuse their passwords.",
)
def rc_activate_convert(ctx: ScenarioContext) -> Observation:
    acct = _Account(ctx)
    member = acct.local(ctx, "member")
    member_pw = acct.last_pw
    need_ok(ctx, "activate_saml", account=acct.id, by=acct.owner)
    password_sign_in(ctx, member, member_pw)
    obs = Observation(signed_in=ctx.whoami(), intended=member)
    kind = _local_state(ctx, member)
    obs.check("the member was converted to a SAML user", kind == "saml",
              f"after activation the member is {kind!r}")
    return obs


@scenario(
    "RC-BYPASS",
    "After activation, local bypass users (and the owner) still sign in with their password",
    category="lifecycle",
    refs=(f"{SEED}: 'you can add local bypass users after SAML SSO activation to allow access to the "
          "account in case of identity provider downtime'",),
    needs=("saml_admin", "bypass_users", "local_users"),
    expect=ACCEPT,
    fix_hint="Once SAML is active, refuse passwords of converted users only; the activating owner "
             "and bypass users keep signing in locally.",
)
def rc_bypass(ctx: ScenarioContext) -> Observation:
    acct = _Account(ctx)
    need_ok(ctx, "activate_saml", account=acct.id, by=acct.owner)
    b = ctx.new_user(accounts=[f"{acct.id}=viewer"])
    email, pw = ctx.email_of(b), new_password()
    need_ok(ctx, "add_bypass_user", account=acct.id, by=acct.owner, email=email, password=pw,
            role="viewer")
    password_sign_in(ctx, acct.owner, acct.owner_pw)
    owner_in = ctx.whoami()
    ctx.restart()
    password_sign_in(ctx, email, pw)
    obs = Observation(signed_in=ctx.whoami(), intended=email)
    obs.check("the owner signs in with a password after activation", owner_in == acct.owner,
              f"whoami after the owner's password sign-in: {owner_in!r}")
    return obs


@scenario(
    "RC-DEACTIVATE",
    "Deactivating SAML removes the account's SAML users (and ends their sessions)",
    category="lifecycle",
    refs=(f"{SEED}: 'Deactivating SAML SSO for an account also removes any existing SAML-type users "
          "associated with the account'",),
    needs=("sp_initiated", "saml_admin", "user_inspection", "local_users"),
    expect=REJECT,
    fix_hint="On deactivation delete the account's SAML users' memberships (the users themselves "
             "when no account is left) and their sessions.",
)
def rc_deactivate(ctx: ScenarioContext) -> Observation:
    acct = _Account(ctx, saml_active=True)
    user = ctx.new_user(accounts=[f"{acct.id}=manager"])
    email = ctx.email_of(user)
    ctx.sp_login(user)
    if ctx.whoami() != email:
        return Observation(signed_in=None, intended=email, observable=False,
                           note="the SAML user of the new account could not sign in")
    need_ok(ctx, "deactivate_saml", account=acct.id, by=acct.owner)
    obs = ctx.observe(user)  # REJECT: nobody signed in, and the user is gone from the store
    obs.note = "after deactivating SAML for the user's only account"
    return obs


@scenario(
    "RC-LINK",
    "Linking an account to a SAML configuration needs the same user to own both accounts",
    category="lifecycle",
    refs=(f"{SEED}: 'You must have the Owner role ... for all accounts you want to link. The same "
          "user must link each account'",),
    needs=("sp_initiated", "saml_admin", "link_accounts", "local_users"),
    expect=REJECT,
    fix_hint="Issue, accept and approve link tokens only for a user who owns the source account "
             "and the account being linked, and only the token's creator may use it.",
)
def rc_link(ctx: ScenarioContext) -> Observation:
    source = _Account(ctx)
    need_ok(ctx, "activate_saml", account=source.id, by=source.owner)
    target = _Account(ctx)  # owned by someone else
    steps: list[str] = []
    status, token = hook(ctx, "link_token", account=source.id, by=target.owner)
    steps.append(f"token by the other account's owner: HTTP {status}")
    if status >= 400:  # the right refusal; try the other half: source owner's token, used by
        token = need_ok(ctx, "link_token", account=source.id, by=source.owner)
    status, _ = hook(ctx, "link_account", token=token, account=target.id, by=target.owner)
    steps.append(f"link request for {target.id} by its own (other) owner: HTTP {status}")
    if status < 400:
        status, _ = hook(ctx, "link_approve", account=target.id, by=target.owner)
        steps.append(f"approval by the other owner: HTTP {status}")
    # Observe through SAML: a user mapped to the target account must not get in through this IdP.
    user = ctx.new_user(accounts=[f"{target.id}=manager"])
    ctx.sp_login(user)
    obs = ctx.observe(user)
    obs.note = "; ".join(steps)
    return obs

