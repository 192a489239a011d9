"""POS-09: multi-valued attributes are read in full (every AttributeValue, not the first)."""
from __future__ import annotations

from typing import Any

from harness.context import ScenarioContext
from harness.registry import ACCEPT, scenario
from harness.verdict import Observation

GROUPS = ("samlconf-staff", "samlconf-readers", "samlconf-team-7")


@scenario("POS-09", "Multi-valued attributes (one AttributeValue each) are accepted and read in full",
          category="interop", refs=("S2I SDP-SP19 (multi-valued attributes)", "S2I SDP-IDP20", "catalogue POS-09"),
          needs=("sp_initiated",), expect=ACCEPT,
          fix_hint="Read every AttributeValue of an attribute; never only the first.")
def pos_09(ctx: ScenarioContext) -> Observation:
    """A login carrying an extra `groups` attribute with three values, and the profile's own
    multi-valued attribute (redis_cloud: two account mappings; redflag: two tenants) as one
    AttributeValue per value; the SP must grant every value. Under a profile without one, only
    acceptance is checked."""
    data = ctx.target.testdata
    names = ctx.profile.attributes
    extra: dict[str, Any] = {"groups": list(GROUPS)}
    want_accounts = want_tenants = None
    if names.account_mapping and len(data.accounts) >= 2:
        a, b = data.accounts[:2]
        want_accounts = {a: "manager", b: "viewer"}
        extra[names.account_mapping] = [f"{a}=manager", f"{b}=viewer"]
    elif names.tenant and len(data.tenants) >= 2:
        want_tenants = sorted(data.tenants[:2])
        extra[names.tenant] = list(want_tenants)
    user = ctx.new_user(attributes=extra)
    ctx.sp_login(user)
    obs = ctx.observe(user)
    me = ctx.whoami_data() if obs.accepted else None
    me = me if isinstance(me, dict) else {}
    if want_accounts is not None:
        got = {str(k): str(v) for k, v in (me.get("accounts") or {}).items()}
        obs.check("every account mapping value granted", got == want_accounts, f"granted {got}, sent {want_accounts}")
    if want_tenants is not None:
        got_t = sorted(str(t) for t in (me.get("tenants") or []))
        obs.check("every tenant value granted", got_t == want_tenants, f"granted {got_t}, sent {want_tenants}")
    obs.note = "groups sent with three values" + (
        f"; {names.account_mapping or names.tenant} with two AttributeValues" if extra.keys() - {"groups"} else "")
    return obs
