"""RF: the redflag contract (shared/seeds/002_...): tenants, roles and their alias, local users.

Each rule runs under any profile that states it (`tenants`, `roles.aliases`, the tenant attribute)
and is vacuous (the valid baseline, with a note) elsewhere.
"""
from __future__ import annotations

from harness.context import ScenarioContext
from harness.registry import ACCEPT, REJECT, scenario
from harness.verdict import Observation

from ._kit import me, shows
from .session import need_ok, new_password, unobservable, password_sign_in

SEED = "seed redflag"


def _tenants(ctx: ScenarioContext) -> list[str] | None:
    if ctx.profile.tenants is None or not ctx.profile.attributes.tenant:
        return None
    return list(ctx.target.testdata.tenants)


def _two_tenants(ctx: ScenarioContext) -> tuple[str, str] | Observation:
    ts = _tenants(ctx)
    if ts is None:
        return unobservable("no tenant attribute")
    if len(ts) < 2:
        return unobservable("testdata.tenants needs two SAML-enabled tenants")
    return ts[0], ts[1]


@scenario(
    "RF-MULTI-TENANT",
    "A comma-separated tenantid grants every tenant listed; login works at any of them",
    category="contract",
    refs=(f"{SEED}: 'you can include multiple tenantid values in the SAML assertion'",
          f"{SEED}: 'list the tenantid values in the tenantid attribute, separated by commas'",
          f"{SEED}: 'the user can use the SAML login URL for any of the specified tenants'"),
    needs=("sp_initiated", "tenants"),
    expect=ACCEPT,
    fix_hint="Split tenantid on ',' (trim each name) and grant each configured tenant.",
)
def rf_multi_tenant(ctx: ScenarioContext) -> Observation:
    pair = _two_tenants(ctx)
    if isinstance(pair, Observation):
        return pair
    a, b = pair
    user = ctx.new_user(tenants=[a, b])
    ctx.sp_login(user, tenant=b)  # the second tenant's own login URL
    obs = ctx.observe(user)
    shown = me(ctx)
    if not shows(obs, shown, "tenants"):
        return obs
    got = sorted(shown.get("tenants") or [])
    obs.check("every listed tenant granted", got == sorted([a, b]),
              f"tenantid '{a},{b}' gave the tenants {got}")
    obs.check("signed in to the tenant whose URL was used", shown.get("current_tenant") in (b, None),
              f"current tenant {shown.get('current_tenant')!r}, login URL was for {b!r}")
    return obs


@scenario(
    "RF-REPROVISION",
    "A tenant missing from the next login's tenantid is removed (re-provisioned at each login)",
    category="contract",
    refs=(f"{SEED}: 'RedFlag will automatically deprovision and reprovision access based on the "
          "updated tenantid values in the next SAML assertion upon login'",),
    needs=("sp_initiated", "tenants"),
    expect=ACCEPT,
    fix_hint="At each login replace the user's tenant memberships with exactly the tenants of the "
             "latest assertion.",
)
def rf_reprovision(ctx: ScenarioContext) -> Observation:
    pair = _two_tenants(ctx)
    if isinstance(pair, Observation):
        return pair
    a, b = pair
    user = ctx.new_user(tenants=[a, b])
    ctx.sp_login(user, tenant=a)
    first_seen = me(ctx)
    first = sorted(first_seen.get("tenants") or [])
    ctx.restart()
    later = user.with_attributes(**{ctx.profile.attributes.tenant: [a]})
    ctx.sp_login(later, tenant=a)
    obs = ctx.observe(later)
    seen = me(ctx)
    if not (shows(obs, first_seen, "tenants") and shows(obs, seen, "tenants")):
        return obs
    got = sorted(seen.get("tenants") or [])
    obs.check("first login granted both tenants", first == sorted([a, b]),
              f"tenantid '{a},{b}' gave {first}")
    obs.check(f"tenant {b} removed at the next login", got == [a],
              f"the second login sent tenantid '{a}', the user still has {got}")
    if ctx.has("user_inspection"):
        rec = ctx.find_user(ctx.email_of(later)) or {}
        stored = sorted(rec.get("tenants") or [])
        obs.check("the user store lost the tenant too", stored == [a], f"store: {stored}")
    return obs


@scenario(
    "RF-ROLE-ALIAS",
    "The Entra ID spelling Super_Administrator is accepted as Super Administrator",
    category="contract",
    refs=(f"{SEED}: 'If using Microsoft Entra ID, use Super_Administrator as the value'",),
    needs=("sp_initiated", "role_aliases"),
    expect=ACCEPT,
    fix_hint="Map the profile's role aliases (Super_Administrator) to their role before checking "
             "the role vocabulary.",
)
def rf_role_alias(ctx: ScenarioContext) -> Observation:
    roles = ctx.profile.roles
    if roles is None or not roles.aliases or not ctx.profile.attributes.role:
        return unobservable("no role aliases")
    alias, role = next(iter(roles.aliases.items()))
    user = ctx.new_user(role=alias)
    ctx.sp_login(user)
    obs = ctx.observe(user)
    seen = me(ctx)
    if not shows(obs, seen, "role"):
        return obs
    got = seen.get("role")
    obs.check(f"{alias} is read as {role!r}", got == role, f"the SP stored the role {got!r}")
    return obs


@scenario(
    "RF-LOCAL-OFF",
    "Once SAML is on for a tenant, its local users can no longer sign in with a password",
    category="lifecycle",
    refs=(f"{SEED}: 'Once SAML SSO is enabled, existing users who were added directly to RedFlag "
          "will no longer be able to log in with their current credentials'",),
    needs=("tenants", "local_users_off", "local_users", "user_inspection"),
    expect=REJECT,
    fix_hint="Refuse password sign-in for users of a tenant where SAML is active.",
)
def rf_local_off(ctx: ScenarioContext) -> Observation:
    ts = _tenants(ctx)
    if ts is None or ctx.expected is ACCEPT:
        return unobservable("no tenants with SAML switched on as a whole")
    if not {"add_local_user", "password_login"} <= set(ctx.target.hooks):
        return Observation(signed_in=None, intended=None, observable=False,
                           note="the target has no add_local_user / password_login hooks")
    u = ctx.new_user(tenants=[ts[0]])
    email, pw = ctx.email_of(u), new_password()
    role = (ctx.profile.roles.vocabulary[-1] if ctx.profile.roles and ctx.profile.roles.vocabulary
            else "Editor")
    need_ok(ctx, "add_local_user", email=email, password=pw, tenants=[ts[0]], role=role)
    password_sign_in(ctx, email, pw)
    obs = Observation(signed_in=ctx.whoami(), intended=email)
    if obs.accepted:
        obs.note = f"a local user of SAML tenant {ts[0]} signed in with a password"
    return obs



def _other_idp_metadata(ctx: ScenarioContext, entity_id: str) -> str:
    """Another IdP's metadata: the run's IdP metadata under a different entityID."""
    from lxml import etree

    raw = ctx.idp.metadata_xml()
    root = etree.fromstring(raw if isinstance(raw, bytes) else raw.encode())
    root.set("entityID", entity_id)
    return etree.tostring(root, encoding="unicode")


@scenario(
    "RF-ONE-IDP",
    "An IdP grants only the tenants bound to it: a tenant of another IdP in tenantid is ignored",
    category="contract",
    refs=(f"{SEED}: 'One SAML IdP per location'",
          f"{SEED}: 'You cannot mix or chain multiple IdPs for a single location'",
          "catalogue KEY-07"),
    needs=("sp_initiated", "one_idp_per_tenant", "tenant_admin"),
    expect=ACCEPT,
    fix_hint="Grant a tenant only when the assertion comes from the one IdP configured for that "
             "tenant; ignore (or refuse) tenants of other IdPs.",
)
def rf_one_idp(ctx: ScenarioContext) -> Observation:
    ts = _tenants(ctx)
    if ts is None or ctx.profile.tenants is None or not ctx.profile.tenants.one_idp_per_tenant:
        return unobservable("no one-IdP-per-tenant rule")
    if not {"add_idp", "add_tenant"} <= set(ctx.target.hooks):
        return Observation(signed_in=None, intended=None, observable=False,
                           note="the target has no add_idp / add_tenant hooks")
    n = ctx.runtime.next_seed()
    idp_id, foreign = f"other{n}", f"foreign{n}"
    ctx.add_idp(idp_id, _other_idp_metadata(ctx, f"urn:samlconf:other-idp:{n}"))
    need_ok(ctx, "add_tenant", tenant=foreign, idp_id=idp_id)
    user = ctx.new_user(tenants=[ts[0], foreign])
    ctx.sp_login(user, tenant=ts[0])
    obs = ctx.observe(user)
    seen = me(ctx)
    obs.refusal_ok = "refusing the whole login grants no tenant of another IdP either"
    if not shows(obs, seen, "tenants"):
        return obs
    got = sorted(seen.get("tenants") or [])
    obs.check(f"tenant {foreign} of another IdP not granted", foreign not in got,
              f"the run's IdP granted {got}, including {foreign} (bound to IdP {idp_id})", always=True)
    obs.check(f"own tenant {ts[0]} granted", ts[0] in got, f"tenants {got}")
    return obs


# --- roles ------------------------------------------------------------------------------------------
@scenario(
    "RF-ROLE-UNKNOWN",
    "A role outside the vocabulary refuses the sign-in: nobody provisioned, never a default role",
    category="contract",
    refs=(f"{SEED}: 'The following roles can be assigned to users via the role attribute'",
          f"{SEED}: 'RedFlag relies on these assignments to correctly authorize and provision user "
          "access'", "catalogue ATTR-09 (deny by default)"),
    needs=("sp_initiated", "role_vocabulary"),
    expect=REJECT,
    fix_hint="Refuse the sign-in when the role attribute is not one of the contract's roles (or "
             "their aliases); never provision a default role.",
)
def rf_role_unknown(ctx: ScenarioContext) -> Observation:
    user = ctx.new_user(role="Owner")
    ctx.sp_login(user)
    obs = ctx.observe(user)
    obs.note = "role 'Owner' (not in the vocabulary)"
    return obs


# --- tenants: sign-on URL, grants, switching -------------------------------------------------------
@scenario(
    "RF-TENANT-URL",
    "The tenant's sign-on URL ?saml=<tenant> signs the user in to that tenant",
    category="contract",
    refs=(f"{SEED}: 'A unique Sign-On URL (e.g., https://us.redflaghub.com/?saml=tenantname)'",),
    needs=("sp_initiated", "tenants"),
    expect=ACCEPT,
    fix_hint="Start SSO with the tenant named in the sign-on URL and make it the session's current "
             "tenant after sign-in.",
)
def rf_tenant_url(ctx: ScenarioContext) -> Observation:
    pair = _two_tenants(ctx)
    if isinstance(pair, Observation):
        return pair
    a, b = pair
    user = ctx.new_user(tenants=[a, b])
    ctx.sp_login(user, tenant=b)
    obs = ctx.observe(user)
    seen = me(ctx)
    if not shows(obs, seen, "current_tenant"):
        return obs
    cur = seen.get("current_tenant")
    obs.check(f"current tenant is {b}, whose URL was used", cur == b,
              f"signed in through ?saml={b} (tenantid '{a},{b}'), current tenant {cur!r}")
    return obs


@scenario(
    "RF-TENANT-NOT-GRANTED",
    "Signing in at the URL of a tenant the assertion does not list is refused",
    category="contract",
    refs=(f"{SEED}: 'the user can use the SAML login URL for any of the specified tenants'",
          f"{SEED}: 'tenantid – Must contain the value'"),
    needs=("sp_initiated", "tenants"),
    expect=REJECT,
    fix_hint="Refuse the sign-in when the tenant of the sign-on URL is not in the assertion's "
             "tenantid.",
)
def rf_tenant_not_granted(ctx: ScenarioContext) -> Observation:
    pair = _two_tenants(ctx)
    if isinstance(pair, Observation):
        return pair
    a, b = pair
    user = ctx.new_user(tenants=[a])
    ctx.sp_login(user, tenant=b)
    obs = ctx.observe(user)
    obs.note = f"tenantid '{a}', signed in at ?saml={b}"
    return obs


def _switch(ctx: ScenarioContext, tenant: str) -> None:
    from .session import hook_body

    fields = hook_body(ctx, "switch_tenant", tenant=tenant) or {"tenant": tenant}
    ctx.session.navigate(ctx.target.url(ctx.target.hooks["switch_tenant"].url), method="POST",
                         data={k: str(v) for k, v in fields.items()})


@scenario(
    "RF-SWITCH",
    "A signed-in user switches to another granted tenant, never to one not granted",
    category="contract",
    refs=(f"{SEED}: 'Once logged in, the user can switch between locations within the RedFlag "
          "platform'",),
    needs=("sp_initiated", "tenants", "tenant_switch"),
    expect=ACCEPT,
    fix_hint="Let the user switch only among the tenants their latest assertion granted.",
)
def rf_switch(ctx: ScenarioContext) -> Observation:
    pair = _two_tenants(ctx)
    if isinstance(pair, Observation):
        return pair
    a, b = pair
    both = ctx.new_user(tenants=[a, b])
    ctx.sp_login(both, tenant=a)
    _switch(ctx, b)
    switched_seen = me(ctx)
    switched = switched_seen.get("current_tenant")
    ctx.restart()
    one = ctx.new_user(tenants=[a])
    ctx.sp_login(one, tenant=a)
    _switch(ctx, b)
    obs = ctx.observe(one)
    seen = me(ctx)
    if not (shows(obs, switched_seen, "current_tenant") and shows(obs, seen, "current_tenant")):
        return obs
    cur = seen.get("current_tenant")
    obs.check(f"a user granted {a} and {b} switches to {b}", switched == b,
              f"current tenant after switching: {switched!r}")
    obs.check(f"a user granted only {a} cannot switch to {b}", cur == a,
              f"current tenant after asking for {b}: {cur!r}")
    return obs


# --- changes between logins --------------------------------------------------------------------------
_REPROVISION_REF = (f"{SEED}: 'RedFlag will automatically deprovision and reprovision access based "
                    "on the updated tenantid values in the next SAML assertion upon login'",)


@scenario(
    "RF-TENANT-ADDED",
    "A tenant added to tenantid between logins is granted at the next login",
    category="contract",
    refs=(f"{SEED}: 'If the set of tenants a user has access to changes'", *_REPROVISION_REF),
    needs=("sp_initiated", "tenants"), expect=ACCEPT,
    fix_hint="At each login replace the user's tenants with exactly those of the latest assertion "
             "(added ones granted).",
)
def rf_tenant_added(ctx: ScenarioContext) -> Observation:
    pair = _two_tenants(ctx)
    if isinstance(pair, Observation):
        return pair
    a, b = pair
    user = ctx.new_user(tenants=[a])
    ctx.sp_login(user, tenant=a)
    first_seen = me(ctx)
    first = sorted(first_seen.get("tenants") or [])
    ctx.restart()
    later = user.with_attributes(**{ctx.profile.attributes.tenant: [f"{a},{b}"]})
    ctx.sp_login(later, tenant=a)
    obs = ctx.observe(later)
    seen = me(ctx)
    if not (shows(obs, first_seen, "tenants") and shows(obs, seen, "tenants")):
        return obs
    got = sorted(seen.get("tenants") or [])
    obs.check("first login granted one tenant", first == [a], f"first login: {first}")
    obs.check(f"tenant {b} granted at the next login", got == sorted([a, b]),
              f"the second login sent tenantid '{a},{b}'; the user has {got}")
    return obs


@scenario(
    "RF-ROLE-CHANGED",
    "A role changed at the IdP between logins takes effect at the next login",
    category="contract",
    refs=(f"{SEED}: 'These role assignments are passed to RedFlag during login'",
          f"{SEED}: 'any user updates (such as adding or removing users) will need to be managed via "
          "your SAML provider'"),
    needs=("sp_initiated", "role_vocabulary"),
    expect=ACCEPT,
    fix_hint="Update the user's role from the role attribute at every sign-in.",
)
def rf_role_changed(ctx: ScenarioContext) -> Observation:
    vocab = list(ctx.profile.roles.vocabulary) if ctx.profile.roles else []
    if len(vocab) < 2:
        return unobservable("the role vocabulary needs two roles")
    r1, r2 = vocab[-1], vocab[-2]
    user = ctx.new_user(role=r1)
    ctx.sp_login(user)
    first_seen = me(ctx)
    first = first_seen.get("role")
    ctx.restart()
    later = user.with_attributes(**{ctx.profile.attributes.role: [r2]})
    ctx.sp_login(later)
    obs = ctx.observe(later)
    seen = me(ctx)
    if not (shows(obs, first_seen, "role") and shows(obs, seen, "role")):
        return obs
    got = seen.get("role")
    obs.check(f"first login gave {r1!r}", first == r1, f"first login: {first!r}")
    obs.check(f"the role is {r2!r} after the change", got == r2,
              f"the second login sent role {r2!r}; the SP has {got!r}")
    return obs
