"""The reference SP's in-process signature verification (reference_sp/xmlsec_backend.py).

The shape "two ds:Signature children" (lab twins notes, CVE-2021-21238 without its wrapper): the
attacker's genuinely signed Assertion A (ID a) parked in samlp:Extensions without its signature; the
forged Assertion E (new ID, the victim) carries A's genuine ds:Signature (Reference #a) FIRST and a
copy retargeted to #E SECOND. pysaml2's object keeps the LAST Signature child (its profile checks
pass: Reference == '#'+E's ID), `xmlsec1 --node-id E` verifies the FIRST (A's digest holds). The
in-process backend refuses any element with more than one ds:Signature child and verifies the one
pysaml2 checked. Real signatures by the mock IdP's key, real HTTP to the reference SP.
"""
from __future__ import annotations

import copy

import pytest
from lxml import etree

from mock_idp.users import generate_user
from reference_sp.testing import IdPUnderTest, SPUnderTest
from reference_sp.xmlsec_backend import InProcessXmlSec

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
NODE = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"

_seed = iter(range(9100, 9300))


@pytest.fixture(scope="module")
def idp():
    i = IdPUnderTest.start(profile="redis_cloud")
    yield i
    i.stop()


@pytest.fixture(scope="module")
def sp(idp, tmp_path_factory):
    s = SPUnderTest.start(idp, "redis_cloud", db_dir=tmp_path_factory.mktemp("sp"))
    yield s
    s.stop()


def _user():
    return generate_user("redis_cloud", seed=next(_seed), accounts=["12345=member"])


def twin_signatures(xml: bytes, victim: str) -> tuple[bytes, str]:
    """The shape above, from a Response whose one Assertion is genuinely signed; returns the new
    document and E's ID."""
    root = etree.fromstring(xml)
    a = root.find(f"{{{SAML}}}Assertion")
    genuine = a.find(f"{{{DS}}}Signature")
    e = copy.deepcopy(a)
    e.set("ID", "_forged" + a.get("ID"))
    retargeted = e.find(f"{{{DS}}}Signature")
    retargeted.find(f"{{{DS}}}SignedInfo/{{{DS}}}Reference").set("URI", "#" + e.get("ID"))
    retargeted.addprevious(copy.deepcopy(genuine))  # the genuine one (Reference #a) first
    for el in e.iter(f"{{{SAML}}}NameID", f"{{{SAML}}}AttributeValue"):
        if el.text and "@" in el.text:
            el.text = victim
    a.remove(genuine)
    a.addprevious(e)
    root.remove(a)
    ext = etree.Element(f"{{{SAMLP}}}Extensions")
    ext.append(a)
    root.find(f"{{{SAML}}}Issuer").addnext(ext)
    return etree.tostring(root), e.get("ID")


def _backend(first_signature: bool = False) -> InProcessXmlSec:
    b = InProcessXmlSec("/usr/bin/xmlsec1")
    b.first_signature = first_signature
    return b


def test_two_signature_children_are_refused_in_process(idp, sp, tmp_path):
    issued = sp.idp_response(_user())
    cert = tmp_path / "idp.pem"
    cert.write_bytes(idp.idp.key.cert_pem)
    # the genuine document verifies
    assert _backend().validate_signature(issued.xml, str(cert), "pem", NODE, issued.assertion_id)
    forged, eid = twin_signatures(issued.xml, "victim@example.com")
    # xmlsec1's choice (the first ds:Signature inside E) verifies: the shape is real ...
    assert _backend(first_signature=True).validate_signature(forged, str(cert), "pem", NODE, eid)
    # ... and the in-process backend refuses it
    from saml2.sigver import SignatureError

    with pytest.raises(SignatureError, match="2 ds:Signature children"):
        _backend().validate_signature(forged, str(cert), "pem", NODE, eid)


def _attempt(sp: SPUnderTest, victim: str):
    attacker = _user()
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
        victim = _user().attributes["Email"][0]
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
