"""PDF: parser differentials and canonicalization tricks, each the published attack's shape.

Each case first sends the attack with the attacker's own, unchanged identity (a), then for a victim
(b): refused = pass, the genuinely signed identity signed in = warn (lax parsing), the victim = fail.
"""
from __future__ import annotations

from ._kit import single_fault, wrapping

HINT = ("Parse strictly (no DTD, fail on any error), verify the one Signature that is the signed element's "
        "direct child with a standard canonicalizer, and read identity only from the element it covers.")
STRICT = "Parse SAML messages strictly: refuse any malformed or round-trip-unstable XML before verifying it."

wrapping("PDF-01", "DOCTYPE round-trip differential (CVE-2025-25291 shape) is refused", "doctype-roundtrip",
         category="parser", refs=("catalogue PDF-01", "CVE-2025-25291", "GHSA-4vc4-m8qh-g8jm",
                                  "PortSwigger, SAML roulette", "SAML2Int SDP-G03 (no DTD)"), fix_hint=HINT)
wrapping("PDF-02", "ATTLIST namespace confusion with a second Signature in StatusDetail (CVE-2025-25292 "
         "shape) is refused", "attlist-namespace-confusion", category="parser",
         refs=("catalogue PDF-02", "CVE-2025-25292", "GHSA-754f-8gm6-c4r2", "GHSL, Sign in as anyone"),
         fix_hint=HINT)
wrapping("PDF-03", "xml:xmlns namespace confusion hiding the real Signature in Extensions (CVE-2025-66567 "
         "shape) is refused", "xml-xmlns-confusion", category="parser",
         refs=("catalogue PDF-03", "CVE-2025-66567", "PortSwigger, The Fragile Lock"), fix_hint=HINT)
wrapping("PDF-04", "ID attribute pollution (ID vs samlp:ID) is refused", "id-attribute-pollution",
         category="parser", refs=("catalogue PDF-04", "CVE-2025-66567 family", "PortSwigger, The Fragile Lock",
                                  "Core 1.3.4 (one ID per element)"), fix_hint=HINT)
wrapping("PDF-05", "Void canonicalization, the Golden SAML Response (CVE-2025-66568 shape), is refused",
         "void-canonicalization", category="parser",
         refs=("catalogue PDF-05", "CVE-2025-66568", "PortSwigger, The Fragile Lock (Golden SAML Response)"),
         fix_hint="A canonicalization error must be fatal, never an empty string to digest or sign.")
wrapping("PDF-06", "An invalid namespace character that breaks canonicalization is refused",
         "namespace-bad-char", category="parser", refs=("catalogue PDF-06", "CVE-2025-25292", "CVE-2025-66568"),
         fix_hint="A canonicalization error must be fatal, never an empty string to digest or sign.")
wrapping("PDF-07", "An edited Assertion whose new digest hides in a comment inside DigestValue "
         "(CVE-2025-29775, SAMLStorm) is refused", "digest-comment", category="parser",
         refs=("catalogue PDF-07", "CVE-2025-29775", "GHSA-x3m8-899r-f7c3", "XMLDSig core validation MUST"),
         fix_hint="Read DigestValue as the element's full text (comments excluded), never its first child node.")
wrapping("PDF-08", "A second SignedInfo whose Reference digests the edited Assertion (CVE-2025-29774, "
         "SAMLStorm) is refused", "two-signedinfo", category="parser",
         refs=("catalogue PDF-08", "CVE-2025-29774", "GHSA-9p8x-f768-wp2g", "CVE-2019-3465",
               "XMLDSig: exactly one SignedInfo"),
         fix_hint="Refuse a Signature with more than one SignedInfo; take References from the SignedInfo "
                  "the SignatureValue covers.")
wrapping("PDF-09", "An IdP-signed error Response followed by a second, unsigned Response with the "
         "Assertion (multiple roots, CVE-2022-39299) is refused", "trailing-document", category="parser",
         refs=("catalogue PDF-09", "CVE-2022-39299", "GHSA-m974-647v-whv7", "XML 1.0 document: one root element"),
         fix_hint="Refuse documents with more than one root element; read the Assertion from the verified root.")
single_fault("PDF-10", "A round-trip-unstable construct (Go encoding/xml corpus) is refused", ["roundtrip-unstable"],
             category="parser", refs=("catalogue PDF-10", "CVE-2020-29509", "CVE-2020-29511", "CVE-2020-27846",
                                      "GHSA-m9hp-7r99-94h5"), fix_hint=STRICT)
wrapping("PDF-11", "An edited Assertion whose new digest sits in a decoy DigestValue earlier in the document "
         "(CVE-2024-45409) is refused", "decoy-signature", category="parser",
         refs=("catalogue PDF-11", "CVE-2024-45409", "PortSwigger, The Fragile Lock (//ds:Signature)"),
         fix_hint="Take DigestValue from the Reference of the SignedInfo being verified, never a //ds:DigestValue "
                  "anywhere in the document.")
wrapping("PDF-12", "A 'ds' prefix bound to another namespace on the forged Assertion's Signature is refused",
         "prefix-rebinding", category="parser",
         refs=("catalogue PDF-12", "CVE-2025-66567 class", "PortSwigger, The Fragile Lock (XPath namespaces)"),
         fix_hint="Find signature elements by namespace, never by prefix or local name.")
single_fault("PDF-13", "Malformed but recoverable XML is refused (strict parse)", ["recoverable-markup"],
             category="parser", refs=("catalogue PDF-13", "CVE-2025-25291", "CVE-2025-25292",
                                      "GHSL, Sign in as anyone (check for parsing errors)"), fix_hint=STRICT)
