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
    refs=(f"{SEED}: 'Key-value pair of a lowercase role name (owner, member, manager, billing_admin, "
          "or viewer)'",
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
    obs.refusal_ok = "refusing the whole login grants nothing either (stricter than needed: the valid pair is lost)"
    obs.check("the unknown role grants nothing", b not in got,
              f"'{b}=superuser' gave the role {got.get(b)!r} on account {b}", always=True)
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
        need_ok(ctx, "add_domain", domain=pending, idp_id=ctx.target.testdata.saml_config_id)
        ctx.restart()
        u2 = ctx.new_user(domain=pending)
        ctx.sp_login(u2)
        second = ctx.observe(u2)
        if second.accepted or not all(c.ok for c in second.checks):
            second.note = "SP-initiated login with a pending (unverified) domain was accepted"
            return second
    # (c) IdP-initiated: the ACS itself must check the domain
    if not ctx.runtime.accepts_unsolicited:
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



# --- accounts that are not SAML-enabled -----------------------------------------------------------
@scenario(
    "RC-ACCOUNT-NOT-SAML",
    "redisAccountMapping naming an account that is not SAML-enabled grants nothing on it",
    category="contract",
    refs=(f"{SEED}: 'you can add the same user to multiple SAML-enabled accounts'",
          "catalogue TEN-03 (the grant comes from the SP's binding, never from the attribute alone)"),
    needs=("sp_initiated", "account_mapping", "saml_admin"),
    expect=ACCEPT,
    fix_hint="Grant an account from redisAccountMapping only when SAML is active for it and it is "
             "linked to the SAML configuration that signed the assertion.",
)
def rc_account_not_saml(ctx: ScenarioContext) -> Observation:
    accts = _accounts(ctx)
    if not accts:
        return unobservable("no account mapping attribute")
    plain = _Account(ctx, saml_active=False)  # exists, has a local owner, SAML never activated
    user = ctx.new_user(accounts=[f"{accts[0]}=viewer", f"{plain.id}=owner"])
    ctx.sp_login(user)
    obs = ctx.observe(user)
    got = _granted(ctx) or {}
    obs.refusal_ok = "refusing the whole login grants nothing either (stricter than needed: the valid pair is lost)"
    obs.check("the account without SAML is not granted", plain.id not in got,
              f"'{plain.id}=owner' gave the role {got.get(plain.id)!r} on an account whose SAML "
              "SSO is not active", always=True)
    obs.check("the SAML-enabled account is granted", got.get(accts[0]) == "viewer",
              f"'{accts[0]}=viewer' gave {got.get(accts[0])!r}")
    return obs


# --- a SAML login converts a local user -------------------------------------------------------------
@scenario(
    "RC-SAML-CONVERTS",
    "A SAML sign-in for the email of a local user converts that user: the old password stops working",
    category="lifecycle",
    refs=(f"{SEED}: 'Your user converts to a SAML user in Redis Cloud'",),
    needs=("sp_initiated", "account_mapping", "local_users", "user_inspection"),
    expect=ACCEPT,
    fix_hint="When a SAML sign-in matches a local user's email, turn the user into a SAML user and "
             "drop their password (bypass users keep theirs only if they never use SSO).",
)
def rc_saml_converts(ctx: ScenarioContext) -> Observation:
    accts = _accounts(ctx)
    if not accts:
        return unobservable("no account mapping attribute")
    user = ctx.new_user(accounts=[f"{accts[0]}=member"])
    email, pw = ctx.email_of(user), new_password()
    need_ok(ctx, "add_local_user", email=email, password=pw, accounts={accts[0]: "member"})
    ctx.sp_login(user)
    obs = ctx.observe(user)
    kind = _local_state(ctx, email)
    obs.check("the user is a SAML user after the SAML sign-in", kind == "saml",
              f"after the SAML sign-in the user is {kind!r}")
    ctx.restart()
    password_sign_in(ctx, email, pw)
    after = ctx.whoami()
    obs.check("the previous password no longer signs in", after is None,
              f"the local password still signed in {after!r}")
    return obs


# --- deactivation only by a local owner -------------------------------------------------------------
@scenario(
    "RC-DEACTIVATE-OWNER",
    "Only a local owner can deactivate SAML: a SAML owner or a local member cannot",
    category="lifecycle",
    refs=(f"{SEED}: 'Before you can deactivate SAML SSO for an account, you must sign in to the "
          "account as a local (non-SAML) user with the owner role assigned'",),
    needs=("sp_initiated", "saml_admin", "local_users", "account_mapping"),
    expect=ACCEPT,
    fix_hint="Refuse deactivation unless the requesting user is a local (non-SAML) owner of the "
             "account.",
)
def rc_deactivate_owner(ctx: ScenarioContext) -> Observation:
    acct = _Account(ctx, saml_active=True)
    member = acct.local(ctx, "member")
    saml_owner = ctx.new_user(accounts=[f"{acct.id}=owner"])
    ctx.sp_login(saml_owner)
    if ctx.whoami() != ctx.email_of(saml_owner):
        return Observation(signed_in=None, intended=ctx.email_of(saml_owner), observable=False,
                           note="the SAML owner of the new account could not sign in")
    s1, _ = hook(ctx, "deactivate_saml", account=acct.id, by=ctx.email_of(saml_owner))
    s2, _ = hook(ctx, "deactivate_saml", account=acct.id, by=member)
    obs = ctx.observe(saml_owner)
    got = _granted(ctx) or {}
    obs.check("SAML still active: the SAML owner keeps the account", got.get(acct.id) == "owner",
              f"after deactivation requests by the SAML owner (HTTP {s1}) and a local member "
              f"(HTTP {s2}) the SAML owner has {got}")
    obs.note = f"deactivate by SAML owner: HTTP {s1}; by local member: HTTP {s2}"
    return obs


# --- RelayState ?idpId= -----------------------------------------------------------------------------
def _console_relay(ctx: ScenarioContext, idp_id: str) -> str:
    return f"{ctx.target.url('/').rstrip('/')}/#/login/?idpId={idp_id}"


@scenario(
    "RC-RELAYSTATE",
    "IdP-initiated RelayState ?idpId=<ID> signs in through that configuration; an unknown ID does not",
    category="contract",
    refs=(f"{SEED}: 'you also need to set the RelayState parameter to the following URL: "
          "https://cloud.redis.io/#/login/?idpId='",
          f"{SEED}: 'Replace <ID> so it matches the AssertionConsumerService Location URL's ID'",
          "Bindings 3.5.3 (RelayState)"),
    needs=("idp_initiated", "account_mapping"),
    expect=REJECT,
    fix_hint="Take idpId from the RelayState as the SAML configuration the unsolicited Response must "
             "come from; refuse an unknown one (and a Response signed by another configuration's "
             "IdP); land the user on the console, never on the RelayState URL itself.",
)
def rc_relaystate(ctx: ScenarioContext) -> Observation:
    if not ctx.runtime.accepts_unsolicited:
        return unobservable("the profile refuses IdP-initiated sign-on")
    cfg = ctx.target.testdata.saml_config_id
    good = ctx.new_user()
    page = ctx.idp_login(good, relay_state=_console_relay(ctx, cfg))
    first = ctx.whoami()
    ctx.restart()
    bad_id = f"{cfg}-unknown{ctx.runtime.next_seed()}"
    user = ctx.new_user()
    ctx.idp_login(user, relay_state=_console_relay(ctx, bad_id))
    obs = ctx.observe(user)
    obs.check(f"RelayState ?idpId={cfg} (this run's configuration) signs in",
              first == ctx.email_of(good), f"whoami after it: {first!r} (page {page.url})")
    obs.note = f"second login: RelayState ?idpId={bad_id} (no such configuration)"
    return obs


# --- the SP metadata the product hands out ----------------------------------------------------------
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
POST_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"


@scenario(
    "RC-METADATA",
    "The SP metadata handed out works as is: an IdP configured from it signs users in at its ACS",
    category="contract",
    refs=(f"{SEED}: 'Select the Download button to download the service provider metadata in XML "
          "format'", f"{SEED}: 'AssertionConsumerService's Location'", "Metadata 2.4.4 (SPSSODescriptor)",
          "catalogue META-01"),
    needs=("idp_initiated", "account_mapping"),
    expect=ACCEPT,
    fix_hint="Generate the downloadable SP metadata from the live configuration: the entityID the "
             "SP checks as Audience and the ACS URL it actually serves (HTTP-POST).",
)
def rc_metadata(ctx: ScenarioContext) -> Observation:
    from lxml import etree

    url = ctx.target.url(ctx.target.sp.metadata_url or "/saml/metadata")
    # the configuration's own download (the seed's entityID and ACS carry the configuration's ID)
    url += ("&" if "?" in url else "?") + "idpId=" + ctx.target.testdata.saml_config_id
    status, text = ctx.session.fetch(url, note="SP metadata download")
    obs_fail = Observation(signed_in=None, intended=None)
    if status != 200:
        return obs_fail.check("the SP metadata downloads", False, f"{url}: HTTP {status}")
    try:
        root = etree.fromstring(text.encode(), etree.XMLParser(resolve_entities=False, no_network=True,
                                                                 load_dtd=False))
    except etree.XMLSyntaxError as exc:
        return obs_fail.check("the SP metadata is XML", False, f"{url}: {exc}")
    acs = [e for e in root.iter(f"{{{MD}}}AssertionConsumerService") if e.get("Binding") == POST_BINDING]
    entity = root.get("entityID") or ""
    user = ctx.new_user()
    ctx.idp.register_sp(text.encode())  # the IdP admin uploads the downloaded XML
    try:
        ctx.idp_login(user)
    finally:
        ctx.idp.register_sp(ctx.runtime.sp_metadata)
    obs = ctx.observe(user)
    obs.check("the metadata names an entityID", bool(entity), "EntityDescriptor has no entityID")
    obs.check("the metadata names an HTTP-POST AssertionConsumerService", bool(acs),
              "no AssertionConsumerService with the HTTP-POST binding")
    obs.note = f"entityID {entity!r}; ACS {[e.get('Location') for e in acs]}"
    return obs


# --- a certificate update ----------------------------------------------------------------------------
def _with_cert(md: bytes, old_b64: str, new_b64: str) -> str:
    text = md.decode()
    if old_b64 not in text:
        raise ValueError("the IdP metadata does not carry the IdP certificate")
    return text.replace(old_b64, new_b64)


@scenario(
    "RC-CERT-UPDATE",
    "After the IdP signing certificate is updated, the new one signs in and the old one no longer does",
    category="contract",
    refs=(f"{SEED}: 'If you change certain metadata or configuration settings after you set up SAML "
          "SSO, such as the assertion signing certificate'",
          f"{SEED}: 'Download the updated service provider metadata'", "catalogue KEY-04 (rollover)"),
    needs=("sp_initiated", "idp_admin"),
    expect=REJECT,
    fix_hint="Replace the trusted IdP certificate when the configuration is updated: verify with "
             "the new one only (list both in metadata during a planned rollover).",
)
def rc_cert_update(ctx: ScenarioContext) -> Observation:
    from mock_idp.keys import ephemeral

    cfg = ctx.target.testdata.saml_config_id
    original = ctx.idp.metadata_xml()
    new_key = ephemeral("samlconf rollover")
    url = ctx.target.url(ctx.target.sp.metadata_url or "/saml/metadata")
    _, sp_md_before = ctx.session.fetch(url, note="SP metadata before the update")
    need_ok(ctx, "add_idp", idp_id=cfg,
            metadata_xml=_with_cert(original, ctx.idp.key.cert_b64, new_key.cert_b64))
    try:
        _, sp_md_after = ctx.session.fetch(url, note="SP metadata after the update")
        fresh = ctx.new_user()
        ctx.sp_login(fresh, key=new_key)
        new_in = ctx.whoami()
        ctx.restart()
        user = ctx.new_user()
        ctx.sp_login(user)  # signed with the old (replaced) key
        obs = ctx.observe(user)
    finally:
        need_ok(ctx, "add_idp", idp_id=cfg, metadata_xml=original.decode())
    obs.check("the new certificate signs in", new_in == ctx.email_of(fresh),
              f"a login signed with the new key: whoami {new_in!r}")
    obs.check("the SP metadata changed with the configuration", sp_md_before != sp_md_after,
              "the SP metadata offered after the update is the same document as before")
    obs.note = "second login signed with the replaced certificate's key"
    return obs


# --- changes between logins -------------------------------------------------------------------------
def _relogin(ctx: ScenarioContext, first: list[str], second: list[str]) -> tuple[dict[str, str] | None, Any, Observation]:
    user = ctx.new_user(accounts=first)
    ctx.sp_login(user)
    before = _granted(ctx) if ctx.whoami() == ctx.email_of(user) else None
    ctx.restart()
    later = user.with_attributes(**{ctx.profile.attributes.account_mapping: second})
    ctx.sp_login(later)
    return before, later, ctx.observe(later)


_CHANGE_REF = (f"{SEED}: 'the identity provider (IdP) admin handles SAML user management'",
               f"{SEED}: 'configure the redisAccountMapping attribute to map them to the appropriate "
               "Redis Cloud accounts and roles'")


@scenario(
    "RC-ACCOUNT-ADDED",
    "An account added to redisAccountMapping between logins is granted at the next login",
    category="contract", refs=_CHANGE_REF, needs=("sp_initiated", "account_mapping"), expect=ACCEPT,
    fix_hint="Re-provision the user's accounts from redisAccountMapping at every sign-in.",
)
def rc_account_added(ctx: ScenarioContext) -> Observation:
    pair = _two_accounts(ctx)
    if isinstance(pair, Observation):
        return pair
    a, b = pair
    before, _, obs = _relogin(ctx, [f"{a}=viewer"], [f"{a}=viewer", f"{b}=manager"])
    got = _granted(ctx)
    obs.check("first login granted one account", before == {a: "viewer"}, f"first login: {before}")
    obs.check(f"account {b} added at the next login", got == {a: "viewer", b: "manager"},
              f"the second login mapped {a}=viewer,{b}=manager; the SP granted {got}")
    return obs


@scenario(
    "RC-ROLE-CHANGED",
    "A role changed in redisAccountMapping between logins takes effect at the next login",
    category="contract", refs=_CHANGE_REF, needs=("sp_initiated", "account_mapping"), expect=ACCEPT,
    fix_hint="Re-provision each account's role from redisAccountMapping at every sign-in.",
)
def rc_role_changed(ctx: ScenarioContext) -> Observation:
    accts = _accounts(ctx)
    if not accts:
        return unobservable("no account mapping attribute")
    a = accts[0]
    before, _, obs = _relogin(ctx, [f"{a}=viewer"], [f"{a}=manager"])
    got = _granted(ctx)
    obs.check("first login granted viewer", before == {a: "viewer"}, f"first login: {before}")
    obs.check("the role is manager after the change", got == {a: "manager"},
              f"the second login mapped {a}=manager; the SP granted {got}")
    return obs


@scenario(
    "RC-ACCOUNT-REMOVED",
    "An account removed from redisAccountMapping between logins is taken away at the next login",
    category="contract", refs=_CHANGE_REF, needs=("sp_initiated", "account_mapping"), expect=ACCEPT,
    fix_hint="Replace the user's accounts with exactly those of the latest redisAccountMapping.",
)
def rc_account_removed(ctx: ScenarioContext) -> Observation:
    pair = _two_accounts(ctx)
    if isinstance(pair, Observation):
        return pair
    a, b = pair
    before, _, obs = _relogin(ctx, [f"{a}=viewer,{b}=manager"], [f"{a}=viewer"])
    got = _granted(ctx)
    obs.check("first login granted both accounts", before == {a: "viewer", b: "manager"},
              f"first login: {before}")
    obs.check(f"account {b} removed at the next login", got == {a: "viewer"},
              f"the second login mapped only {a}=viewer; the SP still grants {got}")
    return obs


# --- domain verification by DNS TXT -------------------------------------------------------------------
@scenario(
    "RC-DNS",
    "A domain is verified only once its DNS carries the TXT record the SP gave; only then can its users sign in",
    category="contract",
    refs=(f"{SEED}: 'We'll check the domain's DNS records for the provided TXT record'",
          f"{SEED}: 'If the TXT record does not exist or we can't resolve your domain, we won't be able "
          "to verify the domain'"),
    needs=("sp_initiated", "domain_rule", "domain_verification", "dns_zone"),
    expect=ACCEPT,
    fix_hint="Mark a domain verified only after a DNS TXT lookup finds the exact record issued for "
             "it; keep it pending (and its users out) otherwise.",
)
def rc_dns(ctx: ScenarioContext) -> Observation:
    zone = ctx.runtime.dns_zone
    domain = f"dns{ctx.runtime.next_seed()}.{ctx.target.testdata.other_domain}"
    added = need_ok(ctx, "add_domain", domain=domain, idp_id=ctx.target.testdata.saml_config_id)
    record = str((added or {}).get("txt_record") or "") if isinstance(added, dict) else ""
    if not record:
        return unobservable("the add_domain hook gave no txt_record")
    steps: list[tuple[str, Any, str | None]] = []
    for label, values in (("no TXT record", []),
                          ("a different TXT record", ["v=spf1 -all", record + "x"])):
        zone.set_txt(domain, values)
        status = need_ok(ctx, "verify_domain", domain=domain)
        ctx.restart()
        u = ctx.new_user(domain=domain)
        ctx.sp_login(u)
        steps.append((label, status, ctx.whoami()))
    zone.set_txt(domain, ["v=spf1 -all", record])
    status = need_ok(ctx, "verify_domain", domain=domain)
    ctx.restart()
    user = ctx.new_user(domain=domain)
    ctx.sp_login(user)
    obs = ctx.observe(user)
    for label, st, who in steps:
        obs.check(f"with {label} the domain is not verified and its users cannot sign in",
                  who is None and st != "verified", f"verify said {st!r}; whoami {who!r}")
    obs.check("with the TXT record published the domain is verified", status == "verified",
              f"verify said {status!r}")
    return obs
