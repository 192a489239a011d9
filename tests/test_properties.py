"""Property-based scenarios (PROP-*, scenarios/properties.py): bounded, seeded, and each able to
fail, with the shrunk counterexample in the JSON and HTML evidence."""
from __future__ import annotations

import html
import json

import pytest

from harness.cli import main
from harness.registry import get
from harness.suite import resolve_target


def _run_cli(tmp_path, *args: str) -> tuple[int, dict, str]:
    rc = main(["run", "--report-dir", str(tmp_path), "--seed", "1234", *args])
    data = json.loads((tmp_path / "samlconf-results.json").read_text())
    page = (tmp_path / "samlconf-report.html").read_text()
    return rc, data, page


def test_a_parsing_mutant_gives_the_shrunk_counterexample_in_json_and_html(tmp_path):
    rc, data, page = _run_cli(tmp_path, "--profile", "redis_cloud", "--scenario", "PROP-01",
                              "--mutant", "mapping_first_value_only")
    assert rc != 0
    (r,) = data["scenarios"]
    assert r["verdict"] == "fail"
    # multi-valued pairs: the mutant reads only the first AttributeValue
    assert "shrunk counterexample redisAccountMapping=['12345=owner', '54321=owner']" in r["evidence"]
    assert "the contract grants {'12345': 'owner', '54321': 'owner'}" in r["evidence"]
    assert "shrunk counterexample redisAccountMapping=['12345=owner', '54321=owner']" in html.unescape(page)
    # the evidence keeps the counterexample's Response (and the anchor sign-in), not every example
    assert len(r["sent"]) == 2
    assert r["sent"][0]["attributes"]["redisAccountMapping"] == ["12345=owner", "54321=owner"]


@pytest.mark.parametrize(("profile", "sid", "mutant", "shrunk"), [
    ("redis_cloud", "PROP-01", "crashes_on_malformed_pair", "redisAccountMapping=['12345']"),
    ("redflag", "PROP-02", "tenantid_no_split", "tenantid=['pocketstop1,pocketstop2']"),
])
def test_each_invariant_can_fail(run, profile, sid, mutant, shrunk):
    """No 5xx (PROP-01), exactly the contract for well-formed input (PROP-02); the mutant matrix
    runs every PROP-* against every mutant whose `breaks` names it."""
    r = run(profile, [sid], mutants=[mutant])[sid]
    assert r.verdict == "fail", r.reason
    assert f"shrunk counterexample {shrunk}" in r.reason


def test_the_number_of_examples_is_a_setting(tmp_path, monkeypatch):
    monkeypatch.delenv("SAMLCONF_PROPERTY_EXAMPLES", raising=False)
    rc, data, _ = _run_cli(tmp_path, "--profile", "redflag", "--scenario", "PROP-03",
                           "--property-examples", "3", "--property-derandomize")
    (r,) = data["scenarios"]
    assert rc == 0 and r["verdict"] == "pass", r["evidence"]
    assert "holds for 3 generated inputs" in r["evidence"] and "derandomized" in r["evidence"]


def test_budget_from_the_target_file_environment_and_ci(monkeypatch):
    from harness.runtime import Runtime  # noqa: F401 - the ctx stand-in needs only .target
    from scenarios.properties import budget

    class Ctx:
        target = resolve_target(None, "redflag")

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("SAMLCONF_PROPERTY_EXAMPLES", raising=False)
    monkeypatch.delenv("SAMLCONF_PROPERTY_DERANDOMIZE", raising=False)
    assert (budget(Ctx).examples, budget(Ctx).derandomize) == (25, False)
    monkeypatch.setenv("CI", "true")
    assert budget(Ctx).derandomize is True
    monkeypatch.setenv("SAMLCONF_PROPERTY_EXAMPLES", "7")
    assert budget(Ctx).examples == 7
    monkeypatch.setenv("SAMLCONF_PROPERTY_EXAMPLES", "many")
    with pytest.raises(Exception, match="SAMLCONF_PROPERTY_EXAMPLES='many'"):
        budget(Ctx)


def test_properties_are_registered_with_their_contract():
    assert "account_mapping" in get("PROP-01").needs
    assert "tenants" in get("PROP-02").needs
    assert "role_vocabulary" in get("PROP-03").needs
