"""ENC: encrypted assertions. Run only when the SP's metadata publishes an encryption key.

What the SP accepts for key transport and content encryption is policy (SAML2Int SDP-ALG01): RSA
PKCS#1 v1.5 key transport accepted is a `warn` (the catalogue: refuse), AES-CBC accepted an
`info` (prefer GCM).
"""
from __future__ import annotations

from harness.context import ScenarioContext
from harness.registry import ACCEPT, REJECT, scenario
from harness.verdict import Observation

from ._kit import each_variant, fault, single_fault

NEEDS = ("sp_initiated", "encryption_key")
DECRYPT = ("Decrypt with the SP's own key, then treat the plaintext Assertion exactly like a plain "
           "one: signature required and verified, same hardened parser.")

single_fault("ENC-02", "An EncryptedAssertion whose inner Assertion is unsigned (Response unsigned) is refused",
             ["encrypted-unsigned"], category="encryption", needs=NEEDS,
             refs=("Prof 4.1.4.5 MUST (each assertion protected by a signature)", "catalogue ENC-02",
                   "CVE-2026-2092", "CVE-2024-4985"),
             fix_hint="Encryption is not authentication: anyone can encrypt to the SP's public key. "
                      "Require a valid IdP signature on the decrypted Assertion or the Response.")
single_fault("ENC-05", "Two EncryptedKeys, only the second for the SP's key (rollover), are accepted",
             ["encrypted-two-keys"], category="encryption", needs=NEEDS, expect=ACCEPT,
             refs=("SAML2Int SDP-SP38", "catalogue ENC-05"),
             fix_hint="Try every EncryptedKey addressed to one of the SP's keys.")
single_fault("ENC-06", "RSA PKCS#1 v1.5 key transport (rsa-1_5) is refused",
             ["encrypted-assertion(key_transport=rsa-1_5)"], category="encryption", needs=NEEDS, level="SHOULD",
             refs=("SAML2Int SDP-ALG01 (PKCS#1 v1.5 broken outright)", "catalogue ENC-06 (policy)",
                   "Jager, Schinzel, Somorovsky: Bleichenbacher's attack strikes again (ESORICS 2012)"),
             fix_hint="Allow RSA-OAEP key transport only.")
single_fault("ENC-07", "AES-CBC content encryption is refused (prefer AES-GCM)",
             ["encrypted-assertion(block=aes128-cbc)"], category="encryption", needs=NEEDS, level="MAY",
             refs=("SAML2Int SDP-ALG01 (AES-CBC known to be broken)", "catalogue ENC-07",
                   "Jager, Somorovsky: How to Break XML Encryption (CCS 2011)"),
             fix_hint="Allow AES-GCM content encryption only (or answer every CBC failure identically).")
single_fault("ENC-08", "An EncryptedData Type other than #Element is refused",
             ["encrypted-type"], category="encryption", needs=NEEDS, level="SHOULD",
             refs=("Core 6.1 (Type, if present, MUST be #Element)", "catalogue ENC-08 (policy)"),
             fix_hint="Refuse EncryptedData whose Type is present and not xmlenc#Element.")
single_fault("ENC-04", "An EncryptedAssertion for another SP's key is refused without a 5xx",
             ["encrypted-wrong-key"], category="encryption", needs=NEEDS, graceful=True, level="SHOULD",
             refs=("catalogue ENC-04",), fix_hint="Refuse what you cannot decrypt, with a clear error, never a 5xx.")


@scenario("ENC-10", "A DOCTYPE inside the encrypted plaintext (an internal entity; an external one at a watched URL) "
          "is refused and never fetched", category="encryption", needs=NEEDS, expect=REJECT,
          refs=("catalogue ENC-10", "catalogue XML-01", "catalogue XML-02"),
          fix_hint="Parse the decrypted plaintext with the same hardened parser (no DTD, no entities, no network).")
def enc_10(ctx: ScenarioContext) -> Observation:
    """The signed Assertion is unchanged: a parser that takes the DOCTYPE signs the user in (and
    the external variant makes it fetch the IdP's watched URL)."""
    return each_variant(ctx, [(f"decrypted plaintext with a DOCTYPE ({what} entity)",
                               lambda e=entity: [fault("encrypted-dtd", entity=e)])
                              for entity, what in (("internal", "an internal"), ("external", "an external parameter"))])
single_fault("ENC-11", "An EncryptedAttribute (unsupported) is refused", ["encrypted-attribute"],
             category="encryption", needs=NEEDS,
             refs=("python3-saml ENCRYPTED_ATTRIBUTES", "SAML2Int SDP-IDP11", "catalogue ENC-11"),
             fix_hint="Refuse EncryptedAttribute unless you decrypt and validate it.")


@scenario("ENC-03", "A wrapped assertion inside the EncryptedAssertion (signed copy in ds:Object) is refused",
          category="encryption", refs=("catalogue ENC-03", "CVE-2024-9487"), needs=NEEDS, expect=REJECT,
          fix_hint=DECRYPT)
def enc_03(ctx: ScenarioContext) -> Observation:
    from ._kit import wrapped_variants

    return wrapped_variants(ctx, lambda victim: [fault("encrypted-xsw", victim=victim)] if victim
                            else [fault("encrypted-xsw", victim="")])


@scenario("ENC-09", "EncryptedData without KeyInfo, or without EncryptionMethod, is refused gracefully", category="encryption",
          refs=("python3-saml KEYINFO_NOT_FOUND_IN_ENCRYPTED_DATA", "catalogue ENC-09"), needs=NEEDS,
          expect=REJECT, level="SHOULD",
          fix_hint="Refuse EncryptedData missing its KeyInfo or EncryptionMethod; never guess an algorithm.")
def enc_09(ctx: ScenarioContext) -> Observation:
    """Without EncryptionMethod the content is AES-CBC (a decrypter's usual default): an SP that
    guesses the algorithm decrypts it; without KeyInfo no one can. Both refused, with no 5xx."""
    shapes = (("keyinfo", "aes256-gcm", "KeyInfo"), ("method", "aes256-cbc", "EncryptionMethod (content AES-256-CBC)"))
    return each_variant(ctx, [(f"EncryptedData without {what}",
                               lambda p=part, b=block: [fault("encrypted-missing", part=p, block=b)])
                              for part, block, what in shapes], graceful=True)


single_fault("ENC-01", "Where the SP requires encrypted Assertions, a plaintext (signed) Assertion is refused",
             [], category="encryption", needs=("sp_initiated", "require_encrypted_assertions"),
             refs=("python3-saml wantAssertionsEncrypted / NO_ENCRYPTED_ASSERTION", "SAML2Int SDP-IDP11",
                   "catalogue ENC-01"),
             fix_hint="The SP declares that it requires encrypted Assertions: refuse a plaintext one, even "
                      "when it is validly signed.")
