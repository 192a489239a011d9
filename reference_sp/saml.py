"""SAML processing of the reference SP: pysaml2 first, our own strict checks second.

The correct SP runs every Response through pysaml2's `Saml2Client` (signature verification with
the IdP certificate from metadata only, in-process by libxmlsec1: reference_sp/xmlsec_backend.py;
signed assertions required, one assertion, status, time window, audience, destination,
InResponseTo) and then through `check_assertion` below, which
re-checks on the *verified* assertion element what pysaml2 is lax about (a missing
AudienceRestriction, Conditions or Destination, the bearer Recipient, SubjectConfirmationData
InResponseTo, issuer binding, algorithms, duplicated attributes) and keeps the replay cache.

A mutant that disables one check relaxes exactly that check in both layers (a pysaml2 knob and our
own check), so the SP stays strict everywhere else. The two signature mutants
(`trusts_keyinfo_cert`, `xsw_first_assertion`) replace pysaml2's verification with a deliberately
wrong one of ours.
"""
from __future__ import annotations

import base64
import binascii
import logging
import shutil
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import xmlsec
from lxml import etree
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig as Saml2Config
from saml2.metadata import entity_descriptor
from saml2.response import AuthnResponse
from saml2.sigver import CryptoBackendXmlSec1

from .xmlsec_backend import backend_class

log = logging.getLogger("reference_sp.saml")

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
NS = {"samlp": SAMLP, "saml": SAML, "ds": DS, "md": MD}
CM_BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"

MAX_MESSAGE_B64 = 512 * 1024
SKEW = 120  # seconds of clock skew we allow (the brief: at most 2 minutes)
LAX_SKEW = 10 * 365 * 86400

STRONG_SIG = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
}
KNOWN_SIG = STRONG_SIG | {
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    "http://www.w3.org/2000/09/xmldsig#dsa-sha1",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-md5",
    "http://www.w3.org/2000/09/xmldsig#hmac-sha1",
}
STRONG_DIGEST = {
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
}


class Rejected(Exception):
    """A Response we refuse. `check` names the rule (catalogue ID or profile rule)."""

    def __init__(self, message: str, check: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.check = check


# --------------------------------------------------------------------------------------------
# safe XML
# --------------------------------------------------------------------------------------------
def safe_parser(huge: bool = False) -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=huge, remove_comments=False, remove_pis=False)


def parse_xml(data: bytes, *, allow_doctype: bool = False, huge: bool = False) -> etree._Element:
    try:
        root = etree.fromstring(data, safe_parser(huge))
    except etree.XMLSyntaxError as e:
        raise Rejected(f"the message is not well-formed XML ({e})", "XML-13") from None
    tree = root.getroottree()
    if tree.docinfo.doctype and not allow_doctype:
        raise Rejected("the message carries a DOCTYPE; SAML messages never do", "XML-01")
    return root


def decode_post_message(b64: str, *, allow_doctype: bool = False,
                        size_limit: bool = True) -> tuple[bytes, etree._Element]:
    if not b64:
        raise Rejected("no SAMLResponse in the POST body", "BND-01")
    if size_limit and len(b64) > MAX_MESSAGE_B64:
        raise Rejected(f"SAMLResponse is {len(b64)} bytes; the limit is {MAX_MESSAGE_B64}",
                       "XML-13")
    try:
        raw = base64.b64decode("".join(b64.split()), validate=True)
    except (binascii.Error, ValueError):
        raise Rejected("SAMLResponse is not valid base64", "BND-04") from None
    return raw, parse_xml(raw, allow_doctype=allow_doctype, huge=not size_limit)


# --------------------------------------------------------------------------------------------
# IdP metadata
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IdPInfo:
    entity_id: str
    signing_certs: tuple[bytes, ...]  # PEM
    sso_redirect: str | None
    slo_redirect: str | None


def _pem(b64: str) -> bytes:
    body = "".join(b64.split())
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return ("-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"
            ).encode()


def idp_info(metadata: bytes) -> IdPInfo:
    root = parse_xml(metadata)
    ed = root if root.tag == f"{{{MD}}}EntityDescriptor" else root.find(f".//{{{MD}}}EntityDescriptor")
    if ed is None:
        raise ValueError("IdP metadata has no EntityDescriptor")
    idp = ed.find(f"{{{MD}}}IDPSSODescriptor")
    if idp is None:
        raise ValueError("IdP metadata has no IDPSSODescriptor")
    certs = []
    for kd in idp.findall(f"{{{MD}}}KeyDescriptor"):
        if kd.get("use") in (None, "signing"):
            for c in kd.iterfind(f".//{{{DS}}}X509Certificate"):
                if c.text:
                    certs.append(_pem(c.text))

    def loc(tag: str) -> str | None:
        for e in idp.findall(f"{{{MD}}}{tag}"):
            if e.get("Binding") == BINDING_HTTP_REDIRECT:
                return e.get("Location")
        return None

    return IdPInfo(ed.get("entityID", ""), tuple(certs), loc("SingleSignOnService"),
                   loc("SingleLogoutService"))


# --------------------------------------------------------------------------------------------
# pysaml2 client
# --------------------------------------------------------------------------------------------
class _RefAuthnResponse(AuthnResponse):
    """pysaml2's AuthnResponse; `_lax_conditions` lets a time/audience mutant through pysaml2."""

    def __init__(self, sec_context: Any, **kwargs: Any) -> None:
        self._lax_conditions = kwargs.pop("_lax_conditions", False)
        self._recipient_optional = kwargs.pop("_recipient_optional", False)
        self._authn_optional = kwargs.pop("_authn_optional", False)
        super().__init__(sec_context, **kwargs)

    def authn_statement_ok(self, optional: bool = False) -> Any:
        # the `authn_statement_optional` mutant
        return super().authn_statement_ok(optional or self._authn_optional)

    def get_subject(self, keys: Any = None) -> Any:
        if self._recipient_optional and self.assertion is not None and self.assertion.subject:
            # the `recipient_optional` mutant: pysaml2 insists on a Recipient; read a missing one
            # as this ACS (our own check then lets it through, minus the mutant)
            for scf in self.assertion.subject.subject_confirmation:
                d = scf.subject_confirmation_data
                if d is not None and not d.recipient and self.return_addrs:
                    d.recipient = self.return_addrs[0]
        return super().get_subject(keys)

    def condition_ok(self, lax: bool = False) -> bool:
        if self._lax_conditions:
            return True  # a time/audience mutant: `check_assertion` alone decides, minus the mutant
        return bool(super().condition_ok(lax))


class RefClient(Saml2Client):
    def parse_acs_post(self, saml_response_b64: str, *, outstanding: dict[str, str],
                       allow_unsolicited: bool, want_assertions_signed: bool,
                       extra_return_addrs: list[str], lax_conditions: bool,
                       want_response_signed: bool = False, recipient_optional: bool = False,
                       authn_optional: bool = False, response_signature_suffices: bool = False) -> Any:
        kwargs = {
            "outstanding_queries": outstanding,
            "allow_unsolicited": allow_unsolicited,
            "want_assertions_signed": want_assertions_signed and not response_signature_suffices,
            "want_assertions_or_response_signed": want_assertions_signed,
            "want_response_signed": want_response_signed,
            "return_addrs": list(self.service_urls(binding=BINDING_HTTP_POST)) + extra_return_addrs,
            "entity_id": self.config.entityid,
            "attribute_converters": self.config.attribute_converters,
            "allow_unknown_attributes": True,
            "conv_info": None,
            "_lax_conditions": lax_conditions,
            "_recipient_optional": recipient_optional,
            "_authn_optional": authn_optional,
        }
        return self._parse_response(saml_response_b64, _RefAuthnResponse,
                                    "assertion_consumer_service", BINDING_HTTP_POST, **kwargs)


@dataclass
class SPIdentity:
    entity_id: str
    acs_url: str
    slo_url: str
    key_file: Path
    cert_file: Path
    cert_pem: bytes
    enc_key_file: Path | None = None
    enc_cert_file: Path | None = None
    # AuthnRequestsSigned="true" in the metadata, and every AuthnRequest signed (catalogue AREQ-09/10)
    authn_requests_signed: bool = False
    # more HTTP-POST ACS endpoints published after the first (index 1, 2, ...; catalogue DST-10)
    extra_acs_urls: tuple[str, ...] = ()


class ClientCache:
    """Saml2Client objects per (IdP set, time slack); building one parses metadata (~ms)."""

    def __init__(self, sp: SPIdentity, *, xmlsec1_subprocess: bool = False) -> None:
        self.sp = sp
        # verify with one `xmlsec1` process per signature (pysaml2's own backend) instead of
        # in-process (reference_sp/xmlsec_backend.py); for comparing the two
        self.xmlsec1_subprocess = xmlsec1_subprocess
        self._lock = threading.Lock()
        self._clients: dict[tuple[Any, ...], RefClient] = {}
        self._xmlsec1 = shutil.which("xmlsec1") or "/usr/bin/xmlsec1"

    def config_dict(self, metadatas: list[bytes], timeslack: int,
                    trust_keyinfo: bool = False) -> dict[str, Any]:
        return {
            "entityid": self.sp.entity_id,
            "xmlsec_binary": self._xmlsec1,
            "key_file": str(self.sp.key_file),
            "cert_file": str(self.sp.cert_file),
            # the `trusts_keyinfo_cert` mutant: no IdP keys, so pysaml2 takes the message's own
            "metadata": ({"inline": [m.decode() for m in metadatas]}
                         if metadatas and not trust_keyinfo else {}),
            "accepted_time_diff": timeslack,
            "allow_unknown_attributes": True,
            "only_use_keys_in_metadata": not trust_keyinfo,
            "delete_tmpfiles": True,
            **({"encryption_keypairs": [{"key_file": str(self.sp.enc_key_file),
                                         "cert_file": str(self.sp.enc_cert_file)}]}
               if self.sp.enc_key_file else {}),
            "service": {
                "sp": {
                    "name": "samlconf reference SP",
                    "endpoints": {
                        "assertion_consumer_service": [(u, BINDING_HTTP_POST) for u in
                                                       (self.sp.acs_url, *self.sp.extra_acs_urls)],
                        "single_logout_service": [(self.sp.slo_url, BINDING_HTTP_REDIRECT)],
                    },
                    "allow_unsolicited": False,
                    "want_assertions_signed": True,
                    "want_response_signed": False,
                    "authn_requests_signed": self.sp.authn_requests_signed,
                    "logout_requests_signed": True,
                    "name_id_format_allow_create": True,
                },
            },
        }

    def client(self, metadatas: list[bytes], timeslack: int = SKEW,
               trust_keyinfo: bool = False, no_verify: bool = False,
               first_signature: bool = False) -> RefClient:
        key = (tuple(metadatas), timeslack, trust_keyinfo, no_verify, first_signature)
        with self._lock:
            c = self._clients.get(key)
            if c is None:
                conf = Saml2Config()
                conf.load(self.config_dict(metadatas, timeslack, trust_keyinfo))
                c = RefClient(config=conf)
                if type(c.sec.crypto) is CryptoBackendXmlSec1:
                    c.sec.crypto.__class__ = backend_class(subprocess=self.xmlsec1_subprocess,
                                                           no_verify=no_verify)
                    c.sec.crypto.first_signature = first_signature
                if len(self._clients) > 64:
                    self._clients.clear()
                self._clients[key] = c
            return c

    def sp_metadata(self, metadatas: list[bytes]) -> str:
        conf = Saml2Config()
        conf.load(self.config_dict(metadatas, SKEW))
        return str(entity_descriptor(conf))


# --------------------------------------------------------------------------------------------
# our own checks on the verified assertion
# --------------------------------------------------------------------------------------------
@dataclass
class Verified:
    idp_entity_id: str
    name_id: str
    name_id_format: str
    session_index: str | None
    attributes: dict[str, list[str]]
    response_id: str
    assertion_id: str
    in_response_to: str | None
    not_on_or_after: float
    notes: list[str] = field(default_factory=list)
    session_not_on_or_after: float | None = None  # AuthnStatement/@SessionNotOnOrAfter (TIME-12)
    # the NameID's qualifiers as received: a LogoutRequest names the NameID byte-identically (SLO-16)
    name_qualifier: str | None = None
    sp_name_qualifier: str | None = None


def _time(s: str | None, what: str) -> datetime:
    if not s:
        raise Rejected(f"{what} is missing", "TIME-04")
    try:
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise Rejected(f"{what} {s!r} is not an xs:dateTime", "TIME-09") from None
    if t.tzinfo is None or t.utcoffset() != timedelta(0):
        raise Rejected(f"{what} {s!r} is not in UTC", "TIME-09")
    return t


def _lax_time(s: str | None, what: str) -> datetime | None:
    """The `lax_timestamps` mutant: the first 19 characters read as UTC (an offset or zone
    dropped); a value that does not parse that way is skipped (None: no check)."""
    try:
        return datetime.strptime((s or "")[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def text_of(el: etree._Element, truncate_at_comment: bool = False, *, first_node: bool = False,
            unescape: bool = False) -> str:
    """The element's full string value (comments excluded). Mutants: `.text` only (the text before
    the first comment); the data of the first child node as a DOM parser sees it (a CDATA section
    or a comment splits the text: `first_text_node`); HTML-unescaped once more
    (`decodes_entities_twice`)."""
    if truncate_at_comment:
        value = el.text or ""
    elif first_node:
        from xml.dom import minidom

        first = minidom.parseString(etree.tostring(el, with_tail=False)).documentElement.firstChild
        value = getattr(first, "data", "") if first is not None else ""
    else:
        value = str(el.xpath("string(.)"))
    if unescape:
        import html

        value = html.unescape(value)
    return value


def check_algorithms(sig: etree._Element | None) -> None:
    if sig is None:
        return
    sm = sig.find(f"{{{DS}}}SignedInfo/{{{DS}}}SignatureMethod")
    if sm is None or sm.get("Algorithm") not in STRONG_SIG:
        alg = None if sm is None else sm.get("Algorithm")
        raise Rejected(f"signature algorithm {alg!r} is not allowed (rsa/ecdsa-sha256+ only)",
                       "ALG-02")
    for dm in sig.iterfind(f"{{{DS}}}SignedInfo/{{{DS}}}Reference/{{{DS}}}DigestMethod"):
        if dm.get("Algorithm") not in STRONG_DIGEST:
            raise Rejected(f"digest algorithm {dm.get('Algorithm')!r} is not allowed (sha256+)",
                           "ALG-03")


def verify_with_cert(root: etree._Element, element: etree._Element, cert_pem: bytes) -> bool:
    """xmlsec check of the signature that is a direct child of `element` (mutant paths only)."""
    sig = element.find(f"{{{DS}}}Signature")
    if sig is None:
        return False
    return _xmlsec_verify(sig, cert_pem, root.iter(f"{{{SAMLP}}}Response", f"{{{SAML}}}Assertion"))


def check_signature_position(el: etree._Element) -> None:
    """SAML's schema puts an element's ds:Signature right after its Issuer; a signature anywhere
    else (after Subject, twice) is refused (catalogue SIG-16/17, CVE-2021-21238, CVE-2024-8698)."""
    sigs = el.findall(f"{{{DS}}}Signature")
    if not sigs:
        return
    if len(sigs) > 1:
        raise Rejected(f"{etree.QName(el).localname} carries {len(sigs)} signatures", "SIG-17")
    prev = sigs[0].getprevious()
    while prev is not None and not isinstance(prev.tag, str):  # comments/PIs do not count
        prev = prev.getprevious()
    if prev is None or prev.tag != f"{{{SAML}}}Issuer":
        raise Rejected(f"the {etree.QName(el).localname}'s signature is not right after its Issuer "
                       "(schema position)", "SIG-16")


def check_unique_ids(root: etree._Element) -> None:
    """Core 1.3.4: an ID is unique in the document; a duplicate lets a verifier and a reader pick
    different elements (catalogue SIG-18)."""
    seen: set[str] = set()
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        v = el.get("ID")
        if v is None:
            continue
        if v in seen:
            raise Rejected(f"the ID {v!r} appears more than once in the message", "SIG-18")
        seen.add(v)


XENC = "http://www.w3.org/2001/04/xmlenc#"
XENC11 = "http://www.w3.org/2009/xmlenc11#"
ENC_ELEMENT = XENC + "Element"
# SAML2Int SDP-ALG01: AES-GCM content encryption and RSA-OAEP key transport; CBC and PKCS#1 v1.5
# are broken (Jager/Somorovsky 2011; Jager, Schinzel, Somorovsky 2012)
GCM_BLOCK = {XENC11 + "aes128-gcm", XENC11 + "aes192-gcm", XENC11 + "aes256-gcm"}
CBC_BLOCK = {XENC + "aes128-cbc", XENC + "aes192-cbc", XENC + "aes256-cbc", XENC + "tripledes-cbc"}
OAEP = {XENC + "rsa-oaep-mgf1p", XENC11 + "rsa-oaep"}
RSA15 = XENC + "rsa-1_5"


def check_encryption(root: etree._Element, skip: Callable[[str], bool]) -> None:
    """Our policy on EncryptedAssertion, before anything is decrypted: EncryptedData Type, if
    present, is #Element (Core 6.1); only AES-GCM content and RSA-OAEP key transport."""
    for ea in root.iter(f"{{{SAML}}}EncryptedAssertion"):
        ed = ea.find(f"{{{XENC}}}EncryptedData")
        if ed is None:
            raise Rejected("EncryptedAssertion without EncryptedData", "ENC-09")
        t = ed.get("Type")
        if t is not None and t != ENC_ELEMENT and not skip("ignores_encrypted_type"):
            raise Rejected(f"EncryptedData Type {t!r} is not #Element", "ENC-08")
        em = ed.find(f"{{{XENC}}}EncryptionMethod")
        alg = em.get("Algorithm") if em is not None else None
        allowed = GCM_BLOCK | (CBC_BLOCK if skip("accepts_cbc") else set()) \
            | ({None} if skip("defaults_encryption_method") else set())  # the mutant guesses one
        if alg not in allowed:
            raise Rejected(f"content encryption {alg!r} is not allowed (AES-GCM only)", "ENC-07")
        for ek in ea.iter(f"{{{XENC}}}EncryptedKey"):
            km = ek.find(f"{{{XENC}}}EncryptionMethod")
            kalg = km.get("Algorithm") if km is not None else None
            if kalg not in OAEP and not (kalg == RSA15 and skip("accepts_rsa_1_5")):
                raise Rejected(f"key transport {kalg!r} is not allowed (RSA-OAEP only)", "ENC-06")


def verify_signature_element(root: etree._Element, sig: etree._Element, cert_pem: bytes) -> bool:
    """libxmlsec1's generic verification of one ds:Signature with `cert_pem`, every `ID` attribute
    registered, no restriction on References, URIs or transforms (the `generic_xmldsig` mutant)."""
    return _xmlsec_verify(sig, cert_pem, root.iter())


def _xmlsec_verify(sig: etree._Element, cert_pem: bytes, id_elements: Any) -> bool:
    """libxmlsec1 verifies `sig` with `cert_pem`, the `ID` attributes of `id_elements` registered."""
    try:
        ctx = xmlsec.SignatureContext()
        ctx.key = xmlsec.Key.from_memory(cert_pem, xmlsec.constants.KeyDataFormatCertPem)
        for el in id_elements:
            if isinstance(el.tag, str) and el.get("ID"):
                try:
                    ctx.register_id(el, "ID")
                except xmlsec.Error:
                    pass
        ctx.verify(sig)
        return True
    except (xmlsec.Error, ValueError):
        return False


def check_key_strength(certs_pem: tuple[bytes, ...]) -> None:
    """SAML2Int SDP-MD06/MD07: IdP signing keys are RSA >= 2048 bits or EC >= 256 bits (KEY-10)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    for pem in certs_pem:
        key = x509.load_pem_x509_certificate(pem).public_key()
        if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
            raise ValueError(f"the IdP signing key is RSA-{key.key_size}; at least 2048 bits are required")
        if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size < 256:
            raise ValueError(f"the IdP signing key is EC-{key.curve.key_size}; at least 256 bits are required")


def check_keyinfo_dates(root: etree._Element) -> None:
    """The `pkix_keyinfo_dates` policy: a certificate in the message's KeyInfo outside its
    validity dates refuses the message (a PKIX reading of catalogue KEY-09)."""
    from cryptography import x509

    now = datetime.now(timezone.utc)
    for c in list(root.iter(f"{{{DS}}}X509Certificate"))[:8]:
        try:
            cert = x509.load_der_x509_certificate(base64.b64decode("".join((c.text or "").split())))
        except (ValueError, binascii.Error):
            raise Rejected("a KeyInfo certificate does not parse", "KEY-09") from None
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise Rejected("a KeyInfo certificate is outside its validity dates", "KEY-09")


ENTITY = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
# Core 8.3.2: an addr-spec has no phrase (display name), no comment, no angle brackets, no quoting
_NOT_ADDR_SPEC = __import__("re").compile(r'[<>()"\s,;]')


def check_name_id(nid: etree._Element, value: str, opt: "CheckOptions") -> None:
    """Core 8.3: a NameID is what its Format says (length, qualifiers, addr-spec)."""
    fmt = nid.get("Format")
    if fmt == PERSISTENT and len(value) > 256:
        raise Rejected(f"the persistent NameID is {len(value)} characters long (at most 256)", "NID-04")
    nq, spnq = nid.get("NameQualifier"), nid.get("SPNameQualifier")
    if nq is not None and nq != opt.idp_entity_id:
        raise Rejected(f"NameQualifier {nq!r} is not the IdP {opt.idp_entity_id!r}", "NID-05")
    if spnq is not None and spnq != opt.entity_id:
        raise Rejected(f"SPNameQualifier {spnq!r} is not this SP {opt.entity_id!r}", "NID-06")
    if fmt == EMAIL and (_NOT_ADDR_SPEC.search(value) or value.count("@") != 1):
        raise Rejected(f"the emailAddress NameID {value!r} is not a bare addr-spec", "NID-07")


@dataclass
class CheckOptions:
    acs_url: str
    entity_id: str
    idp_entity_id: str
    expected_in_response_to: str | None
    skip: Callable[[str], bool]  # mutant lookup
    skew: int = SKEW


def check_assertion(root: etree._Element, a: etree._Element, opt: CheckOptions) -> Verified:
    skip = opt.skip
    fn, un = skip("first_text_node"), skip("decodes_entities_twice")
    now = datetime.now(timezone.utc)
    skew = timedelta(seconds=opt.skew)
    # status
    sc = root.find(f"{{{SAMLP}}}Status/{{{SAMLP}}}StatusCode")
    if (sc is None or sc.get("Value") != STATUS_SUCCESS) and not skip("ignores_status"):
        raise Rejected(f"the IdP answered with status {None if sc is None else sc.get('Value')}",
                       "STA-01")
    # shape: each signature right after its element's Issuer (schema), every ID unique
    if not skip("signature_position_unchecked"):
        check_signature_position(root)
        check_signature_position(a)
    if not skip("ignores_duplicate_ids"):
        check_unique_ids(root)
    # algorithms
    if not skip("accepts_sha1") and not skip("generic_xmldsig"):
        for sig in (a.find(f"{{{DS}}}Signature"), root.find(f"{{{DS}}}Signature")):
            sm = sig.find(f"{{{DS}}}SignedInfo/{{{DS}}}SignatureMethod") if sig is not None else None
            if skip("unknown_algorithm_unverified") and sm is not None and sm.get("Algorithm") not in KNOWN_SIG:
                continue  # the mutant: an algorithm it does not know is not checked at all
            if skip("hmac_key_confusion") and sm is not None and "hmac" in (sm.get("Algorithm") or ""):
                continue  # the mutant lets SignatureMethod choose
            if skip("rsa_only") and sm is not None and "ecdsa" in (sm.get("Algorithm") or ""):
                raise Rejected("ECDSA signatures are not supported", "ALG-10")
            check_algorithms(sig)
    if skip("requires_signed_response") and root.find(f"{{{DS}}}Signature") is None:
        raise Rejected("the Response is not signed", "POS-03")
    if skip("requires_encrypted_assertions") and root.find(f"{{{SAML}}}EncryptedAssertion") is None:
        raise Rejected("the Assertion is not encrypted", "ENC-01")
    if skip("rejects_fractional_seconds") and "." in (root.get("IssueInstant") or ""):
        raise Rejected("the Response IssueInstant has fractional seconds", "POS-06")
    if skip("no_clock_skew"):
        ii = _time(root.get("IssueInstant"), "Response IssueInstant")
        if not now - timedelta(seconds=60) <= ii <= now:
            raise Rejected(f"the Response IssueInstant {root.get('IssueInstant')} is not within "
                           "the last 60 s", "POS-07")
    # issuer
    a_iss = a.find(f"{{{SAML}}}Issuer")
    a_issuer = text_of(a_iss, first_node=fn) if a_iss is not None else ""
    if a_issuer != opt.idp_entity_id and not skip("ignores_issuer"):
        raise Rejected(f"assertion Issuer {a_issuer!r} is not the IdP {opt.idp_entity_id!r}",
                       "ISS-01")
    r_iss = root.findall(f"{{{SAML}}}Issuer")
    if not skip("ignores_issuer"):
        for el in [*r_iss, *([a_iss] if a_iss is not None else [])]:
            if el.get("Format") not in (None, ENTITY):  # Prof 4.1.4.2: omitted or entity
                raise Rejected(f"Issuer Format {el.get('Format')!r} is not entity", "ISS-05")
        if not r_iss and root.find(f"{{{DS}}}Signature") is not None:
            raise Rejected("the signed Response has no Issuer", "ISS-04")
        if len(r_iss) > 1:
            raise Rejected("the Response has more than one Issuer", "ISS-06")
        if r_iss and text_of(r_iss[0], first_node=fn) != opt.idp_entity_id:
            raise Rejected(f"Response Issuer {text_of(r_iss[0])!r} differs from the assertion's",
                           "ISS-02")
    # destination
    if not skip("ignores_destination"):
        dest = root.get("Destination")
        if dest != opt.acs_url:
            raise Rejected(f"Response Destination {dest!r} is not this ACS {opt.acs_url!r}",
                           "DST-01")
    # InResponseTo on the Response
    irt = root.get("InResponseTo")
    if not skip("ignores_in_response_to") and irt != opt.expected_in_response_to:
        raise Rejected(f"InResponseTo {irt!r} does not match the request this browser sent "
                       f"({opt.expected_in_response_to!r})", "IRT-01")
    # conditions
    cond = a.find(f"{{{SAML}}}Conditions")
    no_conditions = cond is None
    if cond is None:
        if not skip("conditions_optional"):
            raise Rejected("the assertion has no Conditions", "TIME-10")
        cond = etree.Element(f"{{{SAML}}}Conditions")  # the mutant: nothing to check
    nb, noa = cond.get("NotBefore"), cond.get("NotOnOrAfter")
    ctime = _lax_time if skip("lax_timestamps") else _time
    nb_t = ctime(nb, "Conditions NotBefore") if nb else None
    noa_t = ctime(noa, "Conditions NotOnOrAfter") if noa else None
    if nb_t and noa_t and nb_t >= noa_t and not skip("ignores_not_before") \
            and not skip("ignores_not_on_or_after"):
        raise Rejected("Conditions NotBefore is not before NotOnOrAfter", "TIME-06")
    if nb_t and not skip("ignores_not_before") and now + skew < nb_t:
        raise Rejected(f"the assertion is not valid before {nb}", "TIME-01")
    if noa_t and not skip("ignores_not_on_or_after") and now - skew >= noa_t:
        raise Rejected(f"the assertion expired at {noa}", "TIME-02")
    for c in cond:
        if c.tag == f"{{{SAML}}}Condition" and not skip("ignores_unknown_conditions"):
            raise Rejected("the assertion carries a Condition we cannot evaluate", "TIME-11")
    if not skip("ignores_audience") and not no_conditions:
        ars = cond.findall(f"{{{SAML}}}AudienceRestriction")
        if not ars:
            raise Rejected("the assertion has no AudienceRestriction", "AUD-02")
        for ar in ars:
            auds = [text_of(x, first_node=fn) for x in ar.findall(f"{{{SAML}}}Audience")]
            if skip("first_audience_only"):
                auds = auds[:1]
            if opt.entity_id not in auds:
                raise Rejected(f"this SP ({opt.entity_id}) is not in the audience {auds}",
                               "AUD-01")
    # subject
    subj = a.find(f"{{{SAML}}}Subject")
    if subj is None and skip("subject_optional"):
        from .defects import subject_from_attributes

        subj = subject_from_attributes(a, opt.acs_url, opt.expected_in_response_to)
    if subj is None:
        raise Rejected("the assertion has no Subject", "MAS-06")
    nid_el = subj.find(f"{{{SAML}}}NameID")
    if nid_el is None and skip("nameid_optional"):  # the defect: the attributes alone identify the user
        nid_el = etree.Element(f"{{{SAML}}}NameID")
    if nid_el is None:
        raise Rejected("the assertion has no NameID", "NID-01")
    name_id = text_of(nid_el, skip("nameid_comment_truncation"), first_node=fn, unescape=un).strip()
    if not name_id and not skip("accepts_empty_nameid"):
        raise Rejected("the NameID is empty", "NID-02")
    if name_id and not skip("lax_nameid"):
        check_name_id(nid_el, name_id, opt)
    confirmed: datetime | None = None
    problems: list[str] = []
    for scf in subj.findall(f"{{{SAML}}}SubjectConfirmation"):
        if scf.get("Method") != CM_BEARER and not skip("accepts_non_bearer"):
            problems.append(f"method {scf.get('Method')}")
            continue
        scd = scf.find(f"{{{SAML}}}SubjectConfirmationData")
        if scd is None:
            problems.append("no SubjectConfirmationData")
            continue
        if not skip("ignores_recipient") and scd.get("Recipient") != opt.acs_url \
                and not (skip("recipient_optional") and scd.get("Recipient") is None):
            problems.append(f"Recipient {scd.get('Recipient')!r} is not this ACS")
            continue
        if not skip("ignores_in_response_to") and scd.get("InResponseTo") != opt.expected_in_response_to:
            problems.append(f"InResponseTo {scd.get('InResponseTo')!r} does not match")
            continue
        t = scd.get("NotOnOrAfter")
        if not skip("ignores_not_on_or_after"):
            if not t:
                problems.append("no NotOnOrAfter")
                continue
            t_t = _time(t, "SubjectConfirmationData NotOnOrAfter")
            if now - skew >= t_t:
                problems.append(f"expired at {t}")
                continue
        else:
            t_t = _time(t, "SubjectConfirmationData NotOnOrAfter") if t else now + timedelta(hours=1)
        if scd.get("NotBefore") and not skip("scd_not_before_ignored"):
            problems.append("a bearer SubjectConfirmationData must not carry NotBefore")
            continue
        confirmed = t_t
        break
    if confirmed is None:
        raise Rejected("no usable bearer SubjectConfirmation: " + ("; ".join(problems) or "none"),
                       "DST-07")
    # authn statement
    authn = a.findall(f"{{{SAML}}}AuthnStatement")
    if len(authn) != 1 and not (skip("authn_statement_optional") and not authn):
        raise Rejected(f"the assertion has {len(authn)} AuthnStatements; exactly one is required",
                       "MAS-04")
    # attributes
    attrs: dict[str, list[str]] = {}
    for st in a.findall(f"{{{SAML}}}AttributeStatement"):
        if st.find(f"{{{SAML}}}EncryptedAttribute") is not None:
            raise Rejected("encrypted attributes are not supported", "ENC-11")
    descendant = skip("attributes_descendant_search")
    found = list(a.iter(f"{{{SAML}}}Attribute")) if descendant else \
        [at for st in a.findall(f"{{{SAML}}}AttributeStatement") for at in st.findall(f"{{{SAML}}}Attribute")]
    for at in found:
        name = at.get("Name") or ""
        values = at.findall(f"{{{SAML}}}AttributeValue")
        if any(isinstance(c.tag, str) for v in values for c in v) and not skip("complex_values_as_text"):
            raise Rejected(f"attribute {name!r} has a value that is not text (an element)", "ATTR-10")
        vals = [text_of(v, skip("nameid_comment_truncation"), first_node=fn, unescape=un)
                for v in values]
        if skip("friendly_name_matches") and at.get("FriendlyName"):
            attrs[at.get("FriendlyName") or ""] = vals  # the defect: FriendlyName taken as Name
            continue
        if name in attrs:
            if descendant:
                continue  # the defect: //Attribute, the first one found wins
            if not skip("duplicate_attribute_last_wins"):
                raise Rejected(f"attribute {name!r} appears more than once", "ATTR-03")
        attrs[name] = vals
    expiry = max(confirmed, noa_t or confirmed)
    sess_end: float | None = None
    snoa = authn[0].get("SessionNotOnOrAfter") if authn else None
    if snoa and not skip("ignores_session_not_on_or_after"):
        sess_end = _time(snoa, "AuthnStatement SessionNotOnOrAfter").timestamp()
        if sess_end <= now.timestamp():
            raise Rejected(f"the IdP session ended at {snoa} (SessionNotOnOrAfter)", "TIME-12")
    return Verified(
        idp_entity_id=opt.idp_entity_id,
        name_id=name_id,
        name_id_format=nid_el.get("Format") or "",
        session_index=authn[0].get("SessionIndex") if authn else None,
        attributes=attrs,
        response_id=root.get("ID") or "",
        assertion_id=a.get("ID") or "",
        in_response_to=irt,
        not_on_or_after=(expiry + skew).timestamp(),
        session_not_on_or_after=sess_end,
        name_qualifier=nid_el.get("NameQualifier"),
        sp_name_qualifier=nid_el.get("SPNameQualifier"),
    )
