"""ATTR and TEN: how the SP reads attributes, and how it binds users, tenants and accounts to the
IdP that asserts them (catalogue section 19). ATTR-01/03/05 are in structure.py.

The role-bearing attribute is the profile's: `role` (redflag) or the `redisAccountMapping` pairs
(redis_cloud); a profile with neither (generic) states no role rule, so these are `not tested`
there. Tenant cases need the target's admin hooks to add a second IdP (configuration) and bind a
tenant, an account or a domain to it; the run's mock IdP signs as that second IdP by naming its
entityID as Issuer (the key is the same: what differs is the binding, which is what is tested).
"""
from __future__ import annotations

from typing import Any

from harness.context import ScenarioContext
from harness.registry import ACCEPT, REJECT, scenario
from harness.verdict import Observation

from ._kit import NOT_SHOWN, fault, first_accepted, me, shown, shows, single_fault
from .contract_redflag import _other_idp_metadata
from .session import need_ok, new_account_id, unobservable

XSS = "<img src=x onerror=alert(1)>"


def _role_attr(ctx: ScenarioContext) -> str:
    """The attribute that carries the role: `role`, or the account mapping."""
    return ctx.profile.attributes.role or ctx.profile.attributes.account_mapping or "role"


def _top_role(ctx: ScenarioContext) -> str:
    """The most privileged role of the profile's vocabulary (or of its account roles)."""
    if ctx.profile.attributes.role:
        return ctx.profile.roles.vocabulary[0] if ctx.profile.roles else "Administrator"
    return ctx.profile.accounts.roles[0] if ctx.profile.accounts else "owner"


def _role_value(ctx: ScenarioContext, role: str) -> str:
    """A role as the profile's attribute carries it: the role itself, or ACCOUNT=role."""
    if ctx.profile.attributes.role:
        return role
    return f"{ctx.target.testdata.accounts[0]}={role}"


def _with_role(ctx: ScenarioContext, values: list[str]) -> Any:
    user = ctx.new_user()
    return user.with_attributes(**{_role_attr(ctx): values})


def _second_idp(ctx: ScenarioContext) -> tuple[str, str]:
    """Add another SAML configuration (IdP) at the SP: (its id, its entityID)."""
    n = ctx.runtime.next_seed()
    idp_id, entity = f"other{n}", f"urn:samlconf:other-idp:{n}"
    ctx.add_idp(idp_id, _other_idp_metadata(ctx, entity))  # removed after the scenario (delete_idp)
    return idp_id, entity


# --- ATTR ------------------------------------------------------------------------------------------
single_fault("ATTR-02", "An Assertion without AttributeStatement (required attributes) signs nobody in",
             ["attribute-statement-missing"], category="attributes",
             refs=("catalogue ATTR-02", "P3S wantAttributeStatement",
                   "seed redis_cloud: 'the SAML assertion contains the following attributes'",
                   "seed redflag: 'the following attributes are required'"),
             needs=("sp_initiated", "role_rule"),
             fix_hint="Refuse an assertion that lacks the attributes the contract requires, "
                      "AttributeStatement and all; never sign the NameID in as a bare user.")


@scenario(
    "ATTR-04",
    "An extra Attribute whose FriendlyName is the email attribute's name is not taken for it",
    category="attributes",
    refs=("catalogue ATTR-04", "S2I SDP-IDP18 (NameFormat uri)", "P3S allowRepeatAttributeName"),
    needs=("sp_initiated",),
    expect=REJECT,
    fix_hint="Match attributes on their Name (and NameFormat) exactly; ignore FriendlyName, or "
             "refuse the ambiguity.",
)
def attr_04(ctx: ScenarioContext) -> Observation:
    user = ctx.new_user()
    victim = f"admin.{ctx.runtime.next_seed()}@{ctx.target.testdata.email_domain}"
    name = ctx.profile.attributes.email or "Email"
    ctx.sp_login(user, [fault("attr-friendly-name", name=name, value=victim)])
    obs = ctx.observe(user, intended=victim, signed_as=ctx.email_of(user), store_check=False)
    obs.signed_ok = True  # the genuine Email attribute is the user's own: signing them in is right
    obs.note = f"extra Attribute FriendlyName={name!r} carrying {victim}"
    return obs


@scenario(
    "ATTR-06",
    "A role value with a comma inside is one (unknown) role, never split into two",
    category="attributes",
    refs=("catalogue ATTR-06", "S2I SDP-IDP20 (values as individual AttributeValue elements)"),
    needs=("sp_initiated", "role_vocabulary"),
    expect=REJECT,
    fix_hint="Split an attribute on commas only where the contract says so (tenantid, "
             "redisAccountMapping); a role value 'Editor,Administrator' is no role.",
)
def attr_06(ctx: ScenarioContext) -> Observation:
    vocab = list(ctx.profile.roles.vocabulary) if ctx.profile.roles else []
    user = _with_role(ctx, [f"{vocab[-1]},{vocab[-2]}"])
    ctx.sp_login(user)
    obs = ctx.observe(user)
    obs.note = f"role '{vocab[-1]},{vocab[-2]}' (one AttributeValue)"
    return obs


@scenario(
    "ATTR-07",
    "A legitimate value with a comma ('Doe, John') stays one value",
    category="attributes",
    refs=("catalogue ATTR-07", "cdelmonte-zg/nanoidp#134"),
    needs=("sp_initiated",),
    expect=ACCEPT,
    fix_hint="Never split attribute values on commas unless the contract defines that attribute "
             "as a comma-separated list.",
)
def attr_07(ctx: ScenarioContext) -> Observation:
    first = ctx.profile.attributes.first_name or "FirstName"
    user = ctx.new_user().with_attributes(**{first: ["Doe, John"]})
    ctx.sp_login(user)
    obs = ctx.observe(user)
    got = shown(me(ctx), "first_name", containing=("Doe", "John"))
    if got is NOT_SHOWN:
        return obs.check("the first name is kept as one value", None,
                         f"sent {first}='Doe, John'; the whoami answer has no 'first_name' field and no "
                         "value naming Doe or John")
    obs.check("the first name is kept as one value", got in ("Doe, John", ["Doe, John"]),
              f"sent {first}='Doe, John', the SP shows {got!r}")
    return obs


@scenario(
    "ATTR-08",
    "Several role values are judged the same way whatever their order (never the first only)",
    category="attributes",
    refs=("catalogue ATTR-08", "S2I SDP-SP19", "metabase/metabase#23714",
          "seed redflag: 'role – User's assigned role'"),
    needs=("sp_initiated", "role_vocabulary"),
    expect=REJECT,
    fix_hint="Evaluate every AttributeValue of the role attribute; a contract with one role per "
             "user refuses several different ones, in any order.",
)
def attr_08(ctx: ScenarioContext) -> Observation:
    vocab = list(ctx.profile.roles.vocabulary) if ctx.profile.roles else []
    low, high = vocab[-1], vocab[0]

    def attempt(values: list[str]) -> Observation:
        user = _with_role(ctx, values)
        ctx.sp_login(user)
        obs = ctx.observe(user)
        obs.note = f"role values {values}"
        if obs.accepted:
            obs.note += f" gave the role {me(ctx).get('role')!r}"
        return obs

    return first_accepted(ctx, ([low, high], [high, low]), attempt)


@scenario(
    "ATTR-09",
    "Variant spellings of a role (case, zero-width space, '*') grant no role",
    category="attributes",
    refs=("catalogue ATTR-09", "OWASP SAML cheat sheet (deny by default)",
          "seed redis_cloud: 'Key-value pair of a lowercase role name'"),
    needs=("sp_initiated", "role_rule"),
    expect=REJECT,
    fix_hint="Compare roles exactly with the vocabulary (and its declared aliases); deny anything "
             "else.",
)
def attr_09(ctx: ScenarioContext) -> Observation:
    top = _top_role(ctx)
    variants = [top.upper() if top != top.upper() else top.lower(), top.swapcase(), top + "\u200b",
                "*", "super" + top.replace(" ", "").lower()]

    def attempt(v: str) -> Observation:
        user = _with_role(ctx, [_role_value(ctx, v)])
        ctx.sp_login(user)
        obs = ctx.observe(user)
        obs.note = f"role value {ascii(_role_value(ctx, v))}"
        return obs

    return first_accepted(ctx, variants, attempt)


@scenario(
    "ATTR-10",
    "A role value that is an element (<x>…</x>), not text, grants nothing",
    category="attributes",
    refs=("catalogue ATTR-10", "S2I SDP-IDP19 (a single text node)"),
    needs=("sp_initiated", "role_rule"),
    expect=REJECT,
    fix_hint="Take authorization attributes only from AttributeValues that are plain text; refuse "
             "element content.",
)
def attr_10(ctx: ScenarioContext) -> Observation:
    top = _top_role(ctx)
    user = ctx.new_user()
    value = _role_value(ctx, top)
    ctx.sp_login(user, [fault("attr-complex-value", name=_role_attr(ctx), value=value)])
    obs = ctx.observe(user)
    obs.note = f"{_role_attr(ctx)} = <x>{value}</x>"
    return obs


@scenario(
    "ATTR-11",
    "An empty or nil tenant/account value is absent, never a wildcard",
    category="attributes",
    refs=("catalogue ATTR-11", "catalogue TEN-08"),
    needs=("sp_initiated", "role_rule"),
    expect=REJECT,
    fix_hint="Treat <AttributeValue/> and xsi:nil as no value: a required attribute with no value "
             "refuses the sign-in.",
)
def attr_11(ctx: ScenarioContext) -> Observation:
    name = ctx.profile.attributes.tenant or ctx.profile.attributes.account_mapping or "role"

    def attempt(f: str) -> Observation:
        user = ctx.new_user()
        ctx.sp_login(user, [fault(f, name=name)])
        obs = ctx.observe(user)
        obs.note = f"{name}: {f}"
        if obs.accepted:
            obs.note += f"; granted {me(ctx).get('tenants') or me(ctx).get('accounts')}"
        return obs

    return first_accepted(ctx, ("attr-empty", "attr-nil"), attempt)


@scenario(
    "ATTR-13",
    "A refused attribute value carrying HTML is shown encoded, never as markup",
    category="attributes",
    refs=("catalogue ATTR-13", "OWASP SAML cheat sheet (input validation)", "CWE-79"),
    needs=("sp_initiated", "role_rule"),
    expect=REJECT,
    fix_hint="HTML-encode every attribute value the SP puts in a page (error pages included).",
)
def attr_13(ctx: ScenarioContext) -> Observation:
    user = _with_role(ctx, [_role_value(ctx, XSS)])
    page = ctx.sp_login(user)
    obs = ctx.observe(user)
    text = getattr(page, "text", "") or ""
    obs.check("the value is not echoed as markup", XSS not in text,
              f"the page at {getattr(page, 'url', '?')} contains {XSS} unescaped")
    return obs


@scenario(
    "ATTR-14",
    "Another IdP asserting an existing user's email neither signs them in nor changes their account",
    category="attributes",
    refs=("catalogue ATTR-14", "catalogue TEN-01", "SSOR (any IdP can assert any email)"),
    needs=("sp_initiated", "tenant_admin", "role_vocabulary"),
    expect=REJECT,
    fix_hint="Bind each SAML user to the IdP that provisioned them; refuse (never update) the "
             "account when another configuration's IdP asserts the same identity.",
)
def attr_14(ctx: ScenarioContext) -> Observation:
    vocab = list(ctx.profile.roles.vocabulary) if ctx.profile.roles else []
    tenants = list(ctx.target.testdata.tenants)
    admin = ctx.new_user(role=vocab[0], tenants=[tenants[0]])
    email = ctx.email_of(admin)
    ctx.sp_login(admin, tenant=tenants[0])
    if ctx.whoami() != email:
        return unobservable("the existing user's own sign-in failed")
    idp_id, entity = _second_idp(ctx)
    foreign = f"foreign{ctx.runtime.next_seed()}"
    need_ok(ctx, "add_tenant", tenant=foreign, idp_id=idp_id)
    ctx.restart()
    attrs = ctx.profile.attributes
    forged = admin.with_attributes(**{attrs.role: [vocab[-1]], attrs.tenant: [foreign]})
    ctx.sp_login(forged, [fault("issuer-wrong", issuer=entity)], tenant=foreign)
    obs = ctx.observe(forged, store_check=False)
    rec = ctx.find_user(email) or {} if ctx.has("user_inspection") else {}
    if rec:
        obs.check("the existing account is unchanged", rec.get("role") == vocab[0]
                  and sorted(rec.get("tenants") or []) == [tenants[0]],
                  f"after IdP {entity} asserted {email}: role {rec.get('role')!r}, tenants "
                  f"{rec.get('tenants')}")
    obs.note = f"IdP {entity} (tenant {foreign}) asserted the {vocab[0]} {email}"
    return obs


@scenario(
    "ATTR-12",
    "Oversized attributes (a 10 KB value; 10 000 values) are bounded or refused, never stored whole "
    "or answered with a server error",
    category="attributes",
    refs=("catalogue ATTR-12", "S2I SDP-G02 (producers limit strings to 256 characters)",
          "OWASP ASVS 5.1.3 (input length validation)"),
    needs=("sp_initiated",),
    expect=ACCEPT,
    level="SHOULD",
    fix_hint="Bound what an assertion may carry before storing it: refuse (or truncate) attribute "
             "values beyond a sane length and attributes with too many values; never fail with a 5xx.",
)
def attr_12(ctx: ScenarioContext) -> Observation:
    first = ctx.profile.attributes.first_name or "FirstName"
    big = "Oversized" + "A" * (10240 - 9)
    user = ctx.new_user().with_attributes(**{first: [big]})
    ctx.sp_login(user)
    obs = ctx.observe(user, store_check=False)
    obs.refusal_ok = "refusing an oversized attribute is the catalogue's REJECT"
    obs.note = f"(a) {first} of {len(big)} characters: " + ("refused" if not obs.accepted else "signed in")
    if obs.accepted:
        rec = (ctx.find_user(ctx.email_of(user)) or {}) if ctx.has("user_inspection") else {}
        # the value wherever the SP shows it (first_name, givenName, ...): it starts with "Oversized"
        shown = [v for v in [*rec.values(), *me(ctx).values()] if isinstance(v, str) and v.startswith("Oversized")]
        if not shown:
            return unobservable(f"(a) signed in, but neither the user store nor whoami shows the {first} value")
        kept = max(shown, key=len)
        obs.check(f"the {len(big)}-character {first} is bounded, not kept whole", len(str(kept)) < len(big),
                  f"the SP kept {len(str(kept))} characters of it")
        if not all(c.ok for c in obs.checks):
            return obs
    ctx.restart()
    other = ctx.new_user().with_attributes(samlconfBulk=[f"v{i}" for i in range(10000)])
    ctx.sp_login(other)
    b = ctx.observe(other, store_check=False)
    obs.note += f"; (b) 10 000 values of an extra attribute: {'signed in' if b.accepted else 'refused'}"
    errors = ctx.server_errors
    obs.check("no server error (5xx) for oversized attributes", not errors, "; ".join(errors[:2]), always=True)
    if ctx.whoami() is None:
        ctx.restart()
        ok = ctx.new_user()
        ctx.sp_login(ok)
        obs.check("the SP still signs a valid user in afterwards", ctx.whoami() == ctx.email_of(ok),
                  f"whoami after a valid login: {ctx.whoami()!r}", always=True)
    return obs


# --- TEN -------------------------------------------------------------------------------------------
@scenario(
    "TEN-01",
    "An IdP asserting a user of a domain bound to another configuration is refused",
    category="tenants",
    refs=("catalogue TEN-01", "S2I SDP-SP17", "SSOR organizations (email domain allow-list)",
          "seed redis_cloud: 'users with that domain won't be able to sign in using SAML SSO'"),
    needs=("idp_initiated", "domain_rule", "domain_verification", "dns_zone", "idp_admin"),
    expect=REJECT,
    fix_hint="Accept an email only when its domain is verified and bound to the configuration "
             "whose IdP signed the assertion.",
)
def ten_01(ctx: ScenarioContext) -> Observation:
    if not ctx.profile.flows.idp_initiated:
        return unobservable("the profile refuses IdP-initiated sign-on")
    idp_id, _ = _second_idp(ctx)
    domain = f"b{ctx.runtime.next_seed()}.{ctx.target.testdata.other_domain}"
    added = need_ok(ctx, "add_domain", domain=domain, idp_id=idp_id)
    record = str(added.get("txt_record") or "") if isinstance(added, dict) else ""
    ctx.runtime.dns_zone.set_txt(domain, [record])
    status = need_ok(ctx, "verify_domain", domain=domain)
    if status != "verified":
        return unobservable(f"the other configuration's domain could not be verified ({status})")
    user = ctx.new_user(domain=domain)
    ctx.idp_login(user)  # signed by this run's IdP, bound to the default configuration
    obs = ctx.observe(user)
    obs.note = f"{ctx.email_of(user)}: {domain} is verified for configuration {idp_id}, not this IdP's"
    return obs


@scenario(
    "TEN-02",
    "A Response from one tenant's IdP for a sign-in at another tenant is refused",
    category="tenants",
    refs=("catalogue TEN-02", "Prof 4.1.4.3", "seed redflag: 'One SAML IdP per location'",
          "seed redflag: 'You cannot mix or chain multiple IdPs for a single location'"),
    needs=("sp_initiated", "tenant_admin", "one_idp_per_tenant"),
    expect=REJECT,
    fix_hint="Verify the Response with the one IdP bound to the tenant the sign-in started at, "
             "and compare its Issuer with that IdP's entityID.",
)
def ten_02(ctx: ScenarioContext) -> Observation:
    idp_id, entity = _second_idp(ctx)
    foreign = f"foreign{ctx.runtime.next_seed()}"
    need_ok(ctx, "add_tenant", tenant=foreign, idp_id=idp_id)
    user = ctx.new_user(tenants=[foreign])
    ctx.sp_login(user, tenant=foreign)  # the run's IdP answers as itself, not as tenant's IdP
    obs = ctx.observe(user)
    obs.note = f"sign-in at tenant {foreign} (IdP {entity}); Response from {ctx.idp.entity_id}"
    return obs


@scenario(
    "TEN-03",
    "A tenant or account bound to another IdP, named in the attributes, is not granted",
    category="tenants",
    refs=("catalogue TEN-03", "seed redflag: 'One SAML IdP per location'",
          "seed redis_cloud: 'you can add the same user to multiple SAML-enabled accounts'"),
    needs=("sp_initiated", "idp_admin", "role_rule"),
    expect=ACCEPT,
    fix_hint="Derive tenants/accounts from the signing IdP's binding: grant only those bound to "
             "it, never one merely named in an attribute.",
)
def ten_03(ctx: ScenarioContext) -> Observation:
    idp_id, _ = _second_idp(ctx)
    if ctx.profile.attributes.tenant:
        if "add_tenant" not in ctx.target.hooks:
            return unobservable("the target has no add_tenant hook")
        own = ctx.target.testdata.tenants[0]
        other = f"foreign{ctx.runtime.next_seed()}"
        need_ok(ctx, "add_tenant", tenant=other, idp_id=idp_id)
        user = ctx.new_user(tenants=[own, other])
        ctx.sp_login(user, tenant=own)
        seen, key = me(ctx), "tenants"
        got = sorted(seen.get("tenants") or [])
    else:
        if "add_account" not in ctx.target.hooks:
            return unobservable("the target has no add_account hook")
        own = ctx.target.testdata.accounts[0]
        other = new_account_id(ctx)
        need_ok(ctx, "add_account", account=other, saml_active=True, idp_id=idp_id)
        user = ctx.new_user(accounts=[f"{own}=viewer", f"{other}=owner"])
        ctx.sp_login(user)
        seen, key = me(ctx), "accounts"
        got = sorted((seen.get("accounts") or {}).keys())
    obs = ctx.observe(user, store_check=False)
    if not shows(obs, seen, key):
        return obs
    obs.check(f"{other} (bound to IdP {idp_id}) not granted", other not in got, f"granted {got}")
    obs.check(f"{own} (this IdP's) granted", own in got, f"granted {got}")
    return obs


def _scoped_shown(ctx: ScenarioContext, attr: str, scope: str) -> Any:
    """The scoped value the SP's whoami shows: under the attribute's name or `scoped`, else any value
    naming `scope` (e.g. an SP that shows it as its username); NOT_SHOWN when none."""
    data = me(ctx)
    for key in (attr, "scoped"):
        got = shown(data, key)
        if got is not NOT_SHOWN:
            return got
    return shown(data, attr, containing=(f"@{scope}",))


@scenario(
    "TEN-05",
    "A scoped attribute (user@scope) whose scope the IdP's metadata does not list (shibmd:Scope) is refused",
    category="tenants",
    refs=("catalogue TEN-05", "S2I SDP-SP17", "S2I SDP-IDP14",
          "SAML V2.0 Subject Identifier Attributes Profile (shibmd:Scope)",
          "Shibboleth SP/IdP: ScopeMatchesShibMDScope attribute filter (out-of-scope values are dropped)"),
    needs=("sp_initiated", "scoped_attribute"),
    expect=REJECT,
    level="SHOULD",
    fix_hint="Keep a scoped value (user@scope) only when its scope is one the asserting IdP's metadata "
             "lists in <shibmd:Scope>; refuse the login or drop the value otherwise.",
)
def ten_05(ctx: ScenarioContext) -> Observation:
    attr = ctx.profile.attributes.scoped or ""
    scope, bad_scope = ctx.target.testdata.email_domain, "evil.example"
    user = ctx.new_user()
    local = ctx.email_of(user).split("@")[0]
    bad = f"{local}@{bad_scope}"
    ctx.sp_login(user.with_attributes(**{attr: [bad]}))
    # dropping the value and signing the user in (Shibboleth's attribute filter) is right as well
    obs = ctx.observe(user, intended=bad, signed_as=ctx.email_of(user), store_check=False)
    obs.signed_ok = True
    obs.note = f"{attr}={bad!r}; the IdP's metadata lists shibmd:Scope {scope!r} only"
    name = f"the out-of-scope {attr} value is not kept"
    if obs.accepted:
        got = _scoped_shown(ctx, attr, bad_scope)
        if got is NOT_SHOWN:
            return obs.check(name, None, f"the whoami answer shows no {attr!r} (or 'scoped') field and no "
                                         f"value naming @{bad_scope}")
        obs.check(name, bad_scope not in str(got), f"the SP shows {got!r}")
        if obs.checks[-1].ok is False:
            return obs
    # control: the same attribute with the listed scope is taken (else the SP never reads it)
    ctx.restart()
    good = f"{local}@{scope}"
    ctx.sp_login(user.with_attributes(**{attr: [good]}))
    ctl = ctx.observe(user, store_check=False)
    if not ctl.accepted:
        obs.observable = False
        obs.note += f"; control: the in-scope {attr}={good!r} was refused as well"
        return obs
    got = _scoped_shown(ctx, attr, scope)
    if got is not NOT_SHOWN and scope not in str(got):
        obs.observable = False
        obs.note += f"; control: the in-scope {attr}={good!r} was dropped as well (the SP shows {got!r})"
    return obs


@scenario(
    "TEN-06",
    "Email-parser tricks never pass a domain allow-list (victim@a@b, quoted local part, trailing dot)",
    category="tenants",
    refs=("catalogue TEN-06", "PortSwigger 'The Fragile Lock' (email splitting)",
          "seed redis_cloud: 'users with that domain won't be able to sign in using SAML SSO'"),
    needs=("idp_initiated", "domain_rule"),
    expect=REJECT,
    fix_hint="Parse the asserted email as one RFC 5322 addr-spec and compare its whole, "
             "canonical domain with the verified domains; refuse anything else.",
)
def ten_06(ctx: ScenarioContext) -> Observation:
    if not ctx.profile.flows.idp_initiated:
        return unobservable("the profile refuses IdP-initiated sign-on")
    good = ctx.target.testdata.email_domain
    n = ctx.runtime.next_seed()
    tricks = [f"victim{n}@{good}@evil.example", f'"victim{n}@{good}"@evil.example',
              f"victim{n}@{good}.", f"victim{n}@{good}.evil.example",
              f"=?utf-8?q?victim{n}=40{good}?=@evil.example"]

    def attempt(email: str) -> Observation:
        # the trick is in the Email attribute (the contract's user key); the NameID stays a plain
        # address, so that an SP's NameID syntax check is not what refuses it
        user = ctx.new_user(email=email, name_id=f"victim{n}@evil.example")
        ctx.idp_login(user)
        obs = ctx.observe(user, store_check=False)
        obs.note = f"Email {email!r}"
        return obs

    return first_accepted(ctx, tricks, attempt)


@scenario(
    "TEN-08",
    "A wildcard tenant ('*') from a tenant's IdP grants no tenant",
    category="tenants",
    refs=("catalogue TEN-08", "seed redflag: 'tenantid – Must contain the value'"),
    needs=("sp_initiated", "tenants"),
    expect=REJECT,
    fix_hint="Grant only tenants named exactly; '*' or 'all' is not a tenant.",
)
def ten_08(ctx: ScenarioContext) -> Observation:
    at = ctx.target.testdata.tenants[0]
    user = ctx.new_user().with_attributes(**{ctx.profile.attributes.tenant: ["*"]})
    ctx.sp_login(user, tenant=at)
    obs = ctx.observe(user)
    obs.note = f"tenantid '*' at ?saml={at}"
    return obs


# --- TEN-04 / TEN-07: a second SAML configuration that signs users in ------------------------------
class _OtherConfig:
    """A second SAML configuration (IdP) at the SP with something of its own to grant: under an
    account-mapping contract a verified domain and a SAML-enabled account, under a tenant contract a
    tenant. `login(user)` signs a user in through it (the run's IdP naming that IdP's entityID as
    Issuer: same key, another binding); `user(**kw)` is a user it may sign in."""

    def __init__(self, ctx: ScenarioContext) -> None:
        self.ctx = ctx
        self.id, self.entity = _second_idp(ctx)
        n = ctx.runtime.next_seed()
        self.mapping = bool(ctx.profile.attributes.account_mapping)
        if self.mapping:
            self.domain = f"b{n}.{ctx.target.testdata.other_domain}"
            added = need_ok(ctx, "add_domain", domain=self.domain, idp_id=self.id)
            ctx.runtime.dns_zone.set_txt(self.domain, [str(added.get("txt_record") or "")
                                                       if isinstance(added, dict) else ""])
            need_ok(ctx, "verify_domain", domain=self.domain)
            self.scope = new_account_id(ctx)
            need_ok(ctx, "add_account", account=self.scope, saml_active=True, idp_id=self.id)
        else:
            self.scope = f"foreign{n}"
            need_ok(ctx, "add_tenant", tenant=self.scope, idp_id=self.id)

    def user(self, **kw: Any) -> Any:
        if self.mapping:
            return self.ctx.new_user(domain=self.domain, accounts=[f"{self.scope}=viewer"], **kw)
        return self.ctx.new_user(tenants=[self.scope], **kw)

    def relay(self) -> str:
        from .contract_redis_cloud import _console_relay

        return _console_relay(self.ctx, self.id)

    def login(self, user: Any, *, issuer: str | None = None, relay: str | None = None) -> Any:
        faults = [fault("issuer-wrong", issuer=issuer or self.entity)] if (issuer or self.entity) \
            != self.ctx.idp.entity_id else []
        if self.mapping:
            return self.ctx.idp_login(user, faults, relay_state=relay or self.relay())
        return self.ctx.sp_login(user, faults, tenant=self.scope)

    def granted(self) -> list[str]:
        data = me(self.ctx)
        return sorted((data.get("accounts") or {}) if self.mapping else (data.get("tenants") or []))


def _other_config_missing(ctx: ScenarioContext) -> str | None:
    if ctx.profile.attributes.account_mapping:
        for cap in ("idp_initiated", "domain_verification", "dns_zone"):
            if not ctx.has(cap):
                return f"a second configuration under {ctx.profile.name} signs in IdP-initiated through a " \
                       f"verified domain: {ctx.runtime.capabilities().get(cap)}"
        return None if "add_account" in ctx.target.hooks else "the target has no add_account hook"
    return None if "add_tenant" in ctx.target.hooks else "the target has no add_tenant hook"


def _record(ctx: ScenarioContext, email: str) -> dict[str, Any]:
    rec = (ctx.find_user(email) or {}) if ctx.has("user_inspection") else {}
    return {k: rec.get(k) for k in ("first_name", "last_name", "role", "accounts", "tenants", "idp_id")}


@scenario(
    "TEN-04",
    "The same persistent NameID from two IdPs (configurations) keys two distinct users: the second "
    "IdP neither signs in nor changes the first IdP's user",
    category="tenants",
    refs=("catalogue TEN-04", "S2I SDP-SP16 ('MUST prevent unintended identifier collisions in the "
          "values asserted by different IdPs')", "Core 8.3.7 (persistent identifiers are "
          "qualified by the IdP: NameQualifier)", "catalogue ATTR-14 (the same email from two IdPs)"),
    needs=("sp_initiated", "idp_admin", "role_rule"),
    expect=ACCEPT,
    fix_hint="Key SAML users by (IdP entityID, NameID), or by an identifier the IdP is authorized "
             "for; never look a user up by the NameID value alone.",
)
def ten_04(ctx: ScenarioContext) -> Observation:
    why = _other_config_missing(ctx)
    if why:
        return unobservable(why)
    name_id = f"samlconf-persistent-{ctx.runtime.next_seed()}"
    first = ctx.new_user(name_id=name_id, name_id_format="persistent")
    ea = ctx.email_of(first)
    ctx.sp_login(first)
    if ctx.whoami() != ea:
        return unobservable("the first IdP's user could not sign in with a persistent NameID")
    before = _record(ctx, ea)
    other = _OtherConfig(ctx)
    ctx.restart()
    second = other.user(name_id=name_id, name_id_format="persistent")
    eb = ctx.email_of(second)
    other.login(second)
    obs = ctx.observe(second, store_check=False)
    obs.refusal_ok = "refusing the second IdP's user merges no account either"
    after = _record(ctx, ea)
    obs.check(f"the first IdP's user {ea} is unchanged", after == before, f"before {before}, after {after}",
              always=True)
    obs.note = f"NameID {name_id!r} (persistent) from {ctx.idp.entity_id} for {ea}, then from " \
               f"{other.entity} (configuration {other.id}) for {eb}"
    return obs


@scenario(
    "TEN-07",
    "An IdP-initiated Response signed by one configuration's IdP, its RelayState naming another "
    "configuration, never signs in under that other configuration",
    category="tenants",
    refs=("catalogue TEN-07", "OWASP SAML cheat sheet (IdP-initiated SSO: unsolicited responses)",
          "seed redis_cloud: 'set the RelayState parameter to the following URL: "
          "https://cloud.redis.io/#/login/?idpId='"),
    needs=("idp_initiated", "idp_admin", "account_mapping", "domain_verification", "dns_zone"),
    expect=ACCEPT,
    fix_hint="Derive the configuration (tenant) from the IdP that signed the Response (its Issuer "
             "and key) and the ACS it was posted to; a RelayState naming a configuration may only "
             "narrow that down: refuse a Response whose signer is not that configuration's IdP.",
)
def ten_07(ctx: ScenarioContext) -> Observation:
    why = _other_config_missing(ctx)
    if why:
        return unobservable(why)
    other = _OtherConfig(ctx)
    good = other.user()
    other.login(good)  # its own IdP, its own RelayState: the configuration works
    if ctx.whoami() != ctx.email_of(good):
        return unobservable(f"configuration {other.id}'s own IdP could not sign its user in")
    ctx.restart()
    user = other.user()
    relay = other.relay() + f"&tenant={other.id}"
    other.login(user, issuer=ctx.idp.entity_id, relay=relay)  # signed by this run's IdP, not B's
    obs = ctx.observe(user, store_check=False)
    obs.refusal_ok = "refusing the Response signs nobody in under the other configuration"
    got = other.granted() if obs.accepted else []
    obs.check(f"nothing of configuration {other.id} granted", other.scope not in got,
              f"granted {got}", always=True)
    obs.note = f"Response from {ctx.idp.entity_id} with RelayState {relay!r} naming configuration " \
               f"{other.id} ({other.entity})"
    return obs
