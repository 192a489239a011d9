"""SIG, KEY, ALG: is the signature there, valid, by the trusted key, with acceptable algorithms?"""
from __future__ import annotations

from typing import Any

from harness.context import ScenarioContext
from harness.registry import ACCEPT, REJECT, Outcome, scenario
from harness.verdict import Observation

from ._kit import fault, single_fault, victim_of

VERIFY = ("Verify the XML signature over the Assertion with the IdP certificate from its metadata "
          "only, and use only the element the signature covers.")

single_fault("SIG-01", "Unsigned Response and Assertion are refused", ["sig-unsigned"],
             category="signature", refs=("Prof 4.1.4.5 MUST", "catalogue SIG-01", "CVE-2020-12676"),
             fix_hint="Require a valid signature on the Assertion (WantAssertionsSigned) before reading it.")
# --- where the signature sits: SIG-03, POS-03, POS-04 follow what the SP declares -----------------
# SAML Prof 4.1.4.5 lets the IdP sign either the Assertion or the Response. What the SP demands is its
# policy: WantAssertionsSigned in its metadata (or [sp.policy] want_assertions_signed in the target
# file), and [sp.policy] require_signed_response (metadata has no attribute for it). A declared
# policy's refusal is `info`; a broken promise (WantAssertionsSigned="true", unsigned Assertion
# accepted) a `fail`.
def _wants_signed_assertions(runtime: Any) -> Outcome:
    return REJECT if runtime.sp_policy.wants_signed_assertions else ACCEPT


def _response_only_policy(ctx: ScenarioContext) -> str | None:
    # reached only when the SP does not declare WantAssertionsSigned (else POS-04 expects a refusal):
    # refusing a response-only signature is still an SP's choice Prof 4.1.4.5 allows
    return ("it requires a signed Assertion, though " + ctx.runtime.sp_policy.describe_want_assertions_signed()
            + " (declare WantAssertionsSigned=\"true\" in the SP's metadata)")


def _declared(ctx: ScenarioContext) -> str:
    pol = ctx.runtime.sp_policy
    return f"SP declares: {pol.describe_want_assertions_signed()}; {pol.describe_require_signed_response()}"


def _signed_response_policy(ctx: ScenarioContext) -> str | None:
    pol = ctx.runtime.sp_policy
    return pol.describe_require_signed_response() if pol.requires_signed_response else None


single_fault("SIG-03", "Signed Response with an unsigned Assertion is refused where the SP declares "
             "WantAssertionsSigned", ["sig-response-only"], category="signature",
             refs=("Metadata 2.4.4 WantAssertionsSigned", "Prof 4.1.4.5", "catalogue SIG-03"),
             needs=("sp_initiated", "want_assertions_signed"), note=_declared,
             fix_hint="The SP declares WantAssertionsSigned=\"true\": enforce it on every Assertion, even "
                      "when the Response around it is signed.")
single_fault("POS-04", "A Response-only signature (Assertion unsigned) is accepted, unless the SP declares "
             "WantAssertionsSigned", ["sig-response-only"], category="signature",
             refs=("Prof 4.1.4.5 (either signature protects the assertion)", "Metadata 2.4.4 WantAssertionsSigned",
                   "S2I SDP-IDP09", "catalogue POS-04"),
             expect=ACCEPT, expect_when=_wants_signed_assertions, policy=_response_only_policy, note=_declared,
             fix_hint="Verify the Response signature (with the IdP's metadata key) and take the Assertion it "
                      "covers; or declare WantAssertionsSigned=\"true\" and refuse it consistently.")
single_fault("POS-03", "Only the Assertion signed (Response unsigned) is accepted, unless the SP declares "
             "that it requires a signed Response", ["sig-assertion-only"], category="signature",
             refs=("Prof 4.1.4.5", "catalogue POS-03"), expect=ACCEPT, policy=_signed_response_policy,
             note=_declared,
             fix_hint="A signed Assertion is enough (Prof 4.1.4.5); if the SP requires signed Responses, "
                      "say so in the target file: [sp.policy] require_signed_response = true.")
single_fault("SIG-06", "A flipped bit in SignatureValue is refused", ["sig-bad-value"], category="signature",
             refs=("XMLDSig core validation MUST", "catalogue SIG-06"), fix_hint=VERIFY)
single_fault("SIG-08", "Empty SignatureValue and DigestValue are refused", ["sig-empty-values"],
             category="signature", refs=("XMLDSig core validation MUST", "catalogue SIG-08"), fix_hint=VERIFY)
single_fault("SIG-09", "A signature by an untrusted self-signed certificate in KeyInfo is refused",
             ["sig-untrusted-cert"], category="signature",
             refs=("OWASP SAML: ignore KeyInfo", "catalogue SIG-09", "CVE-2015-5372"),
             fix_hint="Never trust the certificate inside the message; verify with the metadata certificate.")
single_fault("KEY-02", "An attacker key given as a raw KeyValue in KeyInfo is refused", ["sig-attacker-keyvalue"],
             category="signature", refs=("catalogue KEY-02", "CVE-2021-21239"), fix_hint=VERIFY)
single_fault("ALG-02", "RSA-SHA1 signatures are refused", ["alg-rsa-sha1"], category="signature",
             refs=("SAML2Int SDP-ALG01", "catalogue ALG-02 (policy)"), level="SHOULD",
             fix_hint="Allow-list rsa-sha256 or stronger signature algorithms and sha256+ digests.")
single_fault("ALG-03", "SHA-1 digests under an RSA-SHA256 signature are refused", ["alg-sha1-digest"],
             category="signature", refs=("SAML2Int SDP-ALG01", "catalogue ALG-03 (policy)"), level="SHOULD",
             fix_hint="Allow-list sha256 or stronger DigestMethods.")


def _victim_faults(fault_id: str):
    return lambda ctx: [fault(fault_id, victim=victim_of(ctx))]


@scenario("SIG-02", "Signature stripped and NameID changed to a victim (signature exclusion) is refused",
          category="signature", refs=("Prof 4.1.4.5 MUST", "catalogue SIG-02", "CVE-2020-12676", "CVE-2016-1000251"),
          needs=("sp_initiated",), expect=REJECT, fix_hint=VERIFY)
def sig_02(ctx: ScenarioContext) -> Observation:
    attacker, victim = ctx.new_user(), victim_of(ctx)
    ctx.sp_login(attacker, [fault("sig-stripped", victim=victim)])
    return ctx.observe(attacker, intended=victim, signed_as=ctx.email_of(attacker))


@scenario("SIG-05", "NameID changed after signing (content tampered) is refused", category="signature",
          refs=("Prof 4.1.4.3 MUST verify signatures", "catalogue SIG-05"), needs=("sp_initiated",),
          expect=REJECT, fix_hint=VERIFY)
def sig_05(ctx: ScenarioContext) -> Observation:
    attacker, victim = ctx.new_user(), victim_of(ctx)
    ctx.sp_login(attacker, [fault("sig-tampered", victim=victim)])
    return ctx.observe(attacker, intended=victim, signed_as=ctx.email_of(attacker))


@scenario("SIG-11", "An Assertion whose Signature covers another element (the Response; a genuine Assertion parked "
          "elsewhere, for a victim) is refused", category="signature",
          refs=("Core 5.4.2 MUST (Reference to the enclosing element's ID)", "catalogue SIG-11",
                "python3-saml WRONG_SIGNED_ELEMENT", "CVE-2020-5390"),
          needs=("sp_initiated",), expect=REJECT,
          fix_hint=VERIFY + " The Reference URI must be '#' + the ID of the element that carries the Signature.")
def sig_11(ctx: ScenarioContext) -> Observation:
    """The catalogue's shape (the Assertion's Signature is the Response's: its Reference names the
    Response, which does contain the Assertion), then the Signature of a genuine Assertion parked in
    samlp:Extensions carried by the Response's Assertion, with unchanged values (a) and for a victim (b)."""
    from harness.verdict import worse

    from ._kit import each_variant, wrapped_variants

    response = each_variant(ctx, [("the Assertion's Signature references the Response's ID (valid over it)",
                                   lambda: [fault("sig-reference-response")])])
    ctx.restart()
    elsewhere = wrapped_variants(ctx, lambda v: [fault("sig-reference-elsewhere", victim=v)])
    notes = f"{response.note} | Signature of a genuine Assertion parked in Extensions: {elsewhere.note}"
    chosen = worse(ctx.expected, ctx.level, response, elsewhere)
    chosen.note = notes
    return chosen
