"""SES / PROV: the SP's own sessions: fixation, RelayState redirects, and deprovisioning.

Also the small helpers the contract scenarios share: calling an admin hook with per-call values
(`hook`), signing a local user in with a password in the scenario's own session (`password_sign_in`)
and the vacuous baseline for rules a profile does not state (`not_applicable`).
"""
from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from harness.context import ScenarioContext
from harness.errors import HarnessError, TargetError
from harness.registry import ACCEPT, REJECT, scenario
from harness.target import expand_env
from harness.verdict import Observation

EVIL = "https://evil.samlconf.invalid/phish"


# --- helpers ---------------------------------------------------------------------------------------
def _fill(value: Any, values: dict[str, Any]) -> Any:
    """Placeholders in a hook's static JSON body: "{name}" alone takes the value as is (a boolean,
    a list, an object); inside a longer string it is replaced as text."""
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in values:
            return values[value[1:-1]]
        for k, v in values.items():
            value = value.replace("{" + k + "}", str(v))
    return value


def hook_body(ctx: ScenarioContext, name: str, **values: Any) -> dict[str, Any] | None:
    hook = ctx.target.hooks.get(name)
    if hook is None:
        raise HarnessError(f"target has no {name!r} hook")
    return _fill(hook.json_body, values) if hook.json_body is not None else None


def hook(ctx: ScenarioContext, name: str, **values: Any) -> tuple[int, Any]:
    """Call the target's hook `name` with per-call values in its URL and JSON body.

    `Runtime.call_hook` sends the TOML's JSON body unchanged and raises on any 4xx; the lifecycle
    scenarios need per-call bodies (emails, account numbers) and need to see a refusal (403) as an
    answer, not an error. So this sends the hook itself through the run's HTTP client
    (`ctx.runtime._http`, documented last resort until `call_hook` fills body placeholders and can
    return the status). Returns (status, JSON at the hook's json_path; on 4xx the whole JSON)."""
    hook_def = ctx.target.hooks.get(name)
    if hook_def is None:
        raise HarnessError(f"target has no {name!r} hook")
    where = f"hooks.{name}"
    url = expand_env(ctx.target.url(hook_def.url, **{k: str(v) for k, v in values.items()}),
                     where, ctx.runtime.secrets)
    headers = {k: expand_env(v, where, ctx.runtime.secrets) for k, v in hook_def.headers.items()}
    body = hook_body(ctx, name, **values)
    try:
        resp = ctx.runtime._http.request(hook_def.method, url, headers=headers, json=body)
    except Exception as exc:  # noqa: BLE001 - any transport problem is the target's
        raise TargetError(f"hook {name} {url}: {type(exc).__name__}: {exc}") from None
    if resp.status_code >= 500:
        raise TargetError(f"hook {name} {url}: HTTP {resp.status_code}")
    try:
        data = resp.json() if resp.content else None
    except ValueError:
        data = None
    if resp.status_code < 400 and hook_def.json_path:
        from harness.runtime import json_path

        data = json_path(data, hook_def.json_path)
    return resp.status_code, data


def need_ok(ctx: ScenarioContext, name: str, **values: Any) -> Any:
    """A setup step that must succeed; a refusal is the harness's problem (error), not a finding."""
    status, data = hook(ctx, name, **values)
    if status >= 400:
        detail = data.get("error") if isinstance(data, dict) else data
        raise TargetError(f"setup hook {name} answered HTTP {status}: {detail}")
    return data


def password_sign_in(ctx: ScenarioContext, email: str, password: str) -> None:
    """Sign a local user in with a password, in the scenario's own session (http driver: a form
    POST to the `password_login` hook's URL)."""
    hook_def = ctx.target.hooks.get("password_login")
    if hook_def is None:
        raise HarnessError("target has no 'password_login' hook")
    fields = hook_body(ctx, "password_login", email=email, password=password) or {}
    url = ctx.target.url(hook_def.url)
    try:
        ctx.session.navigate(url, method="POST", data={k: str(v) for k, v in fields.items()})
    except TypeError:
        raise HarnessError("password sign-in is driven with the http driver only") from None


def new_password() -> str:
    return "pw-" + secrets.token_urlsafe(12)


def new_account_id(ctx: ScenarioContext) -> str:
    """A fresh, numeric account number no other scenario of this run uses."""
    return "7" + str(ctx.runtime.next_seed())


def not_applicable(ctx: ScenarioContext, why: str) -> Observation:
    """The profile does not state this rule: run the valid baseline so the verdict still says
    something true about the SP, and say why in the note."""
    user = ctx.new_user()
    ctx.sp_login(user)
    obs = ctx.observe(user)
    obs.note = f"rule does not apply under profile {ctx.profile.name} ({why}): baseline login only"
    return obs


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


@scenario(
    "SES-01",
    "A sign-in issues a new session identifier: a session id known before the login is worthless",
    category="session",
    refs=("catalogue SES-01", "OWASP ASVS 3.2.1 (new session token on authentication)",
          "CWE-384 session fixation"),
    needs=("sp_initiated",),
    expect=REJECT,
    fix_hint="At every successful SAML sign-in, discard the browser's existing session (server "
             "side too) and issue a new, random session identifier.",
)
def ses_01(ctx: ScenarioContext) -> Observation:
    # The attacker gets a session at the SP and keeps a copy of its cookies ...
    attacker = ctx.new_user()
    ctx.sp_login(attacker)
    if ctx.whoami() is None:
        obs = Observation(signed_in=None, intended=None, observable=False,
                          note="the attacker's own baseline login did not sign in")
        return obs
    known = _cookies(ctx.session)
    # ... which the victim's browser carries (planted) when the victim signs in.
    victim = ctx.new_user()
    ctx.sp_login(victim)
    victim_in = ctx.whoami()
    # The attacker replays the pre-login cookies in a browser of their own.
    ctx.restart()
    _plant(ctx.session, known)
    obs = Observation(signed_in=ctx.whoami(), intended=ctx.email_of(victim))
    obs.check("the victim's own sign-in worked", victim_in == ctx.email_of(victim),
              f"whoami after the victim's login said {victim_in!r}")
    if obs.signed_in is not None:
        obs.note = "the session identifier from before the login still works after it"
    return obs


# --- SES-04: open redirect through RelayState --------------------------------------------------
@scenario(
    "SES-04",
    "RelayState naming a foreign absolute URL does not send the user off-site after sign-in",
    category="session",
    refs=("catalogue SES-04", "catalogue AREQ-12", "Bindings 3.4.3 / 3.5.3 (RelayState)",
          "CWE-601 open redirect"),
    needs=("sp_initiated",),
    expect=ACCEPT,
    fix_hint="After sign-in redirect only to relative paths on this SP (or an allow-list); treat "
             "any absolute or scheme-relative RelayState as '/'.",
)
def ses_04(ctx: ScenarioContext) -> Observation:
    user = ctx.new_user()
    tmpl = ctx.target.login.sp_initiated_url or ""
    if "{relay_state}" in tmpl:
        how = "SP-initiated login with RelayState"
        run = lambda: ctx.sp_login(user, relay_state=EVIL)  # noqa: E731
    elif ctx.profile.flows.idp_initiated:
        how = "IdP-initiated login with RelayState"
        run = lambda: ctx.idp_login(user, relay_state=EVIL)  # noqa: E731
    else:
        return not_applicable(ctx, "no way to hand the SP a RelayState: the target's login URL "
                                   "takes no {relay_state} and the profile refuses IdP-initiated "
                                   "login")
    left = ""
    final = ""
    try:
        page = run()
        final = page.url
    except TargetError as exc:
        if "outside the target" not in str(exc):
            raise
        left = str(exc)
    obs = ctx.observe(user, store_check=False)
    obs.check("the SP did not redirect to the RelayState's foreign URL", not left,
              f"{how}: {left}")
    if final:
        host = urlsplit(final).netloc
        obs.check("the browser ended on the SP", host != urlsplit(EVIL).netloc, final)
    return obs


# --- PROV-DELETE: deprovisioning ends sessions ------------------------------------------------
@scenario(
    "PROV-DELETE",
    "Deleting (deprovisioning) a user ends their sessions at once",
    category="provisioning",
    refs=("seed redis_cloud: 'Deprovision SAML users ... they cannot access the console'",
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
