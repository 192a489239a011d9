"""Independent verifier: pysaml2's SP client accepts what the mock IdP sends (and refuses its faults)."""
from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from lxml import etree

pytest.importorskip("saml2")
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT  # noqa: E402
from saml2.client import Saml2Client  # noqa: E402
from saml2.config import SPConfig  # noqa: E402
from saml2.sigver import SignatureError  # noqa: E402

from harness.serving import LoopbackServer  # noqa: E402
from mock_idp import PLAN_COOKIE, MockIdP, ephemeral, faults, generate_user  # noqa: E402
from mock_idp.builder import NS  # noqa: E402
from mock_idp.testing import XMLSEC1, sp_metadata  # noqa: E402

pytestmark = pytest.mark.skipif(XMLSEC1 is None, reason="pysaml2 needs the xmlsec1 CLI")

SP = "http://127.0.0.1:9/sp"
ACS = "http://127.0.0.1:9/sp/acs"
SLO = "http://127.0.0.1:9/sp/slo"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d: Path = tmp_path_factory.mktemp("pysaml2")
    spk = ephemeral("pysaml2-sp")
    (d / "sp.key").write_bytes(spk.key_pem)
    (d / "sp.crt").write_bytes(spk.cert_pem)
    server = LoopbackServer()
    idp = MockIdP(base_url=server.base_url, key=ephemeral("pysaml2-idp"))
    idp.register_sp(sp_metadata(SP, [ACS], slo_url=SLO, signing_cert=spk, encryption_cert=spk, authn_requests_signed=True))
    server.start(idp.app())
    (d / "idp.xml").write_bytes(idp.metadata_xml())

    cache: dict = {}

    def client(**sp_over) -> Saml2Client:
        """A pysaml2 SP client (cached per settings: building one parses metadata and keys)."""
        key = tuple(sorted(sp_over.items()))
        if key not in cache:
            cache[key] = _make(**sp_over)
        return cache[key]

    def _make(**sp_over) -> Saml2Client:
        sp_conf = {
            "endpoints": {
                "assertion_consumer_service": [(ACS, BINDING_HTTP_POST)],
                "single_logout_service": [(SLO, BINDING_HTTP_REDIRECT), (SLO, BINDING_HTTP_POST)],
            },
            "want_assertions_signed": True,
            "want_response_signed": False,
            "allow_unsolicited": True,
            "authn_requests_signed": True,
            "logout_requests_signed": True,
        }
        sp_conf.update(sp_over)
        conf = {
            "entityid": SP,
            "metadata": {"local": [str(d / "idp.xml")]},
            # pysaml2 checks Redirect-binding signatures of incoming requests (LogoutRequest
            # included) only under this "idp" setting
            "service": {"sp": sp_conf, "idp": {"want_authn_requests_signed": True}},
            "key_file": str(d / "sp.key"),
            "cert_file": str(d / "sp.crt"),
            "encryption_keypairs": [{"key_file": str(d / "sp.key"), "cert_file": str(d / "sp.crt")}],
            "xmlsec_binary": XMLSEC1,
            "allow_unknown_attributes": True,
            "accepted_time_diff": 60,
        }
        c = SPConfig()
        c.load(conf)
        return Saml2Client(c)

    try:
        yield idp, server, client
    finally:
        server.stop()


def _accept(cl, issued, outstanding=None):
    return cl.parse_authn_request_response(
        issued.saml_response_b64, BINDING_HTTP_POST, outstanding=outstanding if outstanding is not None else {"_req1": ACS}
    )


@pytest.mark.parametrize(
    "opts",
    [
        {},
        {"sign_response": False},
        {"algorithm": "rsa-sha384", "digest": "sha384"},
        {"algorithm": "rsa-sha512", "digest": "sha512"},
        {"algorithm": "rsa-sha1", "digest": "sha1"},
    ],
    ids=["both-signed", "assertion-only", "sha384", "sha512", "sha1"],
)
def test_pysaml2_accepts_valid_response(env, opts) -> None:
    idp, _, client = env
    user = generate_user("redis_cloud", seed=11)
    issued = idp.issue_response(SP, user, in_response_to="_req1", **opts)
    ar = _accept(client(), issued)
    assert ar.name_id.text == user.name_id
    assert ar.ava["redisAccountMapping"] == user.attributes["redisAccountMapping"]
    assert ar.ava["Email"] == user.attributes["Email"]


def test_pysaml2_accepts_response_only_signature_when_assertions_need_no_signature(env) -> None:
    idp, _, client = env
    issued = idp.issue_response(SP, generate_user(seed=2), in_response_to="_req1", faults=["sig-response-only"])
    ar = _accept(client(want_assertions_signed=False, want_response_signed=True), issued)
    assert ar.name_id.text == generate_user(seed=2).name_id


def test_pysaml2_accepts_unsolicited(env) -> None:
    idp, _, client = env
    issued = idp.issue_response(SP, generate_user(seed=3), relay_state="/dashboard")
    ar = _accept(client(), issued, outstanding={})
    assert ar.name_id.text == generate_user(seed=3).name_id


@pytest.mark.parametrize("block", ["aes128-cbc", "aes256-cbc", "aes128-gcm", "aes256-gcm"])
def test_pysaml2_decrypts_encrypted_assertion(env, block) -> None:
    idp, _, client = env
    user = generate_user("redflag", seed=4)
    issued = idp.issue_response(SP, user, in_response_to="_req1", faults=[faults.get("encrypted-assertion", block=block)])
    assert b"EncryptedAssertion" in issued.xml and user.name_id.encode() not in issued.xml
    ar = _accept(client(), issued)
    assert ar.name_id.text == user.name_id and ar.ava["tenantid"] == user.attributes["tenantid"]


@pytest.mark.parametrize(
    "fault",
    ["sig-unsigned", "sig-tampered", "sig-untrusted-cert", "audience-wrong", "conditions-expired", "in-response-to-wrong",
     "xsw-03", "sig-bad-value"],
)
def test_pysaml2_refuses_faults(env, fault) -> None:
    idp, _, client = env
    issued = idp.issue_response(SP, generate_user(seed=5), in_response_to="_req1", faults=[fault])
    # (allow_unsolicited=False: with it on, pysaml2 takes a wrong InResponseTo for an unsolicited response)
    with pytest.raises(Exception) as ei:
        ar = _accept(client(allow_unsolicited=False), issued)
        if ar is None:
            raise ValueError("refused")
    assert ei.type is not AssertionError


def test_pysaml2_round_trip_through_sso(env) -> None:
    """pysaml2 makes a signed Redirect AuthnRequest; the IdP checks it, answers by POST; pysaml2 accepts."""
    idp, server, client = env
    cl = client()
    req_id, info = cl.prepare_for_authenticate(entityid=idp.entity_id, relay_state="rs-1", binding=BINDING_HTTP_REDIRECT)
    location = dict(info["headers"])["Location"]
    assert location.startswith(f"{server.base_url}/sso?") and "Signature=" in location
    user = generate_user("redis_cloud", seed=12)
    token = idp.plan_login(user)
    r = httpx.get(location, cookies={PLAN_COOKIE: token})
    assert r.status_code == 200, r.text
    form = etree.HTML(r.text).find(".//form")
    fields = {i.get("name"): i.get("value") for i in form.iter("input")}
    assert form.get("action") == ACS and fields["RelayState"] == "rs-1"
    ar = cl.parse_authn_request_response(fields["SAMLResponse"], BINDING_HTTP_POST, outstanding={req_id: ACS})
    assert ar.name_id.text == user.name_id and ar.in_response_to == req_id


def test_pysaml2_post_binding_signed_request(env) -> None:
    """A POST-binding AuthnRequest with an enveloped signature is checked and answered."""
    idp, server, client = env
    cl = client()
    req_id, info = cl.prepare_for_authenticate(entityid=idp.entity_id, relay_state="rs-p", binding=BINDING_HTTP_POST)
    page = etree.HTML(info["data"])
    fields = {i.get("name"): i.get("value") for i in page.iter("input") if i.get("name")}
    assert b"Signature" in base64.b64decode(fields["SAMLRequest"])
    user = generate_user(seed=13)
    r = httpx.post(f"{server.base_url}/sso", data=fields, cookies={PLAN_COOKIE: idp.plan_login(user)})
    out = {i.get("name"): i.get("value") for i in etree.HTML(r.text).iter("input") if i.get("name")}
    ar = cl.parse_authn_request_response(out["SAMLResponse"], BINDING_HTTP_POST, outstanding={req_id: ACS})
    assert ar.name_id.text == user.name_id
    # the same request with a changed ID no longer verifies
    xml = base64.b64decode(fields["SAMLRequest"]).replace(req_id.encode(), b"_tampered", 1)
    fields["SAMLRequest"] = base64.b64encode(xml).decode()
    r = httpx.post(f"{server.base_url}/sso", data=fields, cookies={PLAN_COOKIE: idp.plan_login(user)})
    out = {i.get("name"): i.get("value") for i in etree.HTML(r.text).iter("input") if i.get("name")}
    root = etree.fromstring(base64.b64decode(out["SAMLResponse"]))
    assert [c.get("Value").rsplit(":", 1)[1] for c in root.iter("{*}StatusCode")] == ["Requester", "RequestDenied"]


def test_sso_refuses_tampered_signed_request(env) -> None:
    idp, server, client = env
    _, info = client().prepare_for_authenticate(entityid=idp.entity_id, relay_state="rs-1", binding=BINDING_HTTP_REDIRECT)
    location = dict(info["headers"])["Location"].replace("RelayState=rs-1", "RelayState=rs-2")
    r = httpx.get(location, cookies={PLAN_COOKIE: idp.plan_login(generate_user(seed=1))})
    fields = {i.get("name"): i.get("value") for i in etree.HTML(r.text).iter("input")}
    root = etree.fromstring(base64.b64decode(fields["SAMLResponse"]))
    codes = [c.get("Value").rsplit(":", 1)[1] for c in root.iter("{*}StatusCode")]
    assert codes == ["Requester", "RequestDenied"] and root.find("saml:Assertion", NS) is None
    assert "does not verify" in root.findtext(".//{*}StatusMessage")


def test_sso_requires_signature_when_metadata_says_so(env) -> None:
    from mock_idp.testing import authn_request

    idp, server, _ = env
    _, enc, _ = authn_request(SP)
    r = httpx.get(f"{server.base_url}/sso", params={"SAMLRequest": enc}, cookies={PLAN_COOKIE: idp.plan_login(generate_user(seed=1))})
    fields = {i.get("name"): i.get("value") for i in etree.HTML(r.text).iter("input")}
    root = etree.fromstring(base64.b64decode(fields["SAMLResponse"]))
    assert "not signed" in root.findtext(".//{*}StatusMessage")


@pytest.mark.parametrize("binding", [BINDING_HTTP_REDIRECT, BINDING_HTTP_POST])
def test_pysaml2_accepts_idp_logout_request(env, binding) -> None:
    idp, _, client = env
    cl = client()
    user = generate_user(seed=6)
    out = idp.logout_request(SP, user.name_id, session_index="_s1", name_id_format=user.name_id_format, binding=binding, relay_state="bye")
    if binding == BINDING_HTTP_REDIRECT:
        q = {k: v[0] for k, v in parse_qs(urlparse(out.url).query).items()}
        assert out.url.startswith(SLO + "?")
        req = cl.parse_logout_request(q["SAMLRequest"], binding, relay_state=q["RelayState"], sigalg=q["SigAlg"], signature=q["Signature"])
    else:
        assert out.url == SLO and b"Signature" in out.xml
        req = cl.parse_logout_request(out.fields["SAMLRequest"], binding)
    assert req.message.name_id.text == user.name_id
    assert req.message.session_index[0].text == "_s1"


def test_pysaml2_refuses_tampered_logout_request(env) -> None:
    idp, _, client = env
    out = idp.logout_request(SP, "a@example.com", binding=BINDING_HTTP_REDIRECT, relay_state="bye")
    q = {k: v[0] for k, v in parse_qs(urlparse(out.url).query).items()}
    with pytest.raises((SignatureError, Exception)):
        client().parse_logout_request(q["SAMLRequest"], BINDING_HTTP_REDIRECT, relay_state="other", sigalg=q["SigAlg"], signature=q["Signature"])


@pytest.mark.parametrize("binding", [BINDING_HTTP_REDIRECT, BINDING_HTTP_POST])
def test_sp_logout_request_gets_signed_logout_response(env, binding) -> None:
    idp, server, client = env
    cl = client()
    user = generate_user(seed=7)
    from saml2.saml import NameID

    req_id, req = cl.create_logout_request(
        f"{server.base_url}/slo", idp.entity_id, name_id=NameID(text=user.name_id, format=user.name_id_format),
        sign=binding == BINDING_HTTP_POST,
    )
    http = cl.apply_binding(binding, str(req), f"{server.base_url}/slo", relay_state="after", sign=True)
    if binding == BINDING_HTTP_REDIRECT:
        r = httpx.get(dict(http["headers"])["Location"])
        assert r.status_code == 302
        loc = r.headers["location"]
        q = {k: v[0] for k, v in parse_qs(urlparse(loc).query).items()}
        assert loc.startswith(SLO + "?") and "Signature" in q and q["RelayState"] == "after"
        resp = cl.parse_logout_request_response(q["SAMLResponse"], binding)
    else:
        doc = etree.HTML(http["data"])
        fields = {i.get("name"): i.get("value") for i in doc.iter("input") if i.get("name")}
        r = httpx.post(f"{server.base_url}/slo", data=fields)
        assert r.status_code == 200, r.text
        out = {i.get("name"): i.get("value") for i in etree.HTML(r.text).iter("input") if i.get("name")}
        resp = cl.parse_logout_request_response(out["SAMLResponse"], binding)
    assert resp.response.in_response_to == req_id
    assert resp.response.status.status_code.value.endswith("Success")
    assert any(e.get("event") == "LogoutRequest" and e.get("id") == req_id for e in idp.events)


def test_logout_message_variants(env) -> None:
    """The knobs the SLO checks turn: each changes what it says (parsed back with our safe parser)."""
    from mock_idp.slo import parse_logout

    idp, _, _ = env
    plain = parse_logout(idp.logout_request(SP, "a@example.com", binding=BINDING_HTTP_POST, sign=False).xml)
    assert plain.issuer == idp.entity_id and plain.destination == SLO and plain.name_id == "a@example.com"
    out = idp.logout_request(SP, "a@example.com", sign=False)
    assert "Signature=" not in out.url and "SigAlg=" not in out.url
    out = idp.logout_request(SP, None, binding=BINDING_HTTP_POST, issuer=None, destination=None, lifetime=-600)
    info = parse_logout(out.xml)
    assert info.issuer is None and info.destination is None and info.name_id is None
    from datetime import datetime, timezone

    assert info.not_on_or_after < datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = idp.logout_request(SP, "a@example.com", binding=BINDING_HTTP_POST, key=idp.attacker_key)
    from mock_idp.testing import xmlsec1_verify

    assert not xmlsec1_verify(out.xml, idp.key.cert_pem)[0] and xmlsec1_verify(out.xml, idp.attacker_key.cert_pem)[0]
    resp = parse_logout(idp.logout_response(SP, "_x", binding=BINDING_HTTP_POST, status=None).xml)
    assert resp.kind == "LogoutResponse" and resp.status is None and resp.in_response_to == "_x"
    resp = idp.logout_response(SP, "_x", binding=BINDING_HTTP_POST,
                               status="urn:oasis:names:tc:SAML:2.0:status:Success",
                               subcode="urn:oasis:names:tc:SAML:2.0:status:PartialLogout")
    assert b"PartialLogout" in resp.xml and xmlsec1_verify(resp.xml, idp.key.cert_pem)[0]


def test_logout_redirect_signature_faults(env) -> None:
    """Wrong signed order (SLO-02) and RelayState changed after signing (RLY-07) both fail pysaml2's check."""
    idp, _, client = env
    cl = client()
    for kw in ({"signed_order": "swapped"}, {"relay_state_sent": "https://evil.example/"}):
        out = idp.logout_request(SP, "a@example.com", relay_state="bye", **kw)
        q = {k: v[0] for k, v in parse_qs(urlparse(out.url).query).items()}
        if "relay_state_sent" in kw:
            assert q["RelayState"] == "https://evil.example/"
        with pytest.raises(Exception):
            r = cl.parse_logout_request(q["SAMLRequest"], BINDING_HTTP_REDIRECT, relay_state=q["RelayState"],
                                        sigalg=q["SigAlg"], signature=q["Signature"])
            if r is None:
                raise ValueError("refused")


def test_logout_request_wrapping_a_captured_assertion(env) -> None:
    from mock_idp.slo import parse_logout
    from mock_idp.testing import xmlsec1_verify

    idp, _, _ = env
    captured = idp.issue_response(SP, generate_user(seed=8), sign_response=False)
    out = idp.logout_request(SP, "victim@example.com", binding=BINDING_HTTP_POST, sign=False,
                             wrap_assertion_from=captured.xml)
    root = etree.fromstring(out.xml)
    inner = root.find("samlp:Extensions/saml:Assertion", NS)
    assert inner.get("ID") == captured.assertion_id and root.find("{http://www.w3.org/2000/09/xmldsig#}Signature") is None
    assert xmlsec1_verify(out.xml, idp.key.cert_pem, node_id=captured.assertion_id)[0]
    assert parse_logout(out.xml).name_id == "victim@example.com"


def test_logout_request_with_encrypted_id() -> None:
    """Core 3.7.1: a LogoutRequest may carry saml:EncryptedID (Shibboleth SP encrypts the NameID to an
    IdP that publishes an encryption key): the mock IdP reads it with its own encryption key."""
    from mock_idp.builder import SAML, q
    from mock_idp.encryption import encrypt_element
    from mock_idp.slo import parse_logout

    enc_key, other = ephemeral("slo-idp-enc"), ephemeral("slo-other-enc")
    idp = MockIdP(base_url="http://127.0.0.1:9", key=ephemeral("slo-idp"), encryption_keys=[enc_key])
    idp.register_sp(sp_metadata(SP, [ACS], slo_url=SLO))
    root = etree.fromstring(idp.logout_request(SP, "a@example.com", binding=BINDING_HTTP_POST, sign=False).xml)
    nid = root.find(q(SAML, "NameID"))
    wrapper = etree.Element(q(SAML, "EncryptedID"))
    nid.addprevious(wrapper)
    wrapper.append(nid)
    encrypt_element(nid, enc_key)
    xml = etree.tostring(root)
    assert root.find(q(SAML, "NameID")) is None
    assert parse_logout(xml, [other, enc_key]).name_id == "a@example.com"
    assert parse_logout(xml, [other]).name_id is None and parse_logout(xml).name_id is None
