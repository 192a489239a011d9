"""The measure of the suite's power: the correct reference SP passes every scenario, and every
mutant (one known defect) is caught by EVERY scenario its `breaks` names (under at least one of
its profiles, never ending in error or inconclusive); every registered scenario is named by some
mutant's `breaks`, or fails on some interop-lab target (lab/expected.toml: a real SP or library twin
with exactly that defect, checked by `./dev lab`), or sits in the commented allow-list below.

Each mutant runs only the scenarios its `breaks` names (fast).
"""
from __future__ import annotations

import pytest

from harness.registry import all_scenarios
from reference_sp.mutants import MUTANTS

SPECS = all_scenarios()
IDS = {s.id for s in SPECS}
PROFILES = ("redis_cloud", "redflag")
CAUGHT = {"fail", "warn"}

# Mutants whose named defect the reference SP does not (yet) express for these scenarios:
# the scenario is right, the mutant switch has no observable effect. Listed, not hidden
# (strict xfail: the day the mutant starts to work, the entry must go).
KNOWN_GAPS: dict[str, str] = {}

def lab_proven() -> set[str]:
    """Scenarios the interop lab expects to fail or warn on some target: proven able to fail there
    (`./dev lab` checks that they do)."""
    from lab.run import load_expected

    return {sid for rows in load_expected().values() for sid, e in rows.items() if e.verdict in CAUGHT}


# Scenarios no mutant breaks, with the reason. Keep this list short and honest.
UNCOVERED: dict[str, str] = {
    # --- cannot: the fault leaves nothing to sign in with -------------------------------------
    "MAS-01": "the Response has no Assertion: no identity any defect could sign in",
    # --- cannot (sanely): pysaml2 refuses it unconditionally before our own checks ------------
    # ISS-03 (pysaml2 needs the Assertion's Issuer to find the key) is proven on the node-saml lab twins,
    # which check no Assertion Issuer (lab/truth.toml node-saml-*.accepts-wrong-assertion-issuer)
    "XML-15": "libxml2 and pysaml2 decode UTF-16 consistently; no mutant decodes the two paths differently yet",
    # --- cannot: nothing to sign in with -------------------------------------------------------
}

# Scenarios that run only under a profile no bundled target uses: their mutant is run by the test
# named here (under that profile), not by the matrix below.
PROFILE_PROVEN: dict[str, str] = {
    "TEN-05": "test_scope_checked_under_a_profile_naming_a_scoped_attribute (tests/fixtures/profiles/"
              "generic_scoped.toml: [attributes] scoped; mutant ignores_scope)",
}


def mutant_cases():
    for m in MUTANTS.values():
        ids = sorted(set(m.breaks) & IDS - set(PROFILE_PROVEN))
        if ids:
            marks = [pytest.mark.xfail(reason=KNOWN_GAPS[m.name], strict=True)] if m.name in KNOWN_GAPS else []
            yield pytest.param(m, ids, id=m.name, marks=marks)


@pytest.mark.parametrize("profile", PROFILES)
def test_correct_sp_passes_every_scenario(run, profile):
    results = run(profile, sorted(IDS))
    bad = {k: f"{r.verdict}: {r.reason}" for k, r in results.items() if r.verdict not in ("pass", "not-tested")}
    assert not bad


@pytest.mark.parametrize(("mutant", "ids"), list(mutant_cases()))
def test_mutant_is_caught_by_every_scenario_it_breaks(run, mutant, ids):
    seen: dict[str, dict[str, str]] = {sid: {} for sid in ids}
    for profile in PROFILES:
        if profile in mutant.profiles:
            for sid, r in run(profile, ids, mutants=[mutant.name]).items():
                seen[sid][profile] = r.verdict
    # a MAY-level scenario's failing verdict is `info` (a policy the SP may choose)
    may = {s.id for s in SPECS if s.level.value == "MAY"}
    missed = {sid: v for sid, v in seen.items()
              if not (CAUGHT | ({"info"} if sid in may else set())) & set(v.values())}
    assert not missed, f"{mutant.name} not caught by: {missed}"
    broken = {sid: v for sid, v in seen.items() if {"error", "inconclusive"} & set(v.values())}
    assert not broken, f"{mutant.name}: error/inconclusive: {broken}"


def test_every_scenario_is_broken_by_some_mutant():
    covered = set().union(*(m.breaks for m in MUTANTS.values())) | lab_proven() | set(POLICY_PROVEN)
    missing = sorted(IDS - covered - set(UNCOVERED))
    assert not missing, f"scenarios no mutant breaks (add a mutant or an UNCOVERED entry): {missing}"
    stale = sorted(set(UNCOVERED) & covered) + sorted(set(UNCOVERED) - IDS)
    assert not stale, f"UNCOVERED entries that are covered or not registered: {stale}"


def test_reference_sp_with_its_options_on_passes_what_they_enable(run):
    """AREQ-09/10 run only when the SP's metadata says AuthnRequestsSigned="true", DST-10 only with
    two ACS endpoints, MAS-07 only where the SP requires an authentication context, IRT-08 only with a
    short declared request lifetime (none of them in the bundled targets): the reference SP with
    `sign_authn_requests`, `second_acs`, `request_authn_context` and `request_lifetime_seconds` passes
    them, and the other request and ACS checks."""
    from harness.suite import resolve_target

    target = resolve_target(None, "redflag")
    assert target.embedded is not None
    target.embedded.sign_authn_requests = target.embedded.second_acs = True
    target.embedded.request_authn_context = "https://refeds.org/profile/mfa"
    target.embedded.request_lifetime_seconds = 4
    target.embedded.request_name_id_format = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    ids = ("AREQ-09", "AREQ-10", "AREQ-01", "AREQ-05", "AREQ-06", "AREQ-11", "FLOW-05", "DST-10", "DST-01",
           "MAS-07", "POS-01", "IRT-08", "NID-03")
    results = run("redflag", ids, target=target)
    assert {k: r.verdict for k, r in results.items()} == dict.fromkeys(ids, "pass"), \
        [(k, r.reason) for k, r in results.items()]


# Scenarios that run only where the SP declares a policy the bundled targets do not: proven on the
# reference SP with that declaration in its target file (the tests below).
POLICY_PROVEN: dict[str, str] = {
    "SIG-04": "test_require_signed_response_declared: the SP declares it and enforces it (pass), or "
              "declares it and takes an unsigned Response (fail)",
    "ENC-01": "test_require_encrypted_assertions_declared: as SIG-04, for [sp.policy] require_encrypted_assertions",
}


def _declaring(profile: str, **policy):
    from harness.suite import resolve_target
    from harness.target import SPPolicySection

    t = resolve_target(None, profile)
    return t.model_copy(update={"sp": t.sp.model_copy(update={"policy": SPPolicySection(**policy)})})


@pytest.mark.parametrize(("mutants", "verdict"), [(("requires_signed_response",), "pass"), ((), "fail")],
                         ids=["enforced", "broken-promise"])
def test_require_signed_response_declared(run, mutants, verdict):
    """A target file declaring [sp.policy] require_signed_response = true: the reference SP that
    requires signed Responses (the `requires_signed_response` switch, its configuration here) passes
    SIG-04; the ordinary one, which takes a signed Assertion in an unsigned Response, breaks the promise."""
    r = run("redis_cloud", ["SIG-04"], mutants=mutants,
            target=_declaring("redis_cloud", require_signed_response=True))["SIG-04"]
    assert r.verdict == verdict, r.reason


@pytest.mark.parametrize(("mutants", "verdict"), [(("requires_encrypted_assertions",), "pass"), ((), "fail")],
                         ids=["enforced", "broken-promise"])
def test_require_encrypted_assertions_declared(run, mutants, verdict):
    """[sp.policy] require_encrypted_assertions = true: the reference SP that refuses plaintext
    Assertions passes ENC-01 (and still takes an encrypted one, POS-05); the ordinary one fails it."""
    ids = ["ENC-01", "POS-05"] if mutants else ["ENC-01"]
    got = run("redis_cloud", ids, mutants=mutants, target=_declaring("redis_cloud", require_encrypted_assertions=True))
    assert got["ENC-01"].verdict == verdict, got["ENC-01"].reason
    assert all(r.verdict == "pass" for k, r in got.items() if k != "ENC-01"), {k: r.reason for k, r in got.items()}


@pytest.mark.parametrize(("mutants", "verdict"), [((), "pass"), (("ignores_scope",), "warn")],
                         ids=["scope-checked", "ignores-scope"])
def test_scope_checked_under_a_profile_naming_a_scoped_attribute(run, mutants, verdict):
    """TEN-05 runs only under a profile naming a scoped attribute (neither bundled one does): the
    reference SP that drops an eduPersonPrincipalName outside the IdP's <shibmd:Scope> passes it, the
    one that keeps it whatever its scope warns (a SHOULD)."""
    from pathlib import Path

    from harness.suite import resolve_target

    profile = Path(__file__).parent / "fixtures" / "profiles" / "generic_scoped.toml"
    target = resolve_target(None, "generic").model_copy(update={"profile": str(profile)})
    r = run("generic", ["TEN-05"], mutants=mutants, target=target)["TEN-05"]
    assert r.verdict == verdict, r.reason
