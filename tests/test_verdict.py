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
