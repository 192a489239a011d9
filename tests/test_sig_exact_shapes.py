"""The exact published shapes of SIG-11, SIG-17 (CVE-2021-21238), ALG-04 (a real DSA-SHA1 signature)
and XML-08/09 (SAML Raider's XSLT attack, the recursive template): what each fault sends, and what
the verifier the published attack fooled (xmlsec1 --node-id, given only the IdP certificate) sees."""
from __future__ import annotations

import pytest
from lxml import etree

from mock_idp import MockIdP, ephemeral, faults, generate_user
from mock_idp.builder import DS, NS, SAML, SAMLP, q
from mock_idp.testing import XMLSEC1, sp_metadata, xmlsec1_verify

pytestmark = pytest.mark.skipif(XMLSEC1 is None, reason="xmlsec1 CLI not installed")
SP = "https://sp.example.test/saml"
ACS = "http://127.0.0.1:9/acs"
USER = generate_user("generic", seed=3)
XSL = "{http://www.w3.org/1999/XSL/Transform}"


@pytest.fixture(scope="module")
def idp():
    i = MockIdP(base_url="http://127.0.0.1:9", key=ephemeral("sig-exact-idp"))
    i.register_sp(sp_metadata(SP, [ACS]))
    return i


def issue(idp, fault):
    r = idp.issue_response(SP, USER, in_response_to="_req1", faults=[fault], response_id="_resp1",
                           assertion_id="_assert1")
    return etree.fromstring(r.xml), r


def node_id_verify(xml: bytes, cert_pem: bytes, node_id: str) -> tuple[bool, str]:
    """As pysaml2 runs it: `xmlsec1 --verify --node-id ID` (the first Signature xmlsec1 finds under
    that element), the Assertion's ID attribute declared."""
    import subprocess
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="samlconf-sigexact-") as d:
        doc, cert = Path(d) / "doc.xml", Path(d) / "cert.pem"
        doc.write_bytes(xml)
        cert.write_bytes(cert_pem)
        p = subprocess.run([XMLSEC1, "--verify", "--pubkey-cert-pem", str(cert), "--enabled-reference-uris",
                            "same-doc", "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
                            "--node-id", node_id, str(doc)], capture_output=True, text=True, timeout=30)
        return p.returncode == 0, p.stderr


def _carrier_checks(idp, g, r):
    """A (the genuinely signed Assertion, its Signature gone) sits in samlp:Extensions; E, the
    Response's only direct Assertion, has a new ID and carries A's genuine Signature first."""
    parked = g.find("samlp:Extensions/saml:Assertion", NS)
    evil = g.findall("saml:Assertion", NS)
    assert parked.get("ID") == "_assert1" and parked.find("ds:Signature", NS) is None
    assert len(evil) == 1 and evil[0].get("ID") != "_assert1"
    first = next(evil[0].iter(q(DS, "Signature")))
    assert first.find("ds:SignedInfo/ds:Reference", NS).get("URI") == "#_assert1"
    # xmlsec1 verifies the first Signature under E: the genuine one, whose Reference resolves to A
    ok, err = node_id_verify(r.xml, idp.key.cert_pem, evil[0].get("ID"))
    assert ok, err
    return evil[0]


@pytest.mark.parametrize("wrapper", [True, False])
def test_cve_2021_21238_shape(idp, wrapper):
    g, r = issue(idp, faults.get("sig-cve-2021-21238", victim="admin@victim.test", wrapper=wrapper))
    e = _carrier_checks(idp, g, r)
    assert e.findtext("saml:Subject/saml:NameID", namespaces=NS) == "admin@victim.test"
    kids = [etree.QName(c).localname for c in e][:3]
    assert kids == (["Issuer", "Wrapper", "Signature"] if wrapper else ["Issuer", "Signature", "Signature"])
    own = e.findall("ds:Signature", NS)[-1]  # what a reader keeping the last Signature child sees
    assert own.find("ds:SignedInfo/ds:Reference", NS).get("URI") == "#" + e.get("ID")


def test_sig_reference_elsewhere_and_response(idp):
    g, r = issue(idp, faults.get("sig-reference-elsewhere"))
    e = _carrier_checks(idp, g, r)
    assert len(e.findall("ds:Signature", NS)) == 1
    g, r = issue(idp, "sig-reference-response")
    assert g.find("ds:Signature", NS) is None
    assert g.find("saml:Assertion/ds:Signature/ds:SignedInfo/ds:Reference", NS).get("URI") == "#_resp1"
    # a valid signature over the Response, carried by the Assertion (the enveloped transform removes it)
    ok, err = xmlsec1_verify(r.xml, idp.key.cert_pem, node_id="_assert1")
    assert ok, err


def test_xslt_saml_raider_shape(idp):
    from pathlib import Path

    g, r = issue(idp, "xslt-saml-raider")
    first = next(g.iter(q(DS, "Transforms")))
    t = first.findall("ds:Transform", NS)[-1]
    assert t.get("Algorithm") is None
    tpl = t.find(f"{XSL}stylesheet/{XSL}template")
    assert tpl.get("match") == "doc"
    sel = {v.get("name"): v.get("select") for v in tpl.findall(f"{XSL}variable")}
    assert sel["escaped"] == "encode-for-uri($file)" and r.notes["oob_url"] in sel["attackerUrl"]
    canary = sel["file"].split("'")[1]
    assert Path(canary).read_text().startswith("samlconf-xslt-canary-")
    assert tpl.find(f"{XSL}value-of").get("select") == "unparsed-text($exploitUrl)"


def test_xslt_recursive_probe_is_bounded(idp):
    g, r = issue(idp, faults.get("xslt-recursive-probe", n=40))
    ss = next(g.iter(f"{XSL}stylesheet"))
    assert ss.find(f"{XSL}template/{XSL}call-template/{XSL}with-param").get("select") == "8"  # clamped
    assert r.notes["oob_url"] in ss.find(f".//{XSL}otherwise/{XSL}copy-of").get("select")


def test_dsa_sha1_is_a_real_dsa_signature(idp):
    dsa = ephemeral("sig-exact-dsa", key_type="dsa")
    r = idp.issue_response(SP, USER, in_response_to="_req1", key=dsa, algorithm="dsa-sha1")
    g = etree.fromstring(r.xml)
    assert {m.get("Algorithm") for m in g.iter(q(DS, "SignatureMethod"))} == \
        {"http://www.w3.org/2000/09/xmldsig#dsa-sha1"}
    a = g.find("saml:Assertion", NS)
    assert xmlsec1_verify(r.xml, dsa.cert_pem, node_id=a.get("ID"))[0]
    assert not xmlsec1_verify(r.xml, idp.key.cert_pem, node_id=a.get("ID"))[0]


def test_naive_reference_processing_fetches(monkeypatch):
    """The `processes_references` defect fetches a non-same-document Reference URI and runs XSLT
    (document() through its resolver); the careful verifier does neither."""
    from reference_sp import naive_dsig

    seen = []
    monkeypatch.setattr(naive_dsig, "_fetch", lambda url: seen.append(url) or b"<x/>")
    doc = etree.fromstring(
        f'<r xmlns:ds="{DS}" ID="_r"><ds:Reference URI="http://127.0.0.1:9/oob/t/reference"/>'
        f'<ds:Reference URI="#_r"><ds:Transforms><ds:Transform>'
        f'<xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0">'
        f'<xsl:template match="/"><xsl:copy-of select="document(\'http://127.0.0.1:9/oob/t/xslt\')"/>'
        f'</xsl:template></xsl:stylesheet></ds:Transform></ds:Transforms></ds:Reference></r>'.encode())
    naive_dsig.process_references(doc)
    assert seen == ["http://127.0.0.1:9/oob/t/reference", "http://127.0.0.1:9/oob/t/xslt"]
