"""RLY and SES-04: RelayState after sign-in and logout: kept, bounded, never an open redirect.

The rule these share: the SP may accept or refuse the login (a refusal is a safe outcome:
`Observation.refusal_ok`), but it must never send the browser off its own origin because of a
RelayState, nor write it into a page unescaped, nor follow a tampered one: that check counts
whether or not the user was signed in (`Check.always`).

"Off-origin" is judged as a browser would: a redirect the driver refused because it left the
target (the http driver resolves a Location as a browser does: tabs and newlines dropped, a
backslash read as a slash, so `/\\evil.example` leaves for evil.example, while
`https://sp.example//evil.example` stays on sp.example), or a script-scheme Location.
"""
from __future__ import annotations

import secrets
from typing import Any, Callable
from urllib.parse import quote, urlsplit

from harness.context import ScenarioContext
from harness.errors import TargetError
from harness.events import Hop
from harness.registry import ACCEPT, scenario
from harness.verdict import Observation

EVIL_HOST = "evil.samlconf.invalid"
EVIL = f"https://{EVIL_HOST}/phish"
RLY_HINT = ("After sign-in redirect only to a relative path on this SP (or an allow-list), and treat "
            "anything else (absolute, scheme-relative, backslashes, control characters, script "
            "schemes, over 80 bytes) as '/'. For SP-initiated logins keep the deep link server-side "
            "and send the IdP an opaque handle.")


# --- delivering a RelayState ------------------------------------------------------------------------
def _sp_relay(ctx: ScenarioContext) -> bool:
    return "{relay_state}" in (ctx.target.login.sp_initiated_url or "")


def _flow(ctx: ScenarioContext, prefer_idp: bool = True) -> str:
    """'idp' (unsolicited, the RelayState goes straight to the SP) where the profile supports it,
    else 'sp' (the SP-initiated login URL's {relay_state}, the deep link the SP keeps)."""
    if ctx.runtime.accepts_unsolicited and (prefer_idp or not _sp_relay(ctx)):
        return "idp"
    return "sp"


def _login_with_relay(ctx: ScenarioContext, user: Any, value: str, flow: str, **options: Any) -> tuple[str, Any]:
    """Sign `user` in carrying `value` as RelayState; returns (off-target error or "", final page)."""
    try:
        if flow == "idp":
            page = ctx.idp_login(user, relay_state=value, **options)
        else:
            page = ctx.sp_login(user, relay_state=quote(value, safe=""), **options)
    except TargetError as exc:
        if "outside the target" not in str(exc):
            raise
        return str(exc), None
    return "", page


def browser_reads_offsite(url: str, allowed: set[str]) -> str | None:
    """The host a browser would go to for this (already joined) URL, when it is not the target."""
    parts = urlsplit(url)  # joined as a browser joins it (harness.drivers.http.browser_join)
    if parts.scheme.lower() in ("javascript", "data", "vbscript"):
        return parts.scheme + ":"
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    if parts.scheme and origin not in allowed:
        return parts.netloc
    return None


def _offsite_hops(ctx: ScenarioContext, hops: list[Hop]) -> list[str]:
    allowed = {_origin(ctx.target.url("/")), _origin(ctx.runtime.idp_base_url)}
    out = []
    for h in hops:
        host = browser_reads_offsite(h.url, allowed)
        if host:
            out.append(f"{h.method} {h.url} (a browser goes to {host})")
    return out


def _origin(url: str) -> str:
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}".lower()


def _defect(ctx: ScenarioContext, user: Any, found: list[str], what: str,
            refusal: str = "refusing the login is as safe as signing in without the redirect") -> Observation:
    """"Accept, but never X": the login may succeed or be refused (`refusal_ok`); the check that X
    was not seen counts either way (`always`)."""
    obs = Observation(signed_in=ctx.whoami(), intended=ctx.email_of(user), refusal_ok=refusal)
    return obs.check(f"no {what}", not found, "; ".join(found)[:600], always=True)


def _try_values(ctx: ScenarioContext, values: list[str], what: str, flow: str | None = None,
                extra: Callable[[str, Any], str | None] | None = None) -> Observation:
    """One login per RelayState value, each in a fresh session; the first value showing the defect
    is the finding."""
    flow = flow or _flow(ctx)
    user = None
    for i, value in enumerate(values):
        if i:
            ctx.restart()
        user = ctx.new_user()
        start = len(ctx.hops)
        left, page = _login_with_relay(ctx, user, value, flow)
        found = [left] if left else _offsite_hops(ctx, ctx.hops[start:])
        if not found and extra is not None and page is not None:
            hit = extra(value, page)
            if hit:
                found = [hit]
        if found:
            return _defect(ctx, user, [f"RelayState {value!r} ({flow}-initiated)"] + found, what)
    obs = _defect(ctx, user, [], what)
    obs.note = f"{len(values)} RelayState value(s) tried ({flow}-initiated)"
    return obs


# --- RLY-01 -------------------------------------------------------------------------------------
@scenario(
    "RLY-01",
    "An absolute foreign URL as RelayState never sends the browser off the SP after sign-in",
    category="relaystate",
    refs=("catalogue RLY-01", "OWASP SAML Cheat Sheet (RelayState allow-list)", "CWE-601 open redirect",
          "Bindings 3.4.3 / 3.5.3 (RelayState)"),
    needs=("relay_state",),
    expect=ACCEPT,
    fix_hint=RLY_HINT,
)
def rly_01(ctx: ScenarioContext) -> Observation:
    return _try_values(ctx, [EVIL], "off-origin redirect")


# --- RLY-02 -------------------------------------------------------------------------------------
CONFUSING = [
    f"//{EVIL_HOST}/",
    f"/\\{EVIL_HOST}/",
    f"\\/{EVIL_HOST}/",
    f"https:{EVIL_HOST}/",
    f"%2F%2F{EVIL_HOST}/",
    f"/\t/{EVIL_HOST}/",
    f"/%0d%0aLocation:%20https://{EVIL_HOST}/",
    f"/\r\nLocation: https://{EVIL_HOST}/",
]


@scenario(
    "RLY-02",
    "Parser-confusing RelayState URLs (//host, /\\host, https:host, tab, CRLF) never lead off the SP",
    category="relaystate",
    refs=("catalogue RLY-02", "line/centraldogma#1312 (backslash/control-character bypass)",
          "windmill-labs/windmill#9225", "WHATWG URL (backslash, tab/newline stripping)", "CWE-601"),
    needs=("relay_state",),
    expect=ACCEPT,
    fix_hint=RLY_HINT,
)
def rly_02(ctx: ScenarioContext) -> Observation:
    def header_injected(value: str, page: Any) -> str | None:
        text = getattr(page, "text", "") or ""
        return "the injected Location header text reached the page" if "Location: https://" + EVIL_HOST in text \
            and "\r\n" in value else None

    return _try_values(ctx, CONFUSING, "off-origin redirect", extra=header_injected)


# --- RLY-03 -------------------------------------------------------------------------------------
SCRIPT_MARK = "samlconf" + "rly03"
SCRIPTS = [f"javascript:alert('{SCRIPT_MARK}')", f"data:text/html,<script>alert('{SCRIPT_MARK}')</script>",
           f"JaVaScRiPt:alert('{SCRIPT_MARK}')"]


@scenario(
    "RLY-03",
    "Script-scheme RelayState (javascript:, data:) is never put into a Location or a page",
    category="relaystate",
    refs=("catalogue RLY-03", "line/centraldogma#1312 (RelayState into window.location)", "CWE-79"),
    needs=("relay_state",),
    expect=ACCEPT,
    fix_hint=RLY_HINT,
)
def rly_03(ctx: ScenarioContext) -> Observation:
    def reflected(value: str, page: Any) -> str | None:
        text = getattr(page, "text", "") or ""
        return f"the page {page.url} carries {value!r}" if value in text else None

    return _try_values(ctx, SCRIPTS, "script-scheme RelayState used", extra=reflected)


# --- RLY-04 -------------------------------------------------------------------------------------
@scenario(
    "RLY-04",
    "SP-initiated: a RelayState the IdP returns changed is not followed; the SP's own deep link is",
    category="relaystate",
    refs=("catalogue RLY-04", "Bindings 3.4.3 / 3.5.3 (no integrity protection of RelayState)",
          "S2I SDP-SP21 (deep link via an SP-side handle)"),
    needs=("sp_initiated", "deep_link"),
    expect=ACCEPT,
    fix_hint="Keep the deep link in the SP's own session under the AuthnRequest ID; send the IdP an "
             "opaque handle and ignore what comes back as RelayState beyond matching it.",
)
def rly_04(ctx: ScenarioContext) -> Observation:
    user = ctx.new_user()
    mark = secrets.token_hex(6)
    asked, tampered = f"/?landing={mark}", f"/?tampered={mark}"
    start = len(ctx.hops)
    left, page = _login_with_relay(ctx, user, asked, "sp", returned_relay_state=tampered)
    found = [left] if left else _offsite_hops(ctx, ctx.hops[start:])
    final = page.url if page is not None else ""
    if f"tampered={mark}" in final or any(f"tampered={mark}" in h.url for h in ctx.hops[start:]
                                           if _origin(h.url) == _origin(ctx.target.url("/"))):
        found.append(f"the SP followed the tampered RelayState {tampered!r} (final page {final})")
    return _defect(ctx, user, found, "tampered RelayState followed")


# --- RLY-05 -------------------------------------------------------------------------------------
@scenario(
    "RLY-05",
    "A 4 KB RelayState is handled safely: refused or ignored, never used as the redirect",
    category="relaystate",
    refs=("catalogue RLY-05", "Bindings 3.4.3 / 3.5.3 (RelayState MUST NOT exceed 80 bytes)"),
    needs=("relay_state",),
    expect=ACCEPT,
    level="SHOULD",
    fix_hint="Ignore (or refuse) a RelayState over 80 bytes; never redirect to it or store it.",
)
def rly_05(ctx: ScenarioContext) -> Observation:
    mark = secrets.token_hex(4)
    big = f"/?big={mark}&pad=" + "A" * 4096

    def used(value: str, page: Any) -> str | None:
        url = getattr(page, "url", "") or ""
        return f"the SP redirected to the {len(value)}-byte RelayState ({url[:80]}...)" \
            if f"big={mark}" in url else None

    return _try_values(ctx, [big], "oversized RelayState used", extra=used)


# --- RLY-06 -------------------------------------------------------------------------------------
XSS = "/\"><script>alert('samlconf-rly06')</script>"
XSS_MARK = "<script>alert('samlconf-rly06')</script>"


@scenario(
    "RLY-06",
    "A RelayState carrying markup is never echoed unescaped into a page",
    category="relaystate",
    refs=("catalogue RLY-06", "CWE-79 reflected XSS"),
    needs=("relay_state",),
    expect=ACCEPT,
    fix_hint="HTML-encode RelayState wherever it is written into a page (auto-POST forms, error pages, "
             "'continue' links), or better never echo it.",
)
def rly_06(ctx: ScenarioContext) -> Observation:
    def reflected(value: str, page: Any) -> str | None:
        text = getattr(page, "text", "") or ""
        return f"the page {page.url} carries the RelayState's <script> unescaped" if XSS_MARK in text else None

    return _try_values(ctx, [XSS], "reflected RelayState markup", extra=reflected)


# --- RLY-07, RLY-08: logout ------------------------------------------------------------------------
@scenario(
    "RLY-07",
    "A signed Redirect LogoutRequest whose RelayState was changed after signing does not end the session",
    category="relaystate",
    refs=("Bindings 3.4.4.1 (the signature covers SAMLRequest, RelayState and SigAlg)", "catalogue RLY-07"),
    needs=("sp_initiated", "slo"),
    expect=ACCEPT,
    fix_hint="Verify the Redirect signature over the query string exactly as received, RelayState "
             "included; refuse the message when it does not verify.",
)
def rly_07(ctx: ScenarioContext) -> Observation:
    from .slo import control, logout_outcome, logout_request, sign_in

    who = sign_in(ctx)
    if isinstance(who, Observation):
        return who
    msg = logout_request(ctx, who, relay_state="/signed", relay_state_sent=EVIL)
    obs = logout_outcome(ctx, who, msg.url,
                         "a LogoutRequest with a RelayState changed after signing ended the session")
    return control(ctx, who, obs)


@scenario(
    "RLY-08",
    "Logout with a foreign RelayState never redirects off the SP (IdP- and SP-initiated logout)",
    category="relaystate",
    refs=("catalogue RLY-08", "python3-saml README (SLO open redirect)", "CWE-601"),
    needs=("sp_initiated", "slo"),
    expect=ACCEPT,
    fix_hint="After logout redirect only to same-origin paths; never to a RelayState taken from the "
             "LogoutRequest or LogoutResponse as is.",
)
def rly_08(ctx: ScenarioContext) -> Observation:
    from .slo import logout_request, sign_in

    who = sign_in(ctx)
    if isinstance(who, Observation):
        return who
    # (a) the IdP ends the session with RelayState = a foreign URL
    start = len(ctx.hops)
    found: list[str] = []
    try:
        ctx.session.navigate(logout_request(ctx, who, relay_state=EVIL).url)
    except TargetError as exc:
        if "outside the target" not in str(exc):
            raise
        found.append(f"IdP-initiated logout: {exc}")
    found += _offsite_hops(ctx, ctx.hops[start:])
    if found:
        return _defect(ctx, who.user, found, "off-origin redirect after logout", LOGGED_OUT)
    # (b) the SP starts logout; the IdP answers with RelayState = a foreign URL
    ctx.restart()
    who = sign_in(ctx)
    if isinstance(who, Observation):
        return who
    token = ctx.idp.plan_login(who.user, (), returned_relay_state=EVIL)
    ctx.session.set_idp_plan(ctx.runtime.idp_base_url, token)
    start = len(ctx.hops)
    try:
        ctx.session.navigate(ctx.target.url(ctx.target.logout_url or ""))
    except TargetError as exc:
        if "outside the target" not in str(exc):
            raise
        found.append(f"SP-initiated logout: {exc}")
    found += _offsite_hops(ctx, ctx.hops[start:])
    return _defect(ctx, who.user, found, "off-origin redirect after logout", LOGGED_OUT)


LOGGED_OUT = "the user is logged out, as the logout asked"


# --- SES-04 ---------------------------------------------------------------------------------------
@scenario(
    "SES-04",
    "Deep link preserved: an SP-initiated sign-in returns the user to the page they asked for",
    category="session",
    refs=("catalogue SES-04", "S2I SDP-SP21 (deep linking via an SP-side handle)"),
    needs=("sp_initiated", "deep_link"),
    expect=ACCEPT,
    level="SHOULD",
    fix_hint="Remember the requested page with the AuthnRequest (server-side, keyed by its ID or an "
             "opaque RelayState handle) and redirect there after sign-in.",
)
def ses_04(ctx: ScenarioContext) -> Observation:
    user = ctx.new_user()
    mark = secrets.token_hex(6)
    deep = f"/?deep={mark}"
    _, page = _login_with_relay(ctx, user, deep, "sp")
    obs = ctx.observe(user, store_check=False)
    final = page.url if page is not None else ""
    obs.check("the browser ended on the deep link", f"deep={mark}" in final,
              f"asked for {deep}, ended on {final or '(nowhere)'}")
    return obs
