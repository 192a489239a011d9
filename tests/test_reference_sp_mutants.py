"""One test per mutant: the same probe runs against the correct reference SP and against the SP with
that one mutant switched on; the mutant must change exactly the named behaviour (the probe's
outcome differs, and is the defective one), while a golden login still works under the mutant
(positive control: the mutant is one defect, not a broken SP)."""
from __future__ import annotations

import base64
import json
import secrets
import threading
import zlib
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import quote

import pytest
from lxml import etree

from mock_idp.users import generate_user
from reference_sp.mutants import MUTANTS
from reference_sp.testing import IdPUnderTest, SPUnderTest

_seed = iter(range(50_000, 90_000))
PW = "pw-" + "z" * 8


# --- SPs: one per (profile, mutant), started on first use, stopped together ------------------
@pytest.fixture(scope="module")
def idps():
    out = {"redis_cloud": IdPUnderTest.start(profile="redis_cloud"),
           "redflag": IdPUnderTest.start(profile="redflag"),
           "other": IdPUnderTest.start("urn:samlconf:other-tenant-idp", profile="redflag")}
    yield out
    for i in out.values():
        i.stop()


@pytest.fixture(scope="module")
def sps(idps, tmp_path_factory):
    cache: dict[tuple[str, str | None], SPUnderTest] = {}

    def get(profile: str, mutant: str | None) -> SPUnderTest:
        key = (profile, mutant)
        if key not in cache:
            s = SPUnderTest.start(idps[profile], profile, mutants=[mutant] if mutant else [],
                                  db_dir=tmp_path_factory.mktemp("sp"),
                                  dns_resolver="127.0.0.1:9")  # loopback, nothing there: never verified
            if profile == "redflag":
                idps["other"].idp.register_sp(s.metadata())
                s.admin("POST", "/admin/api/idps", {"id": "other", "metadata_xml": idps["other"].idp.metadata_xml().decode()})
                s.admin("POST", "/admin/api/tenants", {"id": "othertenant", "idp_id": "other"})
            cache[key] = s
        return cache[key]

    yield get
    threads = [threading.Thread(target=s.stop) for s in cache.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# --- probe helpers --------------------------------------------------------------------------
def rc_user(accounts=("12345=member",), **kw):
    return generate_user("redis_cloud", seed=next(_seed), accounts=list(accounts), **kw)


def rf_user(tenants=("pocketstop1",), role="Editor", **kw):
    return generate_user("redflag", seed=next(_seed), tenants=list(tenants), role=role, **kw)


def outcome(sp: SPUnderTest, b) -> Any:
    r = sp.me(b)
    return r.json() if r.status_code == 200 else None


def login(sp: SPUnderTest, u, faults=(), **opts) -> Any:
    """SP-initiated login with the IdP object issuing the Response; returns whoami or None."""
    b = sp.browser()
    sp.solicited(b, u, faults=list(faults), **opts)
    return outcome(sp, b)


def signed_in(sp, u, faults=(), **opts) -> bool:
    return login(sp, u, faults, **opts) is not None


def retamper(fields: dict[str, str], fn: Callable[[etree._Element], None]) -> dict[str, str]:
    root = etree.fromstring(base64.b64decode(fields["SAMLResponse"]))
    fn(root)
    return dict(fields, SAMLResponse=base64.b64encode(etree.tostring(root)).decode())


def session_sid(b) -> str | None:
    """The server-side session id inside Flask's signed cookie (payload read, not verified)."""
    raw = b.cookies.get("refsp_session")
    if not raw:
        return None
    compressed = raw.startswith(".")
    payload = raw.lstrip(".").split(".")[0]
    data = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    if compressed:
        data = zlib.decompress(data)
    return json.loads(data).get("sid")


def local(sp, email, accounts=None, tenants=None, bypass_account=None, role=None):
    if bypass_account:
        r = sp.admin("POST", "/admin/api/bypass-users", {"account": bypass_account, "email": email,
                                                         "password": PW, "role": role or "viewer"})
    else:
        body = {"email": email, "password": PW}
        body.update({"accounts": accounts} if accounts is not None else {"tenants": tenants, "role": role or "Editor"})
        r = sp.admin("POST", "/admin/api/local-users", body)
    assert r.status_code == 201, r.text


def pw_login(sp, email) -> int:
    return sp.browser().post(sp.url + "/login/password", json={"email": email, "password": PW}).status_code


def fresh_account(sp, active=False) -> str:
    acct = str(100000 + next(_seed))
    r = sp.admin("POST", "/admin/api/accounts", {"id": acct, "idp_id": "default", "saml_active": active})
    assert r.status_code == 201, r.text
    return acct


# --- probes: each returns an observation; the mutant's must differ from the correct SP's --------
# (profile, probe, expected observation on the correct SP, expected observation on the mutant)
Probe = Callable[[SPUnderTest], Any]


def p_skip_jit(sp):
    u = rc_user()
    b = sp.browser()
    sp.solicited(b, u)
    return sp.user(u.attributes["Email"][0]) is not None


def p_jit_no_update(sp):
    u = rc_user()
    sp.solicited(sp.browser(), u)
    sp.solicited(sp.browser(), u.with_attributes(LastName=["Renamed"]))
    return sp.user(u.attributes["Email"][0])["last_name"] == "Renamed"


def p_last_login_wins(sp):
    a, b = rc_user(), rc_user()
    ba, bb = sp.browser(), sp.browser()
    sp.solicited(ba, a)
    sp.solicited(bb, b)
    return sp.me(ba).json().get("email") == a.attributes["Email"][0].lower()


def p_session_outlives_user(sp):
    b = sp.browser()
    u = rc_user()
    sp.solicited(b, u)
    sp.admin("DELETE", f"/admin/api/users/{quote(u.attributes['Email'][0])}")
    return sp.me(b).status_code


def p_fault(fault: str, profile_user=rc_user) -> Probe:
    return lambda sp: signed_in(sp, profile_user(), [fault])


def p_keyinfo(sp):
    """An attacker key in KeyInfo, as a certificate and as a raw RSAKeyValue."""
    return (signed_in(sp, rc_user(), ["sig-untrusted-cert"]),
            signed_in(sp, rc_user(), ["sig-attacker-keyvalue"]))


def p_xxe_fetch(sp):
    before = sp.idp.idp.oob_seq()
    signed_in(sp, rc_user(), ["xxe-external"])
    return bool(sp.idp.idp.oob_hits(since=before))


def p_fault_all(*faults: str, profile_user=rc_user) -> Probe:
    return lambda sp: signed_in(sp, profile_user(), list(faults))


def _with_idp_metadata(sp, xml: str, then: Callable[[int], Any]) -> Any:
    """Replace the SP's default IdP metadata, run `then(status)`, put the original back."""
    original = sp.idp.idp.metadata_xml().decode()
    try:
        return then(sp.admin("POST", "/admin/api/idps", {"id": "default", "metadata_xml": xml}).status_code)
    finally:
        sp.admin("POST", "/admin/api/idps", {"id": "default", "metadata_xml": original})


def p_no_use_unsigned(sp):
    import re as _re

    plain = _re.sub(r'\s+use="(signing|encryption)"', "", sp.idp.idp.metadata_xml().decode())
    return _with_idp_metadata(sp, plain, lambda st: st < 400 and signed_in(sp, rc_user(), ["sig-unsigned"]))


def p_weak_key(sp):
    from mock_idp.keys import ephemeral

    weak = ephemeral("weak", key_size=1024)
    md = sp.idp.idp.metadata_xml().decode().replace(sp.idp.idp.key.cert_b64, weak.cert_b64)
    return _with_idp_metadata(sp, md, lambda st: st < 400)


def p_ecdsa(sp):
    from mock_idp.keys import ephemeral

    ec = ephemeral("ec", key_type="ec")
    md = sp.idp.idp.metadata_xml().decode().replace(sp.idp.idp.key.cert_b64, ec.cert_b64)
    return _with_idp_metadata(sp, md, lambda st: st < 400 and signed_in(sp, rc_user(), key=ec,
                                                                         algorithm="ecdsa-sha256"))


def p_xinclude_fetch(sp):
    before = sp.idp.idp.oob_seq()
    signed_in(sp, rc_user(), ["xinclude"])
    return bool(sp.idp.idp.oob_hits(since=before))


def p_reference_uri_fetch(sp):
    before = sp.idp.idp.oob_seq()
    signed_in(sp, rc_user(), ["sig-reference-uri(uri=oob)"])
    return bool(sp.idp.idp.oob_hits(since=before))


def p_force_authn_stale(sp):
    """A ForceAuthn login answered with an AuthnInstant 8 hours old."""
    u = rc_user()
    b = sp.browser()
    sp.solicited(b, u, faults=["authn-instant-stale"], params={**sp.default_login_params(u), "force_authn": "1"})
    return outcome(sp, b) is not None


def p_xsw(sp):
    me = login(sp, rc_user(), ["xsw-03(victim=victim@example.com)"])
    return me and me["name_id"]


def p_xsw_response(sp):
    me = login(sp, rc_user(), ["xsw-02(victim=victim@example.com)"])
    return me and me["name_id"]


def p_victim(fault: str, profile_user=rc_user) -> Probe:
    """A forgery for victim@example.com: who is signed in (NameID), None when refused."""
    def probe(sp):
        me = login(sp, profile_user(), [f"{fault}(victim=victim@example.com)"])
        return me and me["name_id"]

    return probe


def p_double_decode(sp):
    """The IdP signs the literal identity '&#x61;dmin.N@...': decoded twice it reads 'admin.N@...'."""
    u = rf_user()
    literal = "&#x61;" + u.name_id[1:]
    me = login(sp, rf_user(name_id=literal, email=literal))
    return me and me["name_id"].startswith("a") and "&#" not in me["name_id"]


def p_advice(sp):
    me = login(sp, rc_user(), ["advice-assertion(victim=victim@example.com)"])
    return me and me.get("email") == "victim@example.com"


def p_nameid_comment(sp):
    u = rc_user()
    me = login(sp, u, ["nameid-comment"])
    return None if me is None else me["name_id"] == u.name_id


def p_replay(sp):
    issued = sp.idp_response(rc_user())
    sp.post_issued(sp.browser(), issued)
    b = sp.browser()
    sp.post_issued(b, issued)
    return outcome(sp, b) is not None


def p_irt(sp):
    return signed_in(sp, rc_user(), ["in-response-to-wrong"])


def p_idp_initiated(sp):
    b = sp.browser()
    sp.post_issued(b, sp.idp_response(rf_user()))
    return outcome(sp, b) is not None


def p_issuer(sp):
    u = rc_user()
    b = sp.browser()
    rid = sp.pending_request_id(b, email=u.attributes["Email"][0])
    issued = sp.idp_response(u, in_response_to=rid, sign_response=False)

    def other_issuer(root):
        root.find("{urn:oasis:names:tc:SAML:2.0:assertion}Issuer").text = "https://other-idp.example.com"

    b.post(issued.acs_url, data=retamper(issued.form_fields(), other_issuer))
    return outcome(sp, b) is not None


def p_attr_case(sp):
    u = rc_user()
    return signed_in(sp, u, ["attr-case(name=Email)"])


def p_attr_dup(sp):
    me = login(sp, rc_user(), ["attr-duplicate(name=FirstName,value=Mallory)"])
    return me and me["first_name"]


def p_mapping_multi(sp):
    me = login(sp, rc_user(["12345=owner", "54321=manager"]))
    return me and me["accounts"]


def p_unknown_role(sp):
    me = login(sp, rc_user(["12345=superuser"]))
    return me and me["accounts"]


def p_domain(sp):
    u = rc_user(email=f"x{secrets.token_hex(3)}@unverified.test")
    b = sp.browser()
    sp.post_issued(b, sp.idp_response(u))  # IdP-initiated: the email form would stop it earlier
    return outcome(sp, b) is not None


def _activated(sp):
    acct = fresh_account(sp)
    owner = f"own{secrets.token_hex(3)}@example.com"
    local(sp, owner, {acct: "owner"})
    return acct, owner


def p_deactivation(sp):
    acct, owner = _activated(sp)
    assert sp.admin("POST", "/admin/api/saml/activate", {"account": acct, "by": owner}).status_code == 200
    u = rc_user([f"{acct}=viewer"])
    login(sp, u)
    sp.admin("POST", "/admin/api/saml/deactivate", {"account": acct, "by": owner})
    return sp.user(u.attributes["Email"][0]) is not None


def p_bypass(sp):
    acct, owner = _activated(sp)
    sp.admin("POST", "/admin/api/saml/activate", {"account": acct, "by": owner})
    bp = f"bp{secrets.token_hex(3)}@example.com"
    local(sp, bp, bypass_account=acct)
    return pw_login(sp, bp), pw_login(sp, owner)


def p_owner_conversion(sp):
    acct, owner = _activated(sp)
    sp.admin("POST", "/admin/api/saml/activate", {"account": acct, "by": owner})
    return pw_login(sp, owner)


def p_local_after_activation(sp):
    acct, owner = _activated(sp)
    member = f"m{secrets.token_hex(3)}@example.com"
    local(sp, member, {acct: "member"})
    sp.admin("POST", "/admin/api/saml/activate", {"account": acct, "by": owner})
    return pw_login(sp, member)


def p_link(sp):
    member = f"m{secrets.token_hex(3)}@example.com"
    local(sp, member, {"12345": "member"})
    return sp.admin("POST", "/admin/api/link-token", {"account": "12345", "by": member}).status_code


def p_keeps_tenants(sp):
    u = rf_user(["pocketstop1", "pocketstop2"])
    login(sp, u)
    me = login(sp, u.with_attributes(tenantid="pocketstop1"))
    return me and me["tenants"]


def p_no_split(sp):
    me = login(sp, rf_user(["pocketstop1", "pocketstop2"]))
    return me and me["tenants"]


def p_alias(sp):
    me = login(sp, rf_user(role="Super_Administrator"))
    return me and me["role"]


def p_any_tenant_idp(sp, other=None):
    b = sp.browser()
    u = rf_user(["pocketstop1"])
    rid = sp.pending_request_id(b, saml="pocketstop1")
    other_idp = sp._other_idp  # type: ignore[attr-defined]
    sp.post_issued(b, other_idp.issue_response(sp.entity_id, u, in_response_to=rid, sign_response=False))
    return outcome(sp, b) is not None


def p_fixation(sp):
    b = sp.browser()
    sp.solicited(b, rc_user())
    first = session_sid(b)
    sp.solicited(b, rc_user())
    return session_sid(b) == first


def p_open_redirect(sp):
    r = sp.post_issued(sp.browser(), sp.idp_response(rc_user(), relay_state="https://evil.example/x"))
    return r.headers.get("location")


def p_slo_unsigned(sp):
    b = sp.browser()
    u = rc_user()
    sp.solicited(b, u)
    now = datetime.now(timezone.utc)
    xml = (f'<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
           f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_{secrets.token_hex(16)}" Version="2.0" '
           f'IssueInstant="{now:%Y-%m-%dT%H:%M:%SZ}" Destination="{sp.url}/saml/slo">'
           f'<saml:Issuer>{sp.idp.idp.entity_id}</saml:Issuer><saml:NameID Format="{u.name_id_format}">{u.name_id}</saml:NameID>'
           f'</samlp:LogoutRequest>').encode()
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    q = "SAMLRequest=" + quote(base64.b64encode(c.compress(xml) + c.flush()).decode(), safe="")
    sp.browser().get(sp.url + "/saml/slo?" + q)
    return sp.me(b).status_code


def p_response_only(sp):
    return (signed_in(sp, rc_user(), ["sig-response-only"]), signed_in(sp, rc_user(), ["sig-unsigned"]))


def p_signed_response(sp):
    return (signed_in(sp, rc_user(), sign_response=True),
            signed_in(sp, rc_user(), ["sig-assertion-only"]))


def p_replay_elsewhere(sp):
    """An SP-initiated Response posted again from another browser (no pending request there)."""
    u = rc_user()
    b = sp.browser()
    rid = sp.pending_request_id(b, email=u.attributes["Email"][0])
    issued = sp.idp_response(u, in_response_to=rid)
    sp.post_issued(b, issued)
    other = sp.browser()
    sp.post_issued(other, issued)
    return outcome(sp, other) is not None


def p_slo_answered(sp):
    """An IdP's signed LogoutRequest: does the SP answer it with a LogoutResponse to the IdP?"""
    b = sp.browser()
    u = rc_user()
    sp.solicited(b, u)
    msg = sp.idp.idp.logout_request(sp.entity_id, u.name_id, name_id_format=u.name_id_format)
    r = b.get(msg.url)
    return sp.me(b).status_code, "SAMLResponse=" in (r.headers.get("location") or "")


def p_logout_round_trip(sp):
    """/logout: the local session ends; is a LogoutRequest sent to the IdP?"""
    b = sp.browser()
    sp.solicited(b, rc_user())
    r = b.get(sp.url + "/logout")
    return sp.me(b).status_code, "SAMLRequest=" in (r.headers.get("location") or "")


def p_post_binding(sp):
    r = sp.browser().get(sp.url + "/login", params={"email": "p@example.com", "binding": "post"})
    return r.status_code, 'name="SAMLRequest"' in r.text


def _session_index(sp) -> str | None:
    xml = sp.idp.idp.issued[-1].xml
    st = etree.fromstring(xml).find(".//{urn:oasis:names:tc:SAML:2.0:assertion}AuthnStatement")
    return None if st is None else st.get("SessionIndex")


def p_slo(**knobs):
    """Sign in, then one IdP LogoutRequest with these knobs: is the session still there (200)?"""
    def probe(sp):
        b = sp.browser()
        u = rc_user()
        sp.solicited(b, u)
        kw = dict(knobs)
        if kw.pop("attacker", False):
            kw["key"] = sp.idp.idp.attacker_key
        name_id = kw.pop("name_id", u.name_id)
        kw.setdefault("session_index", _session_index(sp))
        kw.setdefault("name_id_format", u.name_id_format)
        if kw.pop("wrap", False):
            kw["wrap_assertion_from"] = sp.idp_response(rc_user(), sign_assertion=True).xml
        b.get(sp.idp.idp.logout_request(sp.entity_id, name_id, **kw).url)
        return sp.me(b).status_code
    return probe


def p_slo_two_sessions(sp):
    """One user in two browsers; a LogoutRequest naming the first SessionIndex: second still in?"""
    u = rc_user()
    b1, b2 = sp.browser(), sp.browser()
    sp.solicited(b1, u)
    first = _session_index(sp)
    sp.solicited(b2, u)
    b1.get(sp.idp.idp.logout_request(sp.entity_id, u.name_id, session_index=first,
                                     name_id_format=u.name_id_format).url)
    return sp.me(b1).status_code, sp.me(b2).status_code


def p_relay(relay: str, **login_params):
    """Where the ACS redirects after a login (unsolicited with `relay`, or SP-initiated with a
    deep link `next` while the IdP returns `relay`)."""
    def probe(sp):
        b = sp.browser()
        u = rc_user()
        if login_params:
            rid = sp.pending_request_id(b, email=u.attributes["Email"][0], **login_params)
            r = sp.post_issued(b, sp.idp_response(u, in_response_to=rid, relay_state=relay))
        else:
            r = sp.post_issued(b, sp.idp_response(u, relay_state=relay))
        return r.headers.get("location") or ("<script>" in r.text)
    return probe


def p_scenario(sid: str, profile: str = "redis_cloud"):
    """Run the harness scenario itself against a reference SP with the same mutants (for defects
    whose probe needs the IdP's full browser round trip)."""
    def probe(sp):
        from tests.conftest import run_scenarios

        return run_scenarios(profile, [sid], mutants=sorted(sp.cfg.mutants))[sid].verdict
    return probe


def p_areq(read):
    """Start an SP-initiated login (deep link /x) and read something from the AuthnRequest sent."""
    from urllib.parse import parse_qs, urlsplit

    def probe(sp):
        r = sp.start_login(sp.browser(), email="p@example.com", next="/x")
        if r.status_code != 302:
            return "POST" if 'name="SAMLRequest"' in r.text else r.status_code
        q = parse_qs(urlsplit(r.headers["location"]).query)
        root = etree.fromstring(zlib.decompress(base64.b64decode(q["SAMLRequest"][0]), -15))
        return read(root, q.get("RelayState", [""])[0])
    return probe


def p_signed_request(sp):
    """(metadata AuthnRequestsSigned="true", query signed, verifies with the metadata key, SigAlg
    rsa-sha256, ds:Signature in the deflated XML) of a Redirect AuthnRequest."""
    from urllib.parse import parse_qs, urlsplit

    from harness.sp_metadata import read_policy
    from mock_idp.redirect_sig import verify_query

    pol = read_policy(sp.metadata())
    r = sp.start_login(sp.browser(), email="p@example.com", next="/x")
    query = urlsplit(r.headers["location"]).query
    q = parse_qs(query)
    root = etree.fromstring(zlib.decompress(base64.b64decode(q["SAMLRequest"][0]), -15))
    signed = "Signature" in q
    return (pol.authn_requests_signed is True, signed,
            verify_query(query, list(pol.signing_certs)) is None if signed else None,
            q["SigAlg"][0].endswith("rsa-sha256") if signed else None,
            root.find("{http://www.w3.org/2000/09/xmldsig#}Signature") is not None)


def p_metadata(needle: bytes):
    return lambda sp: needle in sp.metadata()


_P = "{urn:oasis:names:tc:SAML:2.0:protocol}"
_A = "{urn:oasis:names:tc:SAML:2.0:assertion}"

RC, RF = "redis_cloud", "redflag"
# --- issue 11: contract rules, attributes, tenants ---------------------------------------------
XSS = "<img src=x onerror=alert(1)>"


def p_scoped(sp):
    """A generic SP reading eduPersonPrincipalName as a scoped attribute (with `sp`'s mutants), the IdP's
    metadata listing shibmd:Scope example.com: the out-of-scope value it keeps (None: dropped)."""
    scoped = SPUnderTest.start(sp.idp, "generic", mutants=sorted(sp.cfg.mutants),
                               scoped_attribute="eduPersonPrincipalName")
    try:
        me = login(scoped, rc_user().with_attributes(eduPersonPrincipalName="scope.probe@evil.example"))
        ok = login(scoped, rc_user().with_attributes(eduPersonPrincipalName="scope.probe@example.com"))
        assert ok is not None and ok["scoped"] == "scope.probe@example.com", ok  # the in-scope value is kept
        return me["scoped"] if me is not None else "refused"
    finally:
        scoped.stop()


def p_unlinked_account(sp):
    acct = fresh_account(sp)  # exists, SAML never activated
    me = login(sp, rc_user(["12345=viewer", f"{acct}=owner"]))
    return me is not None and acct in me["accounts"]


def p_saml_converts(sp):
    email = f"conv{secrets.token_hex(3)}@example.com"
    local(sp, email, {"12345": "member"})
    login(sp, rc_user(["12345=member"], email=email))
    return pw_login(sp, email)


def p_deactivate_by_member(sp):
    acct, owner = _activated(sp)
    sp.admin("POST", "/admin/api/saml/activate", {"account": acct, "by": owner})
    member = f"mem{secrets.token_hex(3)}@example.com"
    local(sp, member, {acct: "member"})
    return sp.admin("POST", "/admin/api/saml/deactivate", {"account": acct, "by": member}).status_code


def p_relaystate_unknown_idp(sp):
    b = sp.browser()
    issued = sp.idp.idp.issue_response(sp.entity_id, rc_user(), relay_state=sp.url + "/#/login/?idpId=nope")
    sp.post_issued(b, issued)
    return outcome(sp, b) is not None


def p_metadata_acs(sp):
    return b"/saml2/acs" in sp._admin_client.get(sp.url + "/saml/metadata?idpId=default").content


def p_old_cert(sp):
    from mock_idp.keys import ephemeral

    original = sp.idp.idp.metadata_xml().decode()
    new = original.replace(sp.idp.idp.key.cert_b64, ephemeral("probe rollover").cert_b64)
    sp.admin("POST", "/admin/api/idps", {"id": "default", "metadata_xml": new})
    try:
        return signed_in(sp, rc_user())  # signed with the replaced key
    finally:
        sp.admin("POST", "/admin/api/idps", {"id": "default", "metadata_xml": original})


def p_verify_without_txt(sp):
    d = f"d{secrets.token_hex(3)}.test"
    sp.admin("POST", "/admin/api/domains", {"domain": d})
    return sp.admin("POST", f"/admin/api/domains/{d}/verify").json()["status"]


def p_tenant_added(sp):
    u = rf_user(["pocketstop1"])
    login(sp, u)
    me = login(sp, u.with_attributes(tenantid="pocketstop1,pocketstop2"))
    return me and me["tenants"]


def p_role_changed(sp):
    u = rf_user(role="Editor")
    login(sp, u)
    me = login(sp, u.with_attributes(role="Administrator"))
    return me and me["role"]


def p_rf_role(role: Any, **kw) -> Probe:
    def probe(sp):
        u = rf_user(**kw)
        me = login(sp, u.with_attributes(role=role))
        return me and me["role"]

    return probe


def p_tenant_not_granted(sp):
    return login(sp, rf_user(["pocketstop1"]), params={"saml": "pocketstop2"}) is not None


def p_current_tenant(sp):
    me = login(sp, rf_user(["pocketstop1", "pocketstop2"]), params={"saml": "pocketstop2"})
    return me and me["current_tenant"]


def p_switch_any(sp):
    b = sp.browser()
    sp.solicited(b, rf_user(["pocketstop1"]))
    return b.post(sp.url + "/api/tenant", json={"tenant": "pocketstop2"}).status_code


def p_malformed_pair(sp):
    return sp.solicited(sp.browser(), rc_user(["12345"])).status_code


def p_friendly_name(sp):
    me = login(sp, rc_user(), ["attr-friendly-name(name=Email,value=victim@example.com)"])
    return bool(me) and me["email"] == "victim@example.com"


def p_comma_name(sp):
    return signed_in(sp, rf_user(first_name="Doe, John"))


def p_wildcard(sp):
    return login(sp, rf_user().with_attributes(tenantid=["*"]), params={"saml": "pocketstop1"}) is not None


def p_unescaped(sp):
    return XSS in sp.solicited(sp.browser(), rf_user(role=XSS)).text


def p_other_idp_overwrites(sp):
    u = rf_user(["pocketstop1"], role="Super Administrator")
    login(sp, u)
    b = sp.browser()
    rid = sp.pending_request_id(b, saml="othertenant")
    forged = u.with_attributes(tenantid="othertenant", role="Editor")
    sp.post_issued(b, sp._other_idp.issue_response(sp.entity_id, forged, in_response_to=rid))  # type: ignore[attr-defined]
    return outcome(sp, b) is not None


def p_email_first_at(sp):
    b = sp.browser()
    u = rc_user(email="victim@example.com@evil.example", name_id="victim@evil.example")
    sp.post_issued(b, sp.idp.idp.issue_response(sp.entity_id, u))
    return outcome(sp, b) is not None


CASES: dict[str, tuple[str, Probe, Any, Any]] = {
    "skip_jit": (RC, p_skip_jit, True, False),
    "jit_no_update": (RC, p_jit_no_update, True, False),
    "session_outlives_user": (RC, p_session_outlives_user, 401, 200),
    "accepts_unsigned": (RC, p_fault("sig-unsigned"), False, True),
    # a signed Response stands in for the Assertion's signature; a wholly unsigned one stays refused
    "accepts_response_signature": (RC, p_response_only, (False, False), (True, False)),
    "trusts_keyinfo_cert": (RC, p_keyinfo, (False, False), (True, True)),
    "xsw_first_assertion": (RC, p_xsw, None, "victim@example.com"),
    "accepts_sha1": (RC, p_fault("alg-rsa-sha1"), False, True),
    "nameid_comment_truncation": (RC, p_nameid_comment, True, False),
    "accepts_doctype": (RC, p_fault("dtd-harmless"), False, True),
    "resolves_external_entities": (RC, p_xxe_fetch, False, True),
    "no_replay_cache": (RC, p_replay, False, True),
    "ignores_in_response_to": (RC, p_irt, False, True),
    "accepts_idp_initiated": (RF, p_idp_initiated, False, True),
    "ignores_not_on_or_after": (RC, p_fault("conditions-expired"), False, True),
    "ignores_not_before": (RC, p_fault("conditions-not-yet-valid"), False, True),
    "ignores_audience": (RC, p_fault("audience-wrong"), False, True),
    "ignores_recipient": (RC, p_fault("recipient-wrong"), False, True),
    "ignores_destination": (RC, p_fault("destination-wrong"), False, True),
    "ignores_issuer": (RC, p_issuer, False, True),
    "attr_names_case_insensitive": (RC, p_attr_case, False, True),
    "duplicate_attribute_last_wins": (RC, p_attr_dup, None, "Mallory"),
    "mapping_first_value_only": (RC, p_mapping_multi, {"12345": "owner", "54321": "manager"}, {"12345": "owner"}),
    "owner_on_unknown_role": (RC, p_unknown_role, None, {"12345": "owner"}),
    "skip_domain_check": (RC, p_domain, False, True),
    "keeps_saml_users_at_deactivation": (RC, p_deactivation, False, True),
    "locks_bypass_users": (RC, p_bypass, (200, 200), (403, 200)),
    "converts_owner_at_activation": (RC, p_owner_conversion, 200, 401),
    "local_login_after_activation": (RC, p_local_after_activation, 401, 200),
    "link_without_owner_check": (RC, p_link, 403, 200),
    "keeps_removed_tenants": (RF, p_keeps_tenants, ["pocketstop1"], ["pocketstop1", "pocketstop2"]),
    "tenantid_no_split": (RF, p_no_split, ["pocketstop1", "pocketstop2"], None),
    "rejects_role_alias": (RF, p_alias, "Super Administrator", None),
    "any_tenant_idp": (RF, p_any_tenant_idp, False, True),
    "last_login_wins": (RC, p_last_login_wins, True, False),
    "session_fixation": (RC, p_fixation, False, True),
    "open_redirect_relaystate": (RC, p_open_redirect, "/", "https://evil.example/x"),
    "slo_accepts_unsigned": (RC, p_slo_unsigned, 200, 401),
    "slo_signature_not_verified": (RC, p_slo(attacker=True), 200, 401),
    "slo_ignores_issuer": (RC, p_slo(issuer=None), 200, 401),
    "slo_ignores_time": (RC, p_slo(lifetime=-600), 200, 401),
    "slo_ignores_destination": (RC, p_slo(destination="https://other-sp.example.com/saml/slo"), 200, 401),
    "slo_session_index_only": (RC, p_slo(name_id="someone.else@example.com"), 200, 401),
    "slo_ignores_session_index": (RC, p_slo_two_sessions, (401, 200), (401, 401)),
    "slo_xsw": (RC, p_slo(sign=False, wrap=True), 200, 401),
    "logout_waits_for_idp": (RC, p_scenario("SLO-14"), "pass", "fail"),
    "slo_redirects_to_relaystate": (RC, p_scenario("RLY-08"), "pass", "fail"),
    "trusts_returned_relaystate": (RC, p_relay("/?tampered=1", next="/?asked=1"), "/?asked=1", "/?tampered=1"),
    "echoes_relaystate": (RC, p_relay('/"><script>x</script>'), '/%22%3E%3Cscript%3Ex%3C/script%3E', True),
    "drops_deep_link": (RC, p_relay("/ignored", next="/?asked=1"), "/?asked=1", "/"),
    "signature_not_verified": (RC, p_fault("sig-bad-value"), False, True),
    "xsw_response_signature": (RC, p_xsw_response, None, "victim@example.com"),
    "pi_flattening_c14n": (RC, p_fault("nameid-pi-splice"), False, True),
    "requires_signed_response": (RC, p_signed_response, (True, True), (True, False)),
    "no_replay_protection": (RC, p_replay_elsewhere, False, True),
    "accepts_empty_nameid": (RC, p_fault("nameid-empty"), False, True),
    "authn_statement_optional": (RC, p_fault("no-authn-statement"), False, True),
    "conditions_optional": (RC, p_fault("conditions-missing"), False, True),
    "no_clock_skew": (RC, p_fault("clock-skew(seconds=90)"), True, False),
    "first_audience_only": (RC, p_fault("audience-extra"), True, False),
    "recipient_optional": (RC, p_fault("recipient-missing"), False, True),
    "accepts_non_bearer": (RC, p_fault("no-bearer"), False, True),
    "email_falls_back_to_nameid": (RF, p_fault("attr-missing(name=email)", rf_user), False, True),
    "slo_no_logout_response": (RC, p_slo_answered, (401, True), (401, False)),
    "logout_local_only": (RC, p_logout_round_trip, (401, True), (401, False)),
    "ignores_post_binding": (RC, p_post_binding, (200, True), (302, False)),
    # issue 10: the published parser-differential and wrapping defects
    "xsw_unverified_assertion": (RC, p_victim("xsw-wrapper"), None, "victim@example.com"),
    "digest_value_first_child": (RC, p_victim("digest-comment"), None, "victim@example.com"),
    "signedinfo_first_descendant": (RC, p_victim("two-signedinfo"), None, "victim@example.com"),
    "digest_value_document_wide": (RC, p_victim("decoy-signature"), None, "victim@example.com"),
    "split_signature_lookups": (RC, p_victim("xml-xmlns-confusion"), None, "victim@example.com"),
    "void_canonicalization": (RC, p_victim("void-canonicalization"), None, "victim@example.com"),
    "multiple_roots": (RC, p_victim("trailing-document"), None, "victim@example.com"),
    "doctype_roundtrip": (RC, p_victim("doctype-roundtrip"), None, "victim@example.com"),
    "recovering_parser": (RC, p_fault("recoverable-markup"), False, True),
    "first_text_node": (RC, p_fault("comment-in-value"), False, True),
    "decodes_entities_twice": (RF, p_double_decode, None, True),
    "attributes_descendant_search": (RC, p_advice, False, True),
    # --- issue 10 (crypto) -----------------------------------------------------------------
    "generic_xmldsig": (RC, p_fault("sig-two-references"), False, True),
    "signature_position_unchecked": (RC, p_fault("sig-wrong-position"), False, True),
    "ignores_duplicate_ids": (RC, p_fault("duplicate-id"), False, True),
    "ignores_key_use": (RC, p_fault("key-encryption-only"), False, True),
    "pkix_keyinfo_dates": (RC, p_fault("cert-expired"), True, False),
    "scd_not_before_ignored": (RC, p_fault("scd-not-yet-valid(seconds=-60)"), False, True),
    "ignores_unknown_conditions": (RC, p_fault("condition-unknown"), False, True),
    "ignores_session_not_on_or_after": (RC, p_fault("session-lifetime(seconds=-60)"), False, True),
    "no_size_limit": (RC, p_fault("oversize(size=1000000)"), False, True),
    "expands_entities": (RC, p_fault("dtd-billion-laughs(levels=2)"), False, True),
    "processes_xinclude": (RC, p_xinclude_fetch, False, True),
    "trusts_encrypted_assertion": (RC, p_fault("encrypted-unsigned"), False, True),
    "first_encrypted_key_only": (RC, p_fault("encrypted-two-keys"), True, False),
    "accepts_rsa_1_5": (RC, p_fault("encrypted-assertion(key_transport=rsa-1_5)"), False, True),
    "accepts_cbc": (RC, p_fault("encrypted-assertion(block=aes128-cbc)"), False, True),
    "ignores_encrypted_type": (RC, p_fault("encrypted-type"), False, True),
    "lax_timestamps": (RC, p_fault("timestamp(value=-0001-01-01T00:00:00Z)"), False, True),
    "no_issue_instant_age": (RC, p_fault_all("long-lived(days=29)", "session-lifetime(seconds=2592000)"), False, True),
    "unknown_algorithm_unverified": (RC, p_fault("signature-method(uri=urn:none)"), False, True),
    "first_signing_key_only": (RC, p_fault("key-rollover"), True, False),
    "hmac_key_confusion": (RC, p_fault("hmac-key-confusion"), False, True),
    "digest_not_checked": (RC, p_fault("sig-digest-mismatch"), False, True),
    "unsigned_ok_without_key_use": (RC, p_no_use_unsigned, False, True),
    "accepts_weak_idp_key": (RC, p_weak_key, False, True),
    "rsa_only": (RC, p_ecdsa, True, False),
    "authn_request_by_post": (RC, p_areq(lambda r, rs: "redirect"), "redirect", "POST"),
    "areq_issuer_format": (RC, p_areq(lambda r, rs: r.find(_A + "Issuer").get("Format", "").rsplit(":", 1)[-1]),
                           "entity", "emailAddress"),
    "weak_request_id": (RC, p_areq(lambda r, rs: len(r.get("ID"))), 41, 20),
    "areq_local_time": (RC, p_areq(lambda r, rs: r.get("IssueInstant")[-1]), "Z", "0"),
    "areq_wrong_destination": (RC, p_areq(lambda r, rs: r.get("Destination").endswith("/other")), False, True),
    "areq_acs_index": (RC, p_areq(lambda r, rs: r.get("AssertionConsumerServiceIndex")), None, "1"),
    "areq_nameid_policy_format": (RC, p_areq(lambda r, rs: r.find(_P + "NameIDPolicy") is not None), False, True),
    "areq_subject_confirmation": (RC, p_areq(lambda r, rs: r.find(_A + "Subject") is not None), False, True),
    "areq_authn_context_minimum": (RC, p_areq(lambda r, rs: r.find(_P + "RequestedAuthnContext") is not None),
                                   False, True),
    "relaystate_raw_url": (RC, p_areq(lambda r, rs: rs == "/x"), False, True),
    "areq_unsigned": (RC, p_signed_request, (False, False, None, None, False), (True, False, None, None, False)),
    "areq_wrong_key": (RC, p_signed_request, (False, False, None, None, False), (True, True, False, True, False)),
    "areq_sha1_signature": (RC, p_signed_request, (False, False, None, None, False), (True, True, True, False, False)),
    "areq_embedded_signature_redirect": (RC, p_signed_request, (False, False, None, None, False),
                                         (True, True, True, True, True)),
    "no_encrypted_nameid": (RC, p_fault("nameid-encrypted"), True, False),
    "links_transient_nameid": (RC, p_scenario("NID-08"), "pass", "fail"),
    "folds_identifiers": (RC, p_scenario("NID-09"), "pass", "fail"),
    "slo_request_bare_nameid": (RC, p_scenario("SLO-16"), "pass", "fail"),
    "slo_request_no_expiry": (RC, p_scenario("SLO-16"), "pass", "fail"),
    "ignores_authn_context": (RC, p_scenario("MAS-07"), "not-tested", "fail"),  # the mutant requests MFA
    "nameid_optional": (RC, p_fault("nameid-missing"), False, True),
    "replay_cache_in_memory": (RC, p_scenario("RPL-04"), "pass", "fail"),
    "pending_requests_never_expire": (RC, p_scenario("IRT-08"), "not-tested", "warn"),  # it declares 5 s
    "ignores_name_id_policy": (RC, p_scenario("NID-03"), "not-tested", "fail"),  # it asks for persistent
    "first_value_only": (RF, p_scenario("POS-09", "redflag"), "pass", "fail"),
    "acs_not_bound_to_request": (RC, p_scenario("DST-10"), "not-tested", "info"),  # the mutant publishes 2 ACS
    "lax_nameid": (RC, p_fault("name-qualifier"), False, True),
    "ignores_status": (RC, p_fault("status-missing"), False, True),
    "reflects_status_message": (RC, p_scenario("STA-05"), "pass", "fail"),
    "no_encrypted_assertions": (RC, p_fault("encrypted-assertion"), True, False),
    "rejects_fractional_seconds": (RC, p_fault("benign-variations"), True, False),
    "acs_accepts_redirect": (RC, p_scenario("BND-01"), "pass", "fail"),
    "unbounded_inflate": (RC, p_scenario("BND-02"), "pass", "fail"),
    "inflates_post_binding": (RC, p_scenario("BND-03"), "pass", "fail"),
    "crashes_on_bad_base64": (RC, p_scenario("BND-04"), "pass", "warn"),
    "duplicate_saml_response_first_wins": (RC, p_scenario("BND-05"), "pass", "warn"),
    "metadata_plain_http_acs": (RC, p_metadata(b"http://sp.samlconf.invalid/"), False, True),
    "metadata_no_contact": (RC, p_metadata(b'contactType="technical"'), True, False),
    "metadata_shared_key": (RC, p_scenario("META-02"), "pass", "warn"),
    # issue 11: contract rules, attributes, tenants
    "grants_unlinked_accounts": (RC, p_unlinked_account, False, True),
    "saml_login_keeps_local": (RC, p_saml_converts, 401, 200),
    "deactivate_without_owner_check": (RC, p_deactivate_by_member, 403, 200),
    "ignores_relaystate_idpid": (RC, p_relaystate_unknown_idp, False, True),
    "metadata_stale_acs": (RC, p_metadata_acs, False, True),
    "keeps_old_idp_cert": (RC, p_old_cert, False, True),
    "verify_domain_without_txt": (RC, p_verify_without_txt, "pending", "verified"),
    "reprovision_no_additions": (RF, p_tenant_added, ["pocketstop1", "pocketstop2"], ["pocketstop1"]),
    "role_fixed_at_first_login": (RF, p_role_changed, "Administrator", "Editor"),
    "unknown_role_as_editor": (RF, p_rf_role("Owner"), None, "Editor"),
    "tenant_url_not_checked": (RF, p_tenant_not_granted, False, True),
    "current_tenant_first_granted": (RF, p_current_tenant, "pocketstop2", "pocketstop1"),
    "switch_to_any_tenant": (RF, p_switch_any, 403, 200),
    "crashes_on_malformed_pair": (RC, p_malformed_pair, 403, 500),
    "attribute_statement_optional": (RC, p_fault("attribute-statement-missing"), False, True),
    "friendly_name_matches": (RC, p_friendly_name, False, True),
    "role_split_on_comma": (RF, p_rf_role("Editor,Administrator"), None, "Administrator"),
    "splits_values_on_comma": (RF, p_comma_name, True, False),
    "role_first_value": (RF, p_rf_role(["Editor", "Administrator"]), None, "Editor"),
    "roles_case_insensitive": (RF, p_rf_role("ADMINISTRATOR"), None, "Administrator"),
    "complex_values_as_text": (RF, p_fault("attr-complex-value(name=role,value=Administrator)", rf_user),
                               False, True),
    "wildcard_tenantid": (RF, p_wildcard, False, True),
    "unescaped_error_page": (RF, p_unescaped, False, True),
    "jit_overwrites_other_idp_user": (RF, p_other_idp_overwrites, False, True),
    "email_domain_first_at": (RC, p_email_first_at, False, True),
    # --- issue 10 (sigexact) ---------------------------------------------------------------
    "reference_not_checked": (RC, p_victim("sig-reference-elsewhere"), None, "victim@example.com"),
    "processes_references": (RC, p_reference_uri_fetch, False, True),
    "ignores_force_authn": (RC, p_force_authn_stale, False, True),
    "requires_encrypted_assertions": (RC, p_fault("sig-assertion-only"), True, False),
    # issue 10: decrypting by hand, graceful refusals, shape (reference_sp/defects.py)
    "decrypt_then_first_assertion": (RC, p_victim("encrypted-xsw"), None, "victim@example.com"),
    "defaults_encryption_method": (RC, p_fault("encrypted-missing(part=method,block=aes256-cbc)"), False, True),
    "decrypted_plaintext_entities": (RC, p_fault("encrypted-dtd"), False, True),
    "saml_errors_unhandled": (RC, p_scenario("POS-10"), "pass", "warn"),
    "subject_optional": (RC, p_fault("subject-missing"), False, True),
    "no_depth_limit": (RC, p_scenario("XML-14"), "pass", "warn"),
    "ignores_metadata_valid_until": (RC, p_scenario("KEY-09B"), "pass", "warn"),
    # issue 11: sessions, attribute bounds, tenants (each needs the full round trip)
    "unsolicited_replaces_session": (RC, p_scenario("SES-02"), "pass", "warn"),
    "session_switch_merges": (RC, p_scenario("SES-03"), "pass", "fail"),
    "unbounded_attribute_values": (RC, p_scenario("ATTR-12"), "pass", "warn"),
    "users_keyed_by_name_id": (RC, p_scenario("TEN-04"), "pass", "fail"),
    "ignores_scope": (RC, p_scoped, None, "scope.probe@evil.example"),
    "relaystate_selects_tenant": (RC, p_scenario("TEN-07"), "pass", "fail"),
}


def test_every_mutant_has_a_probe_and_is_documented():
    assert set(CASES) == set(MUTANTS)
    assert len(MUTANTS) >= 25
    for m in MUTANTS.values():
        assert m.defect and m.breaks


@pytest.mark.parametrize("name", sorted(CASES))
def test_mutant_changes_exactly_the_named_behaviour(name, sps, idps):
    profile, probe, correct_expected, mutant_expected = CASES[name]
    correct, mutant = sps(profile, None), sps(profile, name)
    for s in (correct, mutant):
        s._other_idp = idps["other"].idp  # type: ignore[attr-defined]
    # positive control: a golden login still works under the mutant
    golden = rc_user() if profile == RC else rf_user()
    # (the golden-login helper reads the AuthnRequest from a Redirect, which `authn_request_by_post`
    # never sends; the harness's own POST flow, FLOW-05, signs in under it)
    if name not in ("skip_jit", "authn_request_by_post"):
        # (a golden login for the too-strict `requires_signed_response` has a signed Response)
        opts = {"sign_response": True} if name == "requires_signed_response" else {}
        # (... and for the too-strict `requires_encrypted_assertions`, an encrypted Assertion)
        enc = ["encrypted-assertion"] if name == "requires_encrypted_assertions" else []
        assert login(mutant, golden, enc, **opts) is not None, f"{name}: golden login fails under the mutant"
    got_correct = probe(correct)
    got_mutant = probe(mutant)
    assert got_correct == correct_expected, f"correct SP: {got_correct!r}"
    assert got_mutant == mutant_expected, f"mutant {name}: {got_mutant!r}"


def test_mutants_switch_on_from_the_environment(monkeypatch):
    from reference_sp.mutants import UnknownMutant, from_env

    monkeypatch.setenv("SAMLCONF_MUTANT", "skip_jit, ignores_audience")
    assert from_env() == {"skip_jit", "ignores_audience"}
    monkeypatch.setenv("SAMLCONF_MUTANT", "nope")
    with pytest.raises(UnknownMutant):
        from_env()


def test_cli_lists_mutants_as_json(capsys):
    from reference_sp.cli import main

    assert main(["sp", "mutants", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {m["name"] for m in data["mutants"]} == set(MUTANTS)
    assert main(["sp", "serve", "--mutant", "nope"]) == 2
