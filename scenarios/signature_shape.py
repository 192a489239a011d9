"""SIG: the shape of a signature SAML allows (Core 5.4): one enveloped signature per signed element,
right after its Issuer, one Reference to that element's unique ID."""
from __future__ import annotations

from harness.context import ScenarioContext
from harness.registry import REJECT, scenario
from harness.verdict import Observation

from ._kit import each_variant, fault, single_fault

PROFILE = ("Apply SAML's signature profile (Core 5.4) before trusting a signature: one enveloped "
           "ds:Signature per signed element, right after its Issuer, one Reference to that element's "
           "own ID, enveloped-signature and exclusive c14n transforms only.")

single_fault("SIG-12", "A SignedInfo with two References (the Assertion and a decoy) is refused",
             ["sig-two-references"], category="signature",
             refs=("Core 5.4.2 MUST (a single ds:Reference)", "catalogue SIG-12"), fix_hint=PROFILE)
single_fault("SIG-15", "A detached signature next to the Assertion (not enveloped) is refused", ["sig-detached"],
             category="signature", refs=("Core 5.4.1 MUST (enveloped signatures)", "catalogue SIG-15",
                                         "CVE-2020-5390"), fix_hint=PROFILE)
single_fault("SIG-16", "A valid Assertion signature moved after Subject (schema position) is refused",
             ["sig-wrong-position"], category="signature",
             refs=("SAML assertion schema (Signature follows Issuer)", "catalogue SIG-16", "CVE-2021-21238",
                   "CVE-2024-8698"), fix_hint=PROFILE)


@scenario("SIG-17", "Two ds:Signature elements in one Assertion (the valid one second; CVE-2021-21238's genuine one "
          "first, in a wrapper or bare, then a retargeted copy) are refused", category="signature",
          refs=("SAML assertion schema (at most one Signature)", "catalogue SIG-17", "CVE-2021-21238"),
          needs=("sp_initiated",), expect=REJECT, fix_hint=PROFILE + " Refuse an element with more than one "
          "ds:Signature child before verifying; verify the very Signature you then read.")
def sig_17(ctx: ScenarioContext) -> Observation:
    """The catalogue's shape (a broken copy first, the valid one second: no identity to gain), then
    CVE-2021-21238's, twice (with its schema-invalid wrapper, then bare), each with unchanged values
    (a) and for a victim (b). The worst outcome is reported, every shape named in the evidence."""
    from harness.verdict import worse

    from ._kit import wrapped_variants

    plain = each_variant(ctx, [("a broken copy first, the valid Signature second", lambda: [fault("sig-duplicate")])])
    shapes = [plain]
    for label, wrapper in (("genuine Signature first in a wrapper element", True),
                           ("genuine Signature first, bare", False)):
        ctx.restart()
        obs = wrapped_variants(ctx, lambda v, w=wrapper: [fault("sig-cve-2021-21238", victim=v, wrapper=w)])
        obs.note = f"{label}: {obs.note}"
        shapes.append(obs)
    notes = " | ".join(o.note for o in shapes)
    chosen = worse(ctx.expected, ctx.level, *shapes)
    chosen.note = notes
    return chosen


@scenario("SIG-13", "A Reference URI that is not the signed element's #ID (\"#\", \"#xpointer(/)\", a URL) is "
          "refused and nothing is fetched", category="signature",
          refs=("Core 5.4.2 MUST (URI is \"#\" + the ID of the signed element)", "catalogue SIG-13",
                "catalogue XML-11"),
          needs=("sp_initiated",), expect=REJECT, fix_hint=PROFILE)
def sig_13(ctx: ScenarioContext) -> Observation:
    return each_variant(ctx, [
        ("Reference URI '#xpointer(/)', validly signed", lambda: [fault("resign", uri="#xpointer(/)")]),
        ("Reference URI '#' (rewritten after signing)", lambda: [fault("sig-reference-uri", uri="#")]),
        ("Reference URI a watched loopback URL (rewritten after signing)",
         lambda: [fault("sig-reference-uri", uri="oob")]),
    ])


single_fault("SIG-14", "An empty Reference URI on the Assertion's signature (not the document root) is refused",
             ["resign(uri=)"], category="signature",
             refs=("Core 5.4.2 MUST (#ID of the signed element)", "catalogue SIG-14 (URI=\"\" only on the root)"),
             fix_hint=PROFILE)


@scenario("SIG-18", "A signed Assertion without ID, or an ID that appears twice in the message, is refused",
          category="signature", refs=("Core 1.3.4 (ID unique in the document)", "catalogue SIG-18"),
          needs=("sp_initiated",), expect=REJECT, fix_hint="Refuse messages with duplicate or missing IDs "
          "on signed elements; resolve a Reference only to a unique ID.")
def sig_18(ctx: ScenarioContext) -> Observation:
    return each_variant(ctx, [("signed Assertion without ID", lambda: [fault("assertion-id-missing")]),
                              ("a decoy in Extensions carrying the Assertion's ID", lambda: [fault("duplicate-id")])])
single_fault("SIG-07", "An attribute changed after signing (SignedInfo still validly signed, digest wrong) is refused",
             ["sig-digest-mismatch"], category="signature",
             refs=("XMLDSig core validation: reference and signature validation MUST both pass", "catalogue SIG-07",
                   "GHSL 2025 'Sign in as anyone' (CVE-2025-25291/25292 chain)"),
             fix_hint="Check every Reference digest over the element it names, and the SignatureValue over that "
                      "same SignedInfo.")
single_fault("SIG-04", "Where the SP requires signed Responses, an unsigned Response (signed Assertion) is refused",
             ["sig-assertion-only"], category="signature", needs=("sp_initiated", "require_signed_response"),
             refs=("python3-saml wantMessagesSigned / NO_SIGNED_MESSAGE", "SAML2Int SDP-IDP09", "catalogue SIG-04"),
             fix_hint="The SP declares that it requires a signed samlp:Response: enforce it.")
