"""FLOW scenarios against the reference SP: pass on the correct SP, fail on the mutant with the defect."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("profile", ["redis_cloud", "redflag"])
def test_flows_pass_on_the_correct_sp(run, profile):
    results = run(profile, ["FLOW-01", "FLOW-02"])
    assert {k: r.verdict for k, r in results.items()} == {"FLOW-01": "pass", "FLOW-02": "pass"}
    # under redflag FLOW-02 passes because the unsolicited response was refused
    assert results["FLOW-02"].expected == ("reject" if profile == "redflag" else "accept")


def test_flow_01_fails_when_the_sp_skips_user_creation(run):
    r = run("redis_cloud", ["FLOW-01"], mutants=["skip_jit"])["FLOW-01"]
    assert r.verdict == "fail"
    assert "did not sign the user in" in r.reason or "not in the SP's user store" in r.reason


def test_flow_02_fails_when_redflag_accepts_idp_initiated(run):
    r = run("redflag", ["FLOW-02"], mutants=["accepts_idp_initiated"])["FLOW-02"]
    assert r.verdict == "fail"
    assert "accepted the response" in r.reason
    assert r.control and r.control.startswith("baseline accepted")
