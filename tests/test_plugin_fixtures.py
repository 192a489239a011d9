"""The documented fixtures (docs/writing-scenarios.md) work against the bundled reference SP."""
from __future__ import annotations

from harness.registry import REJECT
from harness.verdict import Verdict, decide
from mock_idp.faults import get as fault


def test_expired_assertion_is_refused(samlconf_ctx, saml_user):
    user = saml_user()
    samlconf_ctx.sp_login(user, [fault("conditions-expired", seconds=3600)])
    verdict, why = decide(REJECT, "MUST", samlconf_ctx.observe(user, expect=REJECT))
    assert verdict is Verdict.PASS, why


def test_valid_login_shows_the_user(samlconf_ctx, saml_user, samlconf_idp, samlconf_target):
    user = saml_user()
    samlconf_ctx.sp_login(user)
    me = samlconf_ctx.whoami_data()
    assert me and me["email"] == samlconf_ctx.email_of(user)
    assert samlconf_target.base_url and samlconf_idp.base_url.startswith("http://127.0.0.1:")
