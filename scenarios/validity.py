"""TIME: the validity windows beyond the basic ones (scenarios/conditions.py), timestamps, sessions.

Every instant is moved on the mock IdP (faults, `clock-skew`), never on the system clock.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from harness.context import ScenarioContext
from harness.registry import ACCEPT, REJECT, scenario
from harness.verdict import Observation

from ._kit import each_variant, fault, single_fault

TIME_HINT = "Check NotBefore/NotOnOrAfter of Conditions and of the bearer SubjectConfirmationData, with a small skew."

single_fault("TIME-07", "Expired exactly at issue, issued 5 minutes ago (the widest allowed skew) is refused",
             ["expires-now", "clock-skew(seconds=-300)"], category="time",
             refs=("Core 2.5.1.2 (the interval has ended at NotOnOrAfter)", "SAML2Int SDP-G01 (3-5 min skew)",
                   "catalogue TIME-07"),
             fix_hint="NotOnOrAfter is exclusive: refuse when now - skew >= NotOnOrAfter.")
single_fault("TIME-08", "A long-lived assertion (issued 29 days ago, valid 29 days more) is refused", ["long-lived(days=29)", "session-lifetime(seconds=2592000)"],
             category="time", refs=("OWASP SAML: prefer short lifetimes", "SAML2Int SDP-G01",
                                    "catalogue TIME-08 (policy)"), level="SHOULD",
             fix_hint="Bound the age of IssueInstant (minutes), whatever NotOnOrAfter says.")
single_fault("TIME-11", "An unknown Condition type inside Conditions is refused", ["condition-unknown"],
             category="time", refs=("Core 2.5.1 MUST (a condition that cannot be evaluated is Indeterminate)",
                                    "catalogue TIME-11"),
             fix_hint="Refuse an assertion whose Conditions hold a condition you cannot evaluate.")


def _z(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S")


@scenario("TIME-09", "Non-UTC and malformed NotOnOrAfter timestamps that lie in the past are never valid",
          category="time", refs=("Core 1.3.3 MUST (UTC, no time zone component)", "catalogue TIME-09"),
          needs=("sp_initiated",), expect=REJECT,
          fix_hint="Parse xs:dateTime strictly (UTC with Z); refuse anything else, never read it as a "
                   "local or unbounded time.")
def time_09(ctx: ScenarioContext) -> Observation:
    """Each value is in the past whatever a lax parser makes of it (offset dropped, zone guessed,
    an unparseable value skipped), so only a refusal is right."""
    now = datetime.now(timezone.utc)
    past = now - timedelta(minutes=10)
    values = [
        (_z(past + timedelta(hours=14)) + "+14:00", "ten minutes ago written with a +14:00 offset"),
        (_z(now - timedelta(hours=15)), "fifteen hours ago without a zone (past in every zone)"),
        (_z(now - timedelta(days=1)).split("T")[0] + "T23:59:60Z", "a leap second yesterday"),
        ("-0001-01-01T00:00:00Z", "year -1"),
    ]
    return each_variant(ctx, [(f"NotOnOrAfter {v!r}: {what}", lambda v=v: [fault("timestamp", value=v)])
                              for v, what in values])


@scenario("TIME-12", "The SP session ends at the AuthnStatement's SessionNotOnOrAfter", category="time",
          refs=("Prof 4.1.4.3 SHOULD (SessionNotOnOrAfter)", "catalogue TIME-12"),
          needs=("sp_initiated",), expect=ACCEPT, level="SHOULD",
          fix_hint="End (or re-authenticate) the SP session at SessionNotOnOrAfter.")
def time_12(ctx: ScenarioContext) -> Observation:
    """SessionNotOnOrAfter 3 s after issue: signed in at once, nobody signed in 1.5 s after it has
    passed (a bounded wait of about 4 s)."""
    user = ctx.new_user()
    start = time.monotonic()
    ctx.sp_login(user, [fault("session-lifetime", seconds=3)])
    obs = ctx.observe(user)
    if not obs.accepted:
        return obs
    time.sleep(max(0.0, 4.5 - (time.monotonic() - start)))
    still = ctx.whoami()
    return obs.check("session ended at SessionNotOnOrAfter", still is None,
                     f"{still!r} is still signed in 1.5 s after SessionNotOnOrAfter")


@scenario("TIME-05", "A bearer SubjectConfirmationData carrying NotBefore (past or future) is refused",
          category="time", refs=("Prof 4.1.4.2 (bearer SubjectConfirmationData MUST NOT carry NotBefore)",
                                 "catalogue TIME-05 (policy)"),
          needs=("sp_initiated",), expect=REJECT, level="SHOULD",
          fix_hint="Treat a bearer confirmation with NotBefore as unusable.")
def time_05(ctx: ScenarioContext) -> Observation:
    return each_variant(ctx, [("SubjectConfirmationData NotBefore 60 s ago", lambda: [fault("scd-not-yet-valid", seconds=-60)]),
                              ("SubjectConfirmationData NotBefore in 10 min", lambda: [fault("scd-not-yet-valid")])])


@scenario("TIME-13", "Where the SP asked for ForceAuthn, an AuthnInstant 8 hours old (a stale authentication) is refused",
          category="time", refs=("SAML2Int SDP-IDP07 (IdP MUST set a fresh AuthnInstant)", "Core 3.4.1 (ForceAuthn)",
                                 "catalogue TIME-13 (policy)"),
          needs=("sp_initiated", "force_authn"), expect=REJECT, level="SHOULD",
          fix_hint="When you send ForceAuthn=\"true\", refuse an Assertion whose AuthnInstant predates your "
                   "AuthnRequest (with a small skew): the IdP did not authenticate the user again.")
def time_13(ctx: ScenarioContext) -> Observation:
    """The SP's ForceAuthn login (login.sp_initiated_force_authn_url); the IdP answers with an
    AuthnInstant of now - 8 h. The AuthnRequest is checked to have said ForceAuthn="true"."""
    from .authn_request import _seen

    user = ctx.new_user()
    start = len(ctx.session.hops)
    ctx.sp_login(user, [fault("authn-instant-stale")], force_authn=True)
    seen = [r for r in _seen(ctx, start) if r.root is not None]
    asked = bool(seen) and seen[0].root.get("ForceAuthn") in ("true", "1")
    if not asked:
        return Observation(signed_in=None, intended=None, observable=False,
                           note="the SP's ForceAuthn login sent no AuthnRequest with ForceAuthn=\"true\"")
    obs = ctx.observe(user)
    obs.note = "AuthnRequest ForceAuthn=\"true\"; AuthnInstant 8 h before the Response"
    return obs
