"""pysaml2's signature verification, in-process with python-xmlsec (libxmlsec1), for the reference SP.

pysaml2 keeps the protocol work: it parses the message, finds the signed element, checks the
signature profile (one Reference to the element's own #ID, enveloped + c14n transforms only, no
ds:Object, schema validation) and picks the IdP's certificates from metadata. Only the last step,
`CryptoBackend.validate_signature`, changes: instead of one `xmlsec1 --verify` process per signature
(~24 ms), libxmlsec1 verifies in this process (~1 ms).

What `xmlsec1 --verify --enabled-reference-uris empty,same-doc --enabled-key-data raw-x509-cert
--pubkey-cert-pem CERT --id-attr:ID <node_name> --node-id ID` does, and what we keep:
- `ID` attributes are registered only on elements of pysaml2's `node_name` type (an element of that
  local name in no namespace counts too, as in xmlsec1); a duplicated ID fails.
- The key is only the trusted certificate pysaml2 passes: with the key set on the context, libxmlsec1
  reads nothing from the message's KeyInfo (no KeyValue, no X509Data, no RetrievalMethod).
- Nothing is fetched: the message is parsed without DTD, entities or network, and the one Reference
  must be '#' + the element's ID (pysaml2 checks it first; we check it again on the element verified).
- The signature verified: xmlsec1 takes the FIRST ds:Signature in document order inside the element,
  while pysaml2's object keeps the LAST ds:Signature child for its profile checks. Two direct
  ds:Signature children thus let a genuine signature (Reference to a parked copy) be verified while a
  retargeted copy passes pysaml2's checks (see tests/test_reference_sp_saml.py). Here the element must
  have exactly one ds:Signature child, that child must also be the first ds:Signature in it (what
  xmlsec1 would verify), and it is the one verified: what pysaml2 checked is what is verified.
  `first_signature=True` gives xmlsec1's own choice back: the `signature_position_unchecked` mutant
  keeps it, so that it still signs the victim in with this shape, as it did through xmlsec1.
- A message with a DOCTYPE (only mutants let one through: the correct SP refuses it before pysaml2)
  goes to the xmlsec1 process as before, whose parser loads DTDs and expands entities.
Decryption and signing stay with xmlsec1 (pysaml2's CryptoBackendXmlSec1).
"""
from __future__ import annotations

import re
from typing import Any

import xmlsec
from lxml import etree
from saml2.sigver import CryptoBackendXmlSec1, SignatureError

DS = "http://www.w3.org/2000/09/xmldsig#"
_SIG = f"{{{DS}}}Signature"
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.I)


def _parser() -> etree.XMLParser:
    # huge_tree as xmlsec1's parser (XML_PARSE_HUGE): the SP's size limit comes before pysaml2
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True,
                           remove_comments=False, remove_pis=False)


class _VersionOnce(CryptoBackendXmlSec1):
    """pysaml2 asks `xmlsec1 --version` (a subprocess) on every xmlsec1 call; ask once."""

    _versions: dict[str, str] = {}

    @property
    def version(self) -> str:  # type: ignore[override]
        v = self._versions.get(self.xmlsec)
        if v is None:
            v = self._versions[self.xmlsec] = CryptoBackendXmlSec1.version.fget(self)  # type: ignore[attr-defined]
        return v


class InProcessXmlSec(_VersionOnce):
    """Signature verification with python-xmlsec; decryption and signing through xmlsec1."""

    first_signature = False  # True: verify xmlsec1's choice (the first ds:Signature in the element)

    def validate_signature(self, signedtext: Any, cert_file: Any, cert_type: Any, node_name: Any,
                           node_id: Any) -> bool:  # type: ignore[override]
        if not isinstance(signedtext, bytes):
            signedtext = signedtext.encode("utf-8")
        if _DOCTYPE.search(signedtext):
            return bool(super().validate_signature(signedtext, cert_file, cert_type, node_name, node_id))
        why = self._verify(signedtext, cert_file, cert_type, node_name, node_id)
        if why:
            # what xmlsec1's failure raises: pysaml2 logs it and tries the IdP's next certificate
            raise SignatureError(f"in-process verification of {node_id!r} failed: {why}")
        return True

    def _verify(self, text: bytes, cert_file: str, cert_type: str, node_name: str,
                node_id: str | None) -> str:
        """'' when the signature verifies, else why not."""
        try:
            root = etree.fromstring(text, _parser())
        except etree.XMLSyntaxError as e:
            return f"not well-formed ({e})"
        ns, _, local = (node_name or "").rpartition(":")
        ctx = xmlsec.SignatureContext()
        target = None
        for el in root.iter():
            if not isinstance(el.tag, str):
                continue
            q = etree.QName(el)
            if q.localname != local or (q.namespace is not None and q.namespace != ns):
                continue
            # xmlsec1's --id-attr: the element's first attribute whose local name is ID
            attr = next((k for k in el.attrib if etree.QName(k).localname == "ID"), None)
            if attr is None or not el.get(attr):
                continue
            try:
                ctx.register_id(el, etree.QName(attr).localname, etree.QName(attr).namespace)
            except xmlsec.Error:
                return f"duplicate ID {el.get(attr)!r}"
            if node_id is not None and el.get(attr) == node_id:
                target = el
        if node_id is None:
            target = root
        if target is None:
            return f"no {local} element with ID {node_id!r}"
        first = target if target.tag == _SIG else next(target.iter(_SIG), None)
        if first is None:
            return "no ds:Signature in the element"
        if self.first_signature:
            sig = first
        else:
            own = [c for c in target if c.tag == _SIG]
            if len(own) != 1:
                return f"the element has {len(own)} ds:Signature children (exactly one is allowed)"
            sig = own[0]
            if sig is not first:
                return "another ds:Signature precedes the element's own signature"
            refs = sig.findall(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
            if len(refs) != 1 or refs[0].get("URI") != f"#{node_id}":
                return "the signature's one Reference does not point at the element's own ID"
        fmt = (xmlsec.constants.KeyDataFormatCertDer if str(cert_type).lower() == "der"
               else xmlsec.constants.KeyDataFormatCertPem)
        try:
            ctx.key = xmlsec.Key.from_file(cert_file, fmt)
            ctx.set_enabled_key_data([xmlsec.constants.KeyDataRawX509Cert])
            ctx.verify(sig)
        except (xmlsec.Error, ValueError, OSError) as e:
            return f"{type(e).__name__}: {e}"
        return ""


class UnverifiedXmlSec(InProcessXmlSec):
    """The `signature_not_verified` mutant: every signature 'verifies' (pysaml2 still looks up the
    IdP key by Issuer and requires the signature element)."""

    def validate_signature(self, signedtext: Any, cert_file: Any, cert_type: Any, node_name: Any,
                           node_id: Any) -> bool:  # type: ignore[override]
        return True


class UnverifiedXmlSec1(_VersionOnce):
    """`signature_not_verified` on the xmlsec1 path (same meaning)."""

    validate_signature = UnverifiedXmlSec.validate_signature  # type: ignore[assignment]


def backend_class(*, subprocess: bool, no_verify: bool) -> type[CryptoBackendXmlSec1]:
    """The crypto backend class for one reference-SP client."""
    if subprocess:
        return UnverifiedXmlSec1 if no_verify else _VersionOnce
    return UnverifiedXmlSec if no_verify else InProcessXmlSec
