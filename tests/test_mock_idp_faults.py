"""One test per fault: it changes exactly what it says on the parsed XML, and nothing else.

Every response here is issued with fixed IDs and a fixed clock, and RSA PKCS#1 v1.5 signatures are
deterministic, so a faulted response can be diffed against the plain one element by element.
Signatures are checked with the `xmlsec1` command-line tool given only the IdP certificate.
"""
from __future__ import annotations

import re

import base64
import copy
from datetime import datetime, timedelta, timezone

import pytest
from lxml import etree

from mock_idp import MockIdP, ephemeral, faults, generate_user
from mock_idp.builder import DS, NS, SAML, SAMLP, q, xml_time
from mock_idp.faults import FaultError
from mock_idp.testing import XMLSEC1, sp_metadata, xmlsec1_verify
from mock_idp.xmldiff import diff

pytestmark = pytest.mark.skipif(XMLSEC1 is None, reason="xmlsec1 CLI not installed")

SP = "https://sp.example.test/saml"
ACS = "http://127.0.0.1:9/acs"
NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
FIX = dict(now=NOW, response_id="_resp1", assertion_id="_assert1", session_index="_sess1")
USER = generate_user("redis_cloud", seed=1, accounts=["12345=owner", "54321=manager"])
NAMEID = USER.name_id
EMAIL_AV = "AS/Attribute[Email]/AttributeValue#text"


@pytest.fixture(scope="module")
def keys():
    return ephemeral("fault-test-idp"), ephemeral("fault-test-sp")


@pytest.fixture(scope="module")
def idp(keys):
    i = MockIdP(base_url="http://127.0.0.1:9", key=keys[0])
    i.register_sp(sp_metadata(SP, [ACS], encryption_cert=keys[1]))
    return i


def _parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml, etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True))


def issue(idp, *fl, user=USER, **kw):
    opts = {**FIX, **kw}
    r = idp.issue_response(SP, user, in_response_to="_req1", faults=list(fl), **opts)
    return _parse(r.xml), r


@pytest.fixture(scope="module")
def base(idp):
    return issue(idp)[0]


def short(paths: set[str]) -> set[str]:
    out = set()
    for p in paths:
        if p.endswith("/Signature"):
            continue
        p = p.replace("Response/Assertion/Subject/SubjectConfirmation/SubjectConfirmationData", "SCD")
        p = p.replace("Response/Assertion/AttributeStatement", "AS").replace("Response/Assertion", "A")
        out.add(p)
    return out


def sig_ok(idp, xml: bytes, node_id: str) -> bool:
    return xmlsec1_verify(xml, idp.key.cert_pem, node_id=node_id)[0]


def both_valid(idp, r, *, cli: bool = False) -> None:
    """Both signatures verify with the IdP cert alone: in-process libxmlsec1 (fast), or the xmlsec1 CLI."""
    from mock_idp.signing import verify

    root = _parse(r.xml)
    a = root.find("saml:Assertion", NS)
    if cli:
        assert sig_ok(idp, r.xml, root.get("ID")), "Response signature must stay valid"
        assert a is None or sig_ok(idp, r.xml, a.get("ID")), "Assertion signature must stay valid"
        return
    assert verify(root, root, idp.key.cert_pem), "Response signature must stay valid"
    assert a is None or verify(root, a, idp.key.cert_pem), "Assertion signature must stay valid"


# --------------------------------------------------------------------------- pre-sign: content faults
# fault id -> exact set of changed paths (signatures left out: they are checked to verify instead)
CONTENT = {
    "assertion-issuer-mismatch": {"A/Issuer#text"},
    "response-issuer-mismatch": {"Response/Issuer#text"},
    "assertion-issuer-missing": {"A/*"},
    "attr-case": {"AS/*"},
    "attr-comma-joined": {"AS/Attribute[redisAccountMapping]/*"},
    "attr-commas": {EMAIL_AV},
    "attr-comment": {EMAIL_AV, "AS/Attribute[Email]/AttributeValue/*"},
    "attr-duplicate": {"AS/*"},
    "attr-empty": {EMAIL_AV},
    "attr-long": {EMAIL_AV},
    "attr-missing": {"AS/*"},
    "attr-misspelt": {"AS/*"},
    "attr-spaces": {EMAIL_AV},
    "attr-unicode": {EMAIL_AV},
    "attr-value": {EMAIL_AV},
    "attribute-statement-missing": {"A/*"},
    "audience-empty": {"A/Conditions/AudienceRestriction/Audience#text"},
    "audience-extra": {"A/Conditions/AudienceRestriction/*"},
    "audience-missing": {"A/Conditions/*"},
    "audience-two-restrictions": {"A/Conditions/*"},
    "audience-wrong": {"A/Conditions/AudienceRestriction/Audience#text"},
    "clock-skew": {"A/AuthnStatement@AuthnInstant", "A/AuthnStatement@SessionNotOnOrAfter", "A/Conditions@NotBefore",
                   "A/Conditions@NotOnOrAfter", "A@IssueInstant", "Response@IssueInstant", "SCD@NotOnOrAfter"},
    "conditions-expired": {"A/Conditions@NotOnOrAfter", "A/Conditions@NotBefore"},
    "conditions-inverted": {"A/Conditions@NotBefore", "A/Conditions@NotOnOrAfter"},
    "conditions-missing": {"A/*"},
    "conditions-not-yet-valid": {"A/Conditions@NotBefore", "A/Conditions@NotOnOrAfter"},
    "destination-empty": {"Response@Destination"},
    "destination-missing": {"Response@Destination"},
    "destination-wrong": {"Response@Destination"},
    "in-response-to-empty": {"Response@InResponseTo", "SCD@InResponseTo"},
    "in-response-to-missing": {"Response@InResponseTo", "SCD@InResponseTo"},
    "in-response-to-wrong": {"Response@InResponseTo", "SCD@InResponseTo"},
    "issuer-wrong": {"A/Issuer#text", "Response/Issuer#text"},
    "long-lived": {"A/AuthnStatement@AuthnInstant", "A/AuthnStatement@SessionNotOnOrAfter", "A/Conditions@NotBefore",
                   "A/Conditions@NotOnOrAfter", "A@IssueInstant", "Response@IssueInstant", "SCD@NotOnOrAfter"},
    "nameid-comment": {"A/Subject/NameID#text", "A/Subject/NameID/*"},
    "nameid-empty": {"A/Subject/NameID#text"},
    "nameid-format": {"A/Subject/NameID@Format"},
    "nameid-missing": {"A/Subject/*"},
    "nameid-value": {"A/Subject/NameID#text"},
    "no-authn-statement": {"A/*"},
    "no-bearer": {"A/Subject/SubjectConfirmation@Method"},
    "recipient-missing": {"SCD@Recipient"},
    "recipient-wrong": {"SCD@Recipient"},
    "scd-expired": {"SCD@NotOnOrAfter"},
    "scd-in-response-to-wrong": {"SCD@InResponseTo"},
    "scd-no-notonorafter": {"SCD@NotOnOrAfter"},
    "scd-not-yet-valid": {"SCD@NotBefore"},
    "subject-missing": {"A/*"},
    "advice-assertion": {"A/*"},
    "comment-in-value": {"A/Conditions/AudienceRestriction/Audience/*"},
    "status-missing": {"Response/*"},
    "status-message": {"Response/Status/*"},
    "status-top-level": {"Response/Status/StatusCode@Value"},
    "two-authn-statements": {"A/*"},
    "authn-context": {"A/AuthnStatement/AuthnContext/AuthnContextClassRef#text"},
    "attr-friendly-name": {"AS/*"},
    "attr-complex-value": {EMAIL_AV, "AS/Attribute[Email]/AttributeValue/*", "AS/Attribute[Email]/AttributeValue@type"},
    "attr-nil": {EMAIL_AV, "AS/Attribute[Email]/AttributeValue@nil", "AS/Attribute[Email]/AttributeValue@type"},
    "attr-many-values": {"AS/Attribute[Email]/*"},
    "one-time-use": {"A/Conditions/*"},
    "issuer-format": {"A/Issuer@Format", "Response/Issuer@Format"},
    "issuer-duplicate": {"Response/*"},
    "timestamp": {"A/Conditions@NotOnOrAfter"},
    "condition-unknown": {"A/Conditions/*"},
    "session-lifetime": {"A/AuthnStatement@SessionNotOnOrAfter"},
    "authn-instant-stale": {"A/AuthnStatement@AuthnInstant"},
    "scd-mix-and-match": {"A/Subject/*"},
    "response-issuer-missing": {"Response/*"},
    "name-qualifier": {"A/Subject/NameID@NameQualifier", "A/Subject/NameID@SPNameQualifier"},
    "expires-now": {"A/Conditions@NotOnOrAfter", "SCD@NotOnOrAfter"},
}


def _a(root):
    return root.find("saml:Assertion", NS)


def _t(root, path):
    return root.findtext(path, namespaces=NS)


def _attrs(root):
    return [(a.get("Name"), [v.text for v in a]) for a in root.iterfind(".//saml:Attribute", NS)]


SEMANTICS = {
    "response-issuer-mismatch": lambda b, g: _t(g, "saml:Issuer") == _t(g, "saml:Assertion/saml:Issuer") + ".evil",
    "assertion-issuer-mismatch": lambda b, g: _t(g, "saml:Assertion/saml:Issuer") == "https://other-idp.example.com/idp"
    and _t(g, "saml:Issuer") == _t(b, "saml:Issuer"),
    "assertion-issuer-missing": lambda b, g: _a(g).find("saml:Issuer", NS) is None,
    "attr-case": lambda b, g: [n for n, _ in _attrs(g)][2] == "email",
    "attr-comma-joined": lambda b, g: dict(_attrs(g))["redisAccountMapping"] == ["12345=owner,54321=manager"],
    "attr-commas": lambda b, g: dict(_attrs(g))["Email"] == ["Doe, John"],
    "attr-comment": lambda b, g: "".join(_a(g).find(".//saml:Attribute[@Name='Email']/saml:AttributeValue", NS).itertext()) == NAMEID
    and any(isinstance(c, etree._Comment) for c in _a(g).find(".//saml:Attribute[@Name='Email']/saml:AttributeValue", NS)),
    "attr-duplicate": lambda b, g: [x for x in _attrs(g) if x[0] == "Email"] == [("Email", [NAMEID]), ("Email", ["admin"])],
    "attr-empty": lambda b, g: dict(_attrs(g))["Email"] == [None],
    "attr-long": lambda b, g: dict(_attrs(g))["Email"] == ["x" * 10000],
    "attr-missing": lambda b, g: [n for n, _ in _attrs(g)] == ["FirstName", "LastName", "redisAccountMapping"],
    "attr-misspelt": lambda b, g: [n for n, _ in _attrs(g)] == ["FirstName", "LastName", "Eamil", "redisAccountMapping"],
    "attr-spaces": lambda b, g: dict(_attrs(g))["Email"] == ["  padded  value  "],
    "attr-unicode": lambda b, g: "\u200b" in dict(_attrs(g))["Email"][0] and "测试" in dict(_attrs(g))["Email"][0],
    "attr-value": lambda b, g: dict(_attrs(g))["Email"] == ["admin"],
    "attribute-statement-missing": lambda b, g: _a(g).find("saml:AttributeStatement", NS) is None,
    "audience-empty": lambda b, g: _t(g, ".//saml:Audience") == " ",
    "audience-extra": lambda b, g: [a.text for a in g.iterfind(".//saml:Audience", NS)] == ["https://other-sp.example.com/saml", SP],
    "audience-missing": lambda b, g: g.find(".//saml:AudienceRestriction", NS) is None and g.find(".//saml:Conditions", NS) is not None,
    "audience-two-restrictions": lambda b, g: [[x.text for x in ar] for ar in g.iterfind(".//saml:AudienceRestriction", NS)]
    == [[SP], ["https://other-sp.example.com/saml"]],
    "audience-wrong": lambda b, g: _t(g, ".//saml:Audience") == "https://other-sp.example.com/saml",
    "clock-skew": lambda b, g: g.get("IssueInstant") == xml_time(NOW + timedelta(seconds=300)),
    "conditions-expired": lambda b, g: g.find(".//saml:Conditions", NS).get("NotOnOrAfter") == xml_time(NOW - timedelta(seconds=600)),
    "conditions-inverted": lambda b, g: g.find(".//saml:Conditions", NS).get("NotBefore") > g.find(".//saml:Conditions", NS).get("NotOnOrAfter"),
    "conditions-missing": lambda b, g: g.find(".//saml:Conditions", NS) is None,
    "conditions-not-yet-valid": lambda b, g: g.find(".//saml:Conditions", NS).get("NotBefore") == xml_time(NOW + timedelta(seconds=600)),
    "destination-empty": lambda b, g: g.get("Destination") == "",
    "destination-missing": lambda b, g: "Destination" not in g.attrib,
    "destination-wrong": lambda b, g: g.get("Destination") == "https://other-sp.example.com/saml/acs",
    "in-response-to-empty": lambda b, g: g.get("InResponseTo") == "" and g.find(".//saml:SubjectConfirmationData", NS).get("InResponseTo") == "",
    "in-response-to-missing": lambda b, g: "InResponseTo" not in g.attrib and "InResponseTo" not in g.find(".//saml:SubjectConfirmationData", NS).attrib,
    "in-response-to-wrong": lambda b, g: g.get("InResponseTo") not in ("_req1", None)
    and g.find(".//saml:SubjectConfirmationData", NS).get("InResponseTo") == g.get("InResponseTo"),
    "issuer-wrong": lambda b, g: _t(g, "saml:Issuer") == _t(g, "saml:Assertion/saml:Issuer") == "https://other-idp.example.com/idp",
    "long-lived": lambda b, g: g.find(".//saml:Conditions", NS).get("NotOnOrAfter") == xml_time(NOW + timedelta(days=29)),
    "nameid-comment": lambda b, g: "".join(g.find(".//saml:NameID", NS).itertext()) == NAMEID
    and isinstance(g.find(".//saml:NameID", NS)[0], etree._Comment),
    "nameid-empty": lambda b, g: g.find(".//saml:NameID", NS).text is None,
    "nameid-format": lambda b, g: g.find(".//saml:NameID", NS).get("Format") == "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    "nameid-missing": lambda b, g: g.find(".//saml:NameID", NS) is None and g.find(".//saml:SubjectConfirmation", NS) is not None,
    "nameid-value": lambda b, g: _t(g, ".//saml:NameID") == "victim@example.com",
    "no-authn-statement": lambda b, g: g.find(".//saml:AuthnStatement", NS) is None,
    "no-bearer": lambda b, g: g.find(".//saml:SubjectConfirmation", NS).get("Method").endswith("sender-vouches"),
    "recipient-missing": lambda b, g: "Recipient" not in g.find(".//saml:SubjectConfirmationData", NS).attrib,
    "recipient-wrong": lambda b, g: g.find(".//saml:SubjectConfirmationData", NS).get("Recipient") == "https://other-sp.example.com/saml/acs",
    "scd-expired": lambda b, g: g.find(".//saml:SubjectConfirmationData", NS).get("NotOnOrAfter") == xml_time(NOW - timedelta(seconds=600)),
    "scd-in-response-to-wrong": lambda b, g: g.get("InResponseTo") == "_req1"
    and g.find(".//saml:SubjectConfirmationData", NS).get("InResponseTo") != "_req1",
    "scd-no-notonorafter": lambda b, g: "NotOnOrAfter" not in g.find(".//saml:SubjectConfirmationData", NS).attrib,
    "scd-not-yet-valid": lambda b, g: g.find(".//saml:SubjectConfirmationData", NS).get("NotBefore") == xml_time(NOW + timedelta(seconds=600)),
    "subject-missing": lambda b, g: g.find(".//saml:Subject", NS) is None,
    "advice-assertion": lambda b, g: [etree.QName(c).localname for c in _a(g)][4] == "Advice"
    and _t(_a(g), "saml:Advice/saml:Assertion/saml:Subject/saml:NameID") == "victim@example.com"
    and _a(g).find("saml:Advice/saml:Assertion/ds:Signature", NS) is None,
    "comment-in-value": lambda b, g: "".join(g.find(".//saml:Audience", NS).itertext()) == SP + ".evil.example",
    "status-missing": lambda b, g: g.find("samlp:Status", NS) is None and [etree.QName(c).localname for c in g] == ["Issuer", "Signature", "Assertion"],
    "status-message": lambda b, g: _t(g, "samlp:Status/samlp:StatusMessage") == "<script>alert(1)</script>",
    "status-top-level": lambda b, g: g.find("samlp:Status/samlp:StatusCode", NS).get("Value").endswith("AuthnFailed") and _a(g) is not None,
    "two-authn-statements": lambda b, g: [x.get("SessionIndex") for x in g.iterfind(".//saml:AuthnStatement", NS)] == ["_sess1", "_sess1_2"],
    "authn-context": lambda b, g: _t(g, ".//saml:AuthnContextClassRef").endswith("classes:Password"),
    "attr-friendly-name": lambda b, g: [(a.get("FriendlyName"), [v.text for v in a]) for a in g.iterfind(".//saml:Attribute", NS)][-1] == ("role", ["admin"]),
    "attr-complex-value": lambda b, g: g.find(".//saml:Attribute[@Name='Email']/saml:AttributeValue", NS)[0].text == "admin",
    "attr-nil": lambda b, g: g.find(".//saml:Attribute[@Name='Email']/saml:AttributeValue", NS).get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true",
    "attr-many-values": lambda b, g: len(dict(_attrs(g))["Email"]) == 10000,
    "one-time-use": lambda b, g: g.find(".//saml:Conditions/saml:OneTimeUse", NS) is not None,
    "issuer-format": lambda b, g: g.find("saml:Issuer", NS).get("Format").endswith("emailAddress"),
    "issuer-duplicate": lambda b, g: [i.text for i in g.findall("saml:Issuer", NS)] == [_t(b, "saml:Issuer"), "https://other-idp.example.com/idp"],
    "timestamp": lambda b, g: g.find(".//saml:Conditions", NS).get("NotOnOrAfter") == "2030-01-01T00:00:00+14:00",
    "condition-unknown": lambda b, g: g.find(".//saml:Conditions/saml:Condition", NS).get("{http://www.w3.org/2001/XMLSchema-instance}type") == "ext:Foo",
    "session-lifetime": lambda b, g: g.find(".//saml:AuthnStatement", NS).get("SessionNotOnOrAfter") == xml_time(NOW + timedelta(seconds=120)),
    "authn-instant-stale": lambda b, g: g.find(".//saml:AuthnStatement", NS).get("AuthnInstant") == xml_time(NOW - timedelta(hours=8)),
    "response-issuer-missing": lambda b, g: g.find("saml:Issuer", NS) is None and _a(g).find("saml:Issuer", NS) is not None,
    "name-qualifier": lambda b, g: (g.find(".//saml:NameID", NS).get("NameQualifier"), g.find(".//saml:NameID", NS).get("SPNameQualifier"))
    == ("https://other-idp.example.com/idp", SP),
    "expires-now": lambda b, g: g.find(".//saml:Conditions", NS).get("NotOnOrAfter") == xml_time(NOW)
    == g.find(".//saml:SubjectConfirmationData", NS).get("NotOnOrAfter"),
    "scd-mix-and-match": lambda b, g: [(d.get("Recipient"), d.get("NotOnOrAfter")) for d in g.iterfind(".//saml:SubjectConfirmationData", NS)]
    == [(ACS, xml_time(NOW - timedelta(seconds=600))), ("https://other-sp.example.com/saml/acs", xml_time(NOW + timedelta(seconds=300)))],
}


@pytest.mark.parametrize("fid", sorted(CONTENT))
def test_content_fault_changes_exactly_its_part_and_stays_signed(idp, base, fid) -> None:
    f = faults.get(fid)
    assert f.stage == "pre-sign"
    got, r = issue(idp, fid)
    assert short(diff(base, got)) == CONTENT[fid]
    assert SEMANTICS[fid](base, got)
    both_valid(idp, r, cli=fid in ("nameid-comment", "attr-comment", "comment-in-value", "clock-skew"))
    assert r.faults == (f.label,)


def test_multi_valued_split(idp) -> None:
    user = generate_user("redis_cloud", seed=1, accounts=["12345=owner,54321=manager"])
    b, _ = issue(idp, user=user)
    g, r = issue(idp, "attr-multi-valued", user=user)
    assert short(diff(b, g)) == {"AS/Attribute[redisAccountMapping]/*"}
    assert dict(_attrs(g))["redisAccountMapping"] == ["12345=owner", "54321=manager"]
    both_valid(idp, r)


def test_every_fault_is_tested() -> None:
    tested = set(CONTENT) | {"attr-multi-valued"} | set(SIGNING) | set(POST_SIGN_TESTED)
    assert tested == set(faults.REGISTRY), sorted(set(faults.REGISTRY) ^ tested)


# --------------------------------------------------------------------------- signing-mode faults
def _sigs(root):
    a = _a(root)
    return (
        root.find("ds:Signature", NS) is not None,
        a.find("ds:Signature", NS) is not None if a is not None else None,
    )


def _alg(root, el):
    s = el.find("ds:Signature", NS)
    return (
        s.find("ds:SignedInfo/ds:SignatureMethod", NS).get("Algorithm").rsplit("#", 1)[1],
        s.find("ds:SignedInfo/ds:Reference/ds:DigestMethod", NS).get("Algorithm").rsplit("#", 1)[1],
    )


def _keyinfo(el):
    ki = el.find("ds:Signature/ds:KeyInfo", NS)
    if ki is None:
        return None
    return [etree.QName(c).localname for c in ki]


def _cert_in(el):
    return "".join(el.findtext("ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=NS).split())


def check_unsigned(idp, base, g, r):
    assert _sigs(g) == (False, False)
    g2 = _parse(r.xml)
    stripped = _parse(etree.tostring(base))
    for s in list(stripped.iter(q(DS, "Signature"))):
        s.getparent().remove(s)
    assert diff(stripped, g2) == set()


def check_response_only(idp, base, g, r):
    assert _sigs(g) == (True, False)
    assert sig_ok(idp, r.xml, g.get("ID"))


def check_assertion_only(idp, base, g, r):
    assert _sigs(g) == (False, True)
    assert sig_ok(idp, r.xml, _a(g).get("ID"))
    assert short(diff(base, g)) == {"Response/*"}


def _same_content(base, g):
    assert short(diff(base, g)) == set()


def check_untrusted(idp, base, g, r):
    _same_content(base, g)
    assert _cert_in(_a(g)) == idp.attacker_key.cert_b64 == _cert_in(g)
    assert not sig_ok(idp, r.xml, g.get("ID")) and not sig_ok(idp, r.xml, _a(g).get("ID"))
    assert xmlsec1_verify(r.xml, idp.attacker_key.cert_pem, node_id=_a(g).get("ID"))[0]


def check_keyvalue(idp, base, g, r):
    from mock_idp.signing import verify

    _same_content(base, g)
    assert _keyinfo(_a(g)) == ["KeyValue"] and _keyinfo(g) == ["KeyValue"]
    # (the xmlsec1 CLI itself takes the key from KeyValue, the CVE-2021-21239 class, so it cannot be
    # the judge here: a verifier pinned to the IdP key must refuse, the attacker key must fit)
    assert not verify(g, _a(g), idp.key.cert_pem)
    assert verify(g, _a(g), idp.attacker_key.cert_pem)


def check_genuine_cert(idp, base, g, r):
    _same_content(base, g)
    assert _cert_in(_a(g)) == idp.key.cert_b64
    assert not sig_ok(idp, r.xml, _a(g).get("ID")) and not sig_ok(idp, r.xml, g.get("ID"))


def check_no_keyinfo(idp, base, g, r):
    _same_content(base, g)
    assert _keyinfo(g) is None and _keyinfo(_a(g)) is None
    both_valid(idp, r)


def _check_cert_window(expired: bool):
    def check(idp, base, g, r):
        from cryptography import x509

        _same_content(base, g)
        both_valid(idp, r)
        cert = x509.load_der_x509_certificate(base64.b64decode(_cert_in(_a(g))))
        now = datetime.now(timezone.utc)
        if expired:
            assert cert.not_valid_after_utc < now
        else:
            assert cert.not_valid_before_utc > now
        assert cert.public_key().public_numbers() == idp.key.certificate.public_key().public_numbers()

    return check


def _check_alg(sig, dig):
    def check(idp, base, g, r):
        _same_content(base, g)
        assert _alg(g, g) == (sig, dig) and _alg(g, _a(g)) == (sig, dig)
        both_valid(idp, r)

    return check


SIGNING = {
    "sig-unsigned": check_unsigned,
    "sig-response-only": check_response_only,
    "sig-assertion-only": check_assertion_only,
    "sig-untrusted-cert": check_untrusted,
    "sig-attacker-keyvalue": check_keyvalue,
    "sig-attacker-key-genuine-cert": check_genuine_cert,
    "sig-no-keyinfo": check_no_keyinfo,
    "cert-expired": _check_cert_window(True),
    "cert-not-yet-valid": _check_cert_window(False),
    "alg-rsa-sha1": _check_alg("rsa-sha1", "sha1"),
    "alg-sha1-digest": _check_alg("rsa-sha256", "sha1"),
}


@pytest.mark.parametrize("fid", sorted(SIGNING))
def test_signing_fault(idp, base, fid) -> None:
    assert faults.get(fid).stage == "pre-sign"
    g, r = issue(idp, fid)
    SIGNING[fid](idp, base, g, r)


# --------------------------------------------------------------------------- post-sign faults
def _assertions(root):
    return root.findall("saml:Assertion", NS)


def test_sig_stripped(idp, base) -> None:
    g, r = issue(idp, "sig-stripped")
    assert not list(g.iter(q(DS, "Signature")))
    stripped = _parse(etree.tostring(base))
    for s in list(stripped.iter(q(DS, "Signature"))):
        s.getparent().remove(s)
    assert diff(stripped, g) == set()
    g2, _ = issue(idp, faults.get("sig-stripped", victim="ceo@example.com"))
    assert _t(g2, ".//saml:NameID") == "ceo@example.com"
    assert short(diff(stripped, g2)) == {"A/Subject/NameID#text", EMAIL_AV}


def test_sig_tampered(idp, base) -> None:
    g, r = issue(idp, "sig-tampered")
    assert short(diff(base, g)) == {"A/Subject/NameID#text", EMAIL_AV}
    assert _t(g, ".//saml:NameID") == "victim@example.com"
    # the signatures are the untouched originals, so both now fail
    assert g.find("ds:Signature", NS).findtext("ds:SignatureValue", namespaces=NS) == base.find("ds:Signature", NS).findtext(
        "ds:SignatureValue", namespaces=NS)
    assert not sig_ok(idp, r.xml, "_assert1") and not sig_ok(idp, r.xml, "_resp1")


def test_sig_bad_value(idp, base) -> None:
    g, r = issue(idp, "sig-bad-value")
    assert short(diff(base, g)) == set()
    for path in ("ds:Signature", "saml:Assertion/ds:Signature"):
        b = base64.b64decode(base.findtext(f"{path}/ds:SignatureValue", namespaces=NS))
        x = base64.b64decode(g.findtext(f"{path}/ds:SignatureValue", namespaces=NS))
        assert len(b) == len(x) and b[:-1] == x[:-1] and b[-1] ^ x[-1] == 1
        assert g.findtext(f"{path}/ds:SignedInfo/ds:Reference/ds:DigestValue", namespaces=NS) == base.findtext(
            f"{path}/ds:SignedInfo/ds:Reference/ds:DigestValue", namespaces=NS)
    assert not sig_ok(idp, r.xml, "_assert1") and not sig_ok(idp, r.xml, "_resp1")


def test_sig_empty_values(idp, base) -> None:
    g, r = issue(idp, "sig-empty-values")
    assert short(diff(base, g)) == set()
    assert all(not (e.text or "").strip() for e in g.iter(q(DS, "SignatureValue"), q(DS, "DigestValue")))
    assert not sig_ok(idp, r.xml, "_assert1")


def test_sig_other_assertion(idp, base) -> None:
    g, r = issue(idp, "sig-other-assertion")
    assert g.find("ds:Signature", NS) is None
    a = _a(g)
    ref = a.find("ds:Signature/ds:SignedInfo/ds:Reference", NS).get("URI")
    assert ref == "#" + r.notes["other_assertion_id"] != "#_assert1"
    assert not sig_ok(idp, r.xml, "_assert1")
    # same content as a response whose assertion is signed normally and the response not at all
    b2, _ = issue(idp, "sig-assertion-only")
    assert short(diff(b2, g)) == set()


def test_sig_reference_response(idp) -> None:
    g, r = issue(idp, "sig-reference-response")
    assert g.find("ds:Signature", NS) is None
    assert _a(g).find("ds:Signature/ds:SignedInfo/ds:Reference", NS).get("URI") == "#_resp1"
    b2, _ = issue(idp, "sig-assertion-only")
    assert short(diff(b2, g)) == set()


def test_xslt_transform(idp, base) -> None:
    g, r = issue(idp, "xslt-transform")
    assert short(diff(base, g)) == set()
    ts = _a(g).findall("ds:Signature/ds:SignedInfo/ds:Reference/ds:Transforms/ds:Transform", NS)
    assert [t.get("Algorithm").rsplit("/", 1)[1] for t in ts][-1] == "REC-xslt-19991116"
    assert r.notes["oob_url"] in etree.tostring(ts[-1]).decode()
    assert r.notes["oob_url"].startswith(idp.base_url + "/oob/")
    # (not fed to a verifier: one that runs XSLT would fetch the URL)


def _xsw_base(idp, fid):
    # the XSW faults choose which element is signed; compare with a response signed the same way
    mode = "sig-response-only" if fid in ("xsw-01", "xsw-02") else "sig-assertion-only"
    return issue(idp, mode)[0]


def test_xsw_01_02(idp) -> None:
    for fid, before in (("xsw-01", False), ("xsw-02", True)):
        b = _xsw_base(idp, fid)
        g, r = issue(idp, faults.get(fid, victim="ceo@example.com"))
        assert g.get("ID") == "_evil_response_ID_resp1"
        sig = g.find("ds:Signature", NS)
        clone = (sig.getprevious() if before else sig[-1])
        assert clone.tag == q(SAMLP, "Response") and clone.get("ID") == "_resp1"
        assert clone.find("ds:Signature", NS) is None
        assert _t(clone, "saml:Assertion/saml:Subject/saml:NameID") == NAMEID
        assert _t(g, "saml:Assertion/saml:Subject/saml:NameID") == "ceo@example.com"
        # the clone is exactly the original minus its signature
        orig = _parse(etree.tostring(b))
        orig.remove(orig.find("ds:Signature", NS))
        assert diff(orig, clone) == set()
        # XSW2: the outer (evil) Response's signature still verifies, its Reference finds the clone
        # (only Response IDs are registered: the clone repeats the Assertion's ID). For XSW1,
        # libxmlsec1 itself refuses an unexpected element inside ds:Signature.
        assert before == xmlsec1_verify(r.xml, idp.key.cert_pem, node_id="_evil_response_ID_resp1", id_elements=[f"{SAMLP}:Response"])[0]


def _unsigned_copy(a):
    c = _parse(etree.tostring(a))
    s = c.find("ds:Signature", NS)
    if s is not None:
        c.remove(s)
    return c


@pytest.mark.parametrize("victim", [None, "ceo@example.com"])
def test_xsw_03_to_08(idp, victim) -> None:
    b = _xsw_base(idp, "xsw-03")
    orig_a = _a(b)
    exp_nameid = victim or NAMEID

    def evil_ok(e, id_):
        assert e.get("ID") == id_ and _t(e, "saml:Subject/saml:NameID") == exp_nameid

    # XSW3: evil copy before the signed original
    g, r = issue(idp, faults.get("xsw-03", victim=victim))
    evil, signed = _assertions(g)
    evil_ok(evil, "_evil_assertion_ID_assert1")
    assert evil.find("ds:Signature", NS) is None and diff(orig_a, signed) == set()
    assert sig_ok(idp, r.xml, "_assert1")
    # XSW4: evil copy appended, signed original inside it
    g, r = issue(idp, faults.get("xsw-04", victim=victim))
    (evil,) = _assertions(g)
    evil_ok(evil, "_evil_assertion_ID_assert1")
    assert diff(orig_a, evil[-1]) == set()
    # XSW5 / XSW6: original renamed in place keeping its Signature; clean copy appended / inside Signature
    for fid in ("xsw-05", "xsw-06"):
        g, r = issue(idp, faults.get(fid, victim=victim))
        first = _assertions(g)[0]
        evil_ok(first, "_evil_assertion_ID_assert1")
        assert first.find("ds:Signature", NS) is not None
        copy_ = _assertions(g)[1] if fid == "xsw-05" else first.find("ds:Signature", NS)[-1]
        assert diff(_unsigned_copy(orig_a), copy_) == set()
    # XSW7: Extensions with a modified copy (same ID) before the signed original
    g, r = issue(idp, faults.get("xsw-07", victim=victim))
    ext = g.find("samlp:Extensions", NS)
    assert ext.getnext() is _a(g) or ext.getnext().tag == q(SAML, "Assertion")
    evil_ok(ext[0], "_assert1")
    assert diff(orig_a, _a(g)) == set()
    # XSW8: original edited in place (same ID); clean copy inside ds:Object in its Signature
    g, r = issue(idp, faults.get("xsw-08", victim=victim))
    a = _a(g)
    evil_ok(a, "_assert1")
    obj = a.find("ds:Signature/ds:Object", NS)
    assert diff(_unsigned_copy(orig_a), obj[0]) == set()


def test_two_assertions(idp) -> None:
    b = _xsw_base(idp, "two-assertions")
    g, r = issue(idp, faults.get("two-assertions", victim="ceo@example.com"))
    first, second = _assertions(g)
    assert diff(_a(b), first) == set()
    assert second.get("ID") == "_assert1_attack" and second.find("ds:Signature", NS) is None
    assert _t(second, "saml:Subject/saml:NameID") == "ceo@example.com"
    g, r = issue(idp, faults.get("two-assertions", victim="ceo@example.com", first=True))
    first, second = _assertions(g)
    assert diff(_a(b), second) == set() and first.get("ID") == "_assert1_attack"


def test_nameid_cdata_split(idp, base) -> None:
    g, r = issue(idp, "nameid-cdata-split")
    assert b"<![CDATA[" in r.xml
    assert short(diff(base, g)) == set()  # after parsing, the text is the same
    assert faults.get("nameid-cdata-split").stage == "pre-sign"
    both_valid(idp, r, cli=True)


def test_nameid_pi_splice(idp, base) -> None:
    g, r = issue(idp, "nameid-pi-splice")
    nid = g.find(".//saml:NameID", NS)
    assert isinstance(nid[0], etree._ProcessingInstruction)
    assert nid[0].text + nid[0].tail == NAMEID
    assert short(diff(base, g)) == {"A/Subject/NameID#text", "A/Subject/NameID/*"}
    assert not sig_ok(idp, r.xml, "_assert1")


def test_pi_swallow(idp, base) -> None:
    """CVE-2025-54419/54369 shape: characters of the signed identity moved into a PI after signing,
    in the NameID and in every AttributeValue equal to it; a correct c14n breaks the digest."""
    g, r = issue(idp, faults.get("pi-swallow", start=3, end=4))
    for el in [g.find(".//saml:NameID", NS), *[v for v in g.iterfind(".//saml:AttributeValue", NS) if len(v)]]:
        pi = el[0]
        assert isinstance(pi, etree._ProcessingInstruction) and pi.target == "p"
        assert (el.text or "") + pi.text + (pi.tail or "") == NAMEID and pi.text == NAMEID[3:4]
    assert not sig_ok(idp, r.xml, "_assert1")
    g, _ = issue(idp, faults.get("pi-swallow", start=0, end=2))
    nid = g.find(".//saml:NameID", NS)
    assert nid.text is None and nid[0].text == NAMEID[:2] and nid[0].tail == NAMEID[2:]
    with pytest.raises(ValueError):
        faults.get("pi-swallow", start=2, end=2)


def test_dtd_faults(idp, base) -> None:
    g, r = issue(idp, "dtd-harmless")
    assert b"<!DOCTYPE samlp:Response [" in r.xml and short(diff(base, g)) == set()
    g, r = issue(idp, "dtd-internal-entity")
    assert b'<!ENTITY nameid "' + NAMEID.encode() + b'">' in r.xml and b">&nameid;</saml:NameID>" in r.xml
    expanded = etree.fromstring(r.xml, etree.XMLParser(resolve_entities=True, no_network=True))
    assert short(diff(base, expanded)) == set()


def test_xxe_external_is_watched(idp, base) -> None:
    g, r = issue(idp, "xxe-external")
    url = r.notes["oob_url"]
    assert url.startswith("http://127.0.0.1:9/oob/")
    assert f'<!ENTITY % xxe SYSTEM "{url}"> %xxe;'.encode() in r.xml
    assert short(diff(base, g)) == set()
    g, r = issue(idp, faults.get("xxe-external", general=True))
    assert b"&xxe;</saml:NameID>" in r.xml


def test_status_fault(idp) -> None:
    g, r = issue(idp, "status")
    codes = [c.get("Value").rsplit(":", 1)[1] for c in g.iter(q(SAMLP, "StatusCode"))]
    assert codes == ["Responder", "AuthnFailed"] and _a(g) is None
    assert r.assertion_id is None
    g, r = issue(idp, faults.get("status", code="urn:oasis:names:tc:SAML:2.0:status:Requester", subcode="", with_assertion=True))
    assert [c.get("Value").rsplit(":", 1)[1] for c in g.iter(q(SAMLP, "StatusCode"))] == ["Requester"]
    assert _a(g) is not None


def test_zero_assertions(idp, base) -> None:
    g, r = issue(idp, "zero-assertions")
    assert _a(g) is None
    assert g.find("samlp:Status/samlp:StatusCode", NS).get("Value").endswith("Success")
    assert sig_ok(idp, r.xml, "_resp1")


def test_replay_and_assertion_id_reuse(idp) -> None:
    first = idp.issue_response(SP, USER, in_response_to="_reqA")
    again = idp.issue_response(SP, USER, faults=["replay"])
    assert again.xml == first.xml and again.notes["replayed_response_id"] == first.response_id
    assert idp.replay(first.response_id).xml == first.xml
    by_id = idp.issue_response(SP, USER, faults=[faults.get("replay", response_id=first.response_id)])
    assert by_id.xml == first.xml
    reuse = idp.issue_response(SP, USER, faults=["assertion-id-reuse"])
    root = _parse(reuse.xml)
    assert _a(root).get("ID") == first.assertion_id and root.get("ID") != first.response_id
    assert sig_ok(idp, reuse.xml, first.assertion_id)
    with pytest.raises(KeyError):
        idp.replay("_never")


def test_encrypted_faults(idp, keys) -> None:
    from mock_idp.encryption import BLOCK_ALGORITHMS

    for block in BLOCK_ALGORITHMS:
        g, r = issue(idp, faults.get("encrypted-assertion", block=block))
        assert _a(g) is None
        ed = g.find("saml:EncryptedAssertion/xenc:EncryptedData", NS)
        assert ed.find("xenc:EncryptionMethod", NS).get("Algorithm").endswith(block)
        assert sig_ok(idp, r.xml, "_resp1")
    g, r = issue(idp, "encrypted-unsigned")
    assert g.find(".//ds:Signature", NS) is None and g.find("saml:EncryptedAssertion", NS) is not None


def _sigref(root):
    return _a(root).find("ds:Signature/ds:SignedInfo/ds:Reference", NS)


def test_signature_shape_faults(idp) -> None:
    b = issue(idp, "sig-assertion-only")[0]
    for uri in ("#", "#xpointer(/)", "http://127.0.0.1:9/x", ""):
        g, r = issue(idp, faults.get("sig-reference-uri", uri=uri))
        assert _sigref(g).get("URI") == uri
        assert diff(b, g) == {"Response/Assertion/Signature"}
    g, r = issue(idp, faults.get("sig-reference-uri", uri="oob"))
    assert _sigref(g).get("URI") == r.notes["oob_url"]
    # detached: the untouched signature now follows the Assertion, and still verifies
    g, r = issue(idp, "sig-detached")
    assert _a(g).find("ds:Signature", NS) is None and _a(g).getnext().tag == q(DS, "Signature")
    assert diff(b.find("saml:Assertion/ds:Signature", NS), _a(g).getnext()) == set()
    # wrong position: after Subject, still a valid enveloped signature
    g, r = issue(idp, "sig-wrong-position")
    assert [etree.QName(c).localname for c in _a(g)][:3] == ["Issuer", "Subject", "Signature"]
    assert sig_ok(idp, r.xml, "_assert1")
    g, r = issue(idp, "sig-duplicate")
    sigs = _a(g).findall("ds:Signature", NS)
    assert len(sigs) == 2 and diff(b.find("saml:Assertion/ds:Signature", NS), sigs[1]) == set()
    assert sigs[0].findtext("ds:SignatureValue", namespaces=NS) != sigs[1].findtext("ds:SignatureValue", namespaces=NS)
    for fid, path, default in (
        ("signature-method", "ds:SignedInfo/ds:SignatureMethod", "http://www.w3.org/2001/04/xmldsig-more#rsa-md5"),
        ("canonicalization", "ds:SignedInfo/ds:CanonicalizationMethod", "http://www.w3.org/2006/12/xml-c14n11"),
    ):
        g, _ = issue(idp, fid)
        assert _a(g).find(f"ds:Signature/{path}", NS).get("Algorithm") == default
        assert diff(b, g) == {"Response/Assertion/Signature"}
    g, _ = issue(idp, faults.get("signature-method", uri="http://www.w3.org/2000/09/xmldsig#hmac-sha1"))
    assert _a(g).findtext("ds:Signature/ds:SignedInfo/ds:SignatureMethod/ds:HMACOutputLength", namespaces=NS) == "8"
    counts = {}
    for mode in ("none", "three", "no-enveloped"):
        g, _ = issue(idp, faults.get("transforms", mode=mode))
        counts[mode] = [t.get("Algorithm").rsplit("#", 1)[1] for t in _sigref(g).iterfind("ds:Transforms/ds:Transform", NS)]
    assert counts == {"none": [], "three": ["enveloped-signature", "", ""], "no-enveloped": [""]}


def test_key_faults(idp, base) -> None:
    g, r = issue(idp, "key-two-certs")
    certs = ["".join(c.text.split()) for c in _a(g).iterfind("ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)]
    assert certs == [idp.key.cert_b64, idp.attacker_key.cert_b64]
    assert short(diff(base, g)) == set()
    g, r = issue(idp, "retrieval-method")
    for ki in g.iter(q(DS, "KeyInfo")):
        assert [etree.QName(c).localname for c in ki] == ["RetrievalMethod"] and ki[0].get("URI") == r.notes["oob_url"]
    assert short(diff(base, g)) == set()


def test_more_wrappings(idp, base) -> None:
    g, r = issue(idp, faults.get("xsw-response-in-response", victim="ceo@example.com"))
    inner = g[-1]
    assert inner.tag == q(SAMLP, "Response") and inner.get("ID") == "_resp1"
    assert g.get("ID") != "_resp1" and g.find("ds:Signature", NS) is None
    assert _t(g, "saml:Assertion/saml:Subject/saml:NameID") == "ceo@example.com"
    # the attacker's Assertion carries the nested Assertion's (moved) Signature, Reference unchanged
    assert _a(inner).find("ds:Signature", NS) is None
    assert _a(g).find("ds:Signature/ds:SignedInfo/ds:Reference", NS).get("URI") == "#" + _a(inner).get("ID")
    assert _a(g).get("ID") != _a(inner).get("ID")
    b = issue(idp, "sig-assertion-only")[0]
    g, r = issue(idp, faults.get("xsw-wrapper", victim="ceo@example.com"))
    (evil,) = _assertions(g)
    assert evil.get("ID") == "_evil_assertion_ID_assert1" and evil.find("ds:Signature", NS) is None
    assert _t(evil, "saml:Subject/saml:NameID") == "ceo@example.com"
    # schema order of a Response: Issuer, Signature (moved), Extensions (the parked Assertion), Status, Assertion
    assert [etree.QName(c).localname for c in g] == ["Issuer", "Signature", "Extensions", "Status", "Assertion"]
    parked = g.find("samlp:Extensions/saml:Assertion", NS)
    assert parked.get("ID") == "_assert1" and parked.find("ds:Signature", NS) is None
    assert g.find("ds:Signature/ds:SignedInfo/ds:Reference", NS).get("URI") == "#_assert1"
    plain = copy.deepcopy(_a(b))
    plain.remove(plain.find("ds:Signature", NS))
    assert diff(plain, parked) == set()
    assert xmlsec1_verify(r.xml, idp.key.cert_pem)[0]  # the moved (first) signature verifies: over the parked copy


def test_more_xml_faults(idp, base) -> None:
    _, r = issue(idp, faults.get("dtd-billion-laughs", levels=3))
    assert b'<!ENTITY lol3 "&lol2;&lol2;' in r.xml and b"&lol3;</saml:AttributeValue>" in r.xml
    _entities_expand_to_a_valid_message(idp, r)
    with pytest.raises(ValueError):
        faults.get("dtd-billion-laughs", levels=9)  # bounded: never a real bomb
    # CVE-2016-10149 shape: the reference in an attribute in samlp:Extensions, the Assertion untouched
    g, r = issue(idp, faults.get("dtd-billion-laughs", levels=2, where="extensions"))
    assert b'v="&lol2;"' in r.xml and b"&lol2;</saml:AttributeValue>" not in r.xml
    assert r.xml.index(b"<samlp:Extensions>") < r.xml.index(b"<saml:Assertion")
    assert sig_ok(idp, r.xml, "_assert1")  # an entity reference in an attribute keeps the Assertion's c14n
    _entities_expand_to_a_valid_message(idp, r)
    with pytest.raises(ValueError):
        faults.get("dtd-billion-laughs", where="response")
    g, r = issue(idp, "xxe-file")
    m = re.search(rb'<!ENTITY xxe SYSTEM "file://([^"]+)">', r.xml)
    assert m and b"&xxe;</saml:NameID>" in r.xml
    assert open(m.group(1), encoding="utf-8").read() == USER.name_id  # the canary file holds the NameID
    _entities_expand_to_a_valid_message(idp, r)
    _, r = issue(idp, faults.get("xxe-file", path="/etc/hostname"))
    assert b'<!ENTITY xxe SYSTEM "file:///etc/hostname">' in r.xml
    g, r = issue(idp, "xinclude")
    inc = g.find(".//saml:AttributeValue/{http://www.w3.org/2001/XInclude}include", NS)
    assert "/oob/" in inc.get("href") and inc.get("parse") == "text"
    assert short(diff(base, g)) == {"AS/Attribute[FirstName]/AttributeValue/*"}
    _, r = issue(idp, "doctype-system")
    assert re.match(rb'(<\?xml[^>]*>\s*)?<!DOCTYPE saml2p:response PUBLIC "-//B/A/EN" "http://[^"]+/oob/', r.xml)
    both_valid(idp, r)
    g, r = issue(idp, faults.get("oversize", size=200_000))
    assert len(r.xml) >= 200_000 and short(diff(base, g)) == set()
    both_valid(idp, r)
    g, r = issue(idp, faults.get("deep-nesting", depth=40))
    assert r.xml.count(b"<x>") == 40 and short(diff(base, g)) == {"Response/*"}
    g, r = issue(idp, "encoding-utf16")
    assert r.xml[:2] in (b"\xff\xfe", b"\xfe\xff") and "UTF-16" in r.xml.decode("utf-16")[:60]
    assert short(diff(base, g)) == set()
    both_valid(idp, r)


def test_assertion_and_encrypted(idp) -> None:
    g, r = issue(idp, "assertion-and-encrypted")
    assert g.find("saml:EncryptedAssertion", NS) is not None
    (plain,) = _assertions(g)
    assert plain.find("ds:Signature", NS) is None and _t(plain, "saml:Subject/saml:NameID") == "victim@example.com"
    g, r = issue(idp, "encrypted-wrong-key")
    assert g.find("saml:EncryptedAssertion", NS) is not None and _a(g) is None


def test_benign_variations_stay_valid(idp, base) -> None:
    g, r = issue(idp, "benign-variations")
    assert b"<saml2:Assertion" in r.xml and b"<samlp2:Response" in r.xml and b"\n    <saml2:Issuer>" in r.xml
    assert g.get("IssueInstant").endswith(".123Z")
    both_valid(idp, r, cli=True)
    # same names and values once prefixes, whitespace and fractions are ignored
    norm = _parse(r.xml.replace(b".123Z", b"Z"))
    for el in norm.iter():
        if isinstance(el.tag, str) and el.text is not None and not el.text.strip():
            el.text = None
        if isinstance(el.tag, str) and el.tail is not None and not el.tail.strip():
            el.tail = None
    assert short(diff(base, norm)) == set()


def test_key_rollover(keys) -> None:
    second = ephemeral("second-key")
    i = MockIdP(base_url="http://127.0.0.1:9", key=keys[0], extra_signing_keys=[second])
    i.register_sp(sp_metadata(SP, [ACS]))
    md = etree.fromstring(i.metadata_xml())
    certs = ["".join(c.text.split()) for c in md.iter(q(DS, "X509Certificate"))]
    assert certs == [keys[0].cert_b64, second.cert_b64]
    r = i.issue_response(SP, USER, faults=["key-rollover"])
    assert xmlsec1_verify(r.xml, second.cert_pem)[0] and not xmlsec1_verify(r.xml, keys[0].cert_pem)[0]
    with pytest.raises(ValueError):
        MockIdP(base_url="http://127.0.0.1:9", key=keys[0]).issue_response(None, USER, acs_url=ACS, faults=["key-rollover"])


def test_ecdsa_idp() -> None:
    ek = ephemeral("ec-idp", key_type="ec")
    i = MockIdP(base_url="http://127.0.0.1:9", key=ek)
    i.register_sp(sp_metadata(SP, [ACS]))
    r = i.issue_response(SP, USER, algorithm="ecdsa-sha256")
    root = _parse(r.xml)
    assert _alg(root, root)[0] == "ecdsa-sha256"
    assert xmlsec1_verify(r.xml, ek.cert_pem)[0] and xmlsec1_verify(r.xml, ek.cert_pem, node_id=r.assertion_id)[0]


def _digest_of(el) -> str:
    from mock_idp.faults.parser_differentials import _exc_digest

    return _exc_digest(el)


def test_parser_differential_faults(idp) -> None:
    from mock_idp.signing import verify

    b = issue(idp, "sig-assertion-only")[0]
    genuine_dv = b.findtext("saml:Assertion/ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestValue", namespaces=NS)
    genuine_si = b.find("saml:Assertion/ds:Signature/ds:SignedInfo", NS)
    for victim in (None, "ceo@example.com"):
        # PDF-07: the new digest hidden in a comment before the original one
        g, r = issue(idp, faults.get("digest-comment", victim=victim))
        dv = _a(g).find("ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestValue", NS)
        assert isinstance(dv[0], etree._Comment) and dv.text is None and dv[0].tail == genuine_dv
        assert dv[0].text == _digest_of(_a(g)) != genuine_dv  # the comment digests the edited Assertion
        assert _t(_a(g), "saml:Subject/saml:NameID") == (victim or NAMEID)
        assert not sig_ok(idp, r.xml, "_assert1")  # a conforming verifier refuses it
        # PDF-11: a bare DigestValue of the edited Assertion in Extensions; the Signature untouched
        g, r = issue(idp, faults.get("decoy-signature", victim=victim))
        ext = g.find("samlp:Extensions", NS)
        assert ext.getprevious().tag == q(SAML, "Issuer") and [c.tag for c in ext] == [q(DS, "DigestValue")]
        assert ext[0].text == _digest_of(_a(g)) != genuine_dv
        assert diff(genuine_si, _a(g).find("ds:Signature/ds:SignedInfo", NS)) == set()
        assert not sig_ok(idp, r.xml, "_assert1")
        # PDF-08: a forged SignedInfo (new digest) wrapped before the genuine one
        g, r = issue(idp, faults.get("two-signedinfo", victim=victim))
        sig = _a(g).find("ds:Signature", NS)
        assert sig[0].tag == "{urn:samlconf:decoy}Wrapper" and sig[0][0].tag == q(DS, "SignedInfo")
        assert sig[0][0].findtext(".//ds:DigestValue", namespaces=NS) == _digest_of(_a(g))
        assert sig[0][0].find(".//ds:Reference", NS).get("URI") == "#" + _a(g).get("ID") != "#_assert1"
        assert diff(genuine_si, sig.find("ds:SignedInfo", NS)) == set()
        parked = g.find("samlp:Extensions/saml:Assertion", NS)  # the genuine one, for the genuine Reference
        assert parked.get("ID") == "_assert1" and parked.find("ds:Signature", NS) is None
        # PDF-09: an IdP-signed error Response, then an unsigned Response with the Assertion
        r = idp.issue_response(SP, USER, in_response_to="_req1", faults=[faults.get("trailing-document", victim=victim)], **FIX)
        body = r.xml.split(b"?>", 1)[1].strip()
        cut = body.index(b"<samlp:Response ", 1)
        head, tail = body[:cut], body[cut:]
        err, resp = _parse(head), _parse(tail)
        assert err.find("saml:Assertion", NS) is None and verify(err, err, idp.key.cert_pem)
        assert err.find("samlp:Status/samlp:StatusCode", NS).get("Value").endswith(":Requester")
        assert not list(resp.iter(q(DS, "Signature"))) and _t(resp, "saml:Assertion/saml:Subject/saml:NameID") == (victim or NAMEID)
    # PDF-05/06: golden signature (digest and signature of the empty string)
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    pub = x509.load_pem_x509_certificate(idp.key.cert_pem).public_key()
    for f, marker in (("namespace-bad-char", 'xmlns:x="http://example.com\u0080"'.encode()),
                      ("void-canonicalization", b'xmlns:ns="1"')):
        r = idp.issue_response(SP, USER, faults=[faults.get(f, victim="ceo@example.com")])
        assert marker in r.xml and b">ceo@example.com</saml:NameID>" in r.xml
        assert r.xml.count(b"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=") == 1
        sv = r.xml.split(b"<ds:SignatureValue>")[1].split(b"</ds:SignatureValue>")[0]
        pub.verify(base64.b64decode(sv), b"", padding.PKCS1v15(), hashes.SHA256())  # raises if not golden
    # PDF-12: the forged Assertion's Signature is a ds: element outside dsig; the genuine one in Extensions
    g, r = issue(idp, faults.get("prefix-rebinding", victim="ceo@example.com"))
    fake = _a(g).find("{urn:samlconf:not-dsig}Signature")
    assert fake is not None and fake.prefix == "ds" and _a(g).find("ds:Signature", NS) is None
    bare = copy.deepcopy(_a(g))
    bare.remove(bare.find("{urn:samlconf:not-dsig}Signature"))
    assert fake.findtext(".//{urn:samlconf:not-dsig}DigestValue") == _digest_of(bare)  # the forged content's
    ext_sig = g.find("samlp:Extensions/ds:Signature", NS)
    assert diff(genuine_si, ext_sig.find("ds:SignedInfo", NS)) == set() and ext_sig.prefix == "ds"
    # PDF-10/13: malformed outside the signed Assertion; a strict parser refuses, a recovering one does not
    for f in ("roundtrip-unstable", "recoverable-markup"):
        r = idp.issue_response(SP, USER, faults=[f])
        with pytest.raises(etree.XMLSyntaxError):
            etree.fromstring(r.xml)
        rec = etree.fromstring(r.xml, etree.XMLParser(recover=True))
        assert rec.find("samlp:Extensions", NS) is not None and rec.find("saml:Assertion", NS) is not None


def test_nameid_variants(idp, base, keys) -> None:
    g, r = issue(idp, "nameid-encrypted")
    assert g.find(".//saml:NameID", NS) is None
    assert g.find(".//saml:Subject/saml:EncryptedID/xenc:EncryptedData", NS) is not None
    both_valid(idp, r)
    g, r = issue(idp, "nameid-baseid")
    bid = g.find(".//saml:Subject/saml:BaseID", NS)
    assert bid.text == NAMEID and g.find(".//saml:NameID", NS) is None
    both_valid(idp, r)


def test_cert_and_id_faults(idp, base, keys) -> None:
    from cryptography import x509

    g, r = issue(idp, "sig-cloned-cert")
    cloned = x509.load_der_x509_certificate(base64.b64decode(_cert_in(_a(g))))
    real = idp.key.certificate
    assert (cloned.subject, cloned.issuer, cloned.serial_number) == (real.subject, real.issuer, real.serial_number)
    assert cloned.public_key().public_numbers() != real.public_key().public_numbers()
    assert _same_content(base, g) is None and not sig_ok(idp, r.xml, "_assert1")
    enc_key = ephemeral("idp-encryption-key")
    i = MockIdP(base_url="http://127.0.0.1:9", key=keys[0], encryption_keys=[enc_key])
    i.register_sp(sp_metadata(SP, [ACS]))
    uses = [kd.get("use") for kd in etree.fromstring(i.metadata_xml()).iter("{*}KeyDescriptor")]
    assert uses == ["signing", "encryption"]
    r = i.issue_response(SP, USER, faults=["key-encryption-only"])
    assert xmlsec1_verify(r.xml, enc_key.cert_pem)[0] and not xmlsec1_verify(r.xml, keys[0].cert_pem)[0]
    b = issue(idp, "sig-assertion-only")[0]
    g, r = issue(idp, "assertion-id-missing")
    assert "ID" not in _a(g).attrib and short(diff(b, g)) == {"A@ID"}
    g, r = issue(idp, "duplicate-id")
    assert g.find("samlp:Extensions", NS)[0].get("ID") == "_assert1" and diff(_a(b), _a(g)) == set()


def test_nameid_char_ref(idp, base) -> None:
    g, r = issue(idp, "nameid-char-ref")
    assert f">&#x{ord(NAMEID[0]):x};{NAMEID[1:]}</saml:NameID>".encode() in r.xml
    assert short(diff(base, g)) == set()  # parsed, it is the same text
    both_valid(idp, r, cli=True)


def test_encryption_shape_faults(idp, keys) -> None:
    from mock_idp.signing import verify

    def enc(fault):
        g, r = issue(idp, fault)
        assert verify(g, g, idp.key.cert_pem), "the Response signature covers the changed EncryptedAssertion"
        return g.find("saml:EncryptedAssertion/xenc:EncryptedData", NS), r

    ed, _ = enc("encrypted-type")
    assert ed.get("Type") == "http://www.w3.org/2001/04/xmlenc#Content"
    ed, _ = enc(faults.get("encrypted-type", type=""))
    assert "Type" not in ed.attrib
    ed, _ = enc("encrypted-missing")
    assert ed.find("ds:KeyInfo", NS) is None and ed.find("xenc:EncryptionMethod", NS) is not None
    ed, _ = enc(faults.get("encrypted-missing", part="method"))
    assert ed.find("xenc:EncryptionMethod", NS) is None and ed.find("ds:KeyInfo", NS) is not None
    ed, _ = enc("encrypted-two-keys")
    eks = ed.findall("ds:KeyInfo/xenc:EncryptedKey", NS)
    assert len(eks) == 2 and eks[0].findtext(".//xenc:CipherValue", namespaces=NS) != eks[1].findtext(".//xenc:CipherValue", namespaces=NS)
    ed, _ = enc("encrypted-corrupt")
    assert ed.find("xenc:EncryptionMethod", NS).get("Algorithm").endswith("aes128-cbc")
    # the DOCTYPE sits inside the ciphertext: decrypt with the SP key to see it
    import xmlsec

    ed, _ = enc("encrypted-dtd")
    mgr = xmlsec.KeysManager()
    mgr.add_key(xmlsec.Key.from_memory(keys[1].key_pem, xmlsec.constants.KeyDataFormatPem))
    ctx = xmlsec.EncryptionContext(mgr)
    ed = _parse(etree.tostring(ed))
    del ed.attrib["Type"]  # decrypt as raw bytes (as an Element, libxmlsec1 would parse and refuse the DTD)
    plain = ctx.decrypt(ed)
    assert (plain if isinstance(plain, bytes) else etree.tostring(plain)).startswith(b"<!DOCTYPE saml:Assertion")
    g, r = issue(idp, "encrypted-attribute")
    assert g.find(".//saml:Attribute[@Name='Email']", NS) is None
    assert g.find(".//saml:AttributeStatement/saml:EncryptedAttribute/xenc:EncryptedData", NS) is not None
    both_valid(idp, r)


def test_encrypted_xsw(idp, keys) -> None:
    import xmlsec

    from mock_idp.signing import verify

    g, r = issue(idp, "encrypted-xsw")
    assert verify(g, g, idp.key.cert_pem) and _a(g) is None
    ed = g.find("saml:EncryptedAssertion/xenc:EncryptedData", NS)
    mgr = xmlsec.KeysManager()
    mgr.add_key(xmlsec.Key.from_memory(keys[1].key_pem, xmlsec.constants.KeyDataFormatPem))
    ed = _parse(etree.tostring(ed))
    del ed.attrib["Type"]
    inner = _parse(xmlsec.EncryptionContext(mgr).decrypt(ed))
    assert _t(inner, "saml:Subject/saml:NameID") == "victim@example.com"
    clean = inner.find("ds:Signature/ds:Object/saml:Assertion", NS)
    assert clean.get("ID") == inner.get("ID") and _t(clean, "saml:Subject/saml:NameID") == NAMEID


def test_two_references_and_xslt_dos(idp) -> None:
    b = issue(idp, "sig-assertion-only")[0]
    g, r = issue(idp, "sig-two-references")
    refs = [x.get("URI") for x in _a(g).iterfind("ds:Signature/ds:SignedInfo/ds:Reference", NS)]
    assert refs == ["#_assert1", "#_decoy"] and g.find("samlp:Extensions", NS)[0].get("ID") == "_decoy"
    assert short(diff(b, g)) == {"Response/*"}  # plus the Extensions; the Assertion itself is unchanged
    assert diff(_a(b), _a(g)) == {"Assertion/Signature"}
    from mock_idp.testing import ID_ELEMENTS

    ok, err = xmlsec1_verify(r.xml, idp.key.cert_pem, node_id="_assert1", id_elements=[*ID_ELEMENTS, "urn:samlconf:decoy:Decoy"])
    assert ok, err
    g, r = issue(idp, "xslt-dos")
    ts = _a(g).findall("ds:Signature/ds:SignedInfo/ds:Reference/ds:Transforms/ds:Transform", NS)
    assert ts[-1].get("Algorithm").endswith("REC-xslt-19991116")
    assert len(ts[-1].findall(".//{http://www.w3.org/1999/XSL/Transform}call-template")) == 3
    assert diff(b, g) == {"Response/Assertion/Signature"}


def test_dtd_quadratic(idp) -> None:
    r = idp.issue_response(SP, USER, faults=[faults.get("dtd-quadratic", size=1000, count=50)])
    assert b'<!ENTITY a "' + b"x" * 1000 + b'">' in r.xml and r.xml.count(b"&a;") == 50
    _entities_expand_to_a_valid_message(idp, r)


def _entities_expand_to_a_valid_message(idp, r) -> None:
    """Entity faults sign the expanded text: an SP that expands the entities sees valid signatures
    (only its DTD handling decides)."""
    from lxml import etree as _et

    expanded = _et.fromstring(r.xml, _et.XMLParser(load_dtd=True, resolve_entities=True, no_network=True))
    from types import SimpleNamespace

    both_valid(idp, SimpleNamespace(xml=_et.tostring(expanded)))


def test_namespace_confusion_faults(idp, base) -> None:
    from mock_idp.faults.parser_differentials import _exc_digest

    # the helper computes what a verifier computes: the genuine DigestValue of the plain response
    a = _a(base)
    assert _exc_digest(a) == a.findtext("ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestValue", namespaces=NS)
    b = issue(idp, "sig-assertion-only")[0]
    genuine_sv = b.findtext("saml:Assertion/ds:Signature/ds:SignatureValue", namespaces=NS)

    r = idp.issue_response(SP, USER, in_response_to="_req1", faults=[faults.get("attlist-namespace-confusion", victim="victim@example.com")], **FIX)
    assert r.xml.split(b"\n")[1].startswith(b"<!DOCTYPE samlp:Response [<!ATTLIST Signature xmlns CDATA #FIXED")
    assert 'xmlns:example="http://example.com\u0080"'.encode() in r.xml
    cleaned = r.xml.replace('\u0080'.encode(), b"")
    g = etree.fromstring(cleaned, etree.XMLParser(load_dtd=False, no_network=True))
    # libxml2 applies the ATTLIST's #FIXED xmlns: the bare Signature becomes a dsig Signature ...
    detail_sig = g.find("samlp:Status/samlp:StatusDetail/ds:Signature", NS)
    assert detail_sig.findtext("ds:SignatureValue", namespaces=NS) == genuine_sv
    assert diff(b.find("saml:Assertion/ds:Signature/ds:SignedInfo", NS), detail_sig.find("ds:SignedInfo", NS)) == set()
    # ... while without the DTD it is a namespace-less element (its ds: children keep their namespace)
    no_dtd = etree.fromstring(cleaned.split(b"]>", 1)[1].strip())
    assert no_dtd.find("samlp:Status/samlp:StatusDetail/Signature/ds:SignedInfo", NS) is not None
    forged = _a(g)
    assert _t(forged, "saml:Subject/saml:NameID") == "victim@example.com"
    assert forged.findtext("ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestValue", namespaces=NS) == \
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    assert not sig_ok(idp, r.xml.replace('\u0080'.encode(), b""), "_assert1")

    g, r = issue(idp, faults.get("xml-xmlns-confusion", victim="victim@example.com"))
    child = g.find("samlp:Extensions/ds:Parent/ds:Child", NS)
    assert child.get("{http://www.w3.org/XML/1998/namespace}xmlns") == "#other"
    assert child.find("ds:Signature", NS).findtext("ds:SignatureValue", namespaces=NS) == genuine_sv
    assert _exc_digest(_a(g)) == _a(g).findtext("ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestValue", namespaces=NS)
    assert _t(_a(g), "saml:Subject/saml:NameID") == "victim@example.com" and not sig_ok(idp, r.xml, "_assert1")


def test_metadata_variants(keys) -> None:
    from mock_idp.testing import xmlsec1_verify as v

    i = MockIdP(base_url="http://127.0.0.1:9", key=keys[0], metadata_key_use=None, scopes=["a.example"])
    md = etree.fromstring(i.metadata_xml())
    assert [kd.get("use") for kd in md.iter("{*}KeyDescriptor")] == [None]
    assert [s.text for s in md.iter("{urn:mace:shibboleth:metadata:1.0}Scope")] == ["a.example"]
    signed = MockIdP(base_url="http://127.0.0.1:9", key=keys[0]).metadata_xml(
        sign=True, valid_until=NOW, cache_duration="PT1H")
    root = etree.fromstring(signed)
    assert root.get("validUntil") == xml_time(NOW) and root.get("cacheDuration") == "PT1H"
    assert etree.QName(root[0]).localname == "Signature"
    assert v(signed, keys[0].cert_pem, id_elements=["urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor"])[0]


def test_issued_response_binding_helpers(idp) -> None:
    from urllib.parse import parse_qs, urlparse

    from mock_idp.bindings import decode_redirect_request

    r = idp.issue_response(SP, USER, relay_state="/x")
    url = urlparse(r.redirect_url())
    q_ = parse_qs(url.query)
    assert url.geturl().startswith(ACS + "?") and q_["RelayState"] == ["/x"]
    assert decode_redirect_request(q_["SAMLResponse"][0]) == r.xml
    assert decode_redirect_request(r.deflated_b64()) == r.xml
    assert r.form_fields() == {"SAMLResponse": r.saml_response_b64, "RelayState": "/x"}


def test_foreign_signed_documents(idp, base) -> None:
    from mock_idp.signing import verify

    md = "{urn:oasis:names:tc:SAML:2.0:metadata}EntityDescriptor"
    for source, tag in (("error", q(SAMLP, "Response")), ("metadata", md), ("wsfed", md)):
        g, r = issue(idp, faults.get("xsw-foreign-signed", source=source, victim="ceo@example.com"))
        other = g.find("samlp:Extensions", NS)[0]
        assert other.tag == tag and other.get("ID") == r.notes["foreign_id"]
        assert verify(other, other, idp.key.cert_pem)  # a genuine IdP signature, over another document
        assert g.find("ds:Signature", NS) is None and _a(g).find("ds:Signature", NS) is None
        assert _t(g, "saml:Assertion/saml:Subject/saml:NameID") == "ceo@example.com"
        if source == "wsfed":
            rd = other.find("{urn:oasis:names:tc:SAML:2.0:metadata}RoleDescriptor")
            assert rd.get("{http://www.w3.org/2001/XMLSchema-instance}type") == "fed:SecurityTokenServiceType"


def test_xsw_cve_2025_23369(idp, base) -> None:
    g, r = issue(idp, faults.get("xsw-cve-2025-23369", victim="ceo@example.com"))
    sig = g.find("ds:Signature", NS)
    assert sig.getprevious().tag == q(SAML, "Issuer")
    assert sig.find("ds:SignedInfo/ds:Reference", NS).get("URI") == "#_assert1"
    inner = sig.find("ds:Object/saml:Assertion", NS)
    assert inner.get("ID") == "_assert1" and diff(base.find("saml:Assertion", NS), inner) == set()  # signed copy
    assert _a(g).get("ID") == "_assert1ffff" and _a(g).find("ds:Signature", NS) is None
    assert _t(_a(g), "saml:Subject/saml:NameID") == "ceo@example.com"
    # entities=true: GitHub Enterprise's libxml2 quirk, IDs built from DTD entities
    r = idp.issue_response(SP, USER, in_response_to="_req1", faults=[faults.get("xsw-cve-2025-23369", entities=True)], **FIX)
    assert b'<!ENTITY idViaEntity "_assert1">' in r.xml and b'<!ENTITY BypassIDUniqueness "&#x50;">' in r.xml
    assert b'ID="&idViaEntity;"' in r.xml and b'ID="&BypassIDUniqueness;_assert1"' in r.xml
    expanded = etree.fromstring(r.xml, etree.XMLParser(resolve_entities=True, load_dtd=False, no_network=True))
    assert expanded.get("ID") == "_assert1"
    assert expanded.find("ds:Signature/ds:Object/saml:Assertion", NS).get("ID") == "P_assert1"


def test_id_attribute_pollution(idp, base) -> None:
    g, r = issue(idp, "id-attribute-pollution")
    assert g.get("ID") == "_attack" and g.get(q(SAMLP, "ID")) == "_resp1"
    assert g.find("ds:Signature/ds:SignedInfo/ds:Reference", NS).get("URI") == "#_resp1"
    assert short(diff(base, g)) == {"Response@ID"}


def test_doctype_roundtrip(idp, base) -> None:
    from mock_idp.bindings import BindingError, safe_parse

    r = idp.issue_response(SP, USER, in_response_to="_req1", faults=[faults.get("doctype-roundtrip", victim="victim@example.com")], **FIX)
    assert r.xml.startswith(b"<!DOCTYPE response SYSTEM 'x\"><!--'>")
    with pytest.raises(BindingError):
        safe_parse(r.xml)
    forged = _parse(r.xml)  # libxml2's reading: the edited Response, the genuine one inside CDATA text
    assert _t(forged, "saml:Assertion/saml:Subject/saml:NameID") == "victim@example.com"
    assert not sig_ok(idp, r.xml.split(b"\n", 1)[1], "_assert1")
    # a REXML-like writer re-quotes the SYSTEM literal: then the edited part is a comment and the
    # genuine signed Response the document
    requoted = r.xml.replace(b"SYSTEM 'x\"><!--'", b'SYSTEM "x\"><!--"', 1)
    genuine = _parse(requoted)
    assert diff(_a(base), _a(genuine)) == set() and genuine.get("ID") == "_resp1"
    assert sig_ok(idp, requoted, "_resp1") and sig_ok(idp, requoted, "_assert1")  # both signatures verify there


def test_deflate_bomb() -> None:
    from mock_idp.bindings import BindingError, decode_redirect_request, deflate_bomb

    small = deflate_bomb(100_000, chunk=4096)
    assert len(small) < 2000
    assert len(base64.b64decode(small)) < 1000
    import zlib

    assert len(zlib.decompress(base64.b64decode(small), -15)) == 100_000 + len("<samlp:Response></samlp:Response>")
    with pytest.raises(BindingError):
        decode_redirect_request(deflate_bomb(2_000_000))  # our own decoder refuses it


POST_SIGN_TESTED = {
    "prefix-rebinding", "roundtrip-unstable", "recoverable-markup",
    "attlist-namespace-confusion", "xml-xmlns-confusion",
    "sig-two-references", "xslt-dos", "dtd-quadratic",
    "encrypted-xsw",
    "xsw-foreign-signed", "xsw-cve-2025-23369", "id-attribute-pollution", "doctype-roundtrip",
    "sig-cloned-cert", "key-encryption-only", "assertion-id-missing", "duplicate-id", "nameid-char-ref", "encrypted-type",
    "encrypted-missing", "encrypted-two-keys", "encrypted-corrupt", "encrypted-dtd", "encrypted-attribute",
    "benign-variations", "key-rollover", "digest-comment", "trailing-document", "decoy-signature", "namespace-bad-char",
    "void-canonicalization", "two-signedinfo", "nameid-encrypted", "nameid-baseid",
    "sig-reference-uri", "sig-detached", "sig-wrong-position", "sig-duplicate", "signature-method", "canonicalization",
    "transforms", "key-two-certs", "retrieval-method", "xsw-response-in-response", "xsw-wrapper", "dtd-billion-laughs",
    "xxe-file", "xinclude", "oversize", "deep-nesting", "encoding-utf16", "assertion-and-encrypted", "encrypted-wrong-key",
    "sig-stripped", "sig-tampered", "sig-bad-value", "sig-empty-values", "sig-other-assertion", "sig-reference-response",
    "xslt-transform", "xsw-01", "xsw-02", "xsw-03", "xsw-04", "xsw-05", "xsw-06", "xsw-07", "xsw-08", "two-assertions",
    "nameid-cdata-split", "nameid-pi-splice", "pi-swallow", "dtd-harmless", "dtd-internal-entity", "xxe-external", "status",
    "zero-assertions", "replay", "assertion-id-reuse", "encrypted-assertion", "encrypted-unsigned",
    "doctype-system", "sig-random-keyinfo-cert", "hmac-key-confusion", "sig-digest-mismatch", "resign",
    # tests/test_sig_exact_shapes.py
    "sig-cve-2021-21238", "sig-reference-elsewhere", "xslt-saml-raider", "xslt-recursive-probe",
}


def test_crypto_shapes(idp) -> None:
    """hmac-key-confusion is a real HMAC over SignedInfo keyed with the IdP certificate's DER;
    sig-digest-mismatch breaks only the digest; sig-random-keyinfo-cert is the IdP's own signature."""
    import base64

    import xmlsec

    from mock_idp.signing import verify

    r = idp.issue_response(SP, USER, faults=["hmac-key-confusion"])
    root = _parse(r.xml)
    a = root.find("saml:Assertion", NS)
    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_binary_data(xmlsec.constants.KeyDataHmac, base64.b64decode(idp.key.cert_b64))
    ctx.register_id(a, "ID")
    ctx.verify(a.find("ds:Signature", NS))  # raises if it does not verify
    r = idp.issue_response(SP, USER, faults=["sig-digest-mismatch"])
    root = _parse(r.xml)
    assert b" (edited)</saml:AttributeValue>" in r.xml and not verify(root, root.find("saml:Assertion", NS), idp.key.cert_pem)
    r = idp.issue_response(SP, USER, faults=["sig-random-keyinfo-cert"])
    root = _parse(r.xml)
    a = root.find("saml:Assertion", NS)
    assert verify(root, a, idp.key.cert_pem)
    assert a.find(".//ds:X509Certificate", NS).text.strip() != idp.key.cert_b64


# --------------------------------------------------------------------------- the registry itself
def test_registry_metadata() -> None:
    for f in faults.all_faults():
        assert f.id and f.description and f.refs, f.id
        assert "\n" not in f.description
        assert f.stage in ("pre-sign", "post-sign")
        d = f.to_dict()
        assert d["id"] == f.id
    assert faults.get("clock-skew(-600)").params == (("seconds", -600),)
    assert faults.get("clock-skew(seconds=30)").label == "clock-skew(seconds=30)"
    assert faults.get("xsw-03").stage == "post-sign" and faults.get("nameid-comment").stage == "pre-sign"
    with pytest.raises(FaultError):
        faults.get("no-such-fault")
    with pytest.raises(FaultError):
        faults.get("sig-unsigned(1)")
    with pytest.raises(FaultError):
        faults.get("clock-skew", minutes=3)


def test_faults_compose(idp, base) -> None:
    g, r = issue(idp, "audience-wrong", "scd-expired", faults.get("clock-skew", seconds=-120))
    assert _t(g, ".//saml:Audience") == "https://other-sp.example.com/saml"
    assert g.find(".//saml:SubjectConfirmationData", NS).get("NotOnOrAfter") == xml_time(NOW - timedelta(seconds=720))
    both_valid(idp, r)
    g, r = issue(idp, "nameid-comment", faults.get("xsw-03", victim="ceo@example.com"))
    assert _t(_assertions(g)[0], "saml:Subject/saml:NameID") == "ceo@example.com"


def test_resign_shapes_are_real_signatures(idp) -> None:
    """Every `resign` shape is a signature a generic XML-DSig verifier accepts with the IdP key."""
    import xmlsec

    for spec in ("resign(method=rsa-md5)", "resign(c14n=c14n11)", "resign(uri=)", "resign(uri=#xpointer(/))",
                 "resign(transforms=three)", "resign(transforms=xpath)"):
        r = idp.issue_response(SP, USER, faults=[spec])
        root = _parse(r.xml)
        a = root.find("saml:Assertion", NS)
        ctx = xmlsec.SignatureContext()
        ctx.key = xmlsec.Key.from_memory(idp.key.cert_pem, xmlsec.constants.KeyDataFormatCertPem)
        ctx.register_id(a, "ID")
        ctx.verify(a.find("ds:Signature", NS))


def test_encryption_faults_for_the_decrypting_mutants(idp, keys) -> None:
    """ENC-09's CBC shape without EncryptionMethod decrypts only when an SP guesses AES-CBC; ENC-10's
    external shape names the IdP's watched URL inside the ciphertext (reference_sp/defects.py)."""
    from reference_sp.defects import decrypt_first
    from reference_sp.saml import Rejected

    g, _ = issue(idp, faults.get("encrypted-missing", part="method", block="aes256-cbc"))
    with pytest.raises(Rejected):
        decrypt_first(g, keys[1].key_pem, lambda r: True)
    plain = decrypt_first(g, keys[1].key_pem, lambda r: True, default_method=True)
    assert plain.find("saml:Assertion/saml:Subject/saml:NameID", NS).text == NAMEID
    assert plain.find("ds:Signature", NS) is None and plain.find("saml:EncryptedAssertion", NS) is None
    g, r = issue(idp, faults.get("encrypted-dtd", entity="external"))
    with pytest.raises(Rejected, match="DOCTYPE"):  # the hardened parser on the plaintext
        decrypt_first(g, keys[1].key_pem, lambda r: True)
    assert "/oob/" in r.notes["oob_url"]
