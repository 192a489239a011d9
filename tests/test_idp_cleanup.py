"""A run leaves the SP's SAML configurations as it found them: scenarios that add another IdP
(KEY-07, ATTR-14, RF-ONE-IDP) register its removal, and the engine calls the target's optional
`delete_idp` hook when the scenario ends. Without the hook the configurations stay (the old
behaviour, shown here so that the check can fail). Those scenarios change SP-wide state, so with
workers they run in the one serial group."""
from __future__ import annotations

import httpx
import pytest

from harness.registry import get
from harness.suite import resolve_target
from harness.target import REFSP_TOKEN_VAR
from tests.conftest import run_target


def configured(rt) -> tuple[list[str], list[str]]:
    """The SP's SAML configurations and tenants, from the reference SP's admin API."""
    r = httpx.get(rt.target.url("/admin/api/state"),
                  headers={"Authorization": f"Bearer {rt.secrets[REFSP_TOKEN_VAR]}"}, timeout=10)
    r.raise_for_status()
    return sorted(i["id"] for i in r.json()["idps"]), sorted(t["id"] for t in r.json()["tenants"])


@pytest.mark.parametrize(("profile", "ids"), [
    ("redis_cloud", ["KEY-07"]),
    ("redflag", ["KEY-07", "ATTR-14", "RF-ONE-IDP"]),
])
@pytest.mark.parametrize("with_hook", [True, False])
def test_added_idp_configurations_are_removed_when_the_target_has_delete_idp(profile, ids, with_hook):
    target = resolve_target(None, profile)
    assert "delete_idp" in target.hooks
    if not with_hook:
        target = target.model_copy(update={"hooks": {k: v for k, v in target.hooks.items() if k != "delete_idp"}})
    before: list[tuple[list[str], list[str]]] = []
    results, after = run_target(target, ids, seed=4242, tweak=lambda rt: before.append(configured(rt)),
                                inspect=configured)
    assert {r.id: r.verdict for r in results} == {i: "pass" for i in ids}, [r.reason for r in results]
    assert not any("cleanup failed" in f for r in results for f in r.findings)
    if with_hook:
        assert after == before[0], "the run left SAML configurations (or their tenants) behind"
    else:
        assert len(after[0]) == len(before[0][0]) + len(ids), "without delete_idp the added configurations stay"


def test_delete_idp_removes_what_is_bound_to_it_and_keeps_the_default(sp, idp):
    headers = {"Authorization": f"Bearer {sp.cfg.admin_token}"}
    md = idp.idp.metadata_xml().decode().replace(idp.idp.entity_id, "urn:samlconf:cleanup-idp")
    assert httpx.post(sp.url + "/admin/api/idps", json={"id": "gone", "metadata_xml": md},
                      headers=headers).status_code == 200
    assert httpx.post(sp.url + "/admin/api/accounts", json={"id": "909090", "idp_id": "gone", "saml_active": True},
                      headers=headers).status_code == 201
    r = httpx.delete(sp.url + "/admin/api/idps/gone", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["removed"]["accounts"] == 1 and r.json()["removed"]["idps"] == 1
    state = httpx.get(sp.url + "/admin/api/state", headers=headers).json()
    assert "gone" not in [i["id"] for i in state["idps"]]
    assert "909090" not in [a["id"] for a in state.get("accounts", [])]
    assert httpx.delete(sp.url + "/admin/api/idps/gone", headers=headers).status_code == 404
    r = httpx.delete(sp.url + f"/admin/api/idps/{sp.cfg.idp_id}", headers=headers)
    assert r.status_code == 409 and "configured IdP" in r.json()["error"]


def test_scenarios_that_add_or_replace_an_idp_run_in_the_serial_group():
    for sid in ("KEY-07", "RC-CERT-UPDATE", "ATTR-14", "RF-ONE-IDP", "TEN-02", "TEN-03", "KEY-08", "KEY-10",
                "ALG-10"):
        assert get(sid).shared_state, f"{sid} changes the SP's IdP configurations: it must run in the serial group"
    for sid in ("KEY-07", "RC-CERT-UPDATE", "KEY-08", "KEY-10", "ALG-10", "TEN-03"):
        assert get(sid).exclusive, f"{sid} changes the IdPs every login depends on: with workers it runs alone"
