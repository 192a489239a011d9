"""Robustness of the reference SP (issue 13, items 5, 6 and 8): typed admin API fields, SP metadata
built once, keys kept private under the samlconf home."""
from __future__ import annotations

import os
import httpx
import pytest

from mock_idp.keys import KeyTrustError, load_or_create


def admin(sp, method: str, path: str, body) -> httpx.Response:
    return httpx.request(method, sp.url + path, json=body,
                         headers={"Authorization": f"Bearer {sp.cfg.admin_token}"})


@pytest.mark.parametrize(("path", "body", "needle"), [
    ("/admin/api/accounts", {"id": "777", "saml_active": "false"}, "'saml_active' must be true or false"),
    ("/admin/api/accounts", {"id": "778", "saml_active": 1}, "'saml_active' must be true or false"),
    ("/admin/api/accounts", {"id": ["779"]}, "'id' must be a string"),
    ("/admin/api/local-users", {"email": "t1@example.com", "password": "p", "accounts": ["12345"]},
     "'accounts' must be an object"),
    ("/admin/api/local-users", {"email": "t2@example.com", "password": "p", "accounts": {"12345": 3}},
     "'accounts' must be an object of strings"),
    ("/admin/api/local-users", {"email": {"a": 1}, "password": "p"}, "'email' must be a string"),
    ("/admin/api/local-users", {"email": "t3@example.com", "password": "p", "first_name": ["x"]},
     "'first_name' must be a string"),
])
def test_admin_fields_of_the_wrong_type_are_json_400s(sp, path, body, needle) -> None:
    r = admin(sp, "POST", path, body)
    assert r.status_code == 400, r.text[:300]
    assert r.headers["content-type"].startswith("application/json")
    assert needle in r.json()["error"]


def test_string_false_never_activates_an_account(sp) -> None:
    admin(sp, "POST", "/admin/api/accounts", {"id": "780", "saml_active": "false"})
    r = admin(sp, "POST", "/admin/api/accounts", {"id": "781", "saml_active": False})
    assert r.status_code == 201 and r.json()["saml_active"] == 0
    state = admin(sp, "GET", "/admin/api/state", None).json()
    ids = [str(a["id"]) for a in state["accounts"]]
    assert "781" in ids and "780" not in ids, ids


def test_sp_metadata_is_built_once(sp) -> None:
    refsp = sp.server._app.extensions["refsp"]
    real = refsp._build_sp_metadata
    calls = []

    def counting(rows):
        calls.append(1)
        return real(rows)

    refsp._build_sp_metadata = counting
    try:
        first = httpx.get(sp.url + "/saml/metadata").content
        for _ in range(20):
            assert httpx.get(sp.url + "/saml/metadata").content == first
    finally:
        refsp._build_sp_metadata = real
    assert len(calls) <= 1


def test_keys_live_under_the_samlconf_home_and_are_private(tmp_path, monkeypatch) -> None:
    from reference_sp.app import RefSP, SPConfig

    monkeypatch.setenv("SAMLCONF_HOME", str(tmp_path / "home"))
    RefSP(SPConfig(base_url="http://127.0.0.1:1", idp_metadata=None, db_path=tmp_path / "sp.sqlite"))
    keys = tmp_path / "home" / "reference-sp" / "keys"
    key = keys / "refsp" / "key.pem"
    assert key.is_file()
    assert (keys.stat().st_mode & 0o777) == 0o700
    assert (key.stat().st_mode & 0o777) == 0o600


def test_keys_others_can_write_are_refused(tmp_path) -> None:
    load_or_create("k", cache_dir=tmp_path)
    key = tmp_path / "keys" / "k" / "key.pem"
    os.chmod(key, 0o622)
    with pytest.raises(KeyTrustError, match="writable by other users"):
        load_or_create("k", cache_dir=tmp_path)
    os.chmod(key, 0o600)
    os.chmod(key.parent, 0o777)
    with pytest.raises(KeyTrustError, match="writable by other users"):
        load_or_create("k", cache_dir=tmp_path)
    os.chmod(key.parent, 0o700)
    assert load_or_create("k", cache_dir=tmp_path).key_pem == key.read_bytes()
