"""SES / PROV: the SP's own sessions: fixation and deprovisioning (RelayState: scenarios/relay.py).

Also the small helpers the contract scenarios share: calling an admin hook with per-call values
(`hook`), signing a local user in with a password in the scenario's own session (`password_sign_in`)
and `unobservable` for guards that the scenarios' `needs` make unreachable.
"""
from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from harness.context import ScenarioContext
from harness.errors import HarnessError, TargetError
from harness.registry import ACCEPT, REJECT, scenario
from harness.runtime import fill_placeholders
from harness.verdict import Observation

EVIL = "https://evil.samlconf.invalid/phish"


# --- helpers ---------------------------------------------------------------------------------------
def hook_body(ctx: ScenarioContext, name: str, **values: Any) -> dict[str, Any] | None:
    hook = ctx.target.hooks.get(name)
    if hook is None:
        raise HarnessError(f"target has no {name!r} hook")
    return fill_placeholders(hook.json_body, values) if hook.json_body is not None else None


def hook(ctx: ScenarioContext, name: str, **values: Any) -> tuple[int, Any]:
    """Call the target's hook `name` with per-call values; a refusal (4xx) is an answer here.
    Returns (status, JSON at the hook's json_path; on 4xx the whole JSON)."""
    return ctx.runtime.call_hook_status(name, **values)


def need_ok(ctx: ScenarioContext, name: str, **values: Any) -> Any:
    """A setup step that must succeed; a refusal is the target's problem (error), not a finding."""
    return ctx.runtime.call_hook(name, **values)


def password_sign_in(ctx: ScenarioContext, email: str, password: str) -> None:
    """Sign a local user in with a password, in the scenario's own session (a form POST to the
    `password_login` hook's URL, with the session's cookies; both drivers)."""
    hook_def = ctx.target.hooks.get("password_login")
    if hook_def is None:
        raise HarnessError("target has no 'password_login' hook")
    fields = hook_body(ctx, "password_login", email=email, password=password) or {}
    url = ctx.target.url(hook_def.url)
    ctx.session.navigate(url, method="POST", data={k: str(v) for k, v in fields.items()})


def new_password() -> str:
    return "pw-" + secrets.token_urlsafe(12)


def new_account_id(ctx: ScenarioContext) -> str:
    """A fresh, numeric account number no other scenario of this run uses."""
    return "7" + str(ctx.runtime.next_seed())


def unobservable(why: str) -> Observation:
    """A guard the scenario's `needs` should make unreachable: if it is reached anyway, the verdict
    is inconclusive, never a pass."""
    return Observation(signed_in=None, intended=None, observable=False, note=why)


# --- SES-01: session fixation -------------------------------------------------------------------
def _cookies(session: Any) -> list[dict[str, Any]]:
    client = getattr(session, "client", None)
    if client is not None:  # http driver
        return [{"name": c.name, "value": c.value, "domain": c.domain, "path": c.path}
                for c in client.cookies.jar]
    context = getattr(session, "context", None)
    if context is not None:  # browser driver
        return list(context.cookies())
    raise HarnessError("this driver's session exposes no cookies")


def _plant(session: Any, cookies: list[dict[str, Any]]) -> None:
    client = getattr(session, "client", None)
    if client is not None:
        for c in cookies:
            client.cookies.set(c["name"], c["value"], domain=c.get("domain") or "",
                               path=c.get("path") or "/")
        return
    session.context.add_cookies(cookies)


def _idp_form_login(ctx: ScenarioContext, user: Any) -> tuple[list[dict[str, Any]], str]:
    """SP-initiated login that stops at the IdP's login page (no plan: a person would pick a user
    there), so the cookies the SP set before the login can be copied; then the IdP's form is
    filled in for `user` and the Response carried to the ACS. Returns (pre-login cookies, names)."""
    from mock_idp.idp import PLAN_COOKIE, SESSION_COOKIE

    login = ctx.target.login
    values = {"email": ctx.email_of(user), "tenant": (user.attributes.get(ctx.profile.attributes.tenant or "")
                                                      or [""])[0].split(",")[0],
              "relay_state": login.relay_state}
    if login.sp_initiated_url:
        page = ctx.session.navigate(ctx.target.url(login.sp_initiated_url, **values))
    else:
        fields = {k: str(fill_placeholders(v, values)) for k, v in login.form_fields.items()}
        page = ctx.session.fill_form(ctx.target.url(login.form_url or "", **values), fields)
    pre = [c for c in _cookies(ctx.session) if c.get("name") not in (PLAN_COOKIE, SESSION_COOKIE)]
    if 'name="pending"' not in (page.text or ""):
        raise TargetError(f"the SP-initiated login did not reach the IdP's login page (ended at {page.url})")
    # the person at the IdP types the user in (the request's NameID policy applies, as in any login)
    attrs = "\n".join(f"{k}: {v}" for k, vals in user.attributes.items() for v in vals)
    ctx.session.fill_form(page.url, {"name_id": user.name_id, "attributes": attrs})
    return pre, ", ".join(sorted({str(c.get("name")) for c in pre})) or "none"


def _shown_with(ctx: ScenarioContext, cookies: list[dict[str, Any]]) -> str | None:
    """Who the SP shows to a fresh browser holding only `cookies`."""
    ctx.restart()
    _plant(ctx.session, cookies)
    return ctx.whoami()


@scenario(
    "SES-01",
    "A sign-in issues a new session identifier: a session id known before the login never carries "
    "the signed-in identity",
    category="session",
    refs=("catalogue SES-01", "OWASP ASVS 3.2.1 (new session token on authentication)",
          "CWE-384 session fixation"),
    needs=("sp_initiated",),
    expect=REJECT,
    fix_hint="At every successful SAML sign-in, discard the browser's existing session (server "
             "side too) and issue a new, random session identifier.",
)
def ses_01(ctx: ScenarioContext) -> Observation:
    """Fixation is an attacker's session id that becomes the victim's signed-in session. Two ways an
    attacker knows an id from before the login, each then replayed alone in a fresh browser:
    (a) the anonymous session the SP sets when the login starts (copied at the IdP, before the ACS);
    (b) the attacker's own signed-in session, planted in the victim's browser before the victim
    signs in. Only the victim's identity behind a pre-login id is a finding; an old cookie that
    still shows the attacker's own earlier session is not fixation (the SP rotated the id)."""
    victim = ctx.new_user()
    email = ctx.email_of(victim)
    pre, names = _idp_form_login(ctx, victim)
    victim_in = ctx.whoami()
    if victim_in != email:
        return Observation(signed_in=None, intended=None, observable=False,
                           note=f"the victim's own sign-in did not work (whoami: {victim_in!r})")
    seen_a = _shown_with(ctx, pre) if pre else None
    if seen_a == email:
        return Observation(signed_in=seen_a, intended=email,
                           note=f"variant (a): the cookies set before the login ({names}) alone carry the "
                                "signed-in identity")
    # (b) the attacker's signed-in cookies in the victim's browser, then the victim signs in
    ctx.restart()
    attacker = ctx.new_user()
    ctx.sp_login(attacker)
    if ctx.whoami() != ctx.email_of(attacker):
        return Observation(signed_in=None, intended=None, observable=False,
                           note="variant (b): the attacker's own login did not sign in")
    planted = _cookies(ctx.session)
    victim2 = ctx.new_user()
    ctx.sp_login(victim2)
    if ctx.whoami() != ctx.email_of(victim2):
        return Observation(signed_in=None, intended=None, observable=False,
                           note="variant (b): the victim's sign-in over the planted cookies did not work")
    seen_b = _shown_with(ctx, planted)
    if seen_b == ctx.email_of(victim2):
        return Observation(signed_in=seen_b, intended=ctx.email_of(victim2),
                           note="variant (b): the attacker's session id from before the victim's login "
                                "now carries the victim's identity")
    a = f"(a) cookies set before the login ({names}) show {seen_a or 'nobody'}" if pre else \
        "(a) the SP set no cookie before the login"
    b = f"(b) the attacker's earlier session cookie shows {seen_b or 'nobody'}" + \
        (" (their own session, not the victim's: not fixation)" if seen_b else "")
    return Observation(signed_in=None, intended=email, note=f"{a}; {b}")


# --- PROV-DELETE: deprovisioning ends sessions ------------------------------------------------
@scenario(
    "PROV-DELETE",
    "Deleting (deprovisioning) a user ends their sessions at once",
    category="provisioning",
    refs=("seed redis_cloud: 'When a user is removed from your identity provider, their access to Redis "
          "Cloud should also be removed'",
          "OWASP ASVS 3.3.1"),
    needs=("sp_initiated", "delete_user"),
    expect=REJECT,
    fix_hint="Look the user up on every request (or revoke their sessions on delete): a session "
             "must never outlive its user.",
)
def prov_delete(ctx: ScenarioContext) -> Observation:
    user = ctx.new_user()
    email = ctx.email_of(user)
    ctx.sp_login(user)
    before = ctx.whoami()
    if before != email:
        return Observation(signed_in=None, intended=email, observable=False,
                           note=f"the user's login did not sign them in (whoami: {before!r})")
    need_ok(ctx, "delete_user", email=email)
    obs = ctx.observe(user)  # expected REJECT: nobody signed in, and no such user in the store
    obs.note = "after deleting the signed-in user"
    return obs


# --- SES-02: login CSRF via an unsolicited Response ---------------------------------------------
@scenario(
    "SES-02",
    "An attacker's own unsolicited Response posted into a signed-in browser never silently replaces "
    "the session there (login CSRF)",
    category="session",
    refs=("catalogue SES-02", "catalogue IRT-05",
          "OWASP SAML cheat sheet ('lack of login CSRF protection'; IdP-initiated SSO: 'general "
          "security recommendation is to not support')"),
    needs=("sp_initiated",),
    expect=REJECT,
    level="SHOULD",
    fix_hint="Refuse unsolicited Responses (SP-initiated only), or, where IdP-initiated sign-on is "
             "supported, never let one replace an existing session of another user: ask the user "
             "to confirm (an interstitial) or to sign out first.",
)
def ses_02(ctx: ScenarioContext) -> Observation:
    """The victim signs in; then the attacker's own valid, genuinely signed unsolicited Response
    arrives in the same browser (a third-party page auto-posting it to the ACS). Where the SP
    refuses IdP-initiated sign-on the catalogue expects REJECT (IRT-05); where it takes it, the
    attacker's identity must not silently take the victim's session over. The attacker signed in
    is the finding; the victim kept (or signed out) is not."""
    victim = ctx.new_user()
    mine = ctx.email_of(victim)
    ctx.sp_login(victim)
    if ctx.whoami() != mine:
        return unobservable("the victim's own sign-in did not work")
    attacker = ctx.new_user()
    page = ctx.idp_login(attacker)
    obs = ctx.observe(attacker, store_check=False)
    if obs.signed_in == mine:
        obs.signed_in = None  # the victim's session was kept: the attacker's Response was not taken
        obs.note = f"the victim {mine} is still signed in; the unsolicited Response for " \
                   f"{ctx.email_of(attacker)} ended at {getattr(page, 'url', '?')}"
    elif obs.signed_in is None:
        obs.note = "nobody is signed in: the victim's session ended, the attacker's Response was not taken"
    else:
        obs.note = f"after the attacker's unsolicited Response the browser of {mine} shows {obs.signed_in}"
    return obs


# --- SES-03: session switch A -> B -------------------------------------------------------------
def _grants(ctx: ScenarioContext) -> tuple[Any, Any]:
    """(accounts or tenants, role) that whoami shows for this session."""
    me = ctx.whoami_data()
    me = me if isinstance(me, dict) else {}
    if ctx.profile.attributes.account_mapping:
        return dict(me.get("accounts") or {}), None
    return sorted(me.get("tenants") or []), me.get("role")


def _two_grants(ctx: ScenarioContext) -> tuple[dict[str, Any], dict[str, Any], Any, Any]:
    """User overrides for A (more, and higher, grants) and B (fewer, lower), and what B must get."""
    data = ctx.target.testdata
    if ctx.profile.attributes.account_mapping:
        roles = list(ctx.profile.accounts.roles) if ctx.profile.accounts else ["owner", "viewer"]
        a = [f"{acc}={roles[0]}" for acc in data.accounts]
        b = [f"{data.accounts[0]}={roles[-1]}"]
        return {"accounts": a}, {"accounts": b}, {data.accounts[0]: roles[-1]}, None
    vocab = list(ctx.profile.roles.vocabulary) if ctx.profile.roles else []
    return ({"tenants": list(data.tenants), "role": vocab[0]}, {"tenants": [data.tenants[0]], "role": vocab[-1]},
            [data.tenants[0]], vocab[-1])


@scenario(
    "SES-03",
    "A sign-in as user B in a browser signed in as user A is a clean switch (or refused): nothing of "
    "A's accounts, tenants or role is merged into B's session",
    category="session",
    refs=("catalogue SES-03 (session integrity: clean switch or reject)",
          "OWASP ASVS 3.2.1 (new session token on authentication)"),
    needs=("sp_initiated", "role_rule"),
    expect=ACCEPT,
    fix_hint="At every sign-in, discard the previous session and everything cached in it; build the "
             "new session only from the new assertion (and the store's record of that user).",
)
def ses_03(ctx: ScenarioContext) -> Observation:
    over_a, over_b, want, want_role = _two_grants(ctx)
    a, b = ctx.new_user(**over_a), ctx.new_user(**over_b)
    ea, eb = ctx.email_of(a), ctx.email_of(b)
    ctx.sp_login(a)
    if ctx.whoami() != ea:
        return unobservable("user A's own sign-in did not work")
    grants_a = _grants(ctx)
    ctx.sp_login(b)  # same browser, A still signed in
    obs = ctx.observe(b)
    got, role = _grants(ctx)
    if obs.signed_in == ea:
        obs.signed_in = None  # A kept: the switch was refused
        obs.refusal_ok = "the SP kept A's session and refused the switch (the catalogue's 'reject')"
        obs.check("A's session unchanged", _grants(ctx) == grants_a, f"A now has {got}, role {role!r}",
                  always=True)
        obs.note = f"A ({ea}) is still signed in after B's Response"
        return obs
    if obs.signed_in == eb:
        obs.check("B has exactly B's grants, nothing of A's", got == want,
                  f"B ({eb}) asserted {want}, the session shows {got}; A ({ea}) had {grants_a[0]}")
        if want_role is not None:
            obs.check("B has B's role, not A's", role == want_role,
                      f"B asserted {want_role!r}, the session shows {role!r}; A had {grants_a[1]!r}")
    if obs.signed_in is None:
        obs.refusal_ok = "refusing B's sign-in merges nothing (the catalogue's 'reject')"
    obs.note = f"A ({ea}) with {grants_a[0]}, then B ({eb}) asserting {want} in the same browser"
    return obs
