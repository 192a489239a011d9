"""XSW: XML Signature Wrapping (SAML Raider's XSW1-8) and assertion cardinality."""
from __future__ import annotations

from harness.context import ScenarioContext
from harness.registry import REJECT, scenario
from harness.verdict import Observation

from ._kit import fault, victim_of, wrapping

HINT = ("Use only the element the verified signature references (by ID, as the direct child it must "
        "be); refuse Responses with more than one Assertion.")
PAPER = "Somorovsky et al., On Breaking SAML (USENIX Security 2012)"

for n, what in [
    (1, "signed Response cloned into its own Signature"),
    (2, "signed Response cloned before its Signature"),
    (3, "evil Assertion inserted before the signed one"),
    (4, "signed Assertion nested inside an evil one"),
    (5, "evil Assertion in place, signed copy detached at the end"),
    (6, "signed copy inside the evil Assertion's Signature"),
    (7, "evil copy inside samlp:Extensions"),
    (8, "unsigned copy inside ds:Object"),
]:
    wrapping(f"XSW-0{n}", f"XSW{n}: {what} is refused", f"xsw-0{n}", category="wrapping",
             refs=(f"catalogue XSW-0{n}", f"SAML Raider applyXSW{n}", PAPER), fix_hint=HINT)


@scenario("XSW-11", "A second, unsigned Assertion for a victim after the signed one is refused",
          category="wrapping", refs=("SAML2Int SDP-IDP10 exactly one assertion", "catalogue XSW-11",
                                     "CVE-2022-41912"),
          needs=("sp_initiated",), expect=REJECT, fix_hint=HINT)
def xsw_11(ctx: ScenarioContext) -> Observation:
    attacker, victim = ctx.new_user(), victim_of(ctx)
    ctx.sp_login(attacker, [fault("two-assertions", victim=victim)])
    return ctx.observe(attacker, intended=victim, signed_as=ctx.email_of(attacker))


# --- the later wrapping shapes: each first with unchanged values (a), then for a victim (b) -------------
@scenario("XSW-09", "CVE-2025-23369 shape: the Assertion's signature copied under the Response with a signed "
          "copy in ds:Object, the read Assertion renamed (without, then with the DTD-entity IDs) is refused",
          category="wrapping", refs=("catalogue XSW-09", "CVE-2025-23369", "SAML Raider applyXSW10 / CVE_2025_23369",
                                     "Core 5.4.2 MUST (Reference to the signed element)", "SAML2Int SDP-G03 (no DTD)"),
          needs=("sp_initiated",), expect=REJECT, fix_hint=HINT)
def xsw_09(ctx: ScenarioContext) -> Observation:
    """The layout alone (a, b), then GitHub Enterprise's exploit with the Response ID and the copy's
    ID built from DTD entities, a libxml2 ID-uniqueness quirk (a, b); the worst outcome is reported."""
    from harness.verdict import worse

    from ._kit import wrapped_variants

    plain = wrapped_variants(ctx, lambda v: [fault("xsw-cve-2025-23369", victim=v)])
    ctx.restart()
    ent = wrapped_variants(ctx, lambda v: [fault("xsw-cve-2025-23369", victim=v, entities=True)])
    plain.note, ent.note = "without entities: " + plain.note, "with DTD-entity IDs: " + ent.note
    chosen = worse(ctx.expected, ctx.level, plain, ent)
    chosen.note = f"{plain.note} | {ent.note}"
    return chosen


wrapping("XSW-10", "A valid signed Response nested inside an unsigned attacker Response is refused",
         "xsw-response-in-response", category="wrapping",
         refs=("catalogue XSW-10", "CVE-2020-5390", "CVE-2021-21238", "pysaml2 signed-xsw-response-in-response"),
         fix_hint=HINT)
wrapping("XSW-12", "CVE-2025-47949 shape: the signed Assertion parked in samlp:Extensions, its Signature "
         "moved to the Response, an unsigned Assertion read (schema-valid) is refused", "xsw-wrapper",
         category="wrapping", refs=("catalogue XSW-12", "CVE-2025-47949", "GHSA-r683-v43c-6xqv", "CVE-2025-46572",
                                    "PortSwigger, The Fragile Lock (use only signed elements)"), fix_hint=HINT)
wrapping("XSW-13", "An unsigned Assertion placed before the signed one, where first-in-document and "
         "//Assertion readers pick it, is refused", "two-assertions(first=true)", category="wrapping",
         refs=("catalogue XSW-13", "CVE-2025-54369", "CVE-2025-54419", "SAML2Int SDP-IDP10 exactly one assertion",
               "OWASP SAML: never getElementsByTagName"), fix_hint=HINT)
wrapping("XSW-14", "An IdP signature taken from the IdP's signed SAML metadata, wrapped into an unsigned "
         "Response, is refused", "xsw-foreign-signed(source=metadata)", category="wrapping",
         refs=("catalogue XSW-14", "CVE-2024-45409", "CVE-2025-25291", "CVE-2025-25292",
               "python3-saml wrapped_response_2.xml"), fix_hint=HINT)
wrapping("XSW-15", "An IdP signature taken from the IdP's signed WS-Federation metadata, wrapped into an "
         "unsigned Response, is refused", "xsw-foreign-signed(source=wsfed)", category="wrapping",
         refs=("catalogue XSW-15", "CVE-2025-25292", "PortSwigger, SAML roulette (WS-Federation signatures)"),
         fix_hint=HINT)
wrapping("XSW-16", "An IdP-signed error Response wrapped into an unsigned Response is refused",
         "xsw-foreign-signed(source=error)", category="wrapping",
         refs=("catalogue XSW-16", "PortSwigger, The Fragile Lock (signed error responses)", "OneUptime #2981"),
         fix_hint=HINT)


@scenario("XSW-17", "An unsigned Assertion for a victim inside the signed Assertion's saml:Advice never "
          "becomes the signed-in identity", category="wrapping",
          refs=("catalogue XSW-17", "Core 2.6.1 (Advice: additional information, not the subject)",
                "jellyfin-plugin-sso #198"),
          needs=("sp_initiated",), expect=REJECT,
          fix_hint="Read the subject and attributes from the verified Assertion's own children only "
                   "(Subject, AttributeStatement), never with a descendant search that reaches saml:Advice.")
def xsw_17(ctx: ScenarioContext) -> Observation:
    """The whole Assertion, Advice included, is genuinely signed: signing the attacker (the outer
    subject) in is correct; the victim named only inside Advice is the takeover."""
    attacker, victim = ctx.new_user(), victim_of(ctx)
    ctx.sp_login(attacker, [fault("advice-assertion", victim=victim)])
    obs = ctx.observe(attacker, intended=victim, signed_as=ctx.email_of(attacker), store_check=False)
    obs.signed_ok = True
    return obs
