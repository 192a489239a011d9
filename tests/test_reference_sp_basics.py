"""The reference SP end to end over real HTTP: SP-initiated login, JIT provisioning, whoami, admin
API basics, and the first mutant (`skip_jit`)."""
from __future__ import annotations

import httpx
import pytest
from lxml import etree

from mock_idp.users import generate_user
from reference_sp.testing import SPUnderTest

MD = "urn:oasis:names:tc:SAML:2.0:metadata"


@pytest.fixture(scope="module")
def sp_skip_jit(idp, tmp_path_factory):
    s = SPUnderTest.start(idp, "redis_cloud", mutants=["skip_jit"], db_dir=tmp_path_factory.mktemp("sp"))
    yield s
    s.stop()


def user(seed: int, **kw):
    kw.setdefault("accounts", ["12345=owner"])
    return generate_user("redis_cloud", seed=seed, **kw)


def test_sp_metadata_names_the_acs_and_wants_signed_assertions(sp):
    root = etree.fromstring(sp.metadata())
    assert root.get("entityID") == sp.entity_id
    spsso = root.find(f"{{{MD}}}SPSSODescriptor")
    assert spsso.get("WantAssertionsSigned") == "true"
    acs = spsso.find(f"{{{MD}}}AssertionConsumerService")
    assert acs.get("Location") == sp.url + "/saml/acs"


def test_whoami_is_401_json_without_a_session(sp):
    r = sp.me(sp.browser())
    assert r.status_code == 401
    assert r.json()["error"]


def test_sp_initiated_login_over_http_provisions_the_user_just_in_time(sp):
    b = sp.browser()
    u = user(101)
    email = u.attributes["Email"][0]
    assert sp.user(email) is None
    r = sp.sp_login(b, u)
    assert r.status_code == 302 and r.headers["location"] == "/"
    me = sp.me(b)
    assert me.status_code == 200, me.text
    j = me.json()
    assert j["email"] == email
    assert j["first_name"] == u.attributes["FirstName"][0]
    assert j["last_name"] == u.attributes["LastName"][0]
    assert j["name_id"] == u.name_id
    assert j["accounts"] == {"12345": "owner"}
    assert j["auth_method"] == "saml"
    listed = sp.user(email)
    assert listed is not None and listed["kind"] == "saml" and listed["accounts"] == {"12345": "owner"}


def test_session_cookie_is_named_refsp_session(sp):
    b = sp.browser()
    sp.sp_login(b, user(102))
    assert "refsp_session" in b.cookies


def test_second_login_updates_the_user(sp):
    b = sp.browser()
    u = user(103)
    sp.sp_login(b, u)
    u2 = u.with_attributes(FirstName="Renamed", redisAccountMapping="54321=viewer")
    sp.sp_login(sp.browser(), u2)
    rec = sp.user(u.attributes["Email"][0])
    assert rec["first_name"] == "Renamed"
    assert rec["accounts"] == {"54321": "viewer"}
    assert rec["logins"] == 2


def test_logout_ends_the_session(sp):
    b = sp.browser()
    sp.sp_login(b, user(104))
    assert sp.me(b).status_code == 200
    b.get(sp.url + "/logout", params={"local": "1"})
    assert sp.me(b).status_code == 401


def test_skip_jit_mutant_signs_in_without_creating_the_user(sp_skip_jit):
    b = sp_skip_jit.browser()
    u = user(105)
    r = sp_skip_jit.sp_login(b, u)
    assert r.status_code == 302  # the ACS thinks all went well
    assert sp_skip_jit.me(b).status_code == 401
    assert sp_skip_jit.user(u.attributes["Email"][0]) is None


def test_admin_api_needs_the_token(sp):
    assert httpx.get(sp.url + "/admin/api/users").status_code == 401
    r = httpx.get(sp.url + "/admin/api/users", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    assert sp.admin("GET", "/admin/api/users").status_code == 200


def test_admin_reset_clears_users_and_reseeds(idp, tmp_path):
    s = SPUnderTest.start(idp, "redis_cloud", db_dir=tmp_path)
    try:
        s.sp_login(s.browser(), user(106))
        assert s.users()
        assert s.admin("POST", "/admin/api/reset").json() == {"ok": True}
        assert s.users() == []
        b = s.browser()
        s.sp_login(b, user(107))  # seeded accounts and domains are back
        assert s.me(b).status_code == 200
    finally:
        s.stop()


def test_garbage_at_the_acs_is_a_clear_4xx_never_500(sp):
    b = sp.browser()
    for data in ({}, {"SAMLResponse": "%%%"}, {"SAMLResponse": "PGZvbz4="},  # <foo>
                 {"SAMLResponse": "PD94bWwgdmVyc2lvbj0iMS4wIj8+PGE+"}):  # unclosed
        r = b.post(sp.url + "/saml/acs", data=data)
        assert 400 <= r.status_code < 500, (data, r.status_code)
        assert "error" in r.text
    assert sp.me(b).status_code == 401


# --- storage under concurrency ---------------------------------------------------------------
def test_concurrent_logins_lose_no_update(sp):
    from concurrent.futures import ThreadPoolExecutor

    users = [user(200 + i) for i in range(8)]
    same = user(300)
    jobs = [(u, sp.browser()) for u in users] + [(same, sp.browser()) for _ in range(4)]
    with ThreadPoolExecutor(max_workers=6) as ex:
        codes = list(ex.map(lambda j: sp.solicited(j[1], j[0]).status_code, jobs))
    assert codes == [302] * len(jobs)
    for u in users:
        assert sp.user(u.attributes["Email"][0]) is not None
    assert sp.user(same.attributes["Email"][0])["logins"] == 4


def test_concurrent_double_submit_signs_in_at_most_once(sp):
    from concurrent.futures import ThreadPoolExecutor

    issued = sp.idp_response(user(310))
    browsers = [sp.browser() for _ in range(5)]
    with ThreadPoolExecutor(max_workers=5) as ex:
        codes = list(ex.map(lambda b: sp.post_issued(b, issued).status_code, browsers))
    assert sorted(codes) == [302, 403, 403, 403, 403]


# --- profile "generic" -------------------------------------------------------------------------
def test_generic_profile_sp_and_idp_initiated(idp, tmp_path):
    s = SPUnderTest.start(idp, "generic", db_dir=tmp_path)
    try:
        b = s.browser()
        u = generate_user("generic", seed=400)
        assert s.sp_login(b, u).status_code == 302
        me = s.me(b).json()
        assert me["email"] == u.attributes["Email"][0] and me["accounts"] == {} and me["tenants"] == []
        b2 = s.browser()
        assert s.post_issued(b2, s.idp_response(generate_user("generic", seed=401))).status_code == 302
        assert s.me(b2).status_code == 200
    finally:
        s.stop()


def test_junk_on_every_route_is_never_a_500(sp):
    b = sp.browser()
    junk = [
        ("GET", "/login", {"params": {"email": "not-an-email"}}),
        ("GET", "/login", {"params": {"email": "a@b@c"}}),
        ("GET", "/saml/metadata", {"params": {"idpId": "nope"}}),
        ("POST", "/saml/acs", {"data": {"SAMLResponse": "A" * 10, "RelayState": "x" * 5000}}),
        ("POST", "/saml/acs", {"content": b"\xff\xfe\x00", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}),
        ("POST", "/saml/acs", {"data": {"SAMLResponse": "PHNhbWxwOlJlc3BvbnNlLz4="}}),  # <samlp:Response/> unbound prefix
        ("GET", "/saml/slo", {}),
        ("GET", "/saml/slo", {"params": {"SAMLRequest": "%%%"}}),
        ("GET", "/saml/slo", {"params": {"SAMLResponse": "eJzLSM3JyQcABiwCFQ=="}}),
        ("POST", "/login/password", {"content": b"{not json", "headers": {"Content-Type": "application/json"}}),
        ("POST", "/login/password", {"data": {"email": "x", "password": "y"}}),
        ("POST", "/api/tenant", {"json": {"tenant": "x"}}),
        ("GET", "/logout", {}),
        ("PUT", "/saml/acs", {}),
    ]
    for method, path, kw in junk:
        r = b.request(method, sp.url + path, **kw)
        assert r.status_code < 500, (method, path, kw, r.status_code, r.text[:200])
    hdr = {"Authorization": f"Bearer {sp.cfg.admin_token}"}
    for method, path, body in [("POST", "/admin/api/saml/activate", {"account": "nope", "by": "x@y"}),
                               ("POST", "/admin/api/saml/activate", ["not", "an", "object"]),
                               ("POST", "/admin/api/idps", {"id": "x", "metadata_xml": "<junk"}),
                               ("POST", "/admin/api/idps", {"id": "x", "metadata_xml": "<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>"}),
                               ("POST", "/admin/api/domains/nope/verify", None),
                               ("DELETE", "/admin/api/users/nobody@example.com", None),
                               ("POST", "/admin/api/link-request", {"token": "x", "account": "12345", "by": "x@y"}),
                               ("POST", "/admin/api/local-users", {"email": "a@b.c", "password": "p", "accounts": {"12345": "god"}})]:
        r = b.request(method, sp.url + path, json=body, headers=hdr)
        assert 400 <= r.status_code < 500 and "error" in r.json(), (path, r.status_code, r.text[:200])


def test_cli_serve_runs_the_sp_alone(idp, tmp_path):
    import socket
    import subprocess
    import sys
    import time

    md = tmp_path / "idp.xml"
    md.write_bytes(idp.idp.metadata_xml())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**__import__("os").environ, "SAMLCONF_MUTANT": "skip_jit", "SAMLCONF_REFSP_TOKEN": "tok"}
    proc = subprocess.Popen([sys.executable, "-m", "reference_sp.cli", "sp", "serve", "--profile", "redflag",
                             "--port", str(port), "--idp-metadata", str(md), "--db", str(tmp_path / "sp.sqlite"),
                             "--mutant", "ignores_audience"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                r = httpx.get(url + "/admin/api/state", headers={"Authorization": "Bearer tok"}, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        else:
            raise AssertionError(proc.stderr.read().decode() if proc.poll() is not None else "no answer")
        state = r.json()
        assert state["profile"] == "redflag"
        assert state["mutants"] == ["ignores_audience", "skip_jit"]
        assert [t["id"] for t in state["tenants"]] == ["pocketstop1", "pocketstop2"]
        assert httpx.get(url + "/login", params={"saml": "pocketstop1"}).status_code == 302
    finally:
        proc.terminate()
        proc.wait(timeout=10)
