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
