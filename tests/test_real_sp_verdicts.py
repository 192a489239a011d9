"""Verdict rules on an SP nobody here wrote the verdicts for: tests/xmlsec_sp.py (python-xmlsec, not
pysaml2), which refuses every bad Response with HTTP 500 like Shibboleth SP.

- strict: refusal scenarios pass (a 5xx is a refusal, judged by whoami), each with its 5xx recorded
  in the hops and as a robustness finding; the positive control works.
- lax_signed: accepts wrapped messages but uses the identity the IdP signed: XSW scenarios `warn`,
  worded as lax parsing, never as a takeover.
- first_assertion: reads the first Assertion in document order: XSW scenarios `fail`, as a takeover.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from harness.events import ScenarioResult
from harness.serving import LoopbackServer
from harness.target import load_target
from tests.conftest import run_target
from tests.xmlsec_sp import TARGET_TOML, create_app

REFUSALS = ["SIG-01", "SIG-02", "SIG-05", "SIG-06", "SIG-09", "KEY-02", "AUD-01", "TIME-01", "DST-01",
            "IRT-01", "RPL-01", "XSW-03", "XSW-04", "XSW-05", "XSW-07", "XSW-08", "XSW-11"]
XSW = ["XSW-01", "XSW-02", "XSW-03", "XSW-04", "XSW-05", "XSW-06", "XSW-07", "XSW-08"]


@pytest.fixture(scope="module")
def servers():
    started = {mode: LoopbackServer().start(create_app(mode)) for mode in ("strict", "lax_signed", "first_assertion")}
    started["refuses_relay"] = LoopbackServer().start(create_app("strict", refuse_offsite_relay_state=True))
    yield started
    for s in started.values():
        s.stop()


def target_path(tmp_path: Path, servers, mode: str) -> Path:
    p = tmp_path / f"xmlsec-{mode}.toml"
    p.write_text(TARGET_TOML.format(mode=mode, base=servers[mode].base_url))
    return p


def run(tmp_path: Path, servers, mode: str, ids: list[str], drivers=("http",), **options) -> dict[str, ScenarioResult]:
    results, _ = run_target(load_target(target_path(tmp_path, servers, mode)), ids, drivers=drivers,
                            seed=4321, **options)
    return {r.id: r for r in results}


def test_500_refusals_pass_with_a_robustness_finding(tmp_path, servers):
    results = run(tmp_path, servers, "strict", ["FLOW-01", *REFUSALS])
    assert results["FLOW-01"].verdict == "pass", results["FLOW-01"].reason
    assert not results["FLOW-01"].findings
    verdicts = {k: f"{r.verdict}: {r.reason}" for k, r in results.items() if r.verdict != "pass"}
    assert not verdicts
    for sid in REFUSALS:
        r = results[sid]
        assert r.control and r.control.startswith("baseline accepted"), (sid, r.control)
        assert any(h.status == 500 and h.saml.get("SAMLResponse") for h in r.hops), sid
        assert r.findings and all("server error to bad input" in f and "HTTP 500" in f for f in r.findings), sid
        assert "SHOULD" in r.findings[0]


def test_the_json_junit_and_html_reports_carry_the_finding(tmp_path, servers):
    from harness.cli import main

    report = tmp_path / "r"
    rc = main(["run", "--target", str(target_path(tmp_path, servers, "strict")), "--report-dir", str(report),
               "--scenario", "SIG-01"])
    assert rc == 0
    (s,) = json.loads((report / "samlconf-results.json").read_text())["scenarios"]
    assert s["verdict"] == "pass" and s["findings"] and "HTTP 500" in s["findings"][0]
    assert any(h["status"] == 500 and "refusal" in h.get("note", "") for h in s["hops"])
    assert 'name="finding"' in (report / "samlconf-junit.xml").read_text()
    assert "Robustness:" in (report / "samlconf-report.html").read_text()


def test_lax_sp_that_uses_the_signed_identity_is_warn_worded_as_lax_parsing(tmp_path, servers):
    results = run(tmp_path, servers, "lax_signed", ["FLOW-01", *XSW])
    assert results["FLOW-01"].verdict == "pass", results["FLOW-01"].reason
    warned = {sid for sid in XSW if results[sid].verdict == "warn"}
    assert warned >= {"XSW-01", "XSW-02", "XSW-03", "XSW-04", "XSW-05", "XSW-07", "XSW-08"}, \
        {sid: results[sid].reason for sid in XSW}
    for sid in XSW:
        r = results[sid]
        assert r.verdict in ("warn", "pass"), (sid, r.verdict, r.reason)
        if r.verdict == "warn":
            assert "used the genuinely signed identity" in r.reason
            assert "strict parsing would refuse it" in r.reason
            assert "takeover" not in r.reason and "forged identity" not in r.reason
            assert "variant (a) unchanged values" in r.reason and "variant (b) victim" in r.reason


def test_sp_that_signs_in_the_victim_fails_as_a_takeover(tmp_path, servers):
    results = run(tmp_path, servers, "first_assertion", ["FLOW-01", "XSW-03", "XSW-04", "XSW-05", "XSW-11"])
    assert results["FLOW-01"].verdict == "pass", results["FLOW-01"].reason
    for sid in ("XSW-03", "XSW-04", "XSW-05"):  # the evil copy comes first in document order
        r = results[sid]
        assert r.verdict == "fail", (sid, r.reason)
        assert r.reason.startswith("SP signed in the forged identity 'admin.") and "account takeover" in r.reason
        assert "variant (b) victim admin." in r.reason
    # XSW-11 appends the victim's unsigned Assertion after the signed one: the first one is the
    # attacker's own, genuinely signed: lax parsing, not a takeover
    r = results["XSW-11"]
    assert r.verdict == "warn" and "used the genuinely signed identity" in r.reason, r.reason


def test_refusing_the_whole_login_is_a_safe_answer_to_an_offsite_relay_state(tmp_path, servers):
    results = run(tmp_path, servers, "refuses_relay", ["RLY-01", "FLOW-01"])
    assert results["FLOW-01"].verdict == "pass"
    r = results["RLY-01"]
    assert r.verdict == "pass", r.reason
    assert r.reason.startswith("SP refused the login: refusing the login is as safe as signing in without the redirect")
    assert r.control and r.control.startswith("baseline accepted"), "a safe refusal counts only with a working baseline"
    assert r.findings and "HTTP 500" in r.findings[0]
    # and an SP that signs the user in and stays on site passes as before
    assert run(tmp_path, servers, "strict", ["RLY-01"])["RLY-01"].verdict == "pass"


def chromium() -> str | None:
    return os.environ.get("SAMLCONF_CHROMIUM") or shutil.which("chromium")


@pytest.mark.browser
def test_browser_driver_judges_a_500_refusal_by_whoami(tmp_path, servers):
    pytest.importorskip("playwright.sync_api")
    if not chromium():
        pytest.skip("no Chromium: set SAMLCONF_CHROMIUM or install Debian's chromium")
    results = run(tmp_path, servers, "strict", ["SIG-01"], drivers=("browser",), chromium=chromium(),
                  artifacts_dir=tmp_path / "art")
    r = results["SIG-01"]
    assert r.verdict == "pass", r.reason
    assert r.findings and "HTTP 500" in r.findings[0]


@pytest.mark.browser
def test_a_failed_browser_login_says_the_browser_dropped_the_session_cookie(tmp_path):
    pytest.importorskip("playwright.sync_api")
    if not chromium():
        pytest.skip("no Chromium: set SAMLCONF_CHROMIUM or install Debian's chromium")
    server = LoopbackServer().start(create_app("strict", insecure_samesite_none=True))
    try:
        results = run(tmp_path, {"strict": server}, "strict", ["FLOW-01"], drivers=("browser",),
                      chromium=chromium(), artifacts_dir=tmp_path / "art")
    finally:
        server.stop()
    r = results["FLOW-01"]
    assert r.verdict == "fail"
    assert "the browser dropped the cookie 'sid'" in r.reason and "SameSite=None without Secure" in r.reason
    assert any("dropped the cookie 'sid'" in f for f in r.findings)
    assert r.hops and r.artifacts, "the failing browser run keeps its hops, screenshots and trace"
