"""Contract, lifecycle and session scenarios: each passes on the correct reference SP under its
profile and fails with the mutant that carries its defect."""
from __future__ import annotations

import pytest

# (scenario id, profile, mutant that must make it fail)
CASES = [
    ("RC-MAPPING-MULTI", "redis_cloud", "mapping_first_value_only"),
    ("RC-ROLE-UNKNOWN", "redis_cloud", "owner_on_unknown_role"),
    ("RC-DOMAIN", "redis_cloud", "skip_domain_check"),
    ("RC-DEACTIVATE", "redis_cloud", "keeps_saml_users_at_deactivation"),
    ("RC-BYPASS", "redis_cloud", "locks_bypass_users"),
    ("RC-ACTIVATE-OWNER", "redis_cloud", "converts_owner_at_activation"),
    ("RC-ACTIVATE-CONVERT", "redis_cloud", "local_login_after_activation"),
    ("RC-LINK", "redis_cloud", "link_without_owner_check"),
    ("RF-REPROVISION", "redflag", "keeps_removed_tenants"),
    ("RF-MULTI-TENANT", "redflag", "tenantid_no_split"),
    ("RF-ROLE-ALIAS", "redflag", "rejects_role_alias"),
    ("RF-LOCAL-OFF", "redflag", "local_login_after_activation"),
    ("RF-ONE-IDP", "redflag", "any_tenant_idp"),
    ("SES-01", "redis_cloud", "session_fixation"),
    ("SES-01", "redflag", "session_fixation"),
    ("RLY-01", "redis_cloud", "open_redirect_relaystate"),
    ("PROV-DELETE", "redis_cloud", "session_outlives_user"),
]
IDS = sorted({c[0] for c in CASES})


@pytest.mark.parametrize("profile", ["redis_cloud", "redflag"])
def test_correct_sp_passes(run, profile):
    results = run(profile, IDS)
    bad = {k: f"{r.verdict}: {r.reason}" for k, r in results.items()
           if r.verdict not in ("pass", "not-tested")}
    assert not bad
    own = {sid for sid, p, _ in CASES if p == profile}
    assert {k for k, r in results.items() if r.verdict == "pass"} >= own


@pytest.mark.parametrize(("sid", "profile", "mutant"), CASES,
                         ids=[f"{s}@{p}-{m}" for s, p, m in CASES])
def test_mutant_is_caught(run, sid, profile, mutant):
    r = run(profile, [sid], mutants=[mutant])[sid]
    assert r.verdict == "fail", f"{r.verdict}: {r.reason}"


@pytest.mark.parametrize("mutant", ["local_login_after_activation", "any_tenant_idp"])
@pytest.mark.parametrize("profile", ["redis_cloud", "redflag"])
def test_mutants_on_other_profile_never_error(run, profile, mutant):
    results = run(profile, IDS, mutants=[mutant])
    assert not {k: r.reason for k, r in results.items() if r.verdict in ("error", "inconclusive")}
