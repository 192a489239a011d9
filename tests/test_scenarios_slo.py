"""SLO scenarios (POS-11, SLO-01, SLO-11, FLOW-03) against the reference SP.

The bundled reference targets have no `logout_url` yet, so these tests add `logout_url = "/logout"`
to the loaded target. Each scenario passes on the correct SP under both profiles, and is shown able to
fail: SLO-01/SLO-11 with the `slo_accepts_unsigned` mutant, POS-11 and FLOW-03 with bad input (an IdP
whose LogoutRequest the SP cannot verify; a logout URL that only ends the local session).
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable, Iterable

import pytest

from harness.events import ScenarioResult
from harness.runtime import Runtime
from harness.suite import resolve_target
from tests.conftest import run_target

IDS = ("POS-11", "SLO-01", "SLO-11", "FLOW-03")


def run_slo(profile: str, ids: Iterable[str], *, mutants: Iterable[str] = (), logout_url: str = "/logout",
            tweak: Callable[[Runtime], Any] | None = None) -> dict[str, ScenarioResult]:
    target = resolve_target(None, profile).model_copy(update={"logout_url": logout_url})
    results, _ = run_target(target, ids, mutants=mutants, seed=4321, tweak=tweak)
    return {r.id: r for r in results}


@pytest.mark.parametrize("profile", ["redis_cloud", "redflag"])
def test_slo_scenarios_pass_on_the_correct_sp(profile):
    results = run_slo(profile, IDS)
    assert {k: (r.verdict, r.reason) for k, r in results.items() if r.verdict != "pass"} == {}
    assert results["POS-11"].expected == "reject" and results["FLOW-03"].expected == "reject"
    assert results["SLO-01"].expected == "accept" and results["SLO-11"].expected == "accept"
    assert "InResponseTo" in results["POS-11"].reason and "signature" in results["POS-11"].reason
    assert "positive control" in results["SLO-01"].reason
    assert "returned to the SP" in results["FLOW-03"].reason


def test_unsigned_logout_mutant_fails_slo_01_and_slo_11_only():
    results = run_slo("redis_cloud", IDS, mutants=["slo_accepts_unsigned"])
    assert {k: r.verdict for k, r in results.items()} == {
        "POS-11": "pass", "SLO-01": "fail", "SLO-11": "fail", "FLOW-03": "pass"}
    assert "did not sign the user in" in results["SLO-01"].reason
    assert "did not sign the user in" in results["SLO-11"].reason


def test_slo_scenarios_are_not_tested_without_a_logout_url():
    results = run_slo("redis_cloud", IDS, logout_url=None)
    assert {r.verdict for r in results.values()} == {"not-tested"}
    assert "logout_url" in results["POS-11"].reason


def _untrusted_logout_requests(rt: Runtime) -> None:
    """The IdP signs its LogoutRequests with a key the SP does not know: the SP refuses them."""
    idp = rt.idp
    idp.logout_request = partial(type(idp).logout_request, idp, key=idp.attacker_key)


def test_pos_11_fails_when_the_logout_does_not_end_the_session():
    results = run_slo("redis_cloud", ["POS-11", "SLO-01"], tweak=_untrusted_logout_requests)
    assert results["POS-11"].verdict == "fail"
    assert "signed in" in results["POS-11"].reason
    # and SLO-01's positive control notices that no LogoutRequest works: inconclusive, not pass
    assert results["SLO-01"].verdict == "inconclusive"
    assert "positive control" in results["SLO-01"].reason


def test_flow_03_fails_when_logout_only_ends_the_local_session():
    r = run_slo("redis_cloud", ["FLOW-03"], logout_url="/logout?local=1")["FLOW-03"]
    assert r.verdict == "fail"
    assert "LogoutRequest" in r.reason


def test_idp_logout_request_names_the_principal_exactly_as_asserted():
    """SAML Core 3.7.1: the IdP's LogoutRequest carries the NameID as asserted (value, Format,
    NameQualifier, SPNameQualifier) and the SessionIndex; mellon and SimpleSAMLphp match them all.
    Without them the reference SP (which matches the Format) keeps the session: POS-11 would fail."""
    from lxml import etree

    from mock_idp.idp import MockIdP
    from mock_idp.slo import asserted_name
    from mock_idp.testing import sp_metadata
    from mock_idp.users import generate_user

    sp = "https://sp.example.test/metadata"
    idp = MockIdP(base_url="http://127.0.0.1:9", key_dir=None)
    idp.register_sp(sp_metadata(sp, ["http://127.0.0.1:9/acs"], slo_url="http://127.0.0.1:9/slo"))
    user = generate_user("generic", seed=7)
    issued = idp.issue_response(sp, user, name_qualifiers=True)
    name = asserted_name(issued.xml)
    assert name is not None and name.value == user.name_id and name.format == user.name_id_format
    assert name.name_qualifier == idp.entity_id and name.sp_name_qualifier == sp and name.session_index
    msg = idp.logout_request(sp, name.value, name_id_format=name.format, name_qualifier=name.name_qualifier,
                             sp_name_qualifier=name.sp_name_qualifier, session_index=name.session_index)
    nid = etree.fromstring(msg.xml).find("{urn:oasis:names:tc:SAML:2.0:assertion}NameID")
    assert (nid.text, nid.get("Format"), nid.get("NameQualifier"), nid.get("SPNameQualifier")) == \
        (user.name_id, user.name_id_format, idp.entity_id, sp)


def test_reference_sp_keeps_the_session_when_the_format_differs():
    """The other side of the same rule: a signed LogoutRequest naming the right NameID value with
    another Format does not end the session (the correct SP matches the Format, as mellon does)."""
    from scenarios import slo

    real = slo.SignedIn.name_knobs
    try:
        slo.SignedIn.name_knobs = lambda self: {**real(self), "name_id_format":
                                                 "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"}
        r = run_slo("redis_cloud", ["POS-11"])["POS-11"]
    finally:
        slo.SignedIn.name_knobs = real
    assert r.verdict == "fail", r.reason
