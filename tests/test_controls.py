"""Shared positive controls (issue 12): refusals share one valid login before and one after them,
and a control that fails after them turns every refusal that waited for it into `inconclusive`."""
from __future__ import annotations

import httpx

from harness.engine import Engine
from harness.events import ScenarioFinished, ScenarioStarted
from harness.registry import get
from harness.runtime import Runtime
from harness.suite import resolve_target
from mock_idp import ephemeral
from mock_idp.idp import MockIdP

NEGATIVE = ["AUD-01", "SIG-01", "TIME-01", "DST-01", "ISS-01", "XSW-03", "RPL-02", "CMT-01"]


def _run(ids, listener=None, batch=8):
    target = resolve_target(None, "redis_cloud")
    with Runtime(target, seed=77) as rt:
        engine = Engine(rt, ["http"], [listener] if listener else [])
        engine.start_run([get(i) for i in ids])
        if listener is not None:
            listener.runtime = rt
        engine.run_batch([get(i) for i in ids], ["http"], control_batch=batch)
        engine.finish_run()
    return engine


def test_refusals_share_controls_before_and_after() -> None:
    engine = _run(NEGATIVE)
    verdicts = {r.id: r.verdict for r in engine.results}
    assert verdicts == {i: "pass" for i in NEGATIVE}, verdicts
    # one before the first, one after the eight (versus eight one-per-scenario controls)
    assert engine.controls_run == 2
    assert all("one control shared by" in (r.control or "") for r in engine.results)
    one_by_one = _run(NEGATIVE[:3], batch=1)
    assert one_by_one.controls_run == 3


class BreakTheSP:
    """When the third scenario starts, the SP stops trusting our IdP (its IdP metadata replaced by
    another key's): from then on every login is refused, valid or not. Collects what is reported."""

    runtime = None

    def __init__(self) -> None:
        self.reported: list = []

    def __call__(self, event) -> None:
        if isinstance(event, ScenarioFinished):
            self.reported.append(event.result)
        if isinstance(event, ScenarioStarted) and event.id == NEGATIVE[2]:
            rt = self.runtime
            other = MockIdP(rt.target.idp.entity_id, base_url=rt.idp_base_url, key=ephemeral("rotated"))
            r = httpx.post(rt.target.base_url + "/admin/api/idps",
                           json={"id": "default", "metadata_xml": other.metadata_xml().decode()},
                           headers={"Authorization": f"Bearer {rt.secrets['SAMLCONF_REFSP_TOKEN']}"})
            assert r.status_code == 200, r.text


def test_a_failed_control_after_refusals_makes_them_inconclusive() -> None:
    breaker = BreakTheSP()
    engine = _run(NEGATIVE[:4], listener=breaker)
    verdicts = {r.id: r.verdict for r in engine.results}
    assert verdicts == {i: "inconclusive" for i in NEGATIVE[:4]}, verdicts
    assert all("positive control after it failed" in r.reason for r in engine.results)
    assert len(breaker.reported) == 4  # every result was reported
