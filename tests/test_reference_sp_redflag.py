"""Contract B (profile `redflag`, seed 002_e57982fb182ae912.txt) driven over real HTTP against the
running reference SP: SP-initiated only, per-tenant sign-on URL, the six attributes, the role
vocabulary with the Entra ID alias, multi-tenant tenantid re-provisioned at each login, switching
tenant, one IdP per tenant, and local users shut out once SAML is on."""
from __future__ import annotations

import httpx
import pytest

from mock_idp.idp import PLAN_COOKIE
from mock_idp.users import generate_user
from reference_sp.testing import IdPUnderTest, SPUnderTest, form_fields

PROFILE = "redflag"  # the conftest `idp` fixture's profile
_seed = iter(range(30_000, 40_000))


@pytest.fixture(scope="module")
def idp2():
    i = IdPUnderTest.start("urn:samlconf:other-tenant-idp", profile="redflag")
    yield i
    i.stop()


@pytest.fixture(scope="module")
def _sp(idp, idp2, tmp_path_factory):
    s = SPUnderTest.start(idp, "redflag", db_dir=tmp_path_factory.mktemp("sp"))
    idp2.idp.register_sp(s.metadata())
    yield s
    s.stop()


@pytest.fixture()
def sp(_sp, idp2):
    assert _sp.admin("POST", "/admin/api/reset").status_code == 200
    r = _sp.admin("POST", "/admin/api/idps", {"id": "other", "metadata_xml": idp2.idp.metadata_xml().decode()})
    assert r.status_code == 200, r.text
    r = _sp.admin("POST", "/admin/api/tenants", {"id": "othertenant", "idp_id": "other"})
    assert r.status_code == 201, r.text
    return _sp


def user(tenants=("pocketstop1",), role="Editor", **kw):
    return generate_user("redflag", seed=next(_seed), tenants=list(tenants), role=role, **kw)


def test_sign_on_url_per_tenant_redirects_to_that_tenants_idp(sp, idp2):
    r = sp.browser().get(sp.url + "/", params={"saml": "pocketstop1"})
    assert r.status_code == 302 and r.headers["location"].startswith(sp.idp.server.base_url + "/sso")
    r = sp.browser().get(sp.url + "/login", params={"saml": "othertenant"})
    assert r.status_code == 302 and r.headers["location"].startswith(idp2.server.base_url + "/sso")


def test_login_needs_a_known_tenant(sp):
    assert sp.browser().get(sp.url + "/login").status_code == 400
    assert sp.browser().get(sp.url + "/login", params={"saml": "nosuch"}).status_code == 404


def test_sp_initiated_login_provisions_the_user_with_tenant_and_role(sp):
    b = sp.browser()
    u = user(role="IT Administrator")
    assert sp.sp_login(b, u).status_code == 302
    me = sp.me(b).json()
    assert me["email"] == u.attributes["email"][0]
    assert me["username"] == u.attributes["username"][0]
    assert me["first_name"] == u.attributes["firstname"][0]
    assert me["last_name"] == u.attributes["lastname"][0]
    assert me["role"] == "IT Administrator"
    assert me["tenants"] == ["pocketstop1"] and me["current_tenant"] == "pocketstop1"


def test_unsolicited_response_is_refused_with_a_clear_error(sp):
    b = sp.browser()
    u = user()
    r = sp.post_issued(b, sp.idp_response(u))
    assert r.status_code == 403 and "SP-initiated" in r.text
    assert sp.me(b).status_code == 401 and sp.user(u.attributes["email"][0]) is None


def test_idp_initiated_through_the_idps_endpoint_is_refused(sp):
    b = sp.browser()
    u = user()
    token = sp.idp.idp.plan_login(u, sign_response=False)
    r = httpx.get(sp.idp.server.base_url + "/idp-initiated", params={"sp": sp.entity_id},
                  cookies={PLAN_COOKIE: token})
    action, fields = form_fields(r.text)
    assert b.post(action, data=fields).status_code == 403
    assert sp.me(b).status_code == 401


@pytest.mark.parametrize("role,stored", [("Super Administrator", "Super Administrator"),
                                         ("Super_Administrator", "Super Administrator"),
                                         ("IT Administrator", "IT Administrator"),
                                         ("Administrator", "Administrator"), ("Editor", "Editor")])
def test_roles(sp, role, stored):
    b = sp.browser()
    sp.sp_login(b, user(role=role))
    assert sp.me(b).json()["role"] == stored


@pytest.mark.parametrize("role", ["editor", "Admin", "SuperAdministrator", "Owner", ""])
def test_unknown_role_is_refused(sp, role):
    b = sp.browser()
    u = user()
    u = u.with_attributes(role=role)
    r = sp.sp_login(b, u)
    assert r.status_code == 403
    assert sp.me(b).status_code == 401 and sp.user(u.attributes["email"][0]) is None


@pytest.mark.parametrize("missing", ["username", "firstname", "lastname", "role", "email", "tenantid"])
def test_each_attribute_is_required(sp, missing):
    b = sp.browser()
    u = user()
    del u.attributes[missing]
    assert sp.sp_login(b, u, params={"saml": "pocketstop1"}).status_code == 403
    assert sp.me(b).status_code == 401


def test_several_tenants_comma_separated_and_switching(sp):
    b = sp.browser()
    sp.sp_login(b, user(["pocketstop1", "pocketstop2"]), params={"saml": "pocketstop2"})
    me = sp.me(b).json()
    assert me["tenants"] == ["pocketstop1", "pocketstop2"] and me["current_tenant"] == "pocketstop2"
    r = b.post(sp.url + "/api/tenant", json={"tenant": "pocketstop1"})
    assert r.status_code == 200
    assert sp.me(b).json()["current_tenant"] == "pocketstop1"
    assert b.post(sp.url + "/api/tenant", json={"tenant": "othertenant"}).status_code == 403


def test_several_tenantid_values_also_count(sp):
    b = sp.browser()
    u = user().with_attributes(tenantid=["pocketstop1", "pocketstop2"])
    sp.sp_login(b, u)
    assert sp.me(b).json()["tenants"] == ["pocketstop1", "pocketstop2"]


def test_tenants_are_reprovisioned_at_every_login(sp):
    u = user(["pocketstop1", "pocketstop2"])
    sp.sp_login(sp.browser(), u)
    email = u.attributes["email"][0]
    assert sp.user(email)["tenants"] == ["pocketstop1", "pocketstop2"]
    sp.sp_login(sp.browser(), u.with_attributes(tenantid="pocketstop2"), params={"saml": "pocketstop2"})
    assert sp.user(email)["tenants"] == ["pocketstop2"]  # removed tenant lost
    sp.sp_login(sp.browser(), u.with_attributes(tenantid="pocketstop2,pocketstop1"), params={"saml": "pocketstop2"})
    assert sp.user(email)["tenants"] == ["pocketstop1", "pocketstop2"]  # added one gained


def test_signing_in_to_a_tenant_the_assertion_does_not_list_is_refused(sp):
    b = sp.browser()
    r = sp.sp_login(b, user(["pocketstop2"]), params={"saml": "pocketstop1"})
    assert r.status_code == 403 and sp.me(b).status_code == 401


def test_assertion_signed_by_another_tenants_idp_is_refused(sp, idp2):
    b = sp.browser()
    u = user(["pocketstop1"])
    rid = sp.pending_request_id(b, saml="pocketstop1")
    issued = idp2.idp.issue_response(sp.entity_id, u, in_response_to=rid, sign_response=False)
    r = sp.post_issued(b, issued)
    assert r.status_code == 403 and sp.me(b).status_code == 401


def test_an_idp_cannot_grant_another_idps_tenant(sp):
    b = sp.browser()
    sp.sp_login(b, user(["pocketstop1", "othertenant"]))
    assert sp.me(b).json()["tenants"] == ["pocketstop1"]


def test_other_tenant_signs_in_through_its_own_idp(sp, idp2):
    b = sp.browser()
    u = user(["othertenant"])
    rid = sp.pending_request_id(b, saml="othertenant")
    r = sp.post_issued(b, idp2.idp.issue_response(sp.entity_id, u, in_response_to=rid, sign_response=False))
    assert r.status_code == 302
    assert sp.me(b).json()["tenants"] == ["othertenant"]


def test_local_users_cannot_sign_in_once_saml_is_on(sp):
    pw = "pw-" + "y" * 8
    r = sp.admin("POST", "/admin/api/local-users", {"email": "loc@example.com", "password": pw,
                                                    "tenants": ["pocketstop1"], "role": "Editor"})
    assert r.status_code == 201, r.text
    b = sp.browser()
    r = b.post(sp.url + "/login/password", json={"email": "loc@example.com", "password": pw})
    assert r.status_code == 403 and sp.me(b).status_code == 401
    # a tenant without SAML still has password sign-in
    sp.admin("POST", "/admin/api/tenants", {"id": "nosaml", "idp_id": "default", "saml_active": False})
    sp.admin("POST", "/admin/api/local-users", {"email": "loc2@example.com", "password": pw,
                                                "tenants": ["nosaml"], "role": "Editor"})
    r = b.post(sp.url + "/login/password", json={"email": "loc2@example.com", "password": pw})
    assert r.status_code == 200 and sp.me(b).json()["auth_method"] == "password"
