"""RF: the redflag contract (shared/seeds/002_...): tenants, roles and their alias, local users.

Each rule runs under any profile that states it (`tenants`, `roles.aliases`, the tenant attribute)
and is vacuous (the valid baseline, with a note) elsewhere.
"""
from __future__ import annotations

from typing import Any

from harness.context import ScenarioContext
from harness.registry import ACCEPT, REJECT, scenario
from harness.verdict import Observation

from .session import need_ok, new_password, unobservable, password_sign_in

SEED = "seed redflag"


def _tenants(ctx: ScenarioContext) -> list[str] | None:
    if ctx.profile.tenants is None or not ctx.profile.attributes.tenant:
        return None
    return list(ctx.target.testdata.tenants)


def _me(ctx: ScenarioContext) -> dict[str, Any]:
    data = ctx.whoami_data()
    return data if isinstance(data, dict) else {}


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
    refs=(f"{SEED}: 'list the tenantid values in the tenantid attribute, separated by commas'",
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
    me = _me(ctx)
    got = sorted(me.get("tenants") or [])
    obs.check("every listed tenant granted", got == sorted([a, b]),
              f"tenantid '{a},{b}' gave the tenants {got}")
    obs.check("signed in to the tenant whose URL was used", me.get("current_tenant") in (b, None),
              f"current tenant {me.get('current_tenant')!r}, login URL was for {b!r}")
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
    first = sorted(_me(ctx).get("tenants") or [])
    ctx.restart()
    later = user.with_attributes(**{ctx.profile.attributes.tenant: [a]})
    ctx.sp_login(later, tenant=a)
    obs = ctx.observe(later)
    got = sorted(_me(ctx).get("tenants") or [])
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
    got = _me(ctx).get("role")
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
    need_ok(ctx, "add_idp", idp_id=idp_id,
            metadata_xml=_other_idp_metadata(ctx, f"urn:samlconf:other-idp:{n}"))
    need_ok(ctx, "add_tenant", tenant=foreign, idp_id=idp_id)
    user = ctx.new_user(tenants=[ts[0], foreign])
    ctx.sp_login(user, tenant=ts[0])
    obs = ctx.observe(user)
    got = sorted(_me(ctx).get("tenants") or [])
    obs.check(f"tenant {foreign} of another IdP not granted", foreign not in got,
              f"the run's IdP granted {got}, including {foreign} (bound to IdP {idp_id})")
    obs.check(f"own tenant {ts[0]} granted", ts[0] in got, f"tenants {got}")
    return obs
