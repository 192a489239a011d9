"""Strict SAML in the correct reference SP: each fault of the mock IdP's library that a careful SP
must refuse is refused (no session, no JIT user, a 4xx page, never a 500); benign variations are
accepted. Each case is an SP-initiated login whose Response is issued by the mock IdP object and
POSTed to the ACS over real HTTP."""
from __future__ import annotations

import copy

import pytest
from lxml import etree

from mock_idp.users import generate_user
from reference_sp.testing import SPUnderTest
from reference_sp.xmlsec_backend import InProcessXmlSec

_seed = iter(range(2000, 9000))


def fresh_user():
    return generate_user("redis_cloud", seed=next(_seed), accounts=["12345=member"])


REJECTED = [
    "sig-unsigned", "sig-stripped", "sig-tampered", "sig-bad-value", "sig-empty-values",
    "sig-untrusted-cert", "sig-attacker-keyvalue", "sig-attacker-key-genuine-cert",
    "sig-other-assertion", "sig-reference-response", "sig-response-only",
    "alg-rsa-sha1", "alg-sha1-digest",
    "assertion-issuer-mismatch", "assertion-issuer-missing", "issuer-wrong",
    "audience-empty", "audience-missing", "audience-two-restrictions", "audience-wrong",
    "conditions-expired", "conditions-inverted", "conditions-missing", "conditions-not-yet-valid",
    "destination-empty", "destination-missing", "destination-wrong",
    "dtd-harmless", "dtd-internal-entity", "xxe-external", "xslt-transform",
    "in-response-to-empty", "in-response-to-wrong", "scd-in-response-to-wrong",
    "nameid-empty", "nameid-missing", "nameid-pi-splice", "subject-missing",
    "no-authn-statement", "no-bearer", "recipient-missing", "recipient-wrong",
    "scd-expired", "scd-no-notonorafter", "scd-not-yet-valid",
    "status", "zero-assertions", "two-assertions",
    "xsw-01", "xsw-02", "xsw-03", "xsw-04", "xsw-05", "xsw-06", "xsw-07", "xsw-08",
    "attr-duplicate", "attr-missing", "attr-case", "attr-misspelt", "attr-empty",
    "attribute-statement-missing",
]


# Faults about the Response's own signature need the POS-01 shape (Response and Assertion signed);
# the others run on the cheaper POS-03 shape (Assertion signed only: one xmlsec1 run per login).
NEEDS_SIGNED_RESPONSE = {"xsw-01", "xsw-02", "sig-response-only", "sig-reference-response",
                         "sig-stripped", "sig-tampered", "sig-bad-value", "sig-empty-values"}


@pytest.mark.parametrize("fault", REJECTED)
def test_correct_sp_refuses(sp, fault):
    b = sp.browser()
    u = fresh_user()
    opts = {"sign_response": True} if fault in NEEDS_SIGNED_RESPONSE else {}
    r = sp.solicited(b, u, faults=[fault], **opts)
    assert 400 <= r.status_code < 500, f"{fault}: ACS answered {r.status_code}"
    assert sp.me(b).status_code == 401, fault
    assert sp.user(u.attributes["Email"][0]) is None, fault


ACCEPTED = ["sig-assertion-only", "sig-no-keyinfo", "audience-extra", "nameid-cdata-split"]


@pytest.mark.parametrize("fault", [None, *ACCEPTED])
def test_correct_sp_accepts_benign_variations(sp, fault):
    b = sp.browser()
    u = fresh_user()
    r = sp.solicited(b, u, faults=[fault] if fault else [], sign_response=True)
    assert r.status_code == 302, f"{fault}: {r.text[:300]}"
    assert sp.me(b).json()["email"] == u.attributes["Email"][0]


def test_clock_skew_within_two_minutes_is_tolerated(sp):
    for skew in (-90, 90):
        b = sp.browser()
        u = fresh_user()
        r = sp.solicited(b, u, faults=[f"clock-skew({skew})"])
        assert r.status_code == 302, (skew, r.text[:300])


def test_nameid_with_a_comment_is_read_in_full(sp):
    b = sp.browser()
    u = fresh_user()
    r = sp.solicited(b, u, faults=["nameid-comment"])
    if r.status_code == 302:
        assert sp.me(b).json()["name_id"] == u.name_id
    else:
        assert sp.me(b).status_code == 401


def test_replayed_response_is_refused(sp):
    b = sp.browser()
    u = fresh_user()
    rid = sp.pending_request_id(b, email=u.attributes["Email"][0])
    issued = sp.idp_response(u, in_response_to=rid)
    assert sp.post_issued(b, issued).status_code == 302
    # the same bytes again, from the same browser and from a new one
    assert sp.post_issued(b, issued).status_code == 403
    b2 = sp.browser()
    assert sp.post_issued(b2, issued).status_code == 403
    assert sp.me(b2).status_code == 401


def test_unsolicited_replay_is_refused(sp):
    u = fresh_user()
    issued = sp.idp_response(u)
    b = sp.browser()
    assert sp.post_issued(b, issued).status_code == 302
    b2 = sp.browser()
    assert sp.post_issued(b2, issued).status_code == 403
    assert sp.me(b2).status_code == 401


def test_request_id_from_another_browser_is_refused(sp):
    attacker, victim = sp.browser(), sp.browser()
    u = fresh_user()
    rid = sp.pending_request_id(attacker, email=u.attributes["Email"][0])
    r = sp.post_issued(victim, sp.idp_response(u, in_response_to=rid))
    assert r.status_code == 403
    assert sp.me(victim).status_code == 401


def test_request_id_is_single_use(sp):
    b = sp.browser()
    u = fresh_user()
    rid = sp.pending_request_id(b, email=u.attributes["Email"][0])
    assert sp.post_issued(b, sp.idp_response(u, in_response_to=rid)).status_code == 302
    r = sp.post_issued(b, sp.idp_response(u, in_response_to=rid))
    assert r.status_code == 403


def test_duplicate_samlresponse_fields_are_refused(sp):
    b = sp.browser()
    u = fresh_user()
    issued = sp.idp_response(u)
    r = b.post(issued.acs_url, content=f"SAMLResponse=x&SAMLResponse=y".encode(),
               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400


def test_new_session_identifier_after_login(sp):
    b = sp.browser()
    u = fresh_user()
    sp.solicited(b, u)
    first = sp.me(b).json()["id"]
    before = b.cookies.get("refsp_session")
    sp.solicited(b, fresh_user())
    assert b.cookies.get("refsp_session") != before
    assert sp.me(b).json()["id"] != first


def test_relaystate_redirect_is_same_origin_only(sp):
    u = fresh_user()
    b = sp.browser()
    r = sp.post_issued(b, sp.idp_response(u, relay_state="https://evil.example/x"))
    assert r.status_code == 302 and r.headers["location"] == "/"
    r = sp.post_issued(sp.browser(), sp.idp_response(fresh_user(), relay_state="/dashboard?x=1"))
    assert r.headers["location"] == "/dashboard?x=1"


def test_encrypted_assertion_is_decrypted_and_its_signature_checked(sp):
    from mock_idp.keys import ephemeral

    b = sp.browser()
    u = fresh_user()
    assert sp.solicited(b, u, faults=["encrypted-assertion"], sign_response=True).status_code == 302
    assert sp.me(b).json()["email"] == u.attributes["Email"][0]
    # inner Assertion signed by a key the SP does not trust, Response unsigned
    b = sp.browser()
    r = sp.solicited(b, fresh_user(), faults=["encrypted-assertion"], key=ephemeral("enc-attacker"))
    assert r.status_code == 403 and sp.me(b).status_code == 401
    b = sp.browser()
    assert sp.solicited(b, fresh_user(), faults=["encrypted-unsigned"]).status_code == 403
    assert sp.me(b).status_code == 401


def test_sp_metadata_has_separate_signing_and_encryption_keys(sp):
    from lxml import etree

    root = etree.fromstring(sp.metadata())
    kds = root.findall(".//{urn:oasis:names:tc:SAML:2.0:metadata}KeyDescriptor")
    certs = {kd.get("use"): kd.find(".//{http://www.w3.org/2000/09/xmldsig#}X509Certificate").text for kd in kds}
    assert set(certs) == {"signing", "encryption"} and certs["signing"] != certs["encryption"]


def test_assertion_id_reused_in_a_fresh_response_is_refused(sp):
    b = sp.browser()
    u = fresh_user()
    assert sp.solicited(b, u).status_code == 302
    b2 = sp.browser()
    r = sp.solicited(b2, u, faults=["assertion-id-reuse"])  # new request, new Response ID
    assert r.status_code == 403 and "replay" in r.text
    assert sp.me(b2).status_code == 401


# --- in-process signature verification (reference_sp/xmlsec_backend.py) --------------------
# The shape "two ds:Signature children" (lab twins notes, CVE-2021-21238 without its wrapper): the
# attacker's genuinely signed Assertion A (ID a) parked in samlp:Extensions without its signature; the
# forged Assertion E (new ID, the victim) carries A's genuine ds:Signature (Reference #a) FIRST and a
# copy retargeted to #E SECOND. pysaml2's object keeps the LAST Signature child (its profile checks
# pass: Reference == '#'+E's ID), `xmlsec1 --node-id E` verifies the FIRST (A's digest holds). The
# in-process backend refuses any element with more than one ds:Signature child and verifies the one
# pysaml2 checked. Real signatures by the mock IdP's key, real HTTP to the reference SP.

TW_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
TW_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
TW_DS = "http://www.w3.org/2000/09/xmldsig#"
TW_NODE = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"


def twin_signatures(xml: bytes, victim: str) -> tuple[bytes, str]:
    """The shape above, from a Response whose one Assertion is genuinely signed; returns the new
    document and E's ID."""
    root = etree.fromstring(xml)
    a = root.find(f"{{{TW_SAML}}}Assertion")
    genuine = a.find(f"{{{TW_DS}}}Signature")
    e = copy.deepcopy(a)
    e.set("ID", "_forged" + a.get("ID"))
    retargeted = e.find(f"{{{TW_DS}}}Signature")
    retargeted.find(f"{{{TW_DS}}}SignedInfo/{{{TW_DS}}}Reference").set("URI", "#" + e.get("ID"))
    retargeted.addprevious(copy.deepcopy(genuine))  # the genuine one (Reference #a) first
    for el in e.iter(f"{{{TW_SAML}}}NameID", f"{{{TW_SAML}}}AttributeValue"):
        if el.text and "@" in el.text:
            el.text = victim
    a.remove(genuine)
    a.addprevious(e)
    root.remove(a)
    ext = etree.Element(f"{{{TW_SAMLP}}}Extensions")
    ext.append(a)
    root.find(f"{{{TW_SAML}}}Issuer").addnext(ext)
    return etree.tostring(root), e.get("ID")


def _backend(first_signature: bool = False) -> InProcessXmlSec:
    b = InProcessXmlSec("/usr/bin/xmlsec1")
    b.first_signature = first_signature
    return b


def test_two_signature_children_are_refused_in_process(idp, sp, tmp_path):
    issued = sp.idp_response(fresh_user())
    cert = tmp_path / "idp.pem"
    cert.write_bytes(idp.idp.key.cert_pem)
    # the genuine document verifies
    assert _backend().validate_signature(issued.xml, str(cert), "pem", TW_NODE, issued.assertion_id)
    forged, eid = twin_signatures(issued.xml, "victim@example.com")
    # xmlsec1's choice (the first ds:Signature inside E) verifies: the shape is real ...
    assert _backend(first_signature=True).validate_signature(forged, str(cert), "pem", TW_NODE, eid)
    # ... and the in-process backend refuses it
    from saml2.sigver import SignatureError

    with pytest.raises(SignatureError, match="2 ds:Signature children"):
        _backend().validate_signature(forged, str(cert), "pem", TW_NODE, eid)


def _attempt(sp: SPUnderTest, victim: str):
    attacker = fresh_user()
    b = sp.browser()
    rid = sp.pending_request_id(b, email=attacker.attributes["Email"][0])
    issued = sp.idp_response(attacker, in_response_to=rid)
    forged, _ = twin_signatures(issued.xml, victim)
    import base64

    fields = issued.form_fields()
    fields["SAMLResponse"] = base64.b64encode(forged).decode()
    return b, b.post(issued.acs_url, data=fields)


@pytest.mark.parametrize("mutants,subprocess,refused_by", [
    ((), False, "SAML validation failed"),  # the correct SP: the backend refuses it (pysaml2 layer)
    ((), True, "signatures"),               # through xmlsec1 only our own SIG-17 check refused it
    (("signature_position_unchecked",), False, None),  # that check off: the victim is signed in,
    (("signature_position_unchecked",), True, None),   # in-process (xmlsec1's choice) and xmlsec1
])
def test_reference_sp_refuses_two_signature_children(idp, sp, tmp_path, mutants, subprocess, refused_by):
    if mutants or subprocess:
        sp = SPUnderTest.start(idp, "redis_cloud", mutants=mutants, db_dir=tmp_path,
                               xmlsec1_subprocess=subprocess)
    try:
        victim = fresh_user().attributes["Email"][0]
        b, r = _attempt(sp, victim)
        if refused_by is None:
            assert r.status_code == 302, r.text[:300]
            assert sp.me(b).json()["email"] == victim
        else:
            assert 400 <= r.status_code < 500 and refused_by in r.text, r.text[:600]
            assert sp.me(b).status_code == 401
            assert sp.user(victim) is None
    finally:
        if mutants or subprocess:
            sp.stop()
