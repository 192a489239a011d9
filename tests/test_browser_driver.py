"""The browser driver (Playwright + Chromium) carries the same scenarios as the http driver."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.browser


def chromium() -> str | None:
    return os.environ.get("SAMLCONF_CHROMIUM") or shutil.which("chromium")


@pytest.fixture(scope="module", autouse=True)
def _need_chromium():
    if not chromium():
        pytest.skip("no Chromium: set SAMLCONF_CHROMIUM or install Debian's chromium")


@pytest.mark.parametrize("profile", ["redis_cloud", "redflag"])
def test_flows_pass_under_both_drivers(run, profile, tmp_path):
    results = run(profile, ["FLOW-01", "FLOW-02"], drivers=("http", "browser"),
                  chromium=chromium(), artifacts_dir=tmp_path)
    assert {k: r.verdict for k, r in results.items()} == {
        "FLOW-01[http]": "pass", "FLOW-01[browser]": "pass",
        "FLOW-02[http]": "pass", "FLOW-02[browser]": "pass",
    }
    browser = results["FLOW-01[browser]"]
    assert any(h.url.endswith("/saml/acs") and h.saml.get("SAMLResponse") for h in browser.hops), \
        "the browser's POST to the ACS is in the evidence"
    assert any(a.endswith(".png") for a in browser.artifacts), "a screenshot per hop"


def test_browser_failure_keeps_a_trace(run, tmp_path):
    results = run("redis_cloud", ["FLOW-01"], mutants=["skip_jit"], drivers=("browser",),
                  chromium=chromium(), artifacts_dir=tmp_path)
    r = results["FLOW-01"]
    assert r.verdict == "fail"
    traces = [a for a in r.artifacts if a.endswith("trace.zip")]
    assert traces and Path(traces[0]).stat().st_size > 0
