"""KEY and signature trust: whose key verifies, what the message's own KeyInfo may (not) do, rollover.

Reading of the catalogue's KEY-09 conflict: samlconf takes SAML metadata trust (SAML2Int SDP-MD05,
the metadata-interop profile): the IdP's key in the SP's metadata is the trust anchor, certificate
dates are not checked, and a certificate in the message's KeyInfo is never used. A PKIX SP that
refuses an expired or not-yet-valid certificate applies a stricter policy: `info`, not a failure.
"""
from __future__ import annotations

from harness.context import ScenarioContext
from harness.registry import ACCEPT, scenario
from harness.verdict import Observation

from ._kit import fault, single_fault

VERIFY = ("Verify with the IdP key(s) from the SP's configured metadata only; never with a key or "
          "certificate the message carries in its KeyInfo.")

single_fault("KEY-01", "A signature by an attacker key whose certificate is in KeyInfo is refused",
             ["sig-untrusted-cert"], category="signature",
             refs=("OWASP SAML: ignore KeyInfo (StaticKeySelector)", "catalogue KEY-01", "CVE-2015-5372"),
             fix_hint=VERIFY)
single_fault("KEY-04", "KeyInfo with the genuine IdP certificate over an attacker's signature is refused",
             ["sig-attacker-key-genuine-cert"], category="signature",
             refs=("catalogue KEY-04", "PortSwigger 'SAML roulette' (GitLab fingerprint check)",
                   "CVE-2025-25292 exploitation path"),
             fix_hint="Verify the signature cryptographically with the configured key; a matching "
                      "certificate fingerprint in KeyInfo proves nothing.")
single_fault("KEY-05", "The genuine certificate first and the attacker's second in KeyInfo (attacker-signed) is refused",
             ["key-two-certs"], category="signature", refs=("OWASP SAML: ignore KeyInfo", "catalogue KEY-05"),
             fix_hint=VERIFY)
single_fault("KEY-06", "A signature by the IdP key its metadata publishes for encryption only is refused",
             ["key-encryption-only"], category="signature",
             refs=("SAML Metadata 2.4.1.1 KeyDescriptor use", "catalogue KEY-06 (policy)"), level="SHOULD",
             fix_hint="Verify signatures only with KeyDescriptors whose use is \"signing\" or absent.")
single_fault("SIG-10", "A signature by an attacker certificate cloning the IdP's subject, issuer and serial is refused",
             ["sig-cloned-cert"], category="signature",
             refs=("catalogue SIG-10", "SAML Raider: clone certificate", "CVE-2015-5372"),
             fix_hint="Compare keys, not certificate names or serial numbers; trust only the metadata key.")
single_fault("POS-08", "A signature by the second signing key published in the IdP metadata (rollover) is accepted",
             ["key-rollover"], category="signature", refs=("SAML2Int SDP-SP37 MUST", "catalogue POS-08"),
             expect=ACCEPT, fix_hint="Accept a signature by any signing key of the IdP's metadata.")


@scenario("KEY-09", "An expired or not-yet-valid KeyInfo certificate over the IdP's own key is judged by the "
          "metadata key (metadata trust)", category="signature",
          refs=("SAML2Int SDP-MD05 (metadata keys are key carriers)", "OWASP SAML: validate IdP certificates "
                "for expiration (PKIX reading)", "catalogue KEY-09 (policy)"),
          needs=("sp_initiated",), expect=ACCEPT, level="MAY",
          fix_hint="Under metadata trust, verify with the metadata key and ignore certificate dates; an SP "
                   "following PKIX instead should refuse expired metadata certificates consistently.")
def key_09(ctx: ScenarioContext) -> Observation:
    """Both shapes must be accepted under metadata trust; a refusal is the SP's PKIX policy (info)."""
    obs: Observation | None = None
    for i, (spec, what) in enumerate((("cert-expired", "expired"), ("cert-not-yet-valid", "not yet valid"))):
        if i:
            ctx.restart()
        user = ctx.new_user()
        ctx.sp_login(user, [fault(spec)])
        obs = ctx.observe(user)
        obs.note = f"KeyInfo certificate {what}; SAML metadata trust reading"
        if not obs.accepted:
            return obs
    assert obs is not None
    return obs
@scenario("KEY-03", "A random certificate embedded in KeyInfo is ignored: the IdP's signature still verifies",
          category="signature",
          refs=("pysaml2 test_signed_assertion_with_random_embedded_cert_should_be_ignored",
                "catalogue KEY-03", "CVE-2021-21239"),
          needs=("sp_initiated",), expect=ACCEPT, level="SHOULD", fix_hint=VERIFY)
def key_03(ctx: ScenarioContext) -> Observation:
    """pysaml2's own fixture for CVE-2021-21239: signed by the IdP's key, an unrelated certificate
    in KeyInfo; the SP verifying with its metadata key accepts, one using the embedded certificate
    cannot verify and refuses (the catalogue's REJECT would duplicate KEY-01; see the note)."""
    user = ctx.new_user()
    ctx.sp_login(user, [fault("sig-random-keyinfo-cert")])
    return ctx.observe(user)
