"""Mock IdP basics: keys, users, signed responses (checked by the xmlsec1 CLI), bindings, the web app."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx
import pytest
from lxml import etree

from harness.serving import LoopbackServer
from mock_idp import MockIdP, PLAN_COOKIE, ephemeral, generate_user, load_or_create
from mock_idp.bindings import (
    BindingError,
    decode_post_request,
    decode_redirect_request,
    encode_post,
    encode_redirect,
    parse_authn_request,
    post_form_html,
)
from mock_idp.builder import NS, ResponseSpec, build_response
from mock_idp.signing import sign_response
from mock_idp.testing import XMLSEC1, authn_request, sp_metadata, xmlsec1_verify

needs_xmlsec1 = pytest.mark.skipif(XMLSEC1 is None, reason="xmlsec1 CLI not installed")

SP = "https://sp.example.test/saml"


@pytest.fixture(scope="module")
def idp_key() -> object:
    return ephemeral("urn:samlconf:test-idp")


@pytest.fixture()
def idp(idp_key) -> MockIdP:
    i = MockIdP(base_url="http://127.0.0.1:9", key=idp_key)
    i.register_sp(sp_metadata(SP, ["http://127.0.0.1:9/acs", "http://127.0.0.1:9/acs2"]))
    return i


# ------------------------------------------------------------------ keys
def test_key_cache_is_0600_and_stable(tmp_path: Path) -> None:
    a = load_or_create("urn:samlconf:mock-idp", tmp_path)
    b = load_or_create("urn:samlconf:mock-idp", tmp_path)
    assert a == b
    key_file = next(tmp_path.glob("keys/*/key.pem"))
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert (key_file.parent / "cert.pem").read_bytes() == a.cert_pem
    assert load_or_create("another idp", tmp_path) != a


def test_key_cache_uses_samlconf_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMLCONF_HOME", str(tmp_path))
    load_or_create("x")
    assert list(tmp_path.glob("keys/x/key.pem"))


def test_cert_b64_is_der_without_headers(idp_key) -> None:
    import base64

    from cryptography import x509

    der = base64.b64decode(idp_key.cert_b64)
    assert x509.load_der_x509_certificate(der).public_bytes(
        __import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.PEM
    ) == idp_key.cert_pem
    assert "-----" not in idp_key.cert_b64


def test_expired_and_future_certs() -> None:
    from datetime import datetime, timedelta, timezone

    old = ephemeral("old", days_valid=1, not_before_offset=timedelta(days=-30))
    new = ephemeral("new", not_before_offset=timedelta(days=30))
    now = datetime.now(timezone.utc)
    assert old.certificate.not_valid_after_utc < now
    assert new.certificate.not_valid_before_utc > now


# ------------------------------------------------------------------ users
def test_generated_users_are_reproducible_and_profiled() -> None:
    assert generate_user("redis_cloud", seed=7) == generate_user("redis_cloud", seed=7)
    rc = generate_user("redis_cloud", seed=7)
    assert set(rc.attributes) == {"FirstName", "LastName", "Email", "redisAccountMapping"}
    assert "=" in rc.attributes["redisAccountMapping"][0]
    rf = generate_user("redflag", seed=3, domain="acme.test")
    assert set(rf.attributes) == {"username", "firstname", "lastname", "role", "email", "tenantid"}
    assert rf.attributes["email"][0].endswith("@acme.test")
    g = generate_user(seed=1)
    assert g.name_id == g.attributes["Email"][0] and g.name_id.endswith("@example.com")
    with pytest.raises(ValueError):
        generate_user("nope")


# ------------------------------------------------------------------ builder + signing
def _spec(**kw) -> ResponseSpec:
    base = dict(
        issuer="urn:idp", destination="http://127.0.0.1:9/acs", acs_url="http://127.0.0.1:9/acs",
        audience=SP, user=generate_user("redis_cloud", seed=1), in_response_to="_req1",
    )
    base.update(kw)
    return ResponseSpec(**base)


def test_response_shape() -> None:
    r = build_response(_spec())
    a = r.find("saml:Assertion", NS)
    assert r.get("InResponseTo") == "_req1" and r.get("ID").startswith("_")
    scd = a.find("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", NS)
    assert scd.get("Recipient") == "http://127.0.0.1:9/acs" and scd.get("InResponseTo") == "_req1"
    assert a.findtext("saml:Conditions/saml:AudienceRestriction/saml:Audience", namespaces=NS) == SP
    assert a.find("saml:AuthnStatement", NS).get("SessionIndex")
    attrs = {x.get("Name"): [v.text for v in x] for x in a.iterfind(".//saml:Attribute", NS)}
    assert attrs["redisAccountMapping"] == generate_user("redis_cloud", seed=1).attributes["redisAccountMapping"]


def test_unsolicited_has_no_in_response_to() -> None:
    r = build_response(_spec(in_response_to=None))
    assert r.get("InResponseTo") is None
    assert r.find(".//saml:SubjectConfirmationData", NS).get("InResponseTo") is None


def test_ids_are_fresh() -> None:
    assert build_response(_spec()).get("ID") != build_response(_spec()).get("ID")


@needs_xmlsec1
def test_signed_response_verifies_with_xmlsec1(idp_key) -> None:
    r = build_response(_spec())
    sign_response(r, idp_key)
    xml = etree.tostring(r)
    # Signature right after Issuer, in both elements
    assert etree.QName(r[1]).localname == "Signature"
    a = r.find("saml:Assertion", NS)
    assert etree.QName(a[1]).localname == "Signature"
    ok, err = xmlsec1_verify(xml, idp_key.cert_pem)
    assert ok, err
    ok, err = xmlsec1_verify(xml, idp_key.cert_pem, node_id=a.get("ID"))
    assert ok, err


@needs_xmlsec1
def test_tampered_response_fails_xmlsec1(idp, idp_key) -> None:
    issued = idp.issue_response(SP, generate_user(seed=2), in_response_to="_r")
    victim = issued.xml.replace(b"@example.com</saml:NameID>", b"@evil.example</saml:NameID>", 1)
    assert victim != issued.xml
    ok, _ = xmlsec1_verify(victim, idp_key.cert_pem)
    assert not ok
    assert not xmlsec1_verify(victim, idp_key.cert_pem, node_id=issued.assertion_id)[0]


@needs_xmlsec1
def test_other_key_fails_xmlsec1(idp) -> None:
    issued = idp.issue_response(SP, generate_user(seed=2))
    assert not xmlsec1_verify(issued.xml, ephemeral("other").cert_pem)[0]


# ------------------------------------------------------------------ bindings
REQ = (
    b'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
    b'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_abc" Version="2.0" '
    b'IssueInstant="2024-01-01T00:00:00Z" Destination="http://127.0.0.1/sso" ForceAuthn="true" '
    b'AssertionConsumerServiceURL="http://127.0.0.1:9/acs" '
    b'ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">'
    b"<saml:Issuer>https://sp.example.test/saml</saml:Issuer>"
    b'<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"/>'
    b"</samlp:AuthnRequest>"
)


def test_redirect_round_trip() -> None:
    info = parse_authn_request(decode_redirect_request(encode_redirect(REQ)))
    assert (info.id, info.issuer, info.acs_url, info.force_authn, info.is_passive) == (
        "_abc", SP, "http://127.0.0.1:9/acs", True, False,
    )
    assert info.destination == "http://127.0.0.1/sso"
    assert info.name_id_policy_format.endswith("persistent")
    assert parse_authn_request(decode_post_request(encode_post(REQ))).id == "_abc"


def test_redirect_tolerates_unescaped_plus_and_line_breaks() -> None:
    # trailing whitespace after the root changes the compressed bytes until a '+' shows up
    req = next(r for r in (REQ + b" " * i for i in range(200)) if "+" in encode_redirect(r))
    enc = encode_redirect(req)
    sloppy = enc.replace("+", " ")
    assert sloppy != enc
    wrapped = "\n".join(enc[i:i + 76] for i in range(0, len(enc), 76))
    for v in (sloppy, wrapped):
        assert parse_authn_request(decode_redirect_request(v)).id == "_abc"


BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b"<lolz>&lol3;</lolz>"
)


@pytest.mark.parametrize(
    "encoded,needle",
    [
        ("", "empty"),
        ("%%%not base64", "not valid base64"),
        (encode_post(b"plain, not deflated"), "DEFLATE"),
        (encode_redirect(b"<unclosed>"), "well-formed"),
        (encode_redirect(BOMB), "DOCTYPE"),
        (encode_redirect(b'<!DOCTYPE x SYSTEM "http://127.0.0.1:1/x"><x/>'), "DOCTYPE"),
        (encode_redirect(b"<a>" + b"A" * 2_000_000 + b"</a>"), "inflates to more than"),
        ("A" * 300_000, "too large"),
        (encode_redirect(b"<foo/>"), "expected samlp:AuthnRequest"),
        (encode_redirect(REQ.replace(b' ID="_abc"', b"")), "no ID"),
    ],
)
def test_redirect_decoding_errors(encoded: str, needle: str) -> None:
    with pytest.raises(BindingError) as ei:
        parse_authn_request(decode_redirect_request(encoded))
    assert needle in str(ei.value)
    assert "\n" not in str(ei.value)


def test_post_form_escapes() -> None:
    page = post_form_html('http://127.0.0.1/acs?a=1&b="x"', "QUJD", '<script>"rs"</script>')
    assert '<script>"rs"' not in page and "&lt;script&gt;" in page
    assert 'action="http://127.0.0.1/acs?a=1&amp;b=&quot;x&quot;"' in page
    assert "<noscript>" in page and 'name="SAMLResponse" value="QUJD"' in page


# ------------------------------------------------------------------ the app on loopback
@pytest.fixture(scope="module")
def served(idp_key):
    server = LoopbackServer()
    idp = MockIdP(base_url=server.base_url, key=idp_key)
    idp.register_sp(sp_metadata(SP, [f"{server.base_url}/acs", f"{server.base_url}/acs2"]))
    server.start(idp.app())
    try:
        yield idp, server
    finally:
        server.stop()


def _form(html: str) -> dict[str, str]:
    doc = etree.HTML(html)
    form = doc.find(".//form")
    out = {
        i.get("name"): i.get("value")
        for i in form.iter("input")
        if i.get("name") and (i.get("type") not in ("radio", "checkbox") or i.get("checked") is not None)
    }
    out["__action__"] = form.get("action")
    return out


def test_metadata_endpoint(served) -> None:
    idp, server = served
    r = httpx.get(f"{server.base_url}/metadata")
    assert r.status_code == 200
    md = etree.fromstring(r.content)
    assert md.get("entityID") == idp.entity_id
    locs = {e.get("Location") for e in md.iter("{*}SingleSignOnService")}
    assert locs == {f"{server.base_url}/sso"}
    assert idp.key.cert_b64 in r.text


@needs_xmlsec1
def test_sso_with_plan_cookie_answers_with_post_form(served) -> None:
    idp, server = served
    user = generate_user("redis_cloud", seed=5)
    token = idp.plan_login(user)
    rid, enc, _ = authn_request(SP, acs_url=f"{server.base_url}/acs2")
    r = httpx.get(f"{server.base_url}/sso", params={"SAMLRequest": enc, "RelayState": "/app?x=1"}, cookies={PLAN_COOKIE: token})
    assert r.status_code == 200
    f = _form(r.text)
    assert f["__action__"] == f"{server.base_url}/acs2" and f["RelayState"] == "/app?x=1"
    import base64

    xml = base64.b64decode(f["SAMLResponse"])
    assert xmlsec1_verify(xml, idp.key.cert_pem)[0]
    root = etree.fromstring(xml)
    assert root.get("InResponseTo") == rid
    assert root.findtext(".//saml:NameID", namespaces=NS) == user.name_id


def test_sso_post_binding_and_login_page(served) -> None:
    idp, server = served
    rid, enc, _ = authn_request(SP, binding="post")
    with httpx.Client(base_url=server.base_url) as c:
        r = c.post("/sso", data={"SAMLRequest": enc, "RelayState": "rs"})
        assert r.status_code == 200 and 'id="login"' in r.text
        f = _form(r.text)
        f.pop("__action__")
        f["attributes"] = "FirstName: Ada\nEmail: ada@example.com\ngroups: a\ngroups: b\n"
        r2 = c.post("/login", data=f)
    out = _form(r2.text)
    import base64

    root = etree.fromstring(base64.b64decode(out["SAMLResponse"]))
    assert root.get("InResponseTo") == rid and out["RelayState"] == "rs"
    vals = [v.text for v in root.iterfind(".//saml:Attribute[@Name='groups']/saml:AttributeValue", NS)]
    assert vals == ["a", "b"]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"SAMLRequest": "!!!"},
        {"SAMLRequest": encode_post(b"x" * 100)},
        {"SAMLRequest": encode_redirect(BOMB)},
        {"SAMLRequest": encode_redirect(b"<a>" + b"A" * 2_000_000 + b"</a>")},
    ],
)
def test_sso_bad_input_is_a_clear_400_and_the_idp_keeps_serving(served, params) -> None:
    idp, server = served
    r = httpx.get(f"{server.base_url}/sso", params=params)
    assert r.status_code == 400
    assert r.headers["X-Samlconf-Error"] and "Traceback" not in r.text
    assert httpx.get(f"{server.base_url}/metadata").status_code == 200


def test_sso_unknown_sp_is_400(served) -> None:
    _, server = served
    _, enc, _ = authn_request("urn:unknown:sp")
    r = httpx.get(f"{server.base_url}/sso", params={"SAMLRequest": enc})
    assert r.status_code == 400 and "unknown SP" in r.headers["X-Samlconf-Error"]


def test_session_cookie_name(served) -> None:
    idp, _ = served
    assert idp.app().config["SESSION_COOKIE_NAME"] == "samlconf_idp_session"
