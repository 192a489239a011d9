"""Who is signed in is matched against what the target says identifies a user and against what the
IdP really issued: a transient NameID (mellon-like SP, tests/xmlsec_sp.py with `transient`), an
answer showing a session without the identity (never "nobody"), dotted paths with list indices,
and ATTR-01/ATTR-05 `not tested` under a profile that requires no attribute."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness.context import shows_session
from harness.runtime import json_path
from harness.serving import LoopbackServer
from harness.target import load_target
from tests.conftest import run_target
from tests.xmlsec_sp import create_app

def target(tmp_path: Path, base: str, whoami: str, profile: str = "generic") -> Path:
    p = tmp_path / "t.toml"
    p.write_text(f"""
name = "xmlsec-sp (transient)"
profile = "{profile}"
base_url = "{base}"
[sp]
metadata_url = "/saml/metadata"
[login]
sp_initiated_url = "/login?email={{email}}"
[whoami]
url = "/api/me"
{whoami}
[hooks.configure_idp]
method = "POST"
url = "/admin/configure-idp"
json = {{ idp_metadata = "{{idp_metadata}}" }}
""")
    return p


@pytest.fixture(scope="module")
def transient_sp():
    s = LoopbackServer().start(create_app("strict", transient=True))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def lax_transient_sp():
    s = LoopbackServer().start(create_app("lax_signed", transient=True))
    yield s
    s.stop()


def run(path: Path, ids: list[str]) -> dict:
    results, issued = run_target(load_target(path), ids, seed=99,
                                 inspect=lambda rt: [i.name_id for i in rt.idp.issued])
    return {r.id: r for r in results} | {"_issued": issued}


def test_transient_name_id_is_matched_against_what_the_idp_issued(tmp_path, transient_sp):
    results = run(target(tmp_path, transient_sp.base_url, 'json_path = "user"\nidentity = "name_id"'), ["FLOW-01"])
    r = results["FLOW-01"]
    assert r.verdict == "pass", r.reason
    assert all(n.startswith("_") for n in results["_issued"]), "the IdP issued transient NameIDs"


def test_without_identity_the_transient_name_id_is_not_the_email(tmp_path, transient_sp):
    # the same SP with the identity left at its default (the email attribute): a true mismatch
    r = run(target(tmp_path, transient_sp.base_url, 'json_path = "user"'), ["FLOW-01"])["FLOW-01"]
    assert r.verdict == "fail" and "expected" in r.reason


def test_xsw_on_a_transient_sp_is_judged_by_the_issued_name_id(tmp_path, lax_transient_sp):
    results = run(target(tmp_path, lax_transient_sp.base_url, 'json_path = "user"\nidentity = "name_id"'),
                  ["XSW-03"])
    r = results["XSW-03"]
    assert r.verdict == "warn" and "used the genuinely signed identity" in r.reason, r.reason


def test_a_session_without_the_identity_is_never_nobody(tmp_path, transient_sp):
    # under a profile requiring Email (redis_cloud), the SP accepts a Response without it and shows
    # {"user": nid, "email": null}: someone is signed in, identity unknown -> inconclusive, never a pass
    path = target(tmp_path, transient_sp.base_url, 'json_path = "email"\nsession_path = "user"', "redis_cloud")
    r = run(path, ["ATTR-01"])["ATTR-01"]
    assert r.verdict == "inconclusive", r.reason
    assert "someone is signed in" in r.reason and "nobody" not in r.reason


def test_the_same_defect_is_a_fail_when_the_identity_is_the_name_id(tmp_path, transient_sp):
    path = target(tmp_path, transient_sp.base_url, 'json_path = "user"\nidentity = "name_id"', "redis_cloud")
    r = run(path, ["ATTR-01"])["ATTR-01"]
    assert r.verdict == "fail", r.reason


def test_generic_profile_asserts_no_required_attribute(tmp_path, transient_sp):
    results = run(target(tmp_path, transient_sp.base_url, 'json_path = "user"\nidentity = "name_id"'),
                  ["ATTR-01", "ATTR-05"])
    for sid in ("ATTR-01", "ATTR-05"):
        assert results[sid].verdict == "not-tested", results[sid].reason
        assert "required attributes" in results[sid].reason


def test_json_path_is_dotted_with_list_indices():
    data = {"user": {"emails": ["a@x", "b@x"], "ids": [{"nid": "_1"}]}}
    assert json_path(data, "user.emails.1") == "b@x"
    assert json_path(data, "user.ids.0.nid") == "_1"
    assert json_path(data, "user.emails.5") is None and json_path(data, "user.nope") is None


@pytest.mark.parametrize(("data", "path", "expected"), [
    ({"user": "_abc", "email": None}, "user", True),
    ({"user": None, "email": None}, "user", False),
    ({"authenticated": False, "email": None}, None, False),
    ({"authenticated": True, "email": None}, None, True),
    ({"error": "not signed in"}, None, False),
    ({"attributes": {"uid": ["x"]}, "email": None}, None, True),
    ({}, None, False),
    (None, None, False),
])
def test_shows_session(data, path, expected):
    assert shows_session(data, path) is expected
