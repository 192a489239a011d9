"""The one verdict function: every branch, including the ones that must never become a pass."""
from __future__ import annotations

from harness.registry import ACCEPT, REJECT, Level
from harness.verdict import Observation, Verdict, decide


def obs(signed_in, intended="alice@example.com", **kw):
    return Observation(signed_in=signed_in, intended=intended, **kw)


def test_accept_expected_and_right_user_is_pass():
    assert decide(ACCEPT, Level.MUST, obs("alice@example.com"))[0] is Verdict.PASS


def test_accept_expected_but_nobody_signed_in_is_fail():
    assert decide(ACCEPT, Level.MUST, obs(None))[0] is Verdict.FAIL


def test_accept_expected_but_other_user_is_fail():
    v, why = decide(ACCEPT, Level.MUST, obs("alice@example.com.evil"))
    assert v is Verdict.FAIL and "alice@example.com.evil" in why


def test_failed_check_fails_an_accept():
    o = obs("alice@example.com").check("user provisioned just in time", False, "not in store")
    assert decide(ACCEPT, Level.MUST, o) == (Verdict.FAIL, "user provisioned just in time: not in store")


def test_reject_expected_and_nobody_is_pass():
    assert decide(REJECT, Level.MUST, obs(None))[0] is Verdict.PASS


def test_reject_expected_but_a_different_identity_signed_in_is_a_finding():
    v, why = decide(REJECT, Level.MUST, obs("victim@corp.example", intended="victim@corp.example.attacker.example"))
    assert v is Verdict.FAIL and "victim@corp.example" in why


def test_levels_map_to_fail_warn_info():
    assert decide(REJECT, Level.SHOULD, obs("x"))[0] is Verdict.WARN
    assert decide(REJECT, Level.MAY, obs("x"))[0] is Verdict.INFO


def test_error_missing_control_unobservable_are_never_pass():
    assert decide(REJECT, Level.MUST, obs(None), error="boom")[0] is Verdict.ERROR
    assert decide(REJECT, Level.MUST, obs(None), missing="needs slo")[0] is Verdict.NOT_TESTED
    assert decide(REJECT, Level.MUST, obs(None), control_failed="baseline refused")[0] is Verdict.INCONCLUSIVE
    assert decide(REJECT, Level.MUST, obs(None, observable=False))[0] is Verdict.INCONCLUSIVE
    assert decide(REJECT, Level.MUST, None)[0] is Verdict.INCONCLUSIVE


# --- three outcomes of a forged or wrapped message (issue 8.3) ---------------------------------
def forged(signed_in, **kw):
    return Observation(signed_in=signed_in, intended="victim@corp.example", signed_as="mallory@corp.example", **kw)


def test_forged_refused_is_pass():
    assert decide(REJECT, Level.MUST, forged(None)) == (Verdict.PASS, "SP refused: nobody signed in")


def test_forged_identity_signed_in_is_a_takeover_fail():
    v, why = decide(REJECT, Level.MUST, forged("victim@corp.example"))
    assert v is Verdict.FAIL
    assert why.startswith("SP signed in the forged identity 'victim@corp.example': account takeover")


def test_genuinely_signed_identity_used_is_warn_worded_as_lax_parsing():
    v, why = decide(REJECT, Level.MUST, forged("mallory@corp.example"))
    assert v is Verdict.WARN
    assert "used the genuinely signed identity 'mallory@corp.example'" in why
    assert "strict parsing would refuse it" in why and "takeover" not in why and "victim" not in why


def test_unchanged_values_wrap_accepted_is_warn():
    o = Observation(signed_in="mallory@corp.example", intended="mallory@corp.example",
                    signed_as="mallory@corp.example")
    assert decide(REJECT, Level.MUST, o)[0] is Verdict.WARN


def test_lax_parsing_under_a_may_rule_is_info():
    assert decide(REJECT, Level.MAY, forged("mallory@corp.example"))[0] is Verdict.INFO


def test_a_third_identity_is_inconclusive_never_a_takeover():
    v, why = decide(REJECT, Level.MUST, forged("{}"))
    assert v is Verdict.INCONCLUSIVE
    assert "'{}'" in why and "takeover" not in why


def test_plain_negative_scenario_keeps_failing_on_any_sign_in():
    v, why = decide(REJECT, Level.MUST, obs("someone@example.com", intended="alice@example.com"))
    assert v is Verdict.FAIL and "someone@example.com" in why


def test_signed_ok_makes_the_genuine_identity_a_pass_and_the_forged_one_a_fail():
    o = forged("mallory@corp.example", signed_ok=True)
    v, why = decide(REJECT, Level.MUST, o)
    assert v is Verdict.PASS and "genuinely signed identity 'mallory@corp.example'" in why
    assert decide(REJECT, Level.MUST, forged("victim@corp.example", signed_ok=True))[0] is Verdict.FAIL


def test_signed_ok_with_a_failed_check_is_not_a_pass():
    o = forged("mallory@corp.example", signed_ok=True).check("no off-site redirect", False, "to evil")
    assert decide(REJECT, Level.MUST, o)[0] is Verdict.FAIL


def test_pass_reason_never_claims_an_acceptance():
    v, why = decide(REJECT, Level.MUST, forged(None, note="variant (a) unchanged values: refused"))
    assert v is Verdict.PASS and "accepted" not in why


# --- declared policy, safe refusals, unknown identities -----------------------------------------
def test_policy_refusal_of_an_expected_accept_is_info():
    o = obs(None, policy="WantAssertionsSigned=true in the SP metadata")
    assert decide(ACCEPT, Level.MUST, o) == (
        Verdict.INFO, "refused by the SP's declared policy: WantAssertionsSigned=true in the SP metadata")


def test_policy_does_not_excuse_a_wrong_identity():
    o = obs("bob@example.com", policy="WantAssertionsSigned")
    assert decide(ACCEPT, Level.MUST, o)[0] is Verdict.FAIL


def test_policy_accepted_is_still_a_pass():
    assert decide(ACCEPT, Level.MUST, obs("alice@example.com", policy="x"))[0] is Verdict.PASS


def test_safe_refusal_of_an_accept_never_x_scenario_is_pass():
    o = obs(None, refusal_ok="refusing is as safe as staying on the SP")
    v, why = decide(ACCEPT, Level.MUST, o)
    assert v is Verdict.PASS and "refusing is as safe" in why


def test_safe_refusal_does_not_hide_an_always_check():
    o = obs(None, refusal_ok="safe").check("the browser stayed on the SP", False, "went to evil", always=True)
    v, why = decide(ACCEPT, Level.MUST, o)
    assert v is Verdict.FAIL and "went to evil" in why


def test_accept_only_checks_do_not_spoil_a_safe_refusal():
    o = obs(None, refusal_ok="safe").check("user provisioned just in time", False, "not in store")
    assert decide(ACCEPT, Level.MUST, o)[0] is Verdict.PASS


def test_unknown_identity_is_never_nobody():
    from harness.verdict import UNKNOWN

    assert decide(ACCEPT, Level.MUST, obs(UNKNOWN))[0] is Verdict.INCONCLUSIVE
    v, why = decide(REJECT, Level.MUST, obs(UNKNOWN))
    assert v is Verdict.INCONCLUSIVE and "nobody" not in why
    assert decide(REJECT, Level.MUST, forged(UNKNOWN))[0] is Verdict.INCONCLUSIVE


def test_worse_picks_the_takeover_over_lax_parsing_over_refusal():
    from harness.verdict import worse

    refused, lax, takeover = forged(None), forged("mallory@corp.example"), forged("victim@corp.example")
    assert worse(REJECT, Level.MUST, refused, lax) is lax
    assert worse(REJECT, Level.MUST, lax, takeover) is takeover
    assert worse(REJECT, Level.MUST, refused, refused) is refused


def test_a_fact_the_sp_does_not_show_is_inconclusive_never_a_failure():
    from harness.verdict import Observation

    obs = Observation(signed_in="a@x", intended="a@x").check("name kept whole", None, "no such field")
    v, why = decide(ACCEPT, Level.MUST, obs)
    assert v is Verdict.INCONCLUSIVE and "does not show" in why
    obs.check("other fact", False, "wrong")  # a fact seen and wrong still fails
    assert decide(ACCEPT, Level.MUST, obs)[0] is Verdict.FAIL
    refused = Observation(signed_in=None, intended="a@x").check("name kept whole", None)
    assert decide(REJECT, Level.MUST, refused)[0] is Verdict.PASS


def test_shown_finds_a_value_wherever_the_sp_shows_it():
    from scenarios._kit import NOT_SHOWN, shown

    assert shown({"first_name": None}, "first_name", containing=("Doe",)) is None
    assert shown({"attributes": {"givenName": ["Doe, John"]}}, "first_name", containing=("Doe",)) == ["Doe, John"]
    assert shown({"givenName": ["Doe", "John"]}, "first_name", containing=("Doe",)) == ["Doe", "John"]
    assert shown({"email": "a@x"}, "first_name", containing=("Doe",)) is NOT_SHOWN
    assert shown({"email": "a@x"}, "first_name") is NOT_SHOWN


def test_a_grant_the_whoami_answer_does_not_show_is_unseen():
    from scenarios._kit import shows

    obs = Observation(signed_in="a@x", intended="a@x")
    assert shows(obs, {"tenants": []}, "tenants") and not obs.checks
    assert not shows(obs, {"email": "a@x"}, "tenants", "role")
    assert [c.ok for c in obs.checks] == [None, None]
    assert decide(ACCEPT, Level.MUST, obs)[0] is Verdict.INCONCLUSIVE


def test_a_check_with_a_weaker_level_gives_the_weaker_verdict():
    obs = Observation(signed_in="a@x", intended="a@x").check("opaque value", False, "a URL", level="SHOULD")
    assert decide(ACCEPT, Level.MUST, obs)[0] is Verdict.WARN
    obs.check("at most 80 bytes", False, "120 bytes")  # the scenario's own MUST wins
    v, why = decide(ACCEPT, Level.MUST, obs)
    assert v is Verdict.FAIL and why.startswith("at most 80 bytes")


def test_a_stronger_check_escalates_an_acceptance_in_a_weaker_scenario():
    lenient = Observation(signed_in="a@x", intended="a@x").check("fetched nothing", True, level="MUST")
    assert decide(REJECT, Level.SHOULD, lenient)[0] is Verdict.WARN
    fetched = Observation(signed_in="a@x", intended="a@x").check("fetched nothing", False, "GET /k", level="MUST")
    v, why = decide(REJECT, Level.SHOULD, fetched)
    assert v is Verdict.FAIL and "fetched nothing failed" in why
