"""Contract A (profile `redis_cloud`, seed 000_4a63e60a69ce5ace.txt) driven over real HTTP against
the running reference SP: email form and domain -> SAML configuration, DNS TXT domain verification
(a real dnslib server on loopback), redisAccountMapping in both forms, refused roles and pairs,
activation, bypass users, linking accounts, deactivation, deprovisioning, RelayState idpId, SP
metadata that follows the IdP certificate, IdP-initiated SSO and single logout."""
from __future__ import annotations

import base64
import secrets
import threading
import zlib
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from dnslib import QTYPE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer
from lxml import etree

from mock_idp.idp import PLAN_COOKIE
from mock_idp.users import generate_user
from reference_sp.testing import IdPUnderTest, SPUnderTest, form_fields

_seed = iter(range(10_000, 20_000))


# --- a real DNS server on loopback ------------------------------------------------------------
class TxtResolver(BaseResolver):
    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.lock = threading.Lock()

    def resolve(self, request, handler):  # noqa: D102
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        if request.q.qtype == QTYPE.TXT:
            with self.lock:
                for value in self.records.get(name, []):
                    reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(value), ttl=1))
        return reply


@pytest.fixture(scope="module")
def dns():
    resolver = TxtResolver()
    server = DNSServer(resolver, address="127.0.0.1", port=0,
                       logger=DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data"))
    server.start_thread()
    port = server.server.server_address[1]
    yield resolver, f"127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="module")
def idp2():
    i = IdPUnderTest.start("urn:samlconf:acme-idp", profile="redis_cloud")
    yield i
    i.stop()


@pytest.fixture(scope="module")
def _sp(idp, dns, tmp_path_factory):
    s = SPUnderTest.start(idp, "redis_cloud", db_dir=tmp_path_factory.mktemp("sp"), dns_resolver=dns[1])
    yield s
    s.stop()


@pytest.fixture()
def sp(_sp, dns):
    """The module's SP, reset to its seeded state (default IdP, example.com, accounts 12345/54321)."""
    assert _sp.admin("POST", "/admin/api/reset").status_code == 200
    dns[0].records.clear()
    return _sp


def user(accounts=("12345=member",), **kw):
    return generate_user("redis_cloud", seed=next(_seed), accounts=list(accounts), **kw)


def email_of(u) -> str:
    return u.attributes["Email"][0]


def ok(r: httpx.Response, status: int = 200) -> dict:
    assert r.status_code == status, r.text
    return r.json()


def local_user(sp, email, accounts, password="pw-" + "x" * 8):
    return ok(sp.admin("POST", "/admin/api/local-users",
                       {"email": email, "password": password, "accounts": accounts,
                        "first_name": "L", "last_name": "U"}), 201)


def password_login(sp, email, password="pw-" + "x" * 8):
    b = sp.browser()
    r = b.post(sp.url + "/login/password", json={"email": email, "password": password})
    return b, r


# --- sign-in start: email form, domain -> configuration ---------------------------------------
def test_login_without_email_shows_the_email_form(sp):
    r = sp.browser().get(sp.url + "/login")
    assert r.status_code == 200 and "name='email'" in r.text


def test_email_domain_selects_the_saml_configuration(sp, idp2, dns):
    ok(sp.admin("POST", "/admin/api/idps", {"id": "acme", "metadata_xml": idp2.idp.metadata_xml().decode()}))
    d = ok(sp.admin("POST", "/admin/api/domains", {"domain": "acme.test", "idp_id": "acme"}), 201)
    dns[0].records["acme.test"] = [d["txt_record"]]
    assert ok(sp.admin("POST", "/admin/api/domains/acme.test/verify"))["status"] == "verified"
    r = sp.start_login(sp.browser(), email="someone@acme.test")
    assert r.status_code == 302 and r.headers["location"].startswith(idp2.server.base_url + "/sso")
    r = sp.start_login(sp.browser(), email="someone@example.com")
    assert r.headers["location"].startswith(sp.idp.server.base_url + "/sso")


def test_unverified_domain_cannot_start_sso(sp):
    r = sp.start_login(sp.browser(), email="x@unverified.test")
    assert r.status_code == 403 and "not verified" in r.text


def test_dns_txt_verification(sp, dns):
    d = ok(sp.admin("POST", "/admin/api/domains", {"domain": "corp.test"}), 201)
    assert d["status"] == "pending" and d["txt_record"].startswith("samlconf-site-verification=")
    res = ok(sp.admin("POST", "/admin/api/domains/corp.test/verify"))
    assert res["status"] == "pending" and res["error"]
    dns[0].records["corp.test"] = ["v=spf1 -all", "samlconf-site-verification=wrong"]
    assert ok(sp.admin("POST", "/admin/api/domains/corp.test/verify"))["status"] == "pending"
    dns[0].records["corp.test"].append(d["txt_record"])
    assert ok(sp.admin("POST", "/admin/api/domains/corp.test/verify"))["status"] == "verified"
    # and now users of the domain sign in
    b = sp.browser()
    u = user(email=f"jo.{secrets.token_hex(3)}@corp.test")
    assert sp.sp_login(b, u).status_code == 302
    assert sp.me(b).json()["email"] == email_of(u)


def test_users_of_an_unverified_domain_cannot_sign_in_idp_initiated(sp):
    u = user(email="eve@unverified.test")
    b = sp.browser()
    r = sp.post_issued(b, sp.idp_response(u))
    assert r.status_code == 403 and "not verified" in r.text
    assert sp.me(b).status_code == 401 and sp.user(email_of(u)) is None


# --- redisAccountMapping ----------------------------------------------------------------------
@pytest.mark.parametrize("mapping", [["12345=owner,54321=manager"], ["12345=owner", "54321=manager"],
                                     [" 12345=owner , 54321=manager "]])
def test_account_mapping_both_forms(sp, mapping):
    b = sp.browser()
    u = user(mapping)
    assert sp.sp_login(b, u).status_code == 302
    assert sp.me(b).json()["accounts"] == {"12345": "owner", "54321": "manager"}


@pytest.mark.parametrize("role", ["owner", "member", "manager", "billing_admin", "viewer"])
def test_every_lowercase_role(sp, role):
    b = sp.browser()
    sp.sp_login(b, user([f"12345={role}"]))
    assert sp.me(b).json()["accounts"] == {"12345": role}


@pytest.mark.parametrize("bad", ["12345=admin", "12345=Owner", "12345:owner", "12345", "=owner",
                                 "abc=owner", "12345=owner=x"])
def test_unknown_role_or_malformed_pair_alone_refuses_sign_in(sp, bad):
    b = sp.browser()
    u = user([bad])
    r = sp.sp_login(b, u)
    assert r.status_code == 403 and "account mapping" in r.text
    assert sp.me(b).status_code == 401 and sp.user(email_of(u)) is None


def test_bad_pair_next_to_good_one_gives_no_access_to_that_account_and_an_error_page(sp):
    b = sp.browser()
    r = sp.sp_login(b, user(["12345=viewer,54321=superuser"]))
    assert r.status_code == 200 and "superuser" in r.text and "refused" in r.text
    assert sp.me(b).json()["accounts"] == {"12345": "viewer"}


def test_account_not_linked_to_this_configuration_gives_no_access(sp):
    b = sp.browser()
    r = sp.sp_login(b, user(["12345=viewer", "99999=owner"]))
    assert r.status_code == 200 and "99999" in r.text
    assert sp.me(b).json()["accounts"] == {"12345": "viewer"}


def test_contradicting_roles_for_one_account_give_no_access_to_it(sp):
    b = sp.browser()
    sp.sp_login(b, user(["12345=viewer,12345=owner,54321=member"]))
    assert sp.me(b).json()["accounts"] == {"54321": "member"}


def test_attribute_names_are_case_sensitive(sp):
    b = sp.browser()
    u = user()
    u.attributes["email"] = u.attributes.pop("Email")
    r = sp.sp_login(b, u, params={"email": u.attributes["email"][0]})
    assert r.status_code == 403 and "&#39;Email&#39; is missing" in r.text


def test_mapping_is_reprovisioned_at_each_login(sp):
    u = user(["12345=owner,54321=viewer"])
    sp.sp_login(sp.browser(), u)
    b = sp.browser()
    sp.sp_login(b, u.with_attributes(redisAccountMapping=["54321=manager"]))
    assert sp.me(b).json()["accounts"] == {"54321": "manager"}


# --- activation, bypass users, deactivation ---------------------------------------------------
def _new_account(sp, acct, idp_id="default", active=False):
    ok(sp.admin("POST", "/admin/api/accounts", {"id": acct, "idp_id": idp_id, "saml_active": active}), 201)


def test_activation_converts_local_users_except_the_activating_owner(sp):
    _new_account(sp, "700")
    local_user(sp, "owner@example.com", {"700": "owner"})
    local_user(sp, "alice@example.com", {"700": "member"})
    assert password_login(sp, "alice@example.com")[1].status_code == 200
    res = ok(sp.admin("POST", "/admin/api/saml/activate", {"account": "700", "by": "owner@example.com"}))
    assert res["converted"] == ["alice@example.com"] and res["kept_local"] == ["owner@example.com"]
    assert password_login(sp, "alice@example.com")[1].status_code == 401
    b, r = password_login(sp, "owner@example.com")
    assert r.status_code == 200 and sp.me(b).json()["auth_method"] == "password"
    # the converted user now signs in with SAML
    b = sp.browser()
    u = user(["700=member"], email="alice@example.com")
    assert sp.sp_login(b, u).status_code == 302
    assert sp.me(b).json()["accounts"] == {"700": "member"}


def test_only_a_local_owner_can_activate(sp):
    _new_account(sp, "701")
    local_user(sp, "m701@example.com", {"701": "member"})
    r = sp.admin("POST", "/admin/api/saml/activate", {"account": "701", "by": "m701@example.com"})
    assert r.status_code == 403


def test_bypass_users_keep_signing_in_with_a_password(sp):
    _new_account(sp, "702")
    local_user(sp, "o702@example.com", {"702": "owner"})
    ok(sp.admin("POST", "/admin/api/saml/activate", {"account": "702", "by": "o702@example.com"}))
    ok(sp.admin("POST", "/admin/api/bypass-users", {"account": "702", "email": "bp@example.com",
                                                    "password": "pw-" + "x" * 8, "role": "manager",
                                                    "by": "o702@example.com"}), 201)
    b, r = password_login(sp, "bp@example.com")
    assert r.status_code == 200
    me = sp.me(b).json()
    assert me["bypass"] is True and me["accounts"] == {"702": "manager"}


def test_deactivation_removes_the_accounts_saml_users(sp):
    _new_account(sp, "703")
    local_user(sp, "o703@example.com", {"703": "owner"})
    ok(sp.admin("POST", "/admin/api/saml/activate", {"account": "703", "by": "o703@example.com"}))
    only, both = sp.browser(), sp.browser()
    u1, u2 = user(["703=viewer"]), user(["703=viewer", "12345=member"])
    sp.sp_login(only, u1)
    sp.sp_login(both, u2)
    r = sp.admin("POST", "/admin/api/saml/deactivate", {"account": "703", "by": email_of(u1)})
    assert r.status_code == 403  # a SAML user cannot deactivate
    res = ok(sp.admin("POST", "/admin/api/saml/deactivate", {"account": "703", "by": "o703@example.com"}))
    assert sorted(res["removed"]) == sorted([email_of(u1).lower(), email_of(u2).lower()])
    assert sp.user(email_of(u1)) is None and sp.me(only).status_code == 401
    assert sp.user(email_of(u2))["accounts"] == {"12345": "member"}
    assert sp.user("o703@example.com")["kind"] == "local"
    # and the account no longer takes SAML sign-ins
    b = sp.browser()
    assert sp.sp_login(b, user(["703=viewer"])).status_code == 403


def test_deleting_a_user_revokes_their_sessions(sp):
    b = sp.browser()
    u = user()
    sp.sp_login(b, u)
    assert sp.me(b).status_code == 200
    res = ok(sp.admin("DELETE", f"/admin/api/users/{quote(email_of(u))}"))
    assert res["sessions_revoked"] == 1
    assert sp.me(b).status_code == 401 and sp.user(email_of(u)) is None


# --- linking accounts -------------------------------------------------------------------------
def test_link_another_account_by_token(sp):
    local_user(sp, "boss@example.com", {"12345": "owner"})
    _new_account(sp, "800", idp_id=None)
    ok(sp.admin("POST", "/admin/api/accounts", {"id": "800"}), 201)
    sp.admin("DELETE", "/admin/api/users/boss@example.com")
    local_user(sp, "boss@example.com", {"12345": "owner", "800": "owner"})
    local_user(sp, "staff800@example.com", {"800": "member"})
    local_user(sp, "other@example.com", {"800": "owner"})
    tok = ok(sp.admin("POST", "/admin/api/link-token", {"account": "12345", "by": "boss@example.com"}))["token"]
    # someone else cannot use the token
    r = sp.admin("POST", "/admin/api/link-request", {"token": tok, "account": "800", "by": "other@example.com"})
    assert r.status_code == 403
    ok(sp.admin("POST", "/admin/api/link-request", {"token": tok, "account": "800", "by": "boss@example.com"}))
    res = ok(sp.admin("POST", "/admin/api/link-approve", {"account": "800", "by": "boss@example.com"}))
    assert res["status"] == "linked" and res["kept_local"] == ["boss@example.com"]
    assert sorted(res["converted"]) == ["other@example.com", "staff800@example.com"]
    b = sp.browser()
    sp.sp_login(b, user(["800=viewer"]))
    assert sp.me(b).json()["accounts"] == {"800": "viewer"}


def test_link_token_needs_an_owner(sp):
    local_user(sp, "mem@example.com", {"12345": "member"})
    r = sp.admin("POST", "/admin/api/link-token", {"account": "12345", "by": "mem@example.com"})
    assert r.status_code == 403


# --- IdP-initiated, RelayState idpId ----------------------------------------------------------
def test_idp_initiated_through_the_idps_own_endpoint(sp):
    b = sp.browser()
    u = user()
    token = sp.idp.idp.plan_login(u)
    r = httpx.get(sp.idp.server.base_url + "/idp-initiated", params={"sp": sp.entity_id},
                  cookies={PLAN_COOKIE: token})
    action, fields = form_fields(r.text)
    r = b.post(action, data=fields)
    assert r.status_code == 302
    assert sp.me(b).json()["email"] == email_of(u)


def test_relaystate_idpid_selects_the_configuration(sp, idp2):
    ok(sp.admin("POST", "/admin/api/idps", {"id": "acme", "metadata_xml": idp2.idp.metadata_xml().decode()}))
    rs = "https://cloud.example/#/login/?idpId=default"
    b = sp.browser()
    r = sp.post_issued(b, sp.idp_response(user(), relay_state=rs))
    assert r.status_code == 302 and r.headers["location"] == "/"
    # a response signed by the default IdP, but RelayState names the acme configuration
    b = sp.browser()
    r = sp.post_issued(b, sp.idp_response(user(), relay_state="https://cloud.example/#/login/?idpId=acme"))
    assert r.status_code == 403 and sp.me(b).status_code == 401
    r = sp.post_issued(sp.browser(), sp.idp_response(user(), relay_state="/#/login/?idpId=nope"))
    assert r.status_code == 403


# --- SP metadata follows the IdP certificate --------------------------------------------------
def test_sp_metadata_changes_when_the_idp_certificate_changes(sp, tmp_path):
    from mock_idp.idp import MockIdP
    from mock_idp.keys import ephemeral

    before = sp.metadata()
    assert sp.metadata() == before  # stable while nothing changes
    rolled = MockIdP(sp.idp.idp.entity_id, base_url=sp.idp.server.base_url, key=ephemeral("rolled"))
    ok(sp.admin("POST", "/admin/api/idps", {"id": "default", "metadata_xml": rolled.metadata_xml().decode()}))
    after = sp.metadata()
    assert after != before
    assert etree.fromstring(after).get("ID") != etree.fromstring(before).get("ID")
    # and the old key no longer signs people in
    b = sp.browser()
    assert sp.post_issued(b, sp.idp_response(user())).status_code == 403


# --- single logout ----------------------------------------------------------------------------
def _redirect_signed(idp_key, param: str, xml: bytes, relay: str | None = None) -> str:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = base64.b64encode(c.compress(xml) + c.flush()).decode()
    parts = [f"{param}={quote(data, safe='')}"]
    if relay is not None:
        parts.append(f"RelayState={quote(relay, safe='')}")
    parts.append("SigAlg=" + quote("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", safe=""))
    signed = "&".join(parts)
    key = serialization.load_pem_private_key(idp_key.key_pem, None)
    sig = key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signed + "&Signature=" + quote(base64.b64encode(sig).decode(), safe="")


def _logout_request(sp, name_id, session_index=None, issuer=None, destination=None,
                    fmt="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress") -> bytes:
    now = datetime.now(timezone.utc)
    ts = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    si = f"<samlp:SessionIndex>{session_index}</samlp:SessionIndex>" if session_index else ""
    return (f'<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
            f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_{secrets.token_hex(16)}" '
            f'Version="2.0" IssueInstant="{ts(now)}" NotOnOrAfter="{ts(now + timedelta(minutes=5))}" '
            f'Destination="{destination or sp.url + "/saml/slo"}">'
            f'<saml:Issuer>{issuer or sp.idp.idp.entity_id}</saml:Issuer>'
            f'<saml:NameID Format="{fmt}">{name_id}</saml:NameID>{si}</samlp:LogoutRequest>').encode()


def test_idp_initiated_single_logout_ends_the_session(sp):
    b, other = sp.browser(), sp.browser()
    u, v = user(), user()
    sp.sp_login(b, u)
    sp.sp_login(other, v)
    # unsigned: refused, session stays
    xml = _logout_request(sp, u.name_id)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    unsigned = "SAMLRequest=" + quote(base64.b64encode(c.compress(xml) + c.flush()).decode(), safe="")
    assert httpx.get(sp.url + "/saml/slo?" + unsigned).status_code == 400
    assert sp.me(b).status_code == 200
    r = httpx.get(sp.url + "/saml/slo?" + _redirect_signed(sp.idp.idp.key, "SAMLRequest", xml, "rs"))
    assert r.status_code == 302 and r.headers["location"].startswith(sp.idp.server.base_url + "/slo")
    q = parse_qs(urlsplit(r.headers["location"]).query)
    assert "Signature" in q and q["RelayState"] == ["rs"]
    resp = etree.fromstring(zlib.decompress(base64.b64decode(q["SAMLResponse"][0]), -15))
    assert resp.find(".//{*}StatusCode").get("Value").endswith(":Success")
    assert sp.me(b).status_code == 401
    assert sp.me(other).status_code == 200  # only the named user's session ends
    # replaying the same LogoutRequest is refused
    assert httpx.get(sp.url + "/saml/slo?" + _redirect_signed(sp.idp.idp.key, "SAMLRequest", xml)).status_code == 400


def test_sp_initiated_logout_sends_a_signed_logout_request(sp):
    b = sp.browser()
    u = user()
    sp.sp_login(b, u)
    r = b.get(sp.url + "/logout")
    assert sp.me(b).status_code == 401  # local session gone before the IdP answers
    assert r.status_code == 302 and r.headers["location"].startswith(sp.idp.server.base_url + "/slo")
    q = parse_qs(urlsplit(r.headers["location"]).query)
    assert q["SigAlg"] == ["http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"] and "Signature" in q
    req = etree.fromstring(zlib.decompress(base64.b64decode(q["SAMLRequest"][0]), -15))
    assert req.tag.endswith("LogoutRequest")
    assert req.find("{*}NameID").text == u.name_id
    assert req.find("{*}Issuer").text == sp.entity_id
