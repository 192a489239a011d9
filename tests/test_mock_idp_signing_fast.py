"""The mock IdP signs RSA without libxmlsec's per-sign key setup; the bytes must be exactly xmlsec's.

RSA PKCS#1 v1.5 is deterministic, so the same tree signed both ways must serialise identically;
xmlsec (in-process) and the xmlsec1 CLI must accept the result. A fast path that drifted by one
byte (a base64 wrap, a namespace, a comment kept in the digest) fails here.
"""
from __future__ import annotations

import copy

import pytest
from lxml import etree

from mock_idp import ephemeral, generate_user
from mock_idp.builder import NS, SAML, ResponseSpec, build_response, q
from mock_idp.signing import sign, verify
from mock_idp.testing import XMLSEC1, xmlsec1_verify


@pytest.fixture(scope="module")
def key():
    return ephemeral("urn:samlconf:test-fast-sign")


def _tree() -> etree._Element:
    user = generate_user("redis_cloud", seed=11)
    spec = ResponseSpec(issuer="urn:idp", destination="http://127.0.0.1:9/acs", acs_url="http://127.0.0.1:9/acs",
                        audience="urn:sp", user=user, in_response_to="_r&<\"1")
    root = build_response(spec)
    nid = root.find(".//saml:NameID", NS)
    nid.text = "alice"  # a comment inside the NameID: a bare "#ID" reference drops it from the digest
    nid.append(etree.Comment("c"))
    nid[-1].tail = "@example.test"
    return root


def _both(monkeypatch, fn):
    out = []
    for env in (None, "1"):
        if env:
            monkeypatch.setenv("SAMLCONF_XMLSEC_SIGN", env)
        else:
            monkeypatch.delenv("SAMLCONF_XMLSEC_SIGN", raising=False)
        out.append(fn())
    return out


@pytest.mark.parametrize("algorithm,digest,key_info", [
    ("rsa-sha256", "sha256", "x509"), ("rsa-sha1", "sha1", "x509"), ("rsa-sha512", "sha512", "none"),
    ("rsa-sha384", "sha384", "keyvalue"), ("rsa-sha256", "sha512", "both"),
])
def test_fast_rsa_signature_is_byte_identical_to_xmlsec(monkeypatch, key, algorithm, digest, key_info):
    base = _tree()

    def signed() -> bytes:
        root = copy.deepcopy(base)
        a = root.find(q(SAML, "Assertion"))
        sign(root, a, key, algorithm=algorithm, digest=digest, key_info=key_info)
        sign(root, root, key, algorithm=algorithm, digest=digest, key_info=key_info)
        return etree.tostring(root)

    fast, slow = _both(monkeypatch, signed)
    assert fast == slow
    root = etree.fromstring(fast)
    assert verify(root, root, key.cert_pem)
    assert verify(root, root.find(q(SAML, "Assertion")), key.cert_pem)


def test_fast_signature_under_an_ancestor_that_declares_ds(monkeypatch, key):
    base = _tree()
    base.set("{http://www.w3.org/2000/09/xmldsig#}x", "1")  # puts xmlns:ds on the Response

    def signed() -> bytes:
        root = copy.deepcopy(base)
        sign(root, root.find(q(SAML, "Assertion")), key)
        return etree.tostring(root)

    fast, slow = _both(monkeypatch, signed)
    assert fast == slow


@pytest.mark.skipif(XMLSEC1 is None, reason="xmlsec1 CLI not installed")
def test_fast_signature_verifies_with_the_xmlsec1_cli(key, monkeypatch):
    monkeypatch.delenv("SAMLCONF_XMLSEC_SIGN", raising=False)
    root = _tree()
    sign(root, root, key)
    ok, why = xmlsec1_verify(etree.tostring(root), key.cert_pem)
    assert ok, why
